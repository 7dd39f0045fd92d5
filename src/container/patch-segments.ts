/**
 * Partial re-encoding of a segmented collection held raw (exposed, verify.ts): when a
 * point's comparison found that only some entries of a large array, Map or Set changed, and
 * where (verify.ts inv. V4), the encoder writes the collection's SEGMENTED record again but
 * encodes only the segments holding those entries, within the bounds its segments had
 * (segments.ts `KnownSegments`); the other segments keep their ids and are not read. A
 * point that changes a few entries of a collection of a million encodes those segments, not
 * the million entries. Nothing on disk changes: SEGMENT and SEGMENTED records as format.ts
 * has them (the kept bounds are simply not content-defined any more; a later full
 * re-encode cuts by content again).
 *
 * Since PATCH parts (patch-record.ts) take a point's changes first, this runs only where a part
 * cannot: a Map or Set with more appended entries than its log's limit, and an array of numbers
 * whose log was made `whole` (change-log.ts inv. CL2) by a write through a proxy during the
 * point's comparison (a dirty array is not compared, so that is the one way positions and a
 * whole log meet); patch-segments.test.ts has both.
 *
 * Invariants:
 *   P1. The record written, and the shadow written with it, describe the same entries (the
 *       shadow is what the record was encoded from, verify.ts inv. V1): a kept segment's
 *       shadow slots are copied from the old shadow (what that segment was encoded from),
 *       not read again from the collection; an encoded segment's are the values encoded.
 *       So a change made after the comparison (a getter run by the snapshot) is not lost:
 *       the next point's comparison sees it. A Map or Set that did not grow keeps its old
 *       shadow slice, its encoded entries' slots overwritten in place (no copy of the
 *       kept slots, no garbage for `ShadowStore.compact`); the slice the record began is
 *       abandoned (`skind` 0: encode.ts ends no slice for it).
 *   P2. Used only when every bound still fits: the collection's known bounds end at the
 *       length or size its shadow had, each kept id is still a SegmentRef of this
 *       collection, the collection did not shrink; otherwise the encoder cuts it whole
 *       (encode-bodies.ts). Entries past the old end (appended to a Map or Set) are cut by
 *       content as usual.
 *   P3. Only collections whose entries were all primitives at the comparison (verify.ts
 *       inv. V4): a kept segment then holds no reference and no value that could not
 *       persist, so nothing the encoder learns from reading entries (references, dropped
 *       values reported under the holder) is missed by not reading it.
 */
import { KIND_ARRAY, KIND_MAP } from './format.js'
import { mapEach, setEach } from './builtins.js'
import { KnownSegments, SegmentCutter, SegmentRef, entryHash } from './segments.js'
import { S_MAP, S_NUMS, S_SET } from './shadow.js'
import { endSegmented } from './encode-bodies.js'
import type { Encoder } from './encode.js'

/** The segment holding entry `i`: the first k with `ends[k] > i` (binary search). */
function segmentOf(ends: readonly number[], i: number): number {
  let lo = 0, hi = ends.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ends[mid] > i) hi = mid
    else lo = mid + 1
  }
  return lo
}

/** The collection's known segments if their bounds end at `old` and every id is still one of its segments (inv. P2), else null. */
function knownBounds(e: Encoder, owner: number, old: number): KnownSegments | null {
  const known = e.ctx.segments.get(owner)
  if (!(known instanceof KnownSegments)) return null
  const { ids, ends } = known
  const m = ends.length
  if (m === 0 || ends[m - 1] !== old || ids.length !== m) return null
  const objects = e.ctx.table.objects
  for (let k = 0; k < m; k++) {
    const ref = objects[ids[k]]
    if (!(ref instanceof SegmentRef) || ref.owner !== owner) return null
  }
  return known
}

/** Marks the segments holding the entries `changed`, and the last one when entries were appended. */
function touchedSegments(ends: readonly number[], changed: readonly number[]): Uint8Array {
  const touched = new Uint8Array(ends.length)
  for (let j = 0; j < changed.length; j++) touched[segmentOf(ends, changed[j])] = 1
  return touched
}

/**
 * The SEGMENTED body of an exposed array of numbers (S_NUMS shadow) of which only some
 * values changed. The touched segments are read once, into the shadow's Float64Array (the
 * old slice's, about to be replaced by this record's: it becomes the new one), then written
 * from it, so the shadow is exactly what the record holds (inv. P1) even if a getter
 * answered differently on a second read. Returns false, having written nothing, when this
 * does not apply (no indices, no bounds, another length, a touched element no longer a number).
 */
export function patchNumbers(e: Encoder, a: unknown[], n: number, start: number): boolean {
  const owner = e.holder
  const changed = e.ctx.verifier!.takeChanged(owner)
  if (changed === undefined) return false
  const nums = e.sh!.numsOf(owner)
  if (nums === null || nums.length !== n) return false
  const known = knownBounds(e, owner, n)
  if (known === null) return false
  const { ids, ends } = known
  const m = ends.length
  const touched = touchedSegments(ends, changed)
  for (let k = 0, from = 0; k < m; from = ends[k++]) {
    if (touched[k] === 0) continue
    for (let i = from; i < ends[k]; i++) {
      const v = a[i]
      if (typeof v !== 'number') return false
      nums[i] = v
    }
  }
  const main = e.w
  const sw = e.seg
  const cut = new SegmentCutter(owner, n, e.w = sw, e.scratch, e.ctx, e.aux)
  try {
    for (let k = 0, from = 0; k < m; from = ends[k++]) {
      if (touched[k] === 0) { cut.keep(ids[k], ends[k] - from); continue }
      for (let i = from; i < ends[k]; i++) sw.num(nums[i])
      cut.take(ends[k] - from)
    }
  } finally { e.w = main }
  e.sh!.push(nums)
  e.skind = S_NUMS
  endSegmented(e, KIND_ARRAY, n, start, cut, a)
  return true
}

/**
 * The SEGMENTED body of an exposed Map or Set of which only some entries changed (a Map's
 * values at the positions listed) and entries may have been appended (size `n` beyond the
 * old size). Kept segments' shadow slots come from the old shadow (inv. P1). Returns false,
 * having written nothing, when this does not apply.
 */
export function patchEntries(e: Encoder, c: Map<unknown, unknown> | Set<unknown>, n: number, start: number, base: number): boolean {
  const owner = e.holder
  const changed = e.ctx.verifier!.takeChanged(owner)
  if (changed === undefined || e.ctx.verifier!.holdsRefs(owner) || changed.some(x => x < 0)) return false      // inv. P3; no deletion (verify.ts inv. V4: -3 - p)
  const sh = e.sh!
  const isMap = base === KIND_MAP
  if (owner >= sh.kind.length || sh.kind[owner] !== (isMap ? S_MAP : S_SET)) return false
  const prev = sh.chunks[sh.chunkOf[owner]], p = sh.startOf[owner] + 2       // the old slice's first entry (after proto, size)
  const old = prev[p - 1] as number
  if (n < old) return false
  const known = knownBounds(e, owner, old)
  if (known === null) return false
  const { ids, ends } = known
  const touched = touchedSegments(ends, changed)
  const inPlace = n === old
  if (inPlace) e.cap = false            // the values encoded go to the old slice below, not to the one begun
  else { sh.reserve(1 + (isMap ? 2 * n : n)); sh.push(n) }
  const main = e.w
  const cut = new SegmentCutter(owner, n, e.w = e.seg, e.scratch, e.ctx, e.aux)
  let i = 0, k = 0, from = 0
  const entry = (v: unknown, key: unknown): void => {
    if (i < old) {
      if (touched[k] === 1) {
        if (isMap) { e.value(key, key, 'mapKey'); e.value(v, key, 'mapValue') }
        else e.value(v, i, 'setEntry')
        if (inPlace) { if (isMap) { prev[p + 2 * i] = key; prev[p + 2 * i + 1] = v } else prev[p + i] = v }
      } else if (inPlace) { /* the old slots stay */ }
      else if (isMap) { sh.push(prev[p + 2 * i]); sh.push(prev[p + 2 * i + 1]) }
      else sh.push(prev[p + i])
      if (++i === ends[k]) {
        if (touched[k] === 1) cut.take(i - from)
        else cut.keep(ids[k], i - from)
        from = i
        k++
      }
      return
    }
    if (isMap) { e.value(key, key, 'mapKey'); e.value(v, key, 'mapValue') }
    else e.value(v, i, 'setEntry')
    i++
    cut.entry(entryHash(cut.w.buf, cut.entryStart, cut.w.pos))
  }
  try {
    if (isMap) mapEach(c as Map<unknown, unknown>, entry)
    else setEach(c as Set<unknown>, v => { entry(v, v) })
  } finally {
    e.w = main
    if (inPlace) { e.cap = true; e.skind = 0 }
  }
  endSegmented(e, base, n, start, cut, c)
  return true
}
