/**
 * DirtySet: the ids whose objects changed since the last point (marked by the write
 * barriers of barrier.ts, and by the binary and Date comparisons of a snapshot, snapshot.ts),
 * and which of them are known to hold nothing beyond their record's body (`plain`).
 *
 * Invariants:
 *   D1. An id is in `list` at most once (`flags[id] === 1` exactly when it is listed).
 *   D2. `plain[id] === 1` only if the last record of `id` was written (encode.ts) for an
 *       extensible object with no own property but its enumerable string-keyed ones (its
 *       body), and no trap of its proxy has since run that could change that (barrier.ts:
 *       a symbol key, a property defined or made non-enumerable, `preventExtensions`;
 *       `beyond`). It says nothing of mutations through raw references: the encoder trusts
 *       it only for objects that are not exposed, in the default mode (encode.ts inv. 5).
 *       A full restore sets it for the objects it filled from OBJECT and DICT records without
 *       a PROPS section (decode.ts `flags`: they hold exactly their body, extensible); a trap
 *       run on one before its id is stamped clears it when stamping completes (barrier.ts
 *       `deferredBeyond`, tables.ts), before any point reads it.
 *   D3. `ordinary[id] === 1` only if the object of `id` was classified by its brand (kinds.ts:
 *       every brand check ran, its prototype being none of the fast paths') and found an
 *       ordinary object (KIND_OBJECT). An object's brand never changes (its internal slots are
 *       fixed when it is made), so this holds until the id is freed (`forget`). A full
 *       restore sets it for the objects it made for OBJECT and DICT records (decode.ts
 *       `flags`: a literal or `Object.create`, ordinary objects by construction).
 */
import { grownU8, sharedU8 } from './by-id.js'
import { ChangeLog } from './change-log.js'

export class DirtySet {
  flags = sharedU8(1024)     // by-id.ts: shared memory
  list: number[] = []
  /** Inv. D2 (by id; ids past its length are 0). */
  plain = sharedU8(1024)

  /** Records whether the record of `id` just written held everything `id` has (inv. D2). */
  setPlain(id: number, yes: boolean): void {
    if (id >= this.plain.length) {
      if (!yes) return
      this.plain = grownU8(this.plain, id)
    }
    this.plain[id] = yes ? 1 : 0
  }

  /** `id` may hold something beyond its body now (a trap): inv. D2. */
  beyond(id: number): void { if (id < this.plain.length) this.plain[id] = 0 }

  /** Inv. D3 (by id; ids past its length are 0). */
  ordinary = sharedU8(1024)

  /** The object of `id` has an ordinary object's brand (inv. D3). */
  setOrdinary(id: number): void {
    if (id >= this.ordinary.length) this.ordinary = grownU8(this.ordinary, id)
    this.ordinary[id] = 1
  }

  /** The change logs of large collections behind proxies (change-log.ts): the barrier records into them, the encoder writes PATCH records from them. */
  readonly changes = new ChangeLog()

  /** `id` was freed: nothing is known of the object it will name next (inv. D2, D3). */
  forget(id: number): void {
    if (id < this.plain.length) this.plain[id] = 0
    if (id < this.ordinary.length) this.ordinary[id] = 0
  }

  mark(id: number): void {
    if (id >= this.flags.length) this.flags = grownU8(this.flags, id)
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
