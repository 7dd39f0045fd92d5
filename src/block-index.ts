/**
 * BlockIndex: which 16-byte-aligned offsets of the heap start a block, kept in JavaScript
 * memory as one bit per 16 bytes, so that `free` can check that an offset is the payload of a
 * real block of the tiling (heap inv. 1, 6) without trusting any byte a program can write,
 * and without walking the heap on every free.
 *
 * The tiling changes with every carve, split and merge (heap format 2 coalesces), so the heap
 * reports each change (`set`, `clear`) as it stages it. A transaction that aborts leaves the
 * bits of its staged changes behind; the heap registers an abort hook with each change that
 * drops the whole index (`reset`), rebuilt on demand by one walk. Aborts are rare, and a
 * wrong bit would let `free` corrupt the heap, so correctness wins over speed there.
 *
 * Invariants (cited as "index inv. N"):
 *   1. Built, the index holds exactly the block starts of the tiling the running transaction
 *      sees, in [first, end): bit (b - first) / 16 is set iff a block starts at b.
 *   2. Not built, it holds nothing; the first lookup walks the heap from `first` to `top`.
 *
 * Cost: one walk of the heap at the first lookup after open (or after an abort that changed
 * the tiling), 1 bit per 16 bytes of heap, then O(1) per lookup and per change.
 */
import { CorruptionError } from '../regions/index.js'

/** Size in bytes of the block starting at `at`, or -1 if no valid block header is there. */
export type BlockSizeAt = (at: number) => number

/** See the file comment. */
export class BlockIndex {
  readonly first: number
  #bits = new Uint32Array(0)
  #built = false

  /** `first` is where the heap's first block starts. */
  constructor(first: number) { this.first = first }

  get built(): boolean { return this.#built }

  /** A block now starts at `at` (a carve or a split). */
  set(at: number): void {
    if (!this.#built) return
    const i = (at - this.first) >>> 4
    this.#room(i)
    this.#bits[i >>> 5]! |= 1 << (i & 31)
  }

  /** No block starts at `at` any more (merged into the block before it). */
  clear(at: number): void {
    if (!this.#built) return
    const i = (at - this.first) >>> 4
    if ((i >>> 5) < this.#bits.length) this.#bits[i >>> 5]! &= ~(1 << (i & 31))
  }

  /** Forgets everything (index inv. 2): after an abort, or when the heap below changed unseen. */
  reset(): void {
    this.#bits = new Uint32Array(0)
    this.#built = false
  }

  /** True when a block starts at `at` below `top`; builds the index by walking the heap (through `sizeAt`) first. */
  isStart(at: number, top: number, sizeAt: BlockSizeAt): boolean {
    if (!this.#built) this.#build(top, sizeAt)
    if (at < this.first || at >= top || (at - this.first) % 16 !== 0) return false
    const i = (at - this.first) >>> 4
    return (i >>> 5) < this.#bits.length && (this.#bits[i >>> 5]! & (1 << (i & 31))) !== 0
  }

  /** The start of the block holding byte `at` below `top` (the nearest start at or before it), or -1. */
  blockContaining(at: number, top: number, sizeAt: BlockSizeAt): number {
    if (!this.#built) this.#build(top, sizeAt)
    if (at < this.first || at >= top) return -1
    const i = (at - this.first) >>> 4
    let w = i >>> 5, word: number
    if (w >= this.#bits.length) { w = this.#bits.length - 1; word = w >= 0 ? this.#bits[w]! : 0 }
    else word = this.#bits[w]! & (i % 32 === 31 ? ~0 : (1 << ((i & 31) + 1)) - 1)
    while (word === 0) {
      if (--w < 0) return -1
      word = this.#bits[w]!
    }
    return this.first + (w * 32 + 31 - Math.clz32(word)) * 16
  }

  #build(top: number, sizeAt: BlockSizeAt): void {
    this.#bits = new Uint32Array(0)
    this.#built = true
    for (let b = this.first; b < top;) {
      const size = sizeAt(b)
      if (size <= 0 || b + size > top) {
        this.reset()
        throw new CorruptionError(`Cannot free: the heap block at ${b} has a damaged header (heap inv. 1); run check() for details`)
      }
      this.set(b)
      b += size
    }
  }

  #room(i: number): void {
    const words = (i >>> 5) + 1
    if (words <= this.#bits.length) return
    const grown = new Uint32Array(Math.max(words, this.#bits.length * 2, 64))
    grown.set(this.#bits)
    this.#bits = grown
  }
}
