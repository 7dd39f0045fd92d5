/**
 * Record bodies per kind, written by the encoder (encode.ts) after a record's kind and proto
 * code: ARRAY, SPARSE, MAP, SET and SEGMENTED, BYTES/BUFFER/CHUNKED (binary.ts) and VIEW
 * (OBJECT, DICT and STATEFUL: encode-objects.ts). The byte layouts are
 * format.ts's; which kind an object is stored as is kinds.ts's; where segments are cut is
 * segments.ts's. Each writer sets the record's shadow kind (`skind`, shadow.ts) and, for an
 * exposed object (`cap`), pushes what the shadow's layout holds. Values go through
 * `Encoder.value`, so encode.ts's invariants hold for every body: references are recorded in
 * `scratch` as they are written (inv. 1), what cannot persist is reported (inv. 2).
 *
 * Plain functions of the encoder, called once per record from `Encoder.record` (the loops
 * over a body's values are here; keep them monomorphic: V8 inlines them).
 */
import {
  bufferLength, getPrototypeOf, hasOwn, isDataView, mapEach, mapSize, objectKeys, setEach, setSize, typedArrayTag, viewParts,
} from './builtins.js'
import { KIND_ARRAY, KIND_BUFFER, KIND_MAP, KIND_SEGMENTED, KIND_SET, KIND_SPARSE, TAG_HOLE } from './format.js'
import { VIEW_INDEX } from './kinds.js'
import { NAMED_KEYS_CHECK_MIN, noNamedKeys } from './array-keys.js'
import { SEGMENT_MIN, SegmentCutter, entryHash, numberHash } from './segments.js'
import { patchEntries, patchNumbers } from './patch-segments.js'
import { writePatch, writeVerifiedEntries, writeVerifiedNumbers } from './patch-record.js'
import { HOLE, S_ARRAY, S_MAP, S_NUMS, S_SET, S_SPARSE } from './shadow.js'
import type { Encoder } from './encode.js'
import { changedWhileEncoded } from './errors.js'
import { anyFailed, getterFailed, readableKeys } from './trap-failures.js'

const INDEX_KEY = /^(?:0|[1-9]\d*)$/
const BufferProto = Buffer.prototype as object
export const EMPTY_KEYS: readonly string[] = []

/** Writes an ARRAY, SPARSE or SEGMENTED body; returns the own enumerable keys it holds (indices too). */
export function arrayBody(e: Encoder, a: unknown[], start: number): readonly string[] {
  if (anyFailed() && getterFailed(a)) { const keys = guardedArray(e, a, start); if (keys !== null) return keys }     // trap-failures.ts inv. TF2
  const w = e.w
  const n = a.length
  // Behind a proxy with a change log (change-log.ts): a PATCH record (patch-record.ts), if the log can say it.
  const log = e.ctx.dirty.changes.size !== 0 ? e.ctx.dirty.changes.get(a) : undefined
  let parted = false
  if (log !== undefined) {
    if (n > SEGMENT_MIN && !e.cap && writePatch(e, a, n, start, KIND_ARRAY)) { e.skind = S_ARRAY; return countKeys(e, n) }
    if (n > SEGMENT_MIN && e.cap && writeVerifiedNumbers(e, a, n, start)) return countKeys(e, n)     // held raw: the comparison's positions
    parted = log.parts.length > 0
    e.ctx.dirty.changes.delete(a)     // inv. CL1: written another way (endSegmented starts a new log)
  }
  const keys = n >= NAMED_KEYS_CHECK_MIN && noNamedKeys(a) ? indexKeys(e, a, n) : objectKeys(a)
  if (n > 2 * keys.length + 16) { sparse(e, a, keys, start); return keys }
  e.skind = S_ARRAY
  if (e.cap) { e.sh!.push(n); e.sh!.push(keys.length) }
  // Segmented only when every index is present and nothing else is: Object.keys lists
  // indices first, ascending, so n keys ending with index n-1 are exactly 0..n-1 (a
  // count alone took an array with as many holes as named keys for a dense one).
  if (n > SEGMENT_MIN && keys.length === n && (keys === e.countOnly || keys[n - 1] === `${n - 1}`)) {
    segmentedArray(e, a, n, start, parted)
    return keys
  }
  w.varint(n)
  let holes = 0
  for (let i = 0; i < n; i++) {
    const v = a[i]
    if (v === undefined && !hasOwn(a, i)) { w.u8(TAG_HOLE); holes++; if (e.cap) e.sh!.push(HOLE) }
    else e.value(v, i, 'index')
  }
  extras(e, a, keys, n - holes)
  return keys
}

/**
 * Trap-failures.ts inv. TF2 for an array with an own enumerable getter that threw at a failed
 * point (an element or a named property): a SPARSE record of the keys whose getters return
 * now, each one left out reported (it comes back a hole, or absent); null, nothing written,
 * when none throws any more (the array is written as usual). Its change log ends here
 * (change-log.ts inv. CL1), and its shadow holds a length no array has (-1) and no value, so
 * the comparison of an exposed one (`sameSparse`: prototype and length first) calls it
 * changed without reading an element: the getter left out never runs there, and the array is
 * written here again at each point until it returns.
 */
function guardedArray(e: Encoder, a: unknown[], start: number): readonly string[] | null {
  const left: [string, string][] = []
  const keys = readableKeys(a, left)
  if (left.length === 0) return null
  e.ctx.dirty.changes.delete(a)
  for (const [k, why] of left) { if (INDEX_KEY.test(k)) e.drop(+k, 'index', why); else e.drop(k, 'prop', why) }
  const cap = e.cap
  e.cap = false
  try { sparse(e, a, keys, start) } finally { e.cap = cap }
  if (cap) { e.sh!.push(-1); e.sh!.push(EMPTY_KEYS) }
  return keys
}

/**
 * Inv. B1: the count of holes stops here, and Object.keys answers instead: its cost follows
 * the elements the array stores (a dictionary-mode array: only those present), where the
 * count's follows the length. `a[1e9] = 1` took 4 minutes of hole checks per point (session
 * 14); an array of numbers with no hole (the case the count is for) never stops.
 */
const HOLES_COUNTED = 64

/**
 * The keys of an array known to have no named keys (array-keys.ts), as `arrayBody` uses them:
 * their count alone (a list of that length whose entries are not read) unless the array is
 * sparse enough to be stored as SPARSE, which reads its index keys (few: they are at most
 * half its length minus 8, and then found exactly by Object.keys).
 */
function indexKeys(e: Encoder, a: unknown[], n: number): string[] {
  let present = n
  for (let i = 0; i < n; i++) {
    if (a[i] === undefined && !hasOwn(a, i) && n - --present > HOLES_COUNTED) return objectKeys(a)     // inv. B1
  }
  if (n > 2 * present + 16) return objectKeys(a)
  // An array-like of that length, not an array: setting one shared array's length to a
  // million made V8 allocate and fill a million-slot backing store (then shrink it for the
  // next, smaller array): 15 ms per array of a million numbers at every point.
  e.countOnly = { length: present } as unknown as string[]
  return e.countOnly
}

/** The keys of a dense array of `n` elements and no named keys, as a count (a PATCH record's array: its base was SEGMENTED, and its log saw no other key, change-log.ts inv. CL2). */
export function countKeys(e: Encoder, n: number): string[] {
  e.countOnly = { length: n } as unknown as string[]
  return e.countOnly
}

function sparse(e: Encoder, a: unknown[], keys: string[], start: number): void {
  const w = e.w
  w.buf[start] = KIND_SPARSE
  e.skind = S_SPARSE
  if (e.cap) { e.sh!.push(a.length); e.sh!.push(keys) }
  let count = 0
  while (count < keys.length && INDEX_KEY.test(keys[count]) && +keys[count] < 0xffff_ffff) count++
  w.varint(a.length); w.varint(count)
  for (let i = 0; i < count; i++) { const k = +keys[i]; w.varint(k); e.value(a[k], k, 'index') }
  extras(e, a, keys, count)
}

/** Writes the enumerable non-index properties of an array (`keys` from `from` on). */
function extras(e: Encoder, a: unknown[], keys: string[], from: number): void {
  const w = e.w
  if (keys === e.countOnly) { w.varint(0); return }   // no named keys (array-keys.ts)
  w.varint(keys.length - from)
  const rec = a as unknown as Record<string, unknown>
  for (let i = from; i < keys.length; i++) {
    const k = keys[i]
    w.str(k)
    if (e.cap && e.skind === S_ARRAY) e.sh!.push(k)
    e.value(rec[k], k, 'prop')
  }
}

/**
 * A Map or Set of `n` entries written as what changed, if it can be (true): a PATCH part from
 * its change log (after a restore) or from the point's comparison (held raw), or the
 * segments holding the changes (patch-segments.ts; never for a collection with parts,
 * patch-record.ts inv. PR5). Otherwise its change log ends here (change-log.ts inv. CL1) and
 * the caller encodes it whole.
 */
function patchedEntries(e: Encoder, c: Map<unknown, unknown> | Set<unknown>, n: number, start: number, kind: number): boolean {
  const log = e.ctx.dirty.changes.size !== 0 ? e.ctx.dirty.changes.get(c) : undefined
  let parted = false
  if (log !== undefined) {
    if (n > SEGMENT_MIN && (e.cap ? writeVerifiedEntries(e, c, n, start, kind) : writePatch(e, c, n, start, kind))) return true
    parted = log.parts.length > 0
    e.ctx.dirty.changes.delete(c)
  }
  return n > SEGMENT_MIN && e.cap && !parted && patchEntries(e, c, n, start, kind)
}

export function mapBody(e: Encoder, m: Map<unknown, unknown>, start: number): void {
  e.numSlots = false      // shadow.ts inv. S3
  try {
    const n = mapSize(m)
    e.skind = S_MAP
    if (patchedEntries(e, m, n, start, KIND_MAP)) return
    if (e.cap) { e.sh!.reserve(1 + 2 * n); e.sh!.push(n) }
    if (n > SEGMENT_MIN) {
      const main = e.w
      const cut = new SegmentCutter(e.holder, n, e.w = e.seg, e.scratch, e.ctx, e.aux)
      try {
        mapEach(m, (v, k) => { e.value(k, k, 'mapKey'); e.value(v, k, 'mapValue'); cut.entry(entryHash(cut.w.buf, cut.entryStart, cut.w.pos)) })
      } finally { e.w = main }
      endSegmented(e, KIND_MAP, n, start, cut, m)
      return
    }
    e.w.varint(n)
    let i = 0
    mapEach(m, (v, k) => { if (i++ < n) { e.value(k, k, 'mapKey'); e.value(v, k, 'mapValue') } })
    if (i !== n) throw changedWhileEncoded(e.holder)       // the record says n entries (snapshot.ts inv. 5)
  } finally { e.numSlots = true }
}

export function setBody(e: Encoder, s: Set<unknown>, start: number): void {
  e.numSlots = false      // shadow.ts inv. S3
  try {
    const n = setSize(s)
    e.skind = S_SET
    if (patchedEntries(e, s, n, start, KIND_SET)) return
    if (e.cap) { e.sh!.reserve(1 + n); e.sh!.push(n) }
    let i = 0
    if (n > SEGMENT_MIN) {
      const main = e.w
      const cut = new SegmentCutter(e.holder, n, e.w = e.seg, e.scratch, e.ctx, e.aux)
      try {
        setEach(s, v => { e.value(v, i++, 'setEntry'); cut.entry(entryHash(cut.w.buf, cut.entryStart, cut.w.pos)) })
      } finally { e.w = main }
      endSegmented(e, KIND_SET, n, start, cut, s)
      return
    }
    e.w.varint(n)
    setEach(s, v => { if (i < n) e.value(v, i, 'setEntry'); i++ })
    if (i !== n) throw changedWhileEncoded(e.holder)       // the record says n entries (snapshot.ts inv. 5)
  } finally { e.numSlots = true }
}

/**
 * The SEGMENTED body of a dense array: its entries are written to `e.seg` and cut into
 * segments as they go (segments.ts `SegmentCutter`: segments whose bytes the collection
 * already had keep their ids; new ones are written as SEGMENT records, in `aux`); Maps and
 * Sets do the same in their bodies. The loop is inline (no callback per element): numbers are
 * written by `ByteWriter.num` directly, the same bytes `Encoder.value` writes for them (it
 * calls `num` too), and hashed by value (segments.ts `numberHash`); anything else goes
 * through `Encoder.value` and `entryHash`.
 */
function segmentedArray(e: Encoder, a: unknown[], n: number, start: number, parted: boolean): void {
  if (e.cap && !parted && patchNumbers(e, a, n, start)) return     // not over PATCH parts: its kept segments would drop them (patch-record.ts inv. PR5)
  const main = e.w
  const sw = e.seg
  const cut = new SegmentCutter(e.holder, n, e.w = sw, e.scratch, e.ctx, e.aux)
  // The shadow of an exposed array (e.cap) is a Float64Array while every element is a number
  // (S_NUMS, shadow.ts); at the first other value the numbers so far are pushed one by one
  // and the S_ARRAY layout goes on.
  let nums = e.cap ? new Float64Array(n) : null
  try {
    for (let i = 0; i < n; i++) {
      const v = a[i]
      if (typeof v === 'number') {
        if (nums !== null) nums[i] = v
        else if (e.cap) e.sh!.push(v)
        sw.num(v); cut.entry(numberHash(v))
      } else {
        if (nums !== null) { for (let j = 0; j < i; j++) e.sh!.push(nums[j]); nums = null }
        e.value(v, i, 'index'); cut.entry(entryHash(sw.buf, cut.entryStart, sw.pos))
      }
    }
  } finally { e.w = main }
  if (nums !== null) { e.sh!.push(nums); e.skind = S_NUMS }
  endSegmented(e, KIND_ARRAY, n, start, cut, a)
}

/** The SEGMENTED body of a collection whose segments `cut` stored; the record's references become its segments. */
export function endSegmented(e: Encoder, base: number, n: number, start: number, cut: SegmentCutter, o?: object): void {
  if (cut.count !== n) throw changedWhileEncoded(e.holder)
  cut.finish()
  if (o !== undefined && e.ctx.verifier !== null && (!e.cap || base !== KIND_ARRAY || e.skind === S_NUMS)) e.ctx.dirty.changes.start(o, base, cut.ids.slice(), n).dropped = (e.holderDropped?.length ?? 0) > 0    // a new base: its log starts empty (change-log.ts inv. CL1; an exposed array of numbers too, patched from its comparison); what it dropped, patch-record.ts inv. PR2
  e.records += cut.written
  const w = e.w
  const refs = e.scratch
  w.buf[start] = KIND_SEGMENTED
  w.u8(base); w.varint(n); w.varint(cut.ids.length)
  refs.n = 0
  for (const sid of cut.ids) { w.varint(sid); refs.push(sid) }
}

/** A BYTES or BUFFER body, or a CHUNKED one whose new and changed CHUNK records follow the record (binary.ts). */
export function binaryBody(e: Encoder, id: number, base: number, bytes: Uint8Array, max: number, start: number): void {
  const bins = e.ctx.binaries
  bins.encode(id, base, bytes, max, e.w, start, e.ctx.table, e.scratch)
  e.chunksAfter = bins.hasPending
}

export function viewBody(e: Encoder, id: number, v: ArrayBufferView, start: number): void {
  const w = e.w
  const tag = isDataView(v) ? 'DataView' : typedArrayTag(v)!
  const [buffer, off, len] = viewParts(v)
  if (getPrototypeOf(v) === BufferProto && (off !== 0 || len !== bufferLength(buffer))) {
    w.buf[start] = KIND_BUFFER
    binaryBody(e, id, KIND_BUFFER, len === 0 ? new Uint8Array(0) : new Uint8Array(buffer, off, len), 0, start)
    return
  }
  w.u8(VIEW_INDEX.get(tag)!)
  let bid = e.ctx.table.idOf(buffer)
  if (bid === 0) bid = e.discover(buffer, 'buffer', 'prop')
  e.scratch.push(bid)
  const views = e.ctx.viewsOf.get(bid)
  if (views === undefined) e.ctx.viewsOf.set(bid, new Set([id]))
  else views.add(id)
  w.varint(bid); w.varint(off); w.varint(len)
}
