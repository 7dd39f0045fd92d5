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
 * their identity). This file fills bodies; shells.ts makes the objects.
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
import { mapPut, setPut } from './builtins.js'
import {
  KIND_ARRAY, KIND_BYTES, KIND_CLASS, KIND_DATE, KIND_DICT, KIND_MAP, KIND_OBJECT, KIND_REGEXP, KIND_SET,
  KIND_SHAPE, KIND_SPARSE, KIND_PATCH, knownKind, KIND_SEGMENTED, KIND_SEGMENT, KIND_BUFFER, KIND_CHUNKED, KIND_CHUNK, KIND_STATEFUL, KIND_VIEW, PROTO_BUILTIN, header, readHeader,
  TAG_BIGINT, TAG_DROPPED, TAG_FALSE, TAG_FLOAT64, TAG_HOLE, TAG_INT32, TAG_LATIN1, TAG_NULL, TAG_REF, TAG_TRUE,
  TAG_UNDEFINED, TAG_UTF16, kindName,
} from './format.js'
import { LogIndex } from './log-index.js'
import { defineValue, shapeEpoch } from './shapes.js'
import type { ClassRegistry } from './classes.js'
import { IdList, RefStore } from './refs.js'
import { packedArray } from './identity.js'
import { fillChunks, isChunkedBase, readChunked } from './binary-decode.js'
import { applyBinaryParts } from './binary-patch.js'
import { ARRAY_SHELL_MAX, GONE, Shells, type BindFn, type RestoredTables } from './shells.js'
import { applyProps, readProps, type PendingProps } from './props-decode.js'
import type { FastBuffer } from './writer.js'
import { PART_MARK, applyParts, readPatch, type ReadPatch } from './patch-record.js'

export type { BindFn, RestoredTables } from './shells.js'

/** A restored segment's key: its entries' bytes as a latin-1 string, or those bytes, a view of the restore's private log copy (log.ts inv. 6; segments.ts SegmentRef). */
export type SegmentKey = string | FastBuffer

/** What a CHUNKED or PATCH record of a buffer lists: chunk size, CHUNK ids, and a PATCH record's parts with the chunks they touched and the bytes they hold. */
export interface ChunkedFound { size: number; ids: Int32Array; patch?: { parts: number[]; touched: Uint8Array; patched: number } }

export class Restorer extends LogIndex {
  /** id -> restored object. */
  readonly objects: (object | undefined)[]
  /** Makes the object of each id from its record header (shells.ts). */
  readonly shells: Shells
  /** Number of current records (objects, shapes, classes). */
  records = 0
  /** References of every current record. */
  readonly refs = new RefStore()
  readonly #scratch = new IdList()
  /** Ids of the ArrayBuffers and Buffers restored (BYTES, BUFFER and CHUNKED records). */
  readonly bytesIds: number[] = []
  /** Chunked buffer id -> the chunk size and CHUNK ids its record lists (and a PATCH record's parts, binary-patch.ts). */
  readonly chunked = new Map<number, ChunkedFound>()
  /** Pairs [buffer id, view id] of the views restored. */
  readonly views: number[] = []
  /** Segmented collection id -> its segments (id, entry bytes as a latin-1 key, or a view of them: `keyViews`). */
  readonly segments = new Map<number, [number, SegmentKey][]>()
  /** Segmented collection id -> the base its SEGMENTED or PATCH record names, and a PATCH record's changes (patch-record.ts inv. PR3). */
  readonly bases = new Map<number, { base: number; segIds: number[]; entries: number; patch: ReadPatch | null }>()
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
    super(log, end, high, where, unfilled)
    this.objects = objects ?? packedArray(high) as (object | undefined)[]
    this.logEnd = end
    this.shells = new Shells(this, this.objects, registry, bind)
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
    return new CorruptionError(`Cannot restore container "${this.where}": damaged record near byte ${this.pos} (${(e as Error).message}); restore an earlier version or delete the file`)
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
    if (kind === KIND_PATCH && this.pos + 1 < this.end && this.buf[this.pos + 1] === PART_MARK) { this.pos = this.end; return }   // a PATCH part: read by its collection (patch-record.ts)
    const o = this.shells.ref(id)
    if (o === GONE) { this.pos = this.end; this.refs.set(id, this.#scratch.a, 0, 0); return }
    this.pos = body
    this.end = end
    const protoCode = this.varint()
    this.#scratch.n = 0
    switch (kind) {
      case KIND_VIEW: { this.u8(); const bid = this.varint(); this.varint(); this.varint(); this.#scratch.push(bid); this.views.push(bid, id); break }
      case KIND_OBJECT: {
        const shape = this.shells.shape(this.varint())
        shape.fill(o, this)    // a class instance's keys are own properties already (shapes.ts inv. 3)
        break
      }
      case KIND_DICT: this.#fillDict(o as Record<string, unknown>, protoCode); break
      case KIND_STATEFUL: this.#fillDict(o as Record<string, unknown>, protoCode); this.stateful.push(id, this.value()); break
      case KIND_SEGMENTED: this.#fillSegmented(id, o, false); return
      case KIND_PATCH: if (isChunkedBase(this.buf[this.pos])) this.#fillPatchedBuffer(id, o); else this.#fillSegmented(id, o, true); return
      case KIND_CHUNKED: {
        const base = this.u8(), c = readChunked(this, id), props = this.#props()
        fillChunks(this, id, o, base, c)
        this.chunked.set(id, { size: c.size, ids: c.ids })
        this.bytesIds.push(id)
        this.#partsDone(id, o, c.ids, props)
        return
      }
      case KIND_ARRAY: this.#fillArray(o as unknown[]); break
      case KIND_SPARSE: this.#fillSparse(o as unknown[]); break
      case KIND_MAP: this.#mapEntries(o as Map<unknown, unknown>, this.count(2)); break
      case KIND_SET: this.#setEntries(o as Set<unknown>, this.count(1)); break
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
    }
    const props = this.pos < this.end
    if (props) applyProps(o, readProps(this))
    if (this.pos !== this.end) this.fail(`${kindName(kind)} record of id ${id} has ${this.end - this.pos} trailing bytes`)
    this.refs.set(id, this.#scratch.a, 0, this.#scratch.n)
    if (this.flags !== null && (kind === KIND_OBJECT || kind === KIND_DICT)) {
      this.flags.ordinary[id] = 1
      if (!props) this.flags.plain[id] = 1
    }
  }

  /** Fills a segmented collection from its SEGMENT records (and a PATCH record's changes, patch-record.ts); records the references of each. */
  #fillSegmented(id: number, o: object, patched: boolean): void {
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
      this.#scratch.n = 0
      if (base === KIND_ARRAY) entries = this.#elements(o as unknown[], entries, k)
      else {
        if (base === KIND_MAP) this.#mapEntries(o as Map<unknown, unknown>, k)
        else this.#setEntries(o as Set<unknown>, k)
        entries += k
      }
      if (this.pos !== this.end) this.fail(`segment ${sid} has trailing bytes`)
      this.refs.set(sid, this.#scratch.a, 0, this.#scratch.n)
      list.push([sid, this.keyViews ? this.buf.subarray(from, this.end) as FastBuffer : this.buf.latin1Slice(from, this.end)])
      this.#segmentBytes += this.end - from
    }
    const b = patch === null ? n : patch.entries
    if (entries !== b) this.fail(`segmented collection ${id} has ${entries} entries, its record says ${b}`)
    if (base === KIND_ARRAY) (o as unknown[]).length = b
    if (patch !== null) applyParts(this, id, o, base, n, patch)
    this.segments.set(id, list)
    this.bases.set(id, { base, segIds, entries: b, patch })
    this.#partsDone(id, o, patch === null ? segIds : [...segIds, ...patch.parts], props)
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
    this.#scratch.n = 0
    if (this.pos === this.end) return null
    const p = readProps(this)
    if (this.pos !== this.end) this.fail('record has trailing bytes after its properties')
    return { p, refs: this.#scratch.a.slice(0, this.#scratch.n) }
  }

  /** A record with parts is filled: its properties applied; its references are its parts and what its properties reference. */
  #partsDone(id: number, o: object, parts: ArrayLike<number>, props: { p: PendingProps; refs: Int32Array } | null): void {
    if (props !== null) applyProps(o, props.p)
    const ids = new Int32Array(parts.length + (props?.refs.length ?? 0))
    ids.set(parts)
    if (props !== null) ids.set(props.refs, parts.length)
    this.refs.set(id, ids, 0, ids.length)
  }

  #key(): string {
    const k = this.value()
    if (typeof k !== 'string') this.fail('property key is not a string')
    return k
  }

  #fillDict(o: Record<string, unknown>, protoCode: number): void {
    const n = this.count(2)
    const protoKeys = this.shells.protoKeys
    for (let i = 0; i < n; i++) {
      const k = this.#key()
      const v = this.value()
      if (protoCode === PROTO_BUILTIN && !protoKeys.has(k)) o[k] = v    // a store would reach Object.prototype's accessor or read-only property of that name
      else defineValue(o, k, v)
    }
  }

  #fillArray(a: unknown[]): void {
    const n = this.count(1)
    const b = this.buf
    if (a.length === 0 && n > ARRAY_SHELL_MAX) a.length = n     // an empty shell (shells.ts inv. 4): sized once, before its elements
    if (a.length === 0 && n > 0) {
      for (let i = 0; i < n; i++) {
        if (b[this.pos] === TAG_HOLE && this.pos < this.end) { this.pos++; a.length = i + 1; continue }
        a[i] = this.value()
      }
    } else {
      if (n !== a.length) this.fail('array length changed between reads')
      this.#elements(a, 0, n)
    }
    this.#fillExtras(a)
  }

  /**
   * Reads `k` array elements into `a` from index `i` (a HOLE leaves one); returns the index
   * after them. Numbers are read here, without a call per element (`value` reads the rest):
   * with reader.ts's DataView reads, the numeric corpus restored in 533 instead of 754 ms of
   * CPU (medians of 4 interleaved fresh processes, load 6-8). A number whose bytes would
   * pass the record's end is left to `value`, which fails on it (inv. 1).
   */
  #elements(a: unknown[], i: number, k: number): number {
    const b = this.buf, dv = this.dv, end = this.end
    let p = this.pos
    for (let j = 0; j < k; j++, i++) {
      const t = p < end ? b[p] : -1
      if (t === TAG_FLOAT64 && p + 9 <= end) { a[i] = dv.getFloat64(p + 1, true); p += 9 }
      else if (t >= 0 && t < 0x80) { a[i] = t; p++ }
      else if (t === TAG_INT32 && p + 5 <= end) { a[i] = dv.getInt32(p + 1, true); p += 5 }
      else if (t === TAG_HOLE) p++
      else { this.pos = p; a[i] = this.value(); p = this.pos }
    }
    this.pos = p
    return i
  }

  /** Reads `k` entries (key, value) into Map `m`. (Maps, Sets and arrays each have their loop: one shared loop deoptimized at every collection of another kind.) */
  #mapEntries(m: Map<unknown, unknown>, k: number): void {
    for (let j = 0; j < k; j++) { const key = this.value(); mapPut(m, key, this.value()) }
  }

  /** Reads `k` values into Set `s`. */
  #setEntries(s: Set<unknown>, k: number): void {
    for (let j = 0; j < k; j++) setPut(s, this.value())
  }

  #fillSparse(a: unknown[]): void {
    const len = this.varint()
    if (len > 0xffff_ffff) this.fail(`array length ${len}`)
    const n = this.count(2)
    a.length = len
    let last = -1
    for (let i = 0; i < n; i++) {
      const idx = this.varint()
      if (idx >= len || idx <= last) this.fail(`sparse array index ${idx} out of order or range`)
      last = idx
      a[idx] = this.value()
    }
    this.#fillExtras(a)
  }

  #fillExtras(a: unknown[]): void {
    const n = this.count(2)
    for (let i = 0; i < n; i++) {
      const k = this.#key()
      defineValue(a, k, this.value())
    }
  }

  /** Reads one tagged value. */
  value(): unknown {
    if (this.pos >= this.end) this.fail('record truncated')
    const t = this.buf[this.pos++]
    if (t < 0x80) return t
    if (t < 0xa0) return this.latin1(t - 0x80)
    switch (t) {
      case TAG_UNDEFINED: return undefined
      case TAG_NULL: case TAG_DROPPED: return null
      case TAG_FALSE: return false
      case TAG_TRUE: return true
      case TAG_INT32: return this.i32()
      case TAG_FLOAT64: return this.f64()
      case TAG_LATIN1: return this.latin1(this.count(1))
      case TAG_UTF16: return this.utf16(this.count(2))
      case TAG_REF: {
        const id = this.varint()
        this.#scratch.push(id)
        const o = this.objects[id] ?? this.shells.ref(id)
        return o === GONE ? null : o
      }
      case TAG_BIGINT: return this.#bigint()
      default: return this.fail(`unknown value tag 0x${t.toString(16)}`)
    }
  }

  #bigint(): bigint {
    const sign = this.u8()
    if (sign > 1) this.fail('bigint with a bad sign byte')
    const n = this.count(1)
    let hex = ''
    for (let i = n - 1; i >= 0; i--) hex += (this.buf[this.pos + i] + 0x100).toString(16).slice(1)
    this.pos += n
    const mag = n === 0 ? 0n : BigInt('0x' + hex)
    return sign === 1 ? -mag : mag
  }
}
