/**
 * Segmented collections: an array, Map or Set with more than SEGMENT_MIN entries is stored
 * as a SEGMENTED record listing SEGMENT records, each holding a run of entries. Boundaries
 * are content-defined (an entry whose encoded bytes hash to 0 mod SEGMENT_AVG ends its
 * segment, within [SEGMENT_LOW, SEGMENT_HIGH] entries), so inserting or deleting an entry
 * changes the segments around it only. A point that re-encodes a large collection writes
 * only the segments whose bytes changed: the others keep their ids (the encoder remembers
 * each collection's segments by content). This keeps the bytes of a point proportional to
 * what changed even for a Map of a million entries, where one `set` used to rewrite it all.
 *
 * Invariant: a SegmentRef in the object table names the collection it belongs to and the
 * exact bytes of its entries (`key`), so a remembered segment is reused only if it is
 * still live and identical.
 */
import type { ObjectTable } from './identity.js'
import type { RefStore } from './refs.js'
import type { ByteWriter, FastBuffer } from './writer.js'
import { writeSegment } from './records.js'

/** Collections with more entries than this are segmented. */
export const SEGMENT_MIN = 256
/** Segment sizes (entries): smallest, average (content-defined), largest. */
export const SEGMENT_LOW = 32
export const SEGMENT_AVG = 128
export const SEGMENT_HIGH = 1024

/**
 * In-memory descriptor of a record that holds part of another object's state (a SEGMENT of
 * a collection, a CHUNK of a buffer, binary.ts), kept in the object table under its id: it
 * is written with its owner, never discovered or encoded on its own.
 */
export class PartRef {
  constructor(readonly owner: number) {}
}

/** In-memory descriptor of a SEGMENT record (kept in the object table under its id). */
export class SegmentRef extends PartRef {
  constructor(owner: number, readonly key: string) { super(owner) }
}

/** FNV-1a of `b[from, to)`: decides content-defined segment boundaries. */
export function entryHash(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i], 0x01000193)
  return h >>> 0
}

/** True if an entry with hash `h` ends a segment that has `n` entries so far (including it). */
export function endsSegment(h: number, n: number): boolean {
  return n >= SEGMENT_HIGH || (n >= SEGMENT_LOW && h % SEGMENT_AVG === 0)
}

/** SEGMENT records written by the last {@link storeSegments} (module-level: no result object). */
export let segmentsWritten = 0

/**
 * The segments of collection `owner`, whose entries were encoded into `entries` and cut at
 * `cuts` (per segment: end byte, end index in `refIds`, entry count). A segment whose bytes
 * the collection already had keeps its id; a new one gets an id, a SEGMENT record in `aux`
 * and its references (from `refIds`). Remembers the collection's segments by content and
 * returns their ids in order.
 */
export function storeSegments(
  owner: number, entries: FastBuffer, cuts: number[], refIds: Int32Array,
  ctx: { readonly table: ObjectTable; readonly refs: RefStore; readonly segments: Map<number, Map<string, number>> }, aux: ByteWriter,
): number[] {
  const known = ctx.segments.get(owner)
  const next = new Map<string, number>()
  const ids: number[] = []
  let byteFrom = 0, refFrom = 0
  segmentsWritten = 0
  for (let c = 0; c < cuts.length; c += 3) {
    const byteTo = cuts[c], refTo = cuts[c + 1]
    const key = entries.latin1Slice(byteFrom, byteTo)
    let sid = known?.get(key) ?? 0
    const ref = ctx.table.objects[sid]
    if (sid === 0 || !(ref instanceof SegmentRef) || ref.owner !== owner || ref.key !== key || next.has(key)) {
      sid = ctx.table.assign(new SegmentRef(owner, key))
      writeSegment(aux, sid, cuts[c + 2], entries.subarray(byteFrom, byteTo))
      ctx.refs.set(sid, refIds, refFrom, refTo)
      segmentsWritten++
    }
    next.set(key, sid)
    ids.push(sid)
    byteFrom = byteTo
    refFrom = refTo
  }
  ctx.segments.set(owner, next)
  return ids
}
