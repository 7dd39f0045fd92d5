/**
 * Change logs of large collections behind proxies (PATCH records, patch-record.ts): for each
 * segmented array, Map or Set whose current record the program can only change through its
 * proxy, which entries changed since the collection's last record (the last point that wrote
 * it). The write barrier (barrier.ts) records each mutation here as it marks the collection
 * dirty; the encoder writes the changes as one PATCH part (patch-record.ts) and empties the
 * log, or re-encodes the collection (a new base: segments) and starts a new log.
 *
 * What a log holds, relative to the collection as its last record left it ("before"):
 *
 * | set | Map | Set | array |
 * | --- | --- | --- | --- |
 * | `del` | keys deleted that were there before (a key deleted and added again stays here too) | values likewise | - |
 * | `upd` | keys there before, present, never deleted since, whose value was set | - | indices set or deleted (any index: those at or past the length the array has at the point are not written) |
 * | `add` | keys present now that were added since, in the collection's order | values likewise | - |
 *
 * So the collection now is: before without `del` (and without the keys of `add`), with the
 * `upd` keys' current values, then the `add` keys in order; its size is `size0` - |del| + |add|.
 * An array's length may change (format 5, patch-record.ts inv. PR1): `low` is the lowest
 * length it was set to since the last record; the array now is the one before cut to
 * `low`, with the `upd` indices below that set, then every element from `min(low, size0)`
 * to its length (each must be present: an array with a hole is re-encoded).
 *
 * Invariants (patch-record.ts relies on them):
 *   CL1. A log exists for collection X only while X's current record is a SEGMENTED or
 *        PATCH record of the base it names (`segIds`, `entries`) and the parts `parts`
 *        (`size0` entries after them), X is not exposed (verify.ts: the program holds no raw
 *        reference, so every change goes through the barrier; with `track: 'barriers'` no
 *        collection has a log, as raw references are not watched there) or is an exposed
 *        array of numbers (S_NUMS: its changes come from the point's comparison, verify.ts
 *        inv. V4, patch-record.ts `writeVerifiedNumbers`; its `upd` is not used), and every change since that
 *        record was recorded in order (the barrier records before the mutation happens,
 *        barrier.ts inv. 2). The encoder deletes the log whenever it writes X any other way
 *        and makes a new one with each base it writes; a restore makes one per SEGMENTED or
 *        PATCH record it fills.
 *   CL2. A mutation the log cannot express (a function or symbol key, `clear`, a named
 *        array key, an array length set to a value that is not a number (the engine converts
 *        it: the length it sets is not known when the barrier records), an element defined
 *        with attributes other than an ordinary element's, more
 *        changes than `limit` since the base, counting the parts written) sets `whole`: the
 *        next record of X re-encodes it (a new base). `whole` is never cleared; the log is
 *        replaced with the next base.
 *   CL3. A plain object of more than SEGMENT_MIN own enumerable string keys stored as
 *        segments (base KIND_DICT, format 7) is logged as a Map whose keys are its own
 *        enumerable string keys (`dictSet`, `dictDelete`): the barrier records each set,
 *        define and delete with whether the key was own before it ran. A store that does
 *        not happen as recorded (a non-writable property, a non-extensible object, another
 *        receiver, `__proto__` reaching Object.prototype's setter) leaves the object
 *        disagreeing with the log: the encoder checks every logged key (`del` absent unless also in `add`, `upd`
 *        and `add` own) and re-encodes on any disagreement (patch-record.ts).
 */
import { KIND_ARRAY, KIND_DICT } from './format.js'

/** True for a primitive a PATCH part may hold (nothing that could not persist; a format-4 part holds nothing else): patch-record.ts inv. PR2. */
export function isPatchValue(v: unknown): boolean {
  const t = typeof v
  return t === 'string' || t === 'number' || t === 'boolean' || t === 'undefined' || t === 'bigint' || v === null
}

/** True for a key the log may record: a primitive, or an object (a reference in a part, patch-record.ts inv. PR2; whether it persists is the encoder's test). */
function isLogKey(k: unknown): boolean { return isPatchValue(k) || typeof k === 'object' }

const INDEX = /^(?:0|[1-9]\d*)$/

/** The changes of one collection since its last record (the table at the top). */
export class Changes {
  whole = false
  readonly del = new Set<unknown>()
  readonly upd = new Set<unknown>()
  readonly add = new Set<unknown>()
  /** Most changes since the base, parts included: past this the collection is re-encoded (inv. CL2). */
  readonly limit: number
  /** Ids of the PATCH parts written since the base, in order (patch-record.ts). */
  readonly parts: number[] = []
  /** Changes the parts hold. */
  total = 0
  /** Entries of the collection after the base and the parts (what its last record says). */
  size0: number
  /** An array's lowest length since its last record (Infinity: not set since). */
  low = Infinity
  /** The base reported values it could not persist (DROPPED in its segments): a part, which cannot report them again, is never written over it (patch-record.ts inv. PR2). */
  dropped = false

  constructor(
    /** KIND_ARRAY, KIND_MAP, KIND_SET or KIND_DICT (a plain object used as a dictionary, format 7: logged as a Map of string keys, inv. CL3). */
    readonly base: number,
    /** The base's SEGMENT ids, in order. */
    readonly segIds: ArrayLike<number>,
    /** Entries the base segments hold. */
    readonly entries: number,
  ) {
    this.limit = Math.max(64, entries >>> PATCH_FRACTION_SHIFT)
    this.size0 = entries
  }

  /** Changes recorded since the last record. */
  get size(): number { return this.del.size + this.upd.size + this.add.size }

  /** `count` changes found by a point's comparison (an exposed collection) were written as part `id`, leaving `n` entries. */
  wrote(id: number, n: number, count: number): void {
    this.parts.push(id)
    this.total += count
    this.size0 = n
    this.low = Infinity
    this.del.clear(); this.upd.clear(); this.add.clear()
  }

  /** The changes just recorded were written as part `id`, leaving `n` entries: the log starts again. */
  written(id: number, n: number): void {
    this.parts.push(id)
    this.total += this.size
    this.size0 = n
    this.low = Infinity
    this.del.clear(); this.upd.clear(); this.add.clear()
  }

  #overflow(): void {
    if (this.total + this.size <= this.limit) return
    this.whole = true
    this.del.clear(); this.upd.clear(); this.add.clear()
  }

  /** `m.set(k, ...)` on a Map that had `k` (`present`) or not. */
  mapSet(k: unknown, present: boolean): void {
    if (this.whole) return
    if (!isLogKey(k)) { this.whole = true; return }
    if (present) { if (!this.add.has(k)) this.upd.add(k) } else this.add.add(k)
    this.#overflow()
  }

  /** `delete(k)` on a Map or Set that had `k` (`present`) or not. */
  remove(k: unknown, present: boolean): void {
    if (this.whole || !present) return
    if (!isLogKey(k)) { this.whole = true; return }
    if (this.add.has(k)) this.add.delete(k)
    else { this.del.add(k); this.upd.delete(k) }
    this.#overflow()
  }

  /** `s.add(v)` on a Set that had `v` (`present`) or not. */
  setAdd(v: unknown, present: boolean): void {
    if (this.whole || present) return
    if (!isLogKey(v)) { this.whole = true; return }
    this.add.add(v)
    this.#overflow()
  }

  /**
   * Inv. CL3: a property of a segmented plain object (base KIND_DICT) set or defined as an
   * ordinary enumerable data property through its proxy; `present`: it was an own property
   * before. Logged as a Map's `set` (a string key that is deleted and set again moves to the
   * end of the object's string keys, as it does in a Map; integer-like keys are ordered by
   * the object itself, at the point as at restore). A symbol key is beyond the body: `whole`.
   */
  dictSet(k: string | symbol, present: boolean): void {
    if (this.whole) return
    if (typeof k !== 'string' || this.base !== KIND_DICT) { this.whole = true; return }
    this.mapSet(k, present)
  }

  /** Inv. CL3: `delete` of property `k` of a segmented plain object through its proxy (`present`: it was own). */
  dictDelete(k: string | symbol, present: boolean): void {
    if (this.whole) return
    if (typeof k !== 'string' || this.base !== KIND_DICT) { this.whole = true; return }
    this.remove(k, present)
  }

  /** A property set on an array (through its proxy's `set` or `defineProperty` trap, an ordinary element's value). */
  arraySet(k: string | symbol, v: unknown): void {
    if (this.whole) return
    if (typeof k === 'string' && this.base === KIND_ARRAY) {
      if (k === 'length') {       // a new length (pop, truncation, push): inv. CL2 no more
        if (typeof v !== 'number') { this.whole = true; return }     // '5', null, true, [5]: the engine converts it (maybe running the program's valueOf), so the length it sets is not known here
        if (v < this.low) this.low = v
        return
      }
      if (INDEX.test(k) && +k < MAX_INDEX) { this.upd.add(+k); this.#overflow(); return }
    }
    this.whole = true
  }

  /** A property deleted from an array through its proxy: an element (pop, or a hole: the encoder finds it missing and re-encodes), else `whole`. */
  arrayDelete(k: string | symbol): void {
    if (this.whole) return
    if (typeof k === 'string' && this.base === KIND_ARRAY && INDEX.test(k) && +k < MAX_INDEX) { this.upd.add(+k); this.#overflow(); return }
    this.whole = true
  }
}

/** One past the largest array index. */
const MAX_INDEX = 0xffff_ffff

/** Changes are kept up to entries / 2^this (1/4) of a collection (at least 64) since its base; past that a point rewrites its segments. */
export const PATCH_FRACTION_SHIFT = 2
/** Most PATCH parts a collection's record lists; the next change re-encodes it (a new base). */
export const MAX_PARTS = 64

/**
 * The logs of the collections that have one (inv. CL1), by the raw collection (not by id: a
 * restore stamps ids in the background, tables.ts inv. T2, and a mutation made before its
 * target is stamped must still be recorded).
 */
export class ChangeLog {
  readonly #by = new Map<object, Changes>()

  get size(): number { return this.#by.size }
  get(o: object): Changes | undefined { return this.#by.get(o) }
  delete(o: object): void { this.#by.delete(o) }
  clear(): void { this.#by.clear() }

  /** A new log for `o` (its base just written or restored). */
  start(o: object, base: number, segIds: ArrayLike<number>, entries: number): Changes {
    const c = new Changes(base, segIds, entries)
    this.#by.set(o, c)
    return c
  }
}
