/**
 * BlockIndex: the start offsets of the heap's blocks, in JavaScript memory, so that `free`
 * can check that an offset is the payload of a real block (heap inv. 1: blocks tile the heap)
 * without trusting any byte a program can write, and without a walk from the heap's start
 * on every free.
 *
 * Why it stays right cheaply: blocks are only ever carved at `top`, never split or merged,
 * so the tiling below the committed `top` never changes; only the running transaction adds
 * blocks, at its own `top`. The index holds starts in increasing order.
 *
 * Invariants (cited as "index inv. N"):
 *   1. Every entry below the `top` a transaction sees is a block start of the tiling it sees.
 *      Entries at or above it were carved by a transaction (or sub-transaction) that aborted;
 *      lookups ignore them and the next carve, which happens at that `top`, drops them.
 *   2. Entries are contiguous: each block ends where the next starts, and `end` is the end
 *      of the last one. A carve that would break this empties the index, rebuilt on demand.
 *
 * Cost: one walk of the heap (two header reads per block) at the first lookup after open,
 * 4 bytes per block, then a binary search per lookup and an append per carve.
 */
import { CorruptionError } from '../regions/index.js'

/** Size in bytes of the block starting at `at`, or -1 if no valid block header is there. */
export type BlockSizeAt = (at: number) => number

/** See the file comment. */
export class BlockIndex {
  readonly first: number
  #starts = new Uint32Array(256)
  #count = 0
  #end = 0
  #built = false

  /** `first` is where the heap's first block starts. */
  constructor(first: number) { this.first = first }

  /** A block of `size` bytes was carved at `block` (the `top` its transaction saw). */
  carved(block: number, size: number): void {
    if (!this.#built) return
    this.#dropFrom(block) // index inv. 1
    if (this.#end !== block) { this.#reset(); return } // index inv. 2
    this.#push(block)
    this.#end = block + size
  }

  /**
   * The start of the block containing byte `at` among the blocks below `top`, or -1 if
   * there is none. Walks the heap (through `sizeAt`) to build or extend the index first.
   */
  blockContaining(at: number, top: number, sizeAt: BlockSizeAt): number {
    if (!this.#built) { this.#reset(); this.#built = true; this.#end = this.first }
    if (this.#end < top) this.#extend(top, sizeAt)
    const s = this.#starts
    let lo = 0, hi = this.#count - 1, found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (s[mid]! <= at) { found = mid; lo = mid + 1 } else hi = mid - 1
    }
    return found >= 0 && s[found]! < top ? s[found]! : -1
  }

  /** Walks the blocks from `end` up to `top`, appending their starts. */
  #extend(top: number, sizeAt: BlockSizeAt): void {
    let b = this.#end
    while (b < top) {
      const size = sizeAt(b)
      if (size <= 0 || b + size > top) {
        this.#reset()
        throw new CorruptionError(`Cannot free: the heap block at ${b} has a damaged header (heap inv. 1); run check() for details`)
      }
      this.#push(b)
      b += size
    }
    this.#end = b
  }

  #dropFrom(top: number): void {
    let n = this.#count
    while (n > 0 && this.#starts[n - 1]! >= top) n--
    if (n < this.#count) { this.#end = this.#starts[n]!; this.#count = n }
  }

  #push(block: number): void {
    if (this.#count === this.#starts.length) {
      const grown = new Uint32Array(this.#starts.length * 2)
      grown.set(this.#starts)
      this.#starts = grown
    }
    this.#starts[this.#count++] = block
  }

  #reset(): void {
    this.#count = 0
    this.#end = this.first
    this.#built = false
  }
}
