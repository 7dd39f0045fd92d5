/**
 * The restore side of PATCH records of segmented collections (patch-record.ts has the
 * format and its invariants PR1-PR5; byte layouts in format.ts): reads a collection's
 * PATCH record after its segment ids and applies its parts, in order, to the collection
 * its base segments built, recording each part's references (inv. PR2).
 */
import { ObjectProto, hasOwn, mapContains, mapSize, setSize } from './builtins.js'
import { KIND_ARRAY, KIND_DICT, KIND_MAP, KIND_PATCH, TAG_REF } from './format.js'
import { defineValue } from './shapes.js'
import { isPatchValue } from './change-log.js'
import type { PartReader } from './binary-patch.js'
import { PmemError } from '../../regions/index.js'

const setDelete = Set.prototype.delete
const setAddFn = Set.prototype.add
const mapDelete = Map.prototype.delete
const mapSet = Map.prototype.set

/** First body byte of a format-4 part (form 0) and of a format-5 part (form 1): patch-record.ts `PART_MARK`, `PART_OWNED`. */
const PART_MARK = 0, PART_OWNED = 1

/** What the restorer offers a PATCH record's reader: binary-patch.ts's, values, and the references of each part (inv. PR2). */
interface PatchReader extends Omit<PartReader, 'need'> {
  /** Prefix of the reader's error messages (reader.ts): set to name the part being applied. */
  context: string
  value(): unknown
  /** Starts gathering the references the values read next name. */
  beginRefs(): void
  /** Records those gathered since `beginRefs` as the references of record `id`. */
  endRefs(id: number): void
}

/** What a collection's PATCH record says after its segment ids. */
export interface ReadPatch {
  /** Entries the base segments hold. */
  readonly entries: number
  /** Its PATCH parts, in order. */
  readonly parts: number[]
  /** Changes the parts hold (filled by `applyParts`). */
  total: number
}

/** Reads the rest of a collection's PATCH record after its segment ids: base entries and part ids. */
export function readPatch(r: PatchReader): ReadPatch {
  const entries = r.varint()
  const p = r.count(1)
  const parts: number[] = []
  for (let i = 0; i < p; i++) parts.push(r.varint())
  return { entries, parts, total: 0 }
}

/** A key or value of a PATCH part: a primitive, or (form 1) a reference too (inv. PR2). */
function patchValue(r: PatchReader, refs: boolean): unknown {
  if (!refs && r.pos < r.end && r.buf[r.pos] === TAG_REF) r.fail('patch part of format 4 holds a reference')
  const v = r.value()
  if (!refs && !isPatchValue(v)) r.fail('patch part holds a value that is not a primitive')
  return v
}

/**
 * Applies the parts of collection `id`'s PATCH record to `o`, just built from its base
 * (inv. PR1); it must end with `n` entries. Moves the reader to each part, and records each
 * part's references (inv. PR2).
 */
export function applyParts(r: PatchReader, id: number, o: object, base: number, n: number, p: ReadPatch): void {
  const context = r.context
  let keys = p.entries       // a dictionary's key count, kept as the parts apply (inv. PR6: never listed)
  for (const pid of p.parts) {
    if (r.enter(pid) !== KIND_PATCH) r.fail(`patched collection ${id} lists a record ${pid} that is not a patch part`)
    r.context = `part ${pid} of patched collection ${id}: `      // a damaged part's error names both (the reader's message and any other error's)
    try {
      r.varint()
      const mark = r.u8()
      if ((mark !== PART_MARK && mark !== PART_OWNED) || r.u8() !== base) r.fail(`not a part of its collection's kind`)
      const refs = mark === PART_OWNED
      if (refs) {
        const owner = r.varint()
        if (owner !== id) r.fail(`a part of collection ${owner}`)
      }
      const after = r.varint()
      r.beginRefs()
      if (base === KIND_DICT) {
        if (!refs) r.fail('a dictionary part of format 4')
        p.total += applyDictPart(r, o as Record<string, unknown>, keys, after)
        keys = after
      } else p.total += applyPart(r, o, base, after, refs)
      if (r.pos !== r.end) r.fail('trailing bytes')
      r.endRefs(pid)
    } catch (e) {
      if (e instanceof PmemError) throw e
      r.fail(`${(e as Error)?.message ?? String(e)}`)
    } finally { r.context = context }
  }
  if ((base === KIND_DICT ? keys : entriesOf(o, base)) !== n) {
    r.fail(`patched collection ${id} does not have the ${n} entries its record says`)
  }
}

/** Entries of collection `o` of base kind `base` (ARRAY: its length). */
export function entriesOf(o: object, base: number): number {
  return base === KIND_ARRAY ? (o as unknown[]).length : base === KIND_MAP ? mapSize(o as Map<unknown, unknown>) : setSize(o as Set<unknown>)
}

/**
 * Applies one part of a dictionary (patch-record.ts inv. PR6) that had `keys` own enumerable
 * string keys before it and must have `after` after it: deletes (each own), sets in place
 * (each own), then deletes and sets each added key in order, counting keys as it goes.
 * Returns how many changes it held.
 */
function applyDictPart(r: PatchReader, o: Record<string, unknown>, keys: number, after: number): number {
  const d = r.count(1)
  for (let i = 0; i < d; i++) {
    const k = dictKey(r)
    if (!hasOwn(o, k)) r.fail('patch part deletes a key the dictionary does not hold')
    delete o[k]
    keys--
  }
  const u = r.count(2)
  for (let i = 0; i < u; i++) {
    const k = dictKey(r)
    if (!hasOwn(o, k)) r.fail('patch part sets a key the dictionary does not hold')
    put(o, k, patchValue(r, true))
  }
  const a = r.count(2)
  for (let i = 0; i < a; i++) {
    const k = dictKey(r)
    if (hasOwn(o, k)) delete o[k]
    else keys++
    put(o, k, patchValue(r, true))
  }
  if (keys !== after) r.fail(`patch part leaves ${keys} keys, it says ${after}`)
  return d + u + a
}

function dictKey(r: PatchReader): string {
  const k = r.value()
  if (typeof k !== 'string') r.fail('dictionary patch key is not a string')
  return k as string
}

/** `o[k] = v` as an own data property (a store of a key Object.prototype has, `__proto__`, would reach its accessor). */
function put(o: Record<string, unknown>, k: string, v: unknown): void {
  if (hasOwn(ObjectProto, k)) defineValue(o, k, v)
  else o[k] = v
}

/** Applies one part (the reader on its changes); returns how many changes it held. */
function applyPart(r: PatchReader, o: object, base: number, after: number, refs: boolean): number {
  if (base === KIND_ARRAY) {
    const a = o as unknown[]
    const before = a.length
    if (refs && after !== before) {           // form 1: the length first (inv. PR1), then the elements
      if (after > before && (after - before) * 2 > r.end - r.pos) r.fail(`patch part grows an array from ${before} to ${after} entries in ${r.end - r.pos} bytes`)
      a.length = after
    }
    const k = r.count(2)
    for (let i = 0; i < k; i++) {
      const at = r.varint()
      if (at >= a.length) r.fail(`patch of index ${at} in an array of ${a.length}`)
      a[at] = patchValue(r, refs)
    }
    if (a.length !== after) r.fail(`patch part of an array of ${a.length} entries says ${after}`)
    for (let i = before; i < after; i++) if (!hasOwn(a, i)) r.fail(`patch part grows an array to ${after} entries without element ${i}`)
    return k
  }
  const isMap = base === KIND_MAP
  const m = o as Map<unknown, unknown>, s = o as Set<unknown>
  const d = r.count(1)
  for (let i = 0; i < d; i++) {
    const k = patchValue(r, refs)
    if (!(isMap ? mapDelete.call(m, k) : setDelete.call(s, k))) r.fail('patch part deletes an entry the collection does not hold')
  }
  let u = 0
  if (isMap) {
    u = r.count(2)
    for (let i = 0; i < u; i++) {
      const k = patchValue(r, refs), v = patchValue(r, refs)
      if (!mapContains(m, k)) r.fail('patch part sets a key the collection does not hold')
      mapSet.call(m, k, v)
    }
  }
  const a = r.count(isMap ? 2 : 1)
  for (let i = 0; i < a; i++) {
    const k = patchValue(r, refs)
    if (isMap) { const v = patchValue(r, refs); mapDelete.call(m, k); mapSet.call(m, k, v) }
    else { setDelete.call(s, k); setAddFn.call(s, k) }
  }
  const size = isMap ? mapSize(m) : setSize(s)
  if (size !== after) r.fail(`patch part leaves ${size} entries, it says ${after}`)
  return d + u + a
}
