/**
 * Segmented collections: an array, Map or Set with more than SEGMENT_MIN entries is stored
 * as a SEGMENTED record listing SEGMENT records, each holding a run of entries. Boundaries
 * are content-defined (an entry whose encoded bytes hash to 0 mod SEGMENT_AVG ends its
 * segment, within [SEGMENT_LOW, SEGMENT_HIGH] entries), so inserting or deleting an entry
 * changes the segments around it only. A point that re-encodes a large collection writes
 * only the segments whose bytes changed: the others keep their ids (the encoder remembers
 * each collection's segments by content). This keeps the bytes of a point proportional to
 * what changed even for a Map of a million entries, where one `set` used to rewrite it all.
 * The encoder also remembers their order and bounds (`KnownSegments`), so that a collection
 * whose changed entries are known can keep its other segments without reading them
 * (patch-segments.ts); the bounds it keeps are then no longer content-defined, which only
 * matters for reuse: the reader takes any bounds.
 *
 * Invariant: a SegmentRef in the object table names the collection it belongs to and the
 * exact bytes of its entries (`key`), so a remembered segment is reused only if it is
 * still live and identical.
 */
import type { ObjectTable } from './identity.js'
import type { RefStore } from './refs.js'
import type { ByteWriter, FastBuffer } from './writer.js'
import type { IdList } from './refs.js'
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

/**
 * In-memory descriptor of a SEGMENT record (kept in the object table under its id). Its
 * key is the segment's entries' bytes as a latin-1 string; a full restore may give those
 * bytes instead, as a view of its private copy of the log (log.ts inv. 6), made the string
 * the first time the key is asked for (most never are: only a collection the encoder cuts
 * again compares keys). 4.5 MB of keys made as strings at open were 10% of a maps-sets
 * restore's CPU (their allocation and their copies by the young generation's collections).
 */
export class SegmentRef extends PartRef {
  #key: string | null
  #bytes: FastBuffer | null

  constructor(owner: number, key: string | FastBuffer) {
    super(owner)
    if (typeof key === 'string') { this.#key = key; this.#bytes = null } else { this.#key = null; this.#bytes = key }
  }

  /** The segment's entries' bytes as a latin-1 string. */
  get key(): string {
    let k = this.#key
    if (k === null) {
      const b = this.#bytes!
      k = this.#key = b.latin1Slice(0, b.length)
      this.#bytes = null
    }
    return k
  }
}

/** FNV-1a of `b[from, to)`: decides content-defined segment boundaries. */
export function entryHash(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i], 0x01000193)
  return h >>> 0
}

const f64 = new Float64Array(1)
const i32 = new Int32Array(f64.buffer)

/**
 * Hash of an array entry that is a number, from its value (two multiplies and a finalizer,
 * where `entryHash` of its 1-9 encoded bytes is a chain of up to nine): any function of the
 * entry's content cuts segments by content. Arrays use it for number entries, `entryHash`
 * for the others; a file written when arrays hashed every entry's bytes is only cut
 * differently (its segments are rewritten once, at the first point that re-encodes it).
 */
export function numberHash(v: number): number {
  let h: number
  if ((v | 0) === v) h = v ^ 0x2545f491
  else { f64[0] = v; h = Math.imul(i32[0] ^ 0x9e3779b9, 0x01000193) ^ i32[1] }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** True if an entry with hash `h` ends a segment that has `n` entries so far (including it). */
export function endsSegment(h: number, n: number): boolean {
  return n >= SEGMENT_HIGH || (n >= SEGMENT_LOW && (h & (SEGMENT_AVG - 1)) === 0)   // SEGMENT_AVG is a power of 2: h % SEGMENT_AVG
}

/**
 * A collection's segments by content (bytes as a latin-1 key -> SEGMENT id), as the cutter
 * that last stored them left them, with their order and boundaries: `ids[k]` holds entries
 * [ends[k-1], ends[k]) (0 for k = 0). A restore's tables are plain Maps (no boundaries).
 */
export class KnownSegments extends Map<string, number> {
  readonly ids: number[] = []
  readonly ends: number[] = []
}

/**
 * A restored collection's segments by content (bytes as a latin-1 key -> SEGMENT id), made
 * into a Map the first time the encoder asks for one: a restore lists them and most are never
 * asked for (a collection the program does not change), while putting them in a Map hashes
 * every byte of every segment (the numeric corpus: 32 MB of keys, 40-110 ms of an open).
 * Only `get` is used (SegmentCutter); every Map method sees the entries once they are made.
 */
export class RestoredSegments extends Map<string, number> {
  #list: readonly (readonly [number, SegmentRef])[] | null

  constructor(list: readonly (readonly [number, SegmentRef])[]) {
    super()
    this.#list = list
  }

  #make(): void {
    const list = this.#list
    if (list === null) return
    this.#list = null
    for (const [sid, ref] of list) super.set(ref.key, sid)
  }

  override get(key: string): number | undefined { this.#make(); return super.get(key) }
  override has(key: string): boolean { this.#make(); return super.has(key) }
  override set(key: string, sid: number): this { this.#make(); return super.set(key, sid) }
  override delete(key: string): boolean { this.#make(); return super.delete(key) }
  override clear(): void { this.#list = null; super.clear() }
  override get size(): number { this.#make(); return super.size }
  override forEach(fn: (sid: number, key: string, m: Map<string, number>) => void, self?: unknown): void { this.#make(); super.forEach(fn, self) }
  override entries(): MapIterator<[string, number]> { this.#make(); return super.entries() }
  override keys(): MapIterator<string> { this.#make(); return super.keys() }
  override values(): MapIterator<number> { this.#make(); return super.values() }
  override [Symbol.iterator](): MapIterator<[string, number]> { return this.entries() }
}

/** What a cutter needs from the encoder's context. */
interface SegmentContext { readonly table: ObjectTable; readonly refs: RefStore; readonly segments: Map<number, Map<string, number>> }

/**
 * Cuts the entries of one segmented collection into segments while they are encoded, and
 * stores each segment when it ends: the entries are encoded into `w` from position 0, and
 * after each one the encoder calls `entry` with its hash; at a cut the segment's bytes
 * (`w[0, pos)`) and references (`refs`) are stored and both are emptied, so `w` holds one
 * segment at a time (no buffer the size of the collection, grown by copying, at each point).
 * A segment whose bytes the collection already had keeps its id; a new one gets an id, a
 * SEGMENT record in `aux` and its references. `finish` remembers the collection's segments
 * by content; `ids` lists them in order.
 */
export class SegmentCutter {
  /** SEGMENT records written. */
  written = 0
  /** Entries seen. */
  count = 0
  /** Where the current entry's bytes start in `w`. */
  entryStart = 0
  #segEntries = 0
  readonly #known: Map<string, number> | undefined
  readonly #next = new KnownSegments()

  /** Segment ids of the collection, in order (those `finish` remembers with their bounds). */
  get ids(): readonly number[] { return this.#next.ids }

  constructor(
    readonly owner: number, readonly n: number, readonly w: ByteWriter, readonly refs: IdList,
    readonly ctx: SegmentContext, readonly aux: ByteWriter,
  ) {
    this.#known = ctx.segments.get(owner)
    w.pos = 0
    refs.n = 0
  }

  /** The entry just written (ending at `w.pos`) has hash `h`. */
  entry(h: number): void {
    this.count++
    this.#segEntries++
    if (endsSegment(h, this.#segEntries) || this.count === this.n) this.#cut()
    this.entryStart = this.w.pos
  }

  #cut(): void {
    const { w, refs, ctx, owner } = this
    const key = w.buf.latin1Slice(0, w.pos)
    let sid = this.#known?.get(key) ?? 0
    const ref = ctx.table.objects[sid]
    if (sid === 0 || !(ref instanceof SegmentRef) || ref.owner !== owner || ref.key !== key || this.#next.has(key)) {
      sid = ctx.table.assign(new SegmentRef(owner, key))
      writeSegment(this.aux, sid, this.#segEntries, w.buf.subarray(0, w.pos))
      ctx.refs.set(sid, refs.a, 0, refs.n)
      this.written++
    }
    this.#next.set(key, sid)
    this.#next.ids.push(sid)
    this.#next.ends.push(this.count)
    this.#segEntries = 0
    w.pos = 0
    refs.n = 0
  }

  /**
   * Keeps the segment `sid` (a SegmentRef of this collection, its `entries` unchanged) as the
   * next one without encoding it (patch-segments.ts).
   */
  keep(sid: number, entries: number): void {
    this.count += entries
    this.#next.set((this.ctx.table.objects[sid] as SegmentRef).key, sid)
    this.#next.ids.push(sid)
    this.#next.ends.push(this.count)
    this.entryStart = this.w.pos
  }

  /** Ends a segment of the `entries` just written to `w` (a segment of fixed bounds, patch-segments.ts). */
  take(entries: number): void {
    this.count += entries
    this.#segEntries = entries
    this.#cut()
    this.entryStart = this.w.pos
  }

  /** Remembers the collection's segments by content, and their bounds (after its `n` entries). */
  finish(): void {
    this.ctx.segments.set(this.owner, this.#next)
  }
}
