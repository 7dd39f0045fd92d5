/**
 * PATCH records (format version 4, parts holding references format version 5; byte layouts in
 * format.ts): a segmented array, Map or Set
 * stored as the SEGMENT records of its last SEGMENTED record (its base) plus PATCH parts,
 * each holding the changes one point made (from the collection's change log, change-log.ts).
 * A point that changes 1% of a Map of 200,000 entries at random touches 72% of its 128-entry
 * segments; re-encoding those costs most of a whole encode, where a PATCH part encodes the
 * changed entries only. The collection's own record (kind PATCH under its id) lists the base
 * segments and the parts in order, so a point writes one part (under a new id) and that list
 * again (superseding the last, format.ts inv. 1). Once the changes since the base exceed 1/4
 * of the collection (change-log.ts `PATCH_FRACTION_SHIFT`), or it has MAX_PARTS parts, or its
 * log cannot express a change (inv. CL2), the point re-encodes the collection as before
 * (segments cut by content, most reused): that is the new base, and the old parts are no
 * longer listed (left to compaction, like unlisted segments). Compaction copies current
 * records, so the parts stay with their collection (they are its references); a full point
 * re-encodes everything (no PATCH records). Collections behind proxies take their changes
 * from their log (change-log.ts inv. CL1); exposed ones from the point's comparison
 * (verify.ts inv. V4, `writeVerifiedNumbers`, `writeVerifiedEntries`). This file writes;
 * patch-apply.ts reads and applies (restore).
 *
 * Invariants (restore relies on them; damage that breaks one is CorruptionError):
 *   PR1. Restore builds the base from its segments (b entries), then applies each part in
 *        order: delete every `del` key (each must be present), set every `upd` key (each
 *        must be present: a value in place, keeping the order), then for each `add` key in
 *        order delete it if present and append it. An array's part sets the array's length
 *        to its `after` first (form 1, format 5; a form-0 part never changes it), then its
 *        `upd` entries (index < length, value); an array that grew must have every element
 *        from its old length on (a segmented array is dense: the encoder writes every
 *        element from the lowest length it had since its last record, change-log.ts, and
 *        re-encodes an array with a hole). After each part the collection must have the
 *        entries the part says, and after all of them the entries the record says.
 *        This is the collection at the point (change-log.ts's table, applied part by part),
 *        order included.
 *   PR2. A part's keys and values are primitives or references (format 5, part form 1; a
 *        format-4 part, form 0, holds primitives only), never a value that could not persist
 *        (no DROPPED: the encoder writes a part only when every value it writes would persist,
 *        `persistable`, and over a base that dropped nothing, `Changes.dropped`; otherwise it
 *        re-encodes, which reports every value it drops under the collection). The
 *        collection's references are its base segments and its parts; a part's references
 *        are the objects its keys and values name (RefStore, at encode and at restore), so
 *        the reference graph and compaction reach every object a part names (`dropped`
 *        paths too, but only to what the collection holds now: paths.ts `pathsTo`),
 *        and a new object a part names is given an id and encoded in the same point as the
 *        part (encode.ts inv. 1). An object key deleted by a part has an id already (it was
 *        in the collection's last record); the part keeps it reachable until the collection
 *        is re-encoded. A form-1 part names its collection (its owner id): a part listed by
 *        another collection's record is CorruptionError. The encoder writes a part only when
 *        the sizes agree and every base segment and part is still one of this collection's;
 *        otherwise it re-encodes.
 *   PR3. A part id belongs to one collection (a PatchPart descriptor, bound on restore like
 *        segments) and is listed by its PATCH record only; never reused before compaction.
 *   PR4. A restore starts the collection's change log with the base and parts its record
 *        names (inv. CL1), so later points go on adding parts to the same base.
 *   PR5. A collection whose record has parts is re-encoded whole when it is not patched
 *        again: never by patch-segments.ts, which keeps segments it does not read (their
 *        bytes are the base's; the parts' changes to them would be lost).
 *   PR6. A plain object of more than SEGMENT_MIN own enumerable string keys (base KIND_DICT,
 *        format 7; proto built-in or null, never a class) is patched as a Map of string
 *        keys (change-log.ts inv. CL3): a part's keys are strings, its `add` keys are set
 *        in order after deleting each (so a string key deleted and set again is last among
 *        the string keys; integer-like keys are ordered by the object, as JavaScript
 *        orders them). The encoder writes one only behind a proxy (never for an exposed
 *        object: its changes are the comparison's, and it is re-encoded by segments), only
 *        when the record gets no PROPS section nor inspection (`nothingToInspect`: the
 *        object's `plain` flag, dirty.ts inv. D2; so no key is listed at the point), and
 *        only when every logged key agrees with the object (`del` keys absent unless
 *        added again, `upd` and `add` keys own): the count the record says is the log's (size0 - |del| + |add|),
 *        never a listing. Restore counts keys as it applies (no listing either): each
 *        `del` and `upd` key must be own, each `add` key adds one if it was not.
 */
import { hasOwn, mapContains, mapEach, mapFetch, setEach } from './builtins.js'
import { KIND_ARRAY, KIND_DICT, KIND_MAP, KIND_PATCH, PROTO_BUILTIN } from './format.js'
import { MAX_PARTS, isPatchValue, type Changes } from './change-log.js'
import { PartRef, SegmentRef } from './segments.js'
import type { ByteWriter } from './writer.js'
import type { Encoder } from './encode.js'
import { changedWhileEncoded } from './errors.js'
import { S_MAP, S_NUMS, S_SET } from './shadow.js'

const setHas = Set.prototype.has

/** In-memory descriptor of a PATCH part (kept in the object table under its id, inv. PR3). */
export class PatchPart extends PartRef {}

/** First body byte of a format-4 PATCH part (form 0: primitives only, no owner; a collection's PATCH record starts with its base kind, never 0 or 1). */
export const PART_MARK = 0
/** First body byte of a format-5 PATCH part (form 1): its collection's id follows its base kind; keys and values may be references (inv. PR2). */
export const PART_OWNED = 1

/**
 * Writes the body of a PATCH record for the collection being encoded (`e.holder`, `n`
 * entries now) after kind and proto (the kind byte at `start` becomes PATCH), and a PATCH
 * part with the changes its log recorded (to `e.aux`, before the object records); its
 * references are its base segments and parts (inv. PR2). Returns false, having written
 * nothing and dropped the log, when a PATCH record cannot say it (the caller re-encodes).
 */
export function writePatch(e: Encoder, o: object, n: number, start: number, base: number): boolean {
  const id = e.holder
  const log = e.ctx.dirty.changes
  const c = log.get(o)
  if (c === undefined) return false
  const expect = base === KIND_ARRAY ? n : c.size0 - c.del.size + c.add.size      // an array's length may change (inv. PR1; each element written is checked present)
  const any = c.size > 0 || (base === KIND_ARRAY && (n !== c.size0 || c.low < c.size0))     // a length change alone is a part too
  if (c.whole || c.dropped || c.base !== base || c.total + c.size > c.limit || n !== expect || (any && c.parts.length >= MAX_PARTS) || !listed(e, id, c)) {
    log.delete(o)
    return false
  }
  if (any) {
    const main = e.w, sw = e.seg
    const n0 = e.scratch.n
    e.w = sw
    sw.pos = 0
    let ok: boolean
    try { ok = changes(e, o, c, base, n) } finally { e.w = main }
    if (!ok) { e.scratch.n = n0; log.delete(o); return false }
    const pid = e.ctx.table.assign(new PatchPart(id))
    writePart(e.aux, pid, base, id, sw.buf.subarray(0, sw.pos))
    e.ctx.refs.set(pid, e.scratch.a, n0, e.scratch.n)      // inv. PR2: the objects the part names
    e.scratch.n = n0
    e.records++
    c.written(pid, n)
  }
  if (base === KIND_DICT) e.dicts++      // write.ts inv. F6: format 7
  collectionRecord(e, c, base, n, start)
  return true
}

/**
 * True if `v` would be written as itself (a primitive, or a REF: encode.ts `value`), never
 * as DROPPED (a function, a symbol, an excluded object, one of a kind or class that cannot
 * persist): the test a PATCH part makes before each value (inv. PR2). Mirrors
 * `Encoder.value` and `discover`, without their effects (but a CLASS record for a class
 * met first here, which the value's own record needs anyway).
 */
export function persistable(e: Encoder, v: unknown): boolean {
  const t = typeof v
  if (t === 'function' || t === 'symbol') return false
  if (t !== 'object' || v === null) return true
  const ctx = e.ctx
  let o = v as object
  if (ctx.table.idOf(o) !== 0) return true
  if (ctx.anyProxies) {
    const target = ctx.table.targetOf(o)
    if (target !== undefined) { if (ctx.table.idOf(target) !== 0) return true; o = target }
  }
  if (ctx.anyExcluded && ctx.excluded.has(o)) return false
  return e.classify(o) !== 0
}

/** True if `k`, a key a part deletes, is a primitive or an object with an id (it was in the collection's last record: inv. PR2). */
function known(e: Encoder, k: unknown): boolean {
  if (typeof k !== 'object' || k === null) return isPatchValue(k)
  const table = e.ctx.table
  return table.idOf(k) !== 0 || (e.ctx.anyProxies && table.idOf(table.targetOf(k) ?? k) !== 0)
}

/**
 * An exposed array of numbers (an S_NUMS shadow, verify.ts) whose point comparison found
 * only some elements changed and maybe its length (inv. V4): one PATCH part with them, from
 * the comparison's positions, and every element past the old length (the log's `upd` is
 * not used: the program holds the array raw), and its PATCH record; the shadow's
 * Float64Array gets the values written (a new one when the length changed;
 * patch-segments.ts inv. P1). False, having written nothing, when that does not apply.
 */
export function writeVerifiedNumbers(e: Encoder, a: unknown[], n: number, start: number): boolean {
  const owner = e.holder
  const c = e.ctx.dirty.changes.get(a)
  const v = e.ctx.verifier!
  const changed = v.peekChanged(owner)
  if (c === undefined || changed === undefined || c.whole || c.base !== KIND_ARRAY) return false
  const old = e.sh!.numsOf(owner)
  if (old === null || old.length !== c.size0) return false
  const grown = n > old.length ? n - old.length : 0
  if (c.total + changed.length + grown > c.limit || c.parts.length >= MAX_PARTS || !listed(e, owner, c)) return false
  for (let j = 0; j < changed.length; j++) if (changed[j] >= n || typeof a[changed[j]] !== 'number') return false
  for (let i = old.length; i < n; i++) if (typeof a[i] !== 'number') return false
  v.takeChanged(owner)
  let nums = old
  if (n !== old.length) { nums = new Float64Array(n); nums.set(n < old.length ? old.subarray(0, n) : old) }
  const sw = e.seg
  sw.pos = 0
  sw.varint(n); sw.varint(changed.length + grown)
  c.upd.clear()
  const put = (i: number): void => {
    const x = a[i] as number
    sw.varint(i); sw.num(x)
    nums[i] = x
    c.upd.add(i)
  }
  for (let j = 0; j < changed.length; j++) put(changed[j])
  for (let i = old.length; i < n; i++) put(i)
  const pid = e.ctx.table.assign(new PatchPart(owner))
  writePart(e.aux, pid, KIND_ARRAY, owner, sw.buf.subarray(0, sw.pos))
  e.ctx.refs.set(pid, e.scratch.a, 0, 0)      // numbers only
  e.records++
  c.written(pid, n)
  const sh = e.sh!
  sh.push(n); sh.push(n); sh.push(nums)       // shadow.ts S_NUMS: length, keys, the numbers
  e.skind = S_NUMS
  collectionRecord(e, c, KIND_ARRAY, n, start)
  return true
}

/**
 * An exposed Map or Set (S_MAP or S_SET shadow) whose point comparison found only some
 * entries deleted, some Map values changed and entries appended, primitives or objects
 * (verify.ts inv. V4: a changed value's old position p, a deleted entry's as -3 - p): one
 * PATCH part with the deleted keys and the changed values (keys from the shadow) and the
 * appended entries, and its PATCH record. The part is written first and the shadow changed
 * only once it is whole (a value that could not persist, inv. PR2, leaves both untouched:
 * the caller re-encodes). The shadow is what the record holds (patch-segments.ts inv. P1):
 * without deletions or appends the old slice, its changed value slots overwritten; with
 * them a new slice of the old slots kept (so overwritten) and the appended entries. False,
 * having written nothing, when that does not apply.
 */
export function writeVerifiedEntries(e: Encoder, o: Map<unknown, unknown> | Set<unknown>, n: number, start: number, base: number): boolean {
  const owner = e.holder
  const c = e.ctx.dirty.changes.get(o)
  const v = e.ctx.verifier!
  const changed = v.peekChanged(owner)
  const isMap = base === KIND_MAP
  const sh = e.sh!
  if (c === undefined || changed === undefined || c.whole || c.dropped || c.base !== base || owner >= sh.kind.length || sh.kind[owner] !== (isMap ? S_MAP : S_SET)) return false
  const prev = sh.chunks[sh.chunkOf[owner]], p = sh.startOf[owner] + 2       // the old slice's first entry (after proto, size)
  const old = prev[p - 1] as number
  let dels = 0
  for (let j = 0; j < changed.length; j++) if (changed[j] < 0) dels++
  const kept = old - dels, appended = n - kept, upds = changed.length - dels
  const count = changed.length + appended
  if (appended < 0 || (!isMap && upds > 0) || old !== c.size0 || c.total + count > c.limit || c.parts.length >= MAX_PARTS || !listed(e, owner, c)) return false
  v.takeChanged(owner)
  const sw = e.seg, main = e.w
  sw.pos = 0
  const n0 = e.scratch.n
  const cap = e.cap
  e.cap = false       // values go to the part; the shadow is kept by hand below
  e.w = sw
  const vals: unknown[] = []      // the changed values, then the appended entries (a Map's keys and values), as written
  let ok = true
  try {
    sw.varint(n)
    sw.varint(dels)
    for (let j = 0; j < changed.length; j++) {
      if (changed[j] >= 0) continue
      const at = p + (isMap ? 2 : 1) * (-3 - changed[j]), k = prev[at]
      e.value(k, k, isMap ? 'mapKey' : 'setEntry')          // in the last record: it persists
    }
    if (isMap) {
      sw.varint(upds)
      for (let j = 0; j < changed.length; j++) {
        if (changed[j] < 0) continue
        const k = prev[p + 2 * changed[j]], x = mapFetch(o as Map<unknown, unknown>, k)
        if (!persistable(e, x)) { ok = false; break }     // the key was in the last record
        e.value(k, k, 'mapKey'); e.value(x, k, 'mapValue')
        vals.push(x)
      }
    }
    sw.varint(appended)
    if (ok && appended > 0) {
      let i = 0
      const entry = (x: unknown, k: unknown): void => {
        if (i++ < kept || !ok) return
        if (!persistable(e, k) || (isMap && !persistable(e, x))) { ok = false; return }
        if (isMap) { e.value(k, k, 'mapKey'); e.value(x, k, 'mapValue'); vals.push(k, x) }
        else { e.value(x, i - 1, 'setEntry'); vals.push(x) }
      }
      if (isMap) mapEach(o as Map<unknown, unknown>, entry)
      else setEach(o as Set<unknown>, x => { entry(x, x) })
      if (i !== n) throw changedWhileEncoded(e.holder)      // snapshot.ts inv. 5
    }
  } finally { e.cap = cap; e.w = main }
  if (!ok) { e.scratch.n = n0; return false }
  let at = 0
  if (isMap) for (let j = 0; j < changed.length; j++) if (changed[j] >= 0) prev[p + 2 * changed[j] + 1] = vals[at++]
  const fresh = dels > 0 || appended > 0
  if (fresh) {
    const gone = new Uint8Array(dels > 0 ? old : 0)
    for (let j = 0; j < changed.length; j++) if (changed[j] < 0) gone[-3 - changed[j]] = 1
    sh.reserve(1 + (isMap ? 2 * n : n)); sh.push(n)
    for (let i = 0; i < old; i++) {
      if (dels > 0 && gone[i] === 1) continue
      if (isMap) { sh.push(prev[p + 2 * i]); sh.push(prev[p + 2 * i + 1]) } else sh.push(prev[p + i])
    }
    while (at < vals.length) sh.push(vals[at++])
  }
  e.skind = fresh ? (isMap ? S_MAP : S_SET) : 0       // in place: the old slice stays the shadow (the one begun is abandoned)
  const pid = e.ctx.table.assign(new PatchPart(owner))
  writePart(e.aux, pid, base, owner, sw.buf.subarray(0, sw.pos))
  e.ctx.refs.set(pid, e.scratch.a, n0, e.scratch.n)      // inv. PR2: the objects the part names
  e.scratch.n = n0
  e.records++
  c.wrote(pid, n, count)
  collectionRecord(e, c, base, n, start)
  return true
}

/** The body of a collection's PATCH record (its base segments and parts), and its references (inv. PR2). */
function collectionRecord(e: Encoder, c: Changes, base: number, n: number, start: number): void {
  const w = e.w
  const segIds = c.segIds, parts = c.parts
  w.u8(base); w.varint(n); w.varint(segIds.length)
  for (let k = 0; k < segIds.length; k++) w.varint(segIds[k])
  w.varint(c.entries); w.varint(parts.length)
  for (let k = 0; k < parts.length; k++) w.varint(parts[k])
  w.buf[start] = KIND_PATCH
  const refs = e.scratch
  refs.n = 0
  for (let k = 0; k < segIds.length; k++) refs.push(segIds[k])
  for (let k = 0; k < parts.length; k++) refs.push(parts[k])
}

/** True if every base segment and part of `c` is still a descriptor of collection `id` (inv. PR2, PR3). */
function listed(e: Encoder, id: number, c: Changes): boolean {
  const objects = e.ctx.table.objects
  for (let k = 0; k < c.segIds.length; k++) {
    const ref = objects[c.segIds[k]]
    if (!(ref instanceof SegmentRef) || ref.owner !== id) return false
  }
  for (let k = 0; k < c.parts.length; k++) {
    const ref = objects[c.parts[k]]
    if (!(ref instanceof PatchPart) || ref.owner !== id) return false
  }
  return true
}

/** A PATCH part record (form 1, format 5): id, then PATCH, proto 0, the part mark, its base kind, its collection's id and its body (entries after it, changes). */
function writePart(w: ByteWriter, id: number, base: number, owner: number, body: Uint8Array): void {
  const lenAt = w.beginRecord(id)
  w.u8(KIND_PATCH); w.varint(PROTO_BUILTIN); w.u8(PART_OWNED); w.u8(base); w.varint(owner)
  w.bytes(body)
  w.endRecord(lenAt)
}

/** Writes a part's body (entries after it, the changes of `c` with the collection's current values) to `e.w`; false if one cannot be written (inv. PR2) or the collection disagrees with the log. */
function changes(e: Encoder, o: object, c: Changes, base: number, n: number): boolean {
  const w = e.w
  w.varint(n)
  if (base === KIND_ARRAY) {
    // The indices set below the lowest length since the last record, then every element
    // from there to the length (change-log.ts's table): each present (no hole, inv. PR1).
    const a = o as unknown[]
    const from = Math.min(c.low, c.size0, n)
    const idx: number[] = []
    for (const i of c.upd as Set<number>) if (i < from) idx.push(i)
    if (c.total + idx.length + (n - from) > c.limit) return false
    w.varint(idx.length + (n - from))
    for (let j = 0, end = idx.length + (n - from); j < end; j++) {
      const i = j < idx.length ? idx[j] : from + j - idx.length
      const v = a[i]
      if (!persistable(e, v) || (v === undefined && !hasOwn(a, i))) return false
      w.varint(i)
      e.value(v, i, 'index')
    }
    return true
  }
  if (base === KIND_DICT) return dictChanges(e, o as Record<string, unknown>, c)
  const isMap = base === KIND_MAP
  const m = o as Map<unknown, unknown>, s = o as Set<unknown>
  w.varint(c.del.size)
  for (const k of c.del) {
    if (!known(e, k)) return false
    e.value(k, k, isMap ? 'mapKey' : 'setEntry')
  }
  if (isMap) {
    w.varint(c.upd.size)
    for (const k of c.upd) {
      const v = mapFetch(m, k)
      if (!known(e, k) || !persistable(e, v) || (v === undefined && !mapContains(m, k))) return false
      e.value(k, k, 'mapKey'); e.value(v, k, 'mapValue')
    }
  }
  w.varint(c.add.size)
  for (const k of c.add) {
    if (!persistable(e, k)) return false
    e.value(k, k, isMap ? 'mapKey' : 'setEntry')
    if (isMap) {
      const v = mapFetch(m, k)
      if (!persistable(e, v) || (v === undefined && !mapContains(m, k))) return false
      e.value(v, k, 'mapValue')
    } else if (!setHas.call(s, k)) return false
  }
  return true
}

/** A dictionary's part (inv. PR6): as a Map's, string keys; false if a logged key disagrees with the object or a value cannot persist. */
function dictChanges(e: Encoder, d: Record<string, unknown>, c: Changes): boolean {
  const w = e.w
  w.varint(c.del.size)
  for (const k of c.del) {
    if (typeof k !== 'string' || (hasOwn(d, k) && !c.add.has(k))) return false      // a key deleted and set again is in both (change-log.ts's table)
    w.str(k)
  }
  w.varint(c.upd.size)
  for (const k of c.upd) if (!dictEntry(e, d, k)) return false
  w.varint(c.add.size)
  for (const k of c.add) if (!dictEntry(e, d, k)) return false
  return true
}

/** Writes key `k` and its value if it is an own property of `d` whose value persists (inv. PR6). */
function dictEntry(e: Encoder, d: Record<string, unknown>, k: unknown): boolean {
  if (typeof k !== 'string' || !hasOwn(d, k)) return false
  const v = d[k]
  if (!persistable(e, v)) return false
  e.w.str(k)
  e.value(v, k, 'prop')
  return true
}

export { applyParts, entriesOf, readPatch, type ReadPatch } from './patch-apply.js'
