/**
 * RefStore: the references of every current object record, in memory (ids only), so that a
 * compaction can find the objects reachable from the root without reading the log or
 * walking the program's objects: a mark over a million records takes a few milliseconds.
 *
 * Layout: `pool` holds the referenced ids of each record back to back; `start[id]` and
 * `count[id]` locate the current record's slice. Re-encoding an object appends a new slice
 * and leaves the old one as garbage; `pool` is compacted when garbage exceeds live entries.
 *
 * Invariant: for every id with a current record, `pool[start[id] .. start[id]+count[id])`
 * are exactly the object ids its record references (REF values and a view's buffer).
 */
import { grownI32, lengthFor, sharedI32 } from './by-id.js'

export class RefStore {
  start = sharedI32(1024)     // by-id.ts: shared memory, not counted as V8's external memory
  count = sharedI32(1024)
  pool = sharedI32(1 << 16)
  end = 0
  garbage = 0

  #room(id: number): void {
    if (id < this.start.length) return
    const n = lengthFor(this.start.length, id)
    this.start = grownI32(this.start, n)
    this.count = grownI32(this.count, n)
  }

  /** Records that `id`'s current record references `refs[from .. to)`. */
  set(id: number, refs: Int32Array, from: number, to: number): void {
    this.#room(id)
    const n = to - from
    this.garbage += this.count[id]
    this.count[id] = 0          // the old slice is garbage now: a compaction below must not copy it
    if (this.end + n > this.pool.length) this.#grow(n)
    const pool = this.pool
    for (let i = 0, at = this.end; i < n; i++) pool[at + i] = refs[from + i]
    this.start[id] = this.end
    this.count[id] = n
    this.end += n
  }

  /** Forgets `id` (its record was dropped by a compaction). */
  clear(id: number): void {
    if (id >= this.start.length) return
    this.garbage += this.count[id]
    this.count[id] = 0
  }

  #grow(n: number): void {
    const live = this.end - this.garbage
    if (this.garbage > live) { this.#compact(); if (this.end + n <= this.pool.length) return }
    let size = this.pool.length * 2
    while (size < this.end + n) size *= 2
    const p = sharedI32(size); p.set(this.pool.subarray(0, this.end)); this.pool = p
  }

  /** Precondition (inv. G): `garbage` counts exactly the entries of `pool[0 .. end)` outside
   *  every id's current slice, so the live slices fit in `end - garbage` entries. */
  #compact(): void {
    const p = sharedI32(Math.max(1 << 16, (this.end - this.garbage) * 2))
    let at = 0
    for (let id = 0; id < this.start.length; id++) {
      const n = this.count[id]
      if (n === 0) continue
      p.set(this.pool.subarray(this.start[id], this.start[id] + n), at)  // per live record, at compaction only
      this.start[id] = at
      at += n
    }
    this.pool = p
    this.end = at
    this.garbage = 0
  }

  /** Marks every id reachable from `root` (explicit stack); `marks[id] === 1` when reached. */
  mark(root: number, high: number): Uint8Array {
    const marks = new Uint8Array(high)
    let stack = new Int32Array(1024)
    let sp = 0
    if (root > 0 && root < high) { marks[root] = 1; stack[sp++] = root }
    while (sp > 0) {
      const id = stack[--sp]
      if (id >= this.start.length) continue
      const s = this.start[id], n = this.count[id]
      for (let i = s; i < s + n; i++) {
        const r = this.pool[i]
        if (r <= 0 || r >= high || marks[r] === 1) continue
        marks[r] = 1
        if (sp === stack.length) { const t = new Int32Array(stack.length * 2); t.set(stack); stack = t }
        stack[sp++] = r
      }
    }
    return marks
  }
}

/** A growable list of ids (scratch space of the encoder and restorer). */
export class IdList {
  a = new Int32Array(256)
  n = 0
  push(id: number): void {
    if (this.n === this.a.length) { const t = new Int32Array(this.n * 2); t.set(this.a); this.a = t }
    this.a[this.n++] = id
  }
}
