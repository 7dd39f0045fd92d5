/**
 * Restorer: the fast paths that rebuild an object graph from a log of object records
 * (format.ts); the rules they apply live in format.ts (layouts, tags), kinds.ts (the
 * prototype and constructor of each kind) and log-index.ts (finding and checking records).
 *
 * Steps: `index` scans the log once and keeps, for every id, the offset of its last record
 * (log-index.ts; inv. 1 of format.ts: the last record is the current state). `run` then fills every
 * current record in log order. A reference to an object not yet built creates its shell
 * (an empty object of the right kind and prototype) from that object's record header
 * (shells.ts, an object the Restorer holds), so cycles and forward references need no
 * recursion and every id yields exactly one object (shared references and cycles keep
 * their identity). This file fills records; shells.ts makes the objects; decode-values.ts
 * (ValueReader, the base class) reads tagged values and the bodies made of them alone.
 *
 * Invariants:
 *   1. Every read is bounded by the current record (ByteReader); a record must be consumed
 *      exactly. Any inconsistency (unknown tag or kind, reference to a missing id or to a
 *      shape, a view outside its buffer, ...) throws CorruptionError; exceptions from
 *      built-in constructors fed damaged values are converted to CorruptionError too.
 *   2. Objects are created only through captured built-ins and generated shape code whose
 *      keys are JSON literals, never through code found in the data.
 */
import { CorruptionError, PmemError } from '../../regions/index.js'
import {
  KIND_ARRAY, KIND_BOXED, KIND_BYTES, KIND_CLASS, KIND_DATE, KIND_DICT, KIND_ERROR, KIND_MAP, KIND_OBJECT, KIND_REGEXP, KIND_SET,
  KIND_SHAPE, KIND_SPARSE, KIND_PATCH, knownKind, KIND_SEGMENTED, KIND_SEGMENT, KIND_BUFFER, KIND_CHUNKED, KIND_CHUNK, KIND_STATEFUL, KIND_VIEW, header, readHeader,
  kindName, PROTO_BUILTIN,
} from './format.js'
import { noteKeys } from './wide.js'
import { shapeEpoch } from './shapes.js'
import type { ClassRegistry } from './classes.js'
import { RefStore } from './refs.js'
import { fillChunks, isChunkedBase, readChunked } from './binary-decode.js'
import { applyBinaryParts } from './binary-patch.js'
import { GONE, type BindFn, type RestoredTables } from './shells.js'
import { ValueReader } from './decode-values.js'
import { applyProps, readProps, type PendingProps } from './props-decode.js'
import type { FastBuffer } from './writer.js'
import { PART_MARK, PART_OWNED, applyParts, readPatch, type ReadPatch } from './patch-record.js'

export type { BindFn, RestoredTables } from './shells.js'

/** A restored segment's key: its entries' bytes as a latin-1 string, or those bytes, a view of the restore's private log copy (log.ts inv. 6; segments.ts SegmentRef). */
export type SegmentKey = string | FastBuffer

/** What a CHUNKED or PATCH record of a buffer lists: chunk size, CHUNK ids, and a PATCH record's parts with the chunks they touched and the bytes they hold. */
export interface ChunkedFound { size: number; ids: Int32Array; patch?: { parts: number[]; touched: Uint8Array; patched: number } }

export class Restorer extends ValueReader {
  /** Number of current records (objects, shapes, classes). */
  records = 0
  /** References of every current record. */
  readonly refs = new RefStore()
  /** Ids of the ArrayBuffers and Buffers restored (BYTES, BUFFER and CHUNKED records). */
  readonly bytesIds: number[] = []
  /** Chunked buffer id -> the chunk size and CHUNK ids its record lists (and a PATCH record's parts, binary-patch.ts). */
  readonly chunked = new Map<number, ChunkedFound>()
  /** Pairs [buffer id, view id] of the views restored. */
  readonly views: number[] = []
  /** Segmented collection id -> its segments (id, entry bytes as a latin-1 key, or a view of them: `keyViews`). */
  readonly segments = new Map<number, [number, SegmentKey][]>()
  /** Segmented collection id -> the base its SEGMENTED or PATCH record names, and a PATCH record's changes (patch-record.ts inv. PR3). */
  readonly bases = new Map<number, { base: number; segIds: number[]; entries: number; patch: ReadPatch | null; size: number }>()
  /**
   * The log is this restore's private copy (log.ts inv. 6): segment keys are views of it
   * while `run` reads, kept as views if segments are at least half of the log (else made
   * strings at the end of `run`, so that a log of other records is not held for them).
   */
  keyViews = false
  /** Bytes of the segments filled. */
  #segmentBytes = 0
  /** STATEFUL records filled: [id, state, ...] in log order (their instances are revived once the graph is built). */
  readonly stateful: unknown[] = []
  /** End of the log (`end` moves to each record's end while it is read). */
  readonly logEnd: number
  /**
   * What a full restore learns for the encoder's flags (dirty.ts inv. D2, D3), by id, when
   * set before `run` (null: not collected; a lazy restore). `plain`: a plain object or class
   * instance filled from a record without a PROPS section (it holds its body's keys, as
   * enumerable data properties, and is extensible). `ordinary`: an object made here as an
   * ordinary object (OBJECT and DICT records: a literal or `Object.create`).
   */
  flags: { plain: Uint8Array<ArrayBuffer>; ordinary: Uint8Array<ArrayBuffer> } | null = null

  /**
   * @param log the log bytes `[0, end)`
   * @param high one past the highest id the log may use (from the container metadata)
   */
  constructor(log: Uint8Array, end: number, high: number, where: string, registry: ClassRegistry, bind: BindFn, objects?: (object | undefined)[], unfilled = false) {
    super(log, end, high, where, registry, bind, objects, unfilled)
    this.logEnd = end
  }

  /** Receives each object created (a lazy restore sets it once the container's id table is known). */
  get bind(): BindFn { return this.shells.bind }
  set bind(f: BindFn) { this.shells.bind = f }

  /** Ids of the SHAPE records read, in the order met (a lazy restore binds them as they come: lazy.ts). */
  get shapeIds(): readonly number[] { return this.shells.shapeIds }

  /** The keys of the SHAPE record `id`, read already (its id is in `shapeIds`). */
  shapeKeys(id: number): readonly string[] { return this.shells.shapeKeys(id) }

  /** The shape and class records met. */
  tables(): RestoredTables { return this.shells.tables() }

  /** The object with id `id`, creating its shell if it does not exist yet (shells.ts). */
  ref(id: number): object { return this.shells.ref(id) }

  /** Starts gathering the references of a PATCH part (patch-record.ts inv. PR2). */
  beginRefs(): void { this.scratch.n = 0 }

  /** The references gathered since `beginRefs` are record `id`'s. */
  endRefs(id: number): void { this.refs.set(id, this.scratch.a, 0, this.scratch.n) }

  /** Builds every current object; returns the root. */
  run(rootId: number): object {
    try {
      this.index()
      const logEnd = this.end
      let pos = 0
      while (pos < logEnd) {
        readHeader(this.buf, pos, logEnd)
        const id = header.id, next = header.end
        if (this.offsets[id] === pos) { this.records++; this.fill(id, header.body, next) }
        pos = next
        this.end = logEnd
      }
      const root = this.objects[rootId]
      if (rootId <= 0 || rootId >= this.high || root === undefined) { this.pos = 0; this.fail(`root object ${rootId} has no record`) }
      if (this.keyViews && this.#segmentBytes * 2 < logEnd) this.#keysAsStrings()
      return root
    } catch (e) { throw this.#typed(e) }
  }

  /** A PmemError as it is; anything else a built-in threw on damaged values, as CorruptionError (inv. 1). */
  #typed(e: unknown): unknown {
    if (e instanceof PmemError) return e
    return new CorruptionError(`Cannot restore container "${this.where}": ${this.context}damaged record near byte ${this.pos} (${(e as Error).message}); restore an earlier version or delete the file`)
  }

  /**
   * Fills the current record of `id` alone, in any order (a lazy restore, lazy.ts): its
   * shell is created first if it has none. The caller fills each id once (the log must
   * be indexed).
   */
  fillOne(id: number): void {
    shapeEpoch.n++      // the program ran since the last fill (shapes.ts inv. 3a)
    try {
      const at = this.offsetOf(id)
      if (at < 0) this.fail(`reference to object ${id}, which has no record`)
      this.at(id, at)      // loads it if the log is read on demand (log-index.ts inv. L3)
      this.records++
      this.fill(id, header.body, header.end)
      this.end = this.logEnd
    } catch (e) { throw this.#typed(e) }
  }

  /** The shell of `id` (a lazy restore's root); damage is CorruptionError. */
  shellOf(id: number): object {
    try {
      if (id <= 0 || id >= this.high || this.offsetOf(id) < 0) { this.pos = 0; this.fail(`root object ${id} has no record`) }
      return this.ref(id)
    } catch (e) { throw this.#typed(e) }
  }


  /** Reads the body of `id`'s current record into its object. */
  fill(id: number, bodyStart: number, end: number): void {
    this.pos = bodyStart
    this.end = end
    const kind = this.u8()
    if (!knownKind(kind)) this.fail(`unknown record kind ${kind}`)
    const body = this.pos
    if (kind === KIND_SHAPE) { this.shells.shape(id); this.pos = this.end; return }
    if (kind === KIND_CLASS) { this.shells.classProto(id); this.pos = this.end; return }
    if (kind === KIND_SEGMENT || kind === KIND_CHUNK) { this.pos = this.end; return }   // read by its collection or buffer
    if (kind === KIND_PATCH && this.pos + 1 < this.end && (this.buf[this.pos + 1] === PART_MARK || this.buf[this.pos + 1] === PART_OWNED)) { this.pos = this.end; return }   // a PATCH part: read by its collection (patch-record.ts)
    const o = this.shells.ref(id)
    if (o === GONE) { this.pos = this.end; this.refs.set(id, this.scratch.a, 0, 0); return }
    this.pos = body
    this.end = end
    const protoCode = this.varint()
    this.scratch.n = 0
    switch (kind) {
      case KIND_VIEW: { this.u8(); const bid = this.varint(); this.varint(); this.varint(); this.scratch.push(bid); this.views.push(bid, id); break }
      case KIND_OBJECT: {
        const shape = this.shells.shape(this.varint())
        shape.fill(o, this)    // a class instance's keys are own properties already (shapes.ts inv. 3)
        break
      }
      case KIND_DICT: this.fillDict(o as Record<string, unknown>, protoCode); break
      case KIND_STATEFUL: this.fillDict(o as Record<string, unknown>, protoCode); this.stateful.push(id, this.value()); break
      case KIND_SEGMENTED: this.#fillSegmented(id, o, false, protoCode); return
      case KIND_PATCH: if (isChunkedBase(this.buf[this.pos])) this.#fillPatchedBuffer(id, o); else this.#fillSegmented(id, o, true, protoCode); return
      case KIND_CHUNKED: {
        const base = this.u8(), c = readChunked(this, id), props = this.#props()
        fillChunks(this, id, o, base, c)
        this.chunked.set(id, { size: c.size, ids: c.ids })
        this.bytesIds.push(id)
        this.#partsDone(id, o, c.ids, props)
        return
      }
      case KIND_ARRAY: this.fillArray(o as unknown[]); break
      case KIND_SPARSE: this.fillSparse(o as unknown[]); break
      case KIND_MAP: this.mapEntries(o as Map<unknown, unknown>, this.count(2)); break
      case KIND_SET: this.setEntries(o as Set<unknown>, this.count(1)); break
      case KIND_BYTES: case KIND_BUFFER: {
        const n = this.varint(); this.need(n)
        const target = kind === KIND_BYTES ? new Uint8Array(o as ArrayBuffer) : o as Uint8Array
        if (target.length !== n) this.fail('buffer length changed between reads')
        target.set(this.buf.subarray(this.pos, this.pos + n))
        this.pos += n
        this.bytesIds.push(id)
        break
      }
      case KIND_DATE: this.need(8); this.pos += 8; break    // DATE, REGEXP: complete in their shell
      case KIND_REGEXP: this.value(); this.value(); break
      case KIND_ERROR: this.u8(); break      // ERROR, BOXED: made in their shell (natives.ts), then the PROPS section below
      case KIND_BOXED: this.value(); break
    }
    const props = this.pos < this.end
    if (props) applyProps(o, readProps(this))
    if (this.pos !== this.end) this.fail(`${kindName(kind)} record of id ${id} has ${this.end - this.pos} trailing bytes`)
    this.refs.set(id, this.scratch.a, 0, this.scratch.n)
    if (this.flags !== null && (kind === KIND_OBJECT || kind === KIND_DICT)) {
      this.flags.ordinary[id] = 1
      if (!props) this.flags.plain[id] = 1
    }
  }

  /** Fills a segmented collection from its SEGMENT records (and a PATCH record's changes, patch-record.ts); records the references of each. */
  #fillSegmented(id: number, o: object, patched: boolean, protoCode: number): void {
    const base = this.u8()
    const n = this.varint()
    const count = this.count(1)
    const segIds: number[] = []
    for (let i = 0; i < count; i++) segIds.push(this.varint())
    const patch = patched ? readPatch(this) : null
    const props = this.#props()
    const list: [number, SegmentKey][] = []
    let entries = 0
    if (base === KIND_ARRAY && (o as unknown[]).length === 0 && n > 0) {     // a large array's shell is empty (shells.ts inv. 4): sized once, before its elements
      if (n > this.buf.length) this.fail(`segmented collection of ${n} entries in a log of ${this.buf.length} bytes`)
      ;(o as unknown[]).length = n
    }
    for (const sid of segIds) {
      if (this.enter(sid) !== KIND_SEGMENT) this.fail(`segmented record ${id} lists a non-segment record ${sid}`)
      this.varint()
      const k = this.count(1)
      const from = this.pos
      this.scratch.n = 0
      if (base === KIND_ARRAY) entries = this.elements(o as unknown[], entries, k)
      else if (base === KIND_DICT) { this.dictEntries(o as Record<string, unknown>, k, protoCode, true); entries += k }
      else {
        if (base === KIND_MAP) this.mapEntries(o as Map<unknown, unknown>, k)
        else this.setEntries(o as Set<unknown>, k)
        entries += k
      }
      if (this.pos !== this.end) this.fail(`segment ${sid} has trailing bytes`)
      this.refs.set(sid, this.scratch.a, 0, this.scratch.n)
      list.push([sid, this.keyViews ? this.buf.subarray(from, this.end) as FastBuffer : this.buf.latin1Slice(from, this.end)])
      this.#segmentBytes += this.end - from
    }
    const b = patch === null ? n : patch.entries
    if (entries !== b) this.fail(`segmented collection ${id} has ${entries} entries, its record says ${b}`)
    if (base === KIND_ARRAY) (o as unknown[]).length = b
    if (patch !== null) applyParts(this, id, o, base, n, patch)
    this.segments.set(id, list)
    this.bases.set(id, { base, segIds, entries: b, patch, size: n })
    this.#partsDone(id, o, patch === null ? segIds : [...segIds, ...patch.parts], props)
    if (base === KIND_DICT) {
      if (protoCode === PROTO_BUILTIN) noteKeys(o, n)      // the encoder lists its keys with Object.keys (wide.ts)
      if (this.flags !== null) {       // dirty.ts inv. D2, D3, as for a DICT record
        this.flags.ordinary[id] = 1
        if (props === null) this.flags.plain[id] = 1
      }
    }
  }

  /** A buffer's PATCH record (binary-patch.ts): its chunks, then its parts in order. */
  #fillPatchedBuffer(id: number, o: object): void {
    const base = this.u8(), c = readChunked(this, id)
    const p = this.count(1)
    const parts: number[] = []
    for (let i = 0; i < p; i++) parts.push(this.varint())
    const props = this.#props()
    fillChunks(this, id, o, base, c)
    const target = base === KIND_BYTES ? new Uint8Array(o as ArrayBuffer) : o as Uint8Array
    const patch = applyBinaryParts(this, id, target, base, c.size, parts)
    this.chunked.set(id, { size: c.size, ids: c.ids, patch: { parts, ...patch } })
    this.bytesIds.push(id)
    this.#partsDone(id, o, [...c.ids, ...parts], props)
  }

  /** Makes every segment key a string (the keys must not hold the log: `keyViews`). */
  #keysAsStrings(): void {
    for (const list of this.segments.values()) {
      for (const e of list) if (typeof e[1] !== 'string') e[1] = e[1].latin1Slice(0, e[1].length)
    }
  }

  /** The PROPS section of a record whose parts (segments, chunks) follow; its references stay in the scratch list. */
  #props(): { p: PendingProps; refs: Int32Array } | null {
    this.scratch.n = 0
    if (this.pos === this.end) return null
    const p = readProps(this)
    if (this.pos !== this.end) this.fail('record has trailing bytes after its properties')
    return { p, refs: this.scratch.a.slice(0, this.scratch.n) }
  }

  /** A record with parts is filled: its properties applied; its references are its parts and what its properties reference. */
  #partsDone(id: number, o: object, parts: ArrayLike<number>, props: { p: PendingProps; refs: Int32Array } | null): void {
    if (props !== null) applyProps(o, props.p)
    const ids = new Int32Array(parts.length + (props?.refs.length ?? 0))
    ids.set(parts)
    if (props !== null) ids.set(props.refs, parts.length)
    this.refs.set(id, ids, 0, ids.length)
  }
}
