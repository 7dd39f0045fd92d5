/**
 * The heap's segregated free lists (heap.ts inv. 3): per bin a doubly linked list of free
 * blocks, its head at H_BINS + 8 * bin in the heap header, and a bit per bin in the bin map
 * (H_BINMAP, four u32 words) set while the list is not empty. A free block links through
 * its first payload words: next at +16, prev at +24 (0 ends a list; prev 0 means the block is
 * the list's head). These functions write through the transaction only; the allocator
 * (heap.ts) checks every block it unlinks first (heap inv. 5, `#checkFree`).
 */
import type { Tx } from '../txn/index.js'
import { H_BINMAP, H_BINS, NB, binOf, rd, wr } from './heap-layout.js'

/** Pushes free block `b` of `size` bytes on its bin's list, in the heap whose header is at `base`. */
export function linkFree(tx: Tx, base: number, b: number, size: number): void {
  const bin = binOf(size), headAt = base + H_BINS + 8 * bin
  const head = rd(tx, headAt)
  wr(tx, b + 16, head)
  wr(tx, b + 24, 0)
  if (head !== 0) wr(tx, head + 24, b)
  else setBin(tx, base, bin, true)
  wr(tx, headAt, b)
}

/** Removes free block `b` of `size` bytes from its bin's list (the caller checked it is there). */
export function unlinkFree(tx: Tx, base: number, b: number, size: number): void {
  const bin = binOf(size)
  const next = rd(tx, b + 16), prev = rd(tx, b + 24)
  if (prev !== 0) wr(tx, prev + 16, next)
  else {
    wr(tx, base + H_BINS + 8 * bin, next)
    if (next === 0) setBin(tx, base, bin, false)
  }
  if (next !== 0) wr(tx, next + 24, prev)
}

/** First non-empty bin from `from` on, by the bin map, or -1. */
export function nextBin(tx: Tx, base: number, from: number): number {
  for (let w = from >>> 5; w < 4 && w * 32 < NB; w++) {
    let word = tx.readU32(base + H_BINMAP + 4 * w)
    if (w === from >>> 5) word &= ~0 << (from & 31)
    if (word !== 0) {
      const bin = w * 32 + (31 - Math.clz32(word & -word))
      return bin < NB ? bin : -1
    }
  }
  return -1
}

function setBin(tx: Tx, base: number, bin: number, on: boolean): void {
  const at = base + H_BINMAP + 4 * (bin >>> 5)
  const w = tx.readU32(at), bit = 1 << (bin & 31)
  tx.writeU32(at, (on ? w | bit : w & ~bit) >>> 0)
}
