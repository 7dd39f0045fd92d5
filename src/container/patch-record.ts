/**
 * PATCH records (format version 4; byte layout in format.ts): a segmented array, Map or Set
 * stored as the SEGMENT records of its last SEGMENTED record (its base) plus the changes
 * made since, from the collection's change log (change-log.ts). A point that changes 1% of
 * a Map of 200,000 entries at random touches 72% of its 128-entry segments; re-encoding
 * those costs most of a whole encode, where a PATCH record encodes the changed entries only
 * (plus the list of segment ids). One level: a PATCH record carries every change since its
 * base, and the next point's PATCH record of the same collection (same id) supersedes it
 * (format.ts inv. 1); once the changes exceed 1/8 of the collection (change-log.ts
 * `PATCH_FRACTION_SHIFT`), or the log cannot express them (inv. CL2), the point re-encodes
 * the collection as today (segments cut by content, most reused) and that is the new base.
 * Compaction copies current records, so a PATCH record keeps its base segments (they are
 * its references); a full point re-encodes everything (no PATCH records). Only collections
 * behind proxies use it (change-log.ts inv. CL1); exposed ones go through verify.ts and
 * patch-segments.ts as before.
 *
 * Invariants (restore relies on them; damage that breaks one is CorruptionError):
 *   PR1. Applying a PATCH record: build the base from its segments (b entries), then delete
 *        every `del` key (each must be present), set every `upd` key (each must be present:
 *        a value in place, keeping the order), then for each `add` key in order delete it if
 *        present and append it; an array's `upd` entries are (index < n, value) and n = b.
 *        The result must have n entries. This is the collection at the point (the log's
 *        table, change-log.ts), order included.
 *   PR2. Keys and values in a PATCH record are primitives (no reference, nothing dropped):
 *        the record's references are exactly its base segments, so the reference graph,
 *        compaction and `dropped` see what a SEGMENTED record of the same base shows. The
 *        encoder writes a PATCH record only when every key and value it writes is one
 *        (`isPatchValue`), the sizes agree (b - |del| + |add| = n) and every base segment
 *        is still a SEGMENT of this collection; otherwise it re-encodes.
 *   PR3. A restore starts the collection's change log from the record it filled (inv. CL1),
 *        so later points go on patching the same base.
 */
import { hasOwn, mapContains, mapFetch, mapSize, setSize } from './builtins.js'
import { KIND_ARRAY, KIND_MAP, KIND_PATCH, TAG_REF } from './format.js'
import { isPatchValue, type Changes } from './change-log.js'
import { SegmentRef } from './segments.js'
import type { Encoder } from './encode.js'

const setHas = Set.prototype.has
const setDelete = Set.prototype.delete
const setAddFn = Set.prototype.add
const mapDelete = Map.prototype.delete
const mapSet = Map.prototype.set

/**
 * Writes the body of a PATCH record for the collection being encoded (`e.holder`, `n`
 * entries now) from its change log, after kind and proto (the kind byte at `start` becomes
 * PATCH); its references are its base segments (inv. PR2). Returns false, having written
 * nothing and dropped the log, when a PATCH record cannot say it (the caller re-encodes).
 */
export function writePatch(e: Encoder, o: object, n: number, start: number, base: number): boolean {
  const id = e.holder
  const log = e.ctx.dirty.changes
  const c = log.get(o)
  if (c === undefined) return false
  if (c.whole || c.base !== base || c.size > c.limit || n !== (base === KIND_ARRAY ? c.entries : c.entries - c.del.size + c.add.size)) { log.delete(o); return false }
  const objects = e.ctx.table.objects
  const segIds = c.segIds
  for (let k = 0; k < segIds.length; k++) {
    const ref = objects[segIds[k]]
    if (!(ref instanceof SegmentRef) || ref.owner !== id) { log.delete(o); return false }
  }
  const w = e.w
  const at = w.pos
  w.u8(base); w.varint(n); w.varint(segIds.length)
  for (let k = 0; k < segIds.length; k++) w.varint(segIds[k])
  w.varint(c.entries)
  if (!changes(e, o, c, base)) { w.pos = at; log.delete(o); return false }
  w.buf[start] = KIND_PATCH
  const refs = e.scratch
  refs.n = 0
  for (let k = 0; k < segIds.length; k++) refs.push(segIds[k])
  return true
}

/** Writes the changes of `c` with the collection's current values; false if one cannot be written (inv. PR2) or the collection disagrees with the log. */
function changes(e: Encoder, o: object, c: Changes, base: number): boolean {
  const w = e.w
  if (base === KIND_ARRAY) {
    const a = o as unknown[]
    w.varint(c.upd.size)
    for (const i of c.upd as Set<number>) {
      const v = a[i]
      if (!isPatchValue(v) || (v === undefined && !hasOwn(a, i))) return false
      w.varint(i)
      e.value(v, i, 'index')
    }
    return true
  }
  const isMap = base === KIND_MAP
  const m = o as Map<unknown, unknown>, s = o as Set<unknown>
  const has = isMap ? (k: unknown) => mapContains(m, k) : (k: unknown) => setHas.call(s, k)
  w.varint(c.del.size)
  for (const k of c.del) {
    if (has(k) && !c.add.has(k)) return false
    e.value(k, k, isMap ? 'mapKey' : 'setEntry')
  }
  if (isMap) {
    w.varint(c.upd.size)
    for (const k of c.upd) {
      if (!mapContains(m, k)) return false
      const v = mapFetch(m, k)
      if (!isPatchValue(v)) return false
      e.value(k, k, 'mapKey'); e.value(v, k, 'mapValue')
    }
  }
  w.varint(c.add.size)
  for (const k of c.add) {
    if (!has(k)) return false
    e.value(k, k, isMap ? 'mapKey' : 'setEntry')
    if (isMap) {
      const v = mapFetch(m, k)
      if (!isPatchValue(v)) return false
      e.value(v, k, 'mapValue')
    }
  }
  return true
}

/** What the restorer offers a PATCH record's reader. */
interface PatchReader {
  readonly buf: Uint8Array
  pos: number
  varint(): number
  count(minBytes: number): number
  value(): unknown
  fail(what: string): never
}

/** The changes of a PATCH record, as read (before its base is built). */
export interface ReadPatch {
  /** Entries the base segments hold. */
  readonly entries: number
  readonly del: unknown[]
  /** Map: key, value pairs; array: index, value pairs. */
  readonly upd: unknown[]
  /** Map: key, value pairs; Set: values. */
  readonly add: unknown[]
}

/** A key or value of a PATCH record: never a reference (inv. PR2). */
function patchValue(r: PatchReader): unknown {
  if (r.buf[r.pos] === TAG_REF) r.fail('patch record holds a reference')
  const v = r.value()
  if (!isPatchValue(v)) r.fail('patch record holds a value that is not a primitive')
  return v
}

/** Reads the changes of a PATCH record of `base` kind and `n` entries (after its segment ids). */
export function readPatch(r: PatchReader, base: number, n: number): ReadPatch {
  const entries = r.varint()
  const del: unknown[] = [], upd: unknown[] = [], add: unknown[] = []
  if (base === KIND_ARRAY) {
    if (entries !== n) r.fail(`patched array of ${n} entries has a base of ${entries}`)
    const k = r.count(2)
    for (let i = 0; i < k; i++) {
      const at = r.varint()
      if (at >= n) r.fail(`patch of index ${at} in an array of ${n}`)
      upd.push(at, patchValue(r))
    }
    return { entries, del, upd, add }
  }
  const isMap = base === KIND_MAP
  const d = r.count(1)
  for (let i = 0; i < d; i++) del.push(patchValue(r))
  if (isMap) {
    const u = r.count(2)
    for (let i = 0; i < u; i++) upd.push(patchValue(r), patchValue(r))
  }
  const a = r.count(isMap ? 2 : 1)
  for (let i = 0; i < a; i++) { add.push(patchValue(r)); if (isMap) add.push(patchValue(r)) }
  return { entries, del, upd, add }
}

/** Applies `p` to the collection `o` just built from its base (inv. PR1); it must end with `n` entries. */
export function applyPatch(r: PatchReader, o: object, base: number, n: number, p: ReadPatch): void {
  if (base === KIND_ARRAY) {
    const a = o as unknown[]
    for (let i = 0; i < p.upd.length; i += 2) a[p.upd[i] as number] = p.upd[i + 1]
    return
  }
  if (base === KIND_MAP) {
    const m = o as Map<unknown, unknown>
    for (const k of p.del) if (!mapDelete.call(m, k)) r.fail('patch deletes a key its base does not hold')
    for (let i = 0; i < p.upd.length; i += 2) {
      if (!mapContains(m, p.upd[i])) r.fail('patch sets a key its base does not hold')
      mapSet.call(m, p.upd[i], p.upd[i + 1])
    }
    for (let i = 0; i < p.add.length; i += 2) { mapDelete.call(m, p.add[i]); mapSet.call(m, p.add[i], p.add[i + 1]) }
    if (mapSize(m) !== n) r.fail(`patched Map has ${mapSize(m)} entries, its record says ${n}`)
    return
  }
  const s = o as Set<unknown>
  for (const v of p.del) if (!setDelete.call(s, v)) r.fail('patch deletes a value its base does not hold')
  for (const v of p.add) { setDelete.call(s, v); setAddFn.call(s, v) }
  if (setSize(s) !== n) r.fail(`patched Set has ${setSize(s)} entries, its record says ${n}`)
}

/** Starts the change log a restored PATCH record describes (inv. PR3): its `del`, `upd` and `add` keys. */
export function logFromPatch(c: Changes, base: number, p: ReadPatch): void {
  if (base === KIND_ARRAY) { for (let i = 0; i < p.upd.length; i += 2) c.upd.add(p.upd[i]); return }
  for (const k of p.del) c.del.add(k)
  for (let i = 0; i < p.upd.length; i += 2) c.upd.add(p.upd[i])
  const step = base === KIND_MAP ? 2 : 1
  for (let i = 0; i < p.add.length; i += step) c.add.add(p.add[i])
}

