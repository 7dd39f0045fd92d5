/**
 * Read-only walks of the heap (format 2, see the byte tables in heap.ts): `checkHeap`
 * validates every heap invariant and reports instead of throwing; `heapBlocks` lists the
 * tiling for walks that classify offsets (reachability, collection checks);
 * `allocatedCapacity` tells whether an offset is the payload of an allocated block.
 */
import type { Tx } from '../txn/index.js'
import { BLOCK_HEADER, BLOCK_MAGIC, HEAP_HEADER, H_BINMAP, H_BINS, H_LAST, H_LIVE, H_TOP, MAGIC_HI, MAGIC_LO, NB, binOf, rd } from './heap-layout.js'

/** Result of `checkHeap`. */
export interface HeapReport { blocks: number; allocated: number; free: number; top: number; live: number; problems: string[] }

/** Validates heap inv. 1-4 through a reader; never throws on damaged data, reports instead. */
export function checkHeap(tx: Tx, base: number, regionSize: number): HeapReport {
  const r: HeapReport = { blocks: 0, allocated: 0, free: 0, top: 0, live: 0, problems: [] }
  try { walkHeap(tx, base, regionSize, r) } catch (err) { r.problems.push(`heap: ${(err as Error).message}`) }
  return r
}

function walkHeap(tx: Tx, base: number, regionSize: number, r: HeapReport): void {
  if (tx.readU32(base) !== MAGIC_LO || tx.readU32(base + 4) !== MAGIC_HI) { r.problems.push('heap header: bad magic'); return }
  const top = rd(tx, base + H_TOP)
  r.top = top
  r.live = rd(tx, base + H_LIVE)
  if (top < base + HEAP_HEADER || top > regionSize || top % 16 !== 0) { r.problems.push(`heap header: impossible top ${top}`); return }
  const freeBlocks = new Map<number, number>()
  let liveSum = 0, prevUnits = 0, prevFree = false, lastBlock = 0
  for (let b = base + HEAP_HEADER; b < top;) {
    if (tx.readU32(b) !== BLOCK_MAGIC) { r.problems.push(`block at ${b}: bad magic`); return }
    const units = tx.readU32(b + 4), flags = tx.readU32(b + 12)
    if (units < 2 || b + units * 16 > top) { r.problems.push(`block at ${b}: impossible size ${units * 16}`); return }
    if (tx.readU32(b + 8) !== prevUnits) r.problems.push(`block at ${b}: names ${tx.readU32(b + 8) * 16} bytes as the size of the block before it, which has ${prevUnits * 16} (heap inv. 1)`)
    if (flags > 1) r.problems.push(`block at ${b}: reserved flag bits are set (${flags})`)
    r.blocks++
    if (flags & 1) {
      r.allocated++
      liveSum += units * 16 - BLOCK_HEADER
      prevFree = false
    } else {
      if (prevFree) r.problems.push(`block at ${b}: free, and so is the block before it (not coalesced, heap inv. 2)`)
      r.free++; freeBlocks.set(b, units * 16); prevFree = true
    }
    prevUnits = units
    lastBlock = b
    b += units * 16
  }
  const last = rd(tx, base + H_LAST)
  if (last !== lastBlock) r.problems.push(`heap header: names ${last} as the last block, but the last block starts at ${lastBlock} (heap inv. 1)`)
  if (prevFree) r.problems.push(`block at ${lastBlock}: the last block is free; top should have been lowered (heap inv. 1)`)
  if (top + 16 <= regionSize && (tx.readU32(top) !== 0 || tx.readU32(top + 4) !== 0 || rd(tx, top + 8) !== 0)) r.problems.push(`heap top ${top}: the memory there is not zero (heap inv. 4)`)
  if (liveSum !== r.live) r.problems.push(`heap header: live bytes ${r.live} but allocated blocks hold ${liveSum}`)
  checkLists(tx, base, top, freeBlocks, r)
}

/** Every free block in exactly one list, of its bin, doubly linked; the bin map agrees (heap inv. 3). */
function checkLists(tx: Tx, base: number, top: number, freeBlocks: Map<number, number>, r: HeapReport): void {
  const total = freeBlocks.size
  for (let bin = 0; bin < NB; bin++) {
    const head = rd(tx, base + H_BINS + 8 * bin)
    const mapped = (tx.readU32(base + H_BINMAP + 4 * (bin >>> 5)) >>> (bin & 31)) & 1
    if (mapped !== (head !== 0 ? 1 : 0)) r.problems.push(`bin map: bit ${bin} is ${mapped} but free list ${bin} is ${head !== 0 ? 'not ' : ''}empty (heap inv. 3)`)
    let prev = 0
    for (let b = head, steps = 0; b !== 0; prev = b, b = rd(tx, b + 16), steps++) {
      if (steps > total) { r.problems.push(`free list ${bin}: cycle or foreign block`); break }
      const size = freeBlocks.get(b)
      if (size === undefined || binOf(size) !== bin) { r.problems.push(`free list ${bin}: block ${b} is not a free block of that bin`); break }
      if (rd(tx, b + 24) !== prev) r.problems.push(`free list ${bin}: block ${b} links back to ${rd(tx, b + 24)}, not ${prev} (heap inv. 3)`)
      freeBlocks.delete(b)
    }
  }
  if (freeBlocks.size > 0) r.problems.push(`${freeBlocks.size} free block(s) in no free list (leak), first at ${[...freeBlocks.keys()][0]}`)
  void top
}

/**
 * Every block of the heap in address order, for walks that classify offsets (reachability):
 * `starts[i]` is block i's header offset, `ends[i]` one past its last byte, `allocated[i]` its
 * flag. Read only; null when the blocks do not tile [H + 1024, top) (checkHeap says why).
 */
export interface BlockTable { readonly base: number; readonly top: number; readonly starts: Float64Array; readonly ends: Float64Array; readonly allocated: Uint8Array }

export function heapBlocks(tx: Tx, base: number, regionSize: number): BlockTable | null {
  if (tx.readU32(base) !== MAGIC_LO || tx.readU32(base + 4) !== MAGIC_HI) return null
  const top = rd(tx, base + H_TOP)
  if (top < base + HEAP_HEADER || top > regionSize || top % 16 !== 0) return null
  const starts: number[] = [], ends: number[] = [], allocated: number[] = []
  for (let b = base + HEAP_HEADER; b < top;) {
    const units = tx.readU32(b + 4)
    if (tx.readU32(b) !== BLOCK_MAGIC || units < 2 || b + units * 16 > top) return null
    starts.push(b); ends.push(b + units * 16); allocated.push(tx.readU32(b + 12) & 1)
    b += units * 16
  }
  return { base, top, starts: Float64Array.from(starts), ends: Float64Array.from(ends), allocated: Uint8Array.from(allocated) }
}

/** Index of the block of `table` whose bytes hold `offset`, or -1 outside [H + 1024, top). */
export function blockIndex(table: BlockTable, offset: number): number {
  const { starts } = table
  if (!(offset >= table.base + HEAP_HEADER && offset < table.top)) return -1
  let lo = 0, hi = starts.length - 1
  while (lo < hi) { const mid = (lo + hi + 1) >>> 1; if (starts[mid]! <= offset) lo = mid; else hi = mid - 1 }
  return lo
}

/**
 * Bytes an allocation whose block header lies just before `payload` may use, or null when
 * there is no allocated block there (by its header: merged headers are zeroed, heap inv. 6).
 */
export function allocatedCapacity(tx: Tx, base: number, payload: number): number | null {
  const block = payload - BLOCK_HEADER
  const top = rd(tx, base + H_TOP)
  if (!Number.isSafeInteger(block) || block < base + HEAP_HEADER || block % 16 !== 0 || payload > top) return null
  const units = tx.readU32(block + 4)
  if (tx.readU32(block) !== BLOCK_MAGIC || tx.readU32(block + 12) !== 1 || units < 2 || block + units * 16 > top) return null
  return units * 16 - BLOCK_HEADER
}
