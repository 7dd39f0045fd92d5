/**
 * Shadow paging, free space: an in-memory bitmap of physical chunks (1 = in use), lowest
 * free chunk first so files stay compact.
 *
 * Invariants kept for the store (see shadow.ts, inv. 1 and inv. 6): a chunk is marked in use
 * from the moment a batch takes it, or open finds it referenced by a retained version, until
 * the store frees it; `alloc` never returns a chunk in use; `free` of a chunk not in use is a
 * bug and throws (so it cannot silently hand one chunk out twice).
 */

/** Bitmap allocator of physical chunk indexes. */
export class FreeSpace {
  #used: Uint8Array
  #count: number
  #free: number
  /** No free chunk lies below this index. */
  #hint = 0

  constructor(count: number) {
    this.#used = new Uint8Array(Math.max(count, 16))
    this.#count = count
    this.#free = count
  }

  /** Number of physical chunks tracked. */
  get count(): number { return this.#count }
  get freeCount(): number { return this.#free }

  /** Tracks `count` chunks (after the region grew); new chunks are free. */
  extend(count: number): void {
    if (count <= this.#count) return
    if (count > this.#used.length) {
      const next = new Uint8Array(Math.max(count, this.#used.length * 2))
      next.set(this.#used)
      this.#used = next
    }
    this.#free += count - this.#count
    this.#count = count
  }

  isUsed(p: number): boolean { return this.#used[p] === 1 }

  /** Marks a free chunk as used (open, rebuilding the set from the retained versions). */
  markUsed(p: number): void {
    if (this.#used[p] === 1) return
    this.#used[p] = 1
    this.#free--
  }

  /** Marks as used every chunk `p` with `flags[p] !== 0` (open: the retained versions' chunks, shadow-recover.ts `lastRef`). */
  markUsedWhere(flags: Uint8Array): void {
    const used = this.#used, n = Math.min(flags.length, this.#count)
    let marked = 0
    for (let p = 0; p < n; p++) if (flags[p] !== 0 && used[p] === 0) { used[p] = 1; marked++ }
    this.#free -= marked
  }

  /** Takes the lowest free chunk. The caller reserved it (freeCount > 0). */
  alloc(): number {
    for (let p = this.#hint; p < this.#count; p++) {
      if (this.#used[p] === 0) {
        this.#used[p] = 1
        this.#free--
        this.#hint = p + 1
        return p
      }
    }
    throw new Error(`shadow store bug: no free chunk among ${this.#count} although one was reserved`)
  }

  /** Takes the free chunk `p` itself (chunks the caller had written past the old end). */
  take(p: number): void {
    if (p >= this.#count || this.#used[p] === 1) throw new Error(`shadow store bug: chunk ${p} is not free`)
    this.#used[p] = 1
    this.#free--
  }

  /** Returns a chunk to the free set. */
  free(p: number): void {
    if (this.#used[p] !== 1) throw new Error(`shadow store bug: chunk ${p} freed twice`)
    this.#used[p] = 0
    this.#free++
    if (p < this.#hint) this.#hint = p
  }
}
