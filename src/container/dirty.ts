/**
 * DirtySet: the ids whose objects changed since the last point (marked by the write
 * barriers of barrier.ts, and by the binary and Date comparisons of a snapshot, snapshot.ts).
 *
 * Invariant: an id is in `list` at most once (`flags[id] === 1` exactly when it is listed).
 */
export class DirtySet {
  flags = new Uint8Array(1024)
  list: number[] = []

  mark(id: number): void {
    if (id >= this.flags.length) {
      let n = this.flags.length * 2
      while (n <= id) n *= 2
      const f = new Uint8Array(n); f.set(this.flags); this.flags = f
    }
    if (this.flags[id] === 1) return
    this.flags[id] = 1
    this.list.push(id)
  }

  /** Takes the dirty ids and empties the set. */
  take(): number[] {
    const ids = this.list
    for (const id of ids) this.flags[id] = 0
    this.list = []
    return ids
  }

  get size(): number { return this.list.length }
}
