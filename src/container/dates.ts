/**
 * DateTable: Dates are handed out raw (not proxied, so that `new Date(d)`, `util.types`
 * and date libraries work on them), so a point cannot see their setters called. Instead,
 * every Date the write barrier hands out is recorded here with its time value, and each
 * point compares the recorded Dates with their current value: the cost per point is
 * proportional to the Dates the program has read through the container, not to all of
 * them (a Date never read through `c.root` can only change through a raw reference, which
 * is documented as untracked).
 *
 * Invariant: an id is listed at most once; `slot[id]` is its index in `ids`/`times` or -1.
 */
import { grownI32, lengthFor, sharedF64, sharedI32 } from './by-id.js'
import { dateTime } from './builtins.js'

export class DateTable {
  #ids = sharedI32(256)     // by-id.ts: shared memory
  #times = sharedF64(256)
  #slot = sharedI32(256).fill(-1)
  #n = 0

  get size(): number { return this.#n }

  /** Records `id` with time `t` unless it is already recorded (then its recorded value stands). */
  add(id: number, t: number): void { if (id >= this.#slot.length || this.#slot[id] < 0) this.set(id, t) }

  /** Updates the value of `id` if it is recorded (after a point persisted it). */
  update(id: number, t: number): void { if (id < this.#slot.length && this.#slot[id] >= 0) this.#times[this.#slot[id]] = t }

  set(id: number, t: number): void {
    if (id >= this.#slot.length) {
      const s = sharedI32(lengthFor(this.#slot.length, id)).fill(-1); s.set(this.#slot); this.#slot = s     // by-id.ts: shared memory
    }
    const at = this.#slot[id]
    if (at >= 0) { this.#times[at] = t; return }
    if (this.#n === this.#ids.length) {
      this.#ids = grownI32(this.#ids, this.#n * 2)
      const times = sharedF64(this.#n * 2); times.set(this.#times); this.#times = times
    }
    this.#ids[this.#n] = id
    this.#times[this.#n] = t
    this.#slot[id] = this.#n++
  }

  delete(id: number): void {
    if (id >= this.#slot.length) return
    const at = this.#slot[id]
    if (at < 0) return
    const last = --this.#n
    const moved = this.#ids[last]
    this.#ids[at] = moved
    this.#times[at] = this.#times[last]
    this.#slot[moved] = at
    this.#slot[id] = -1
  }

  clear(): void {
    for (let i = 0; i < this.#n; i++) this.#slot[this.#ids[i]] = -1
    this.#n = 0
  }

  /** Calls `changed(id)` for every Date whose time value differs from the one recorded. */
  compare(objects: unknown[], changed: (id: number) => void): void {
    const ids = this.#ids, times = this.#times
    for (let i = 0; i < this.#n; i++) {
      const now = dateTime(objects[ids[i]] as Date)
      const t = times[i]
      if (now !== t && (now === now || t === t)) changed(ids[i])
    }
  }
}
