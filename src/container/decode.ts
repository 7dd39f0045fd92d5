/**
 * Restorer: the fast paths that rebuild an object graph from a log of object records
 * (format.ts); the rules they apply live in format.ts (layouts, tags), kinds.ts (the
 * prototype and constructor of each kind) and log-index.ts (finding and checking records).
 *
 * Steps: `index` scans the log once and keeps, for every id, the offset of its last record
 * (log-index.ts; inv. 1 of format.ts: the last record is the current state). `run` then fills every
 * current record in log order. A reference to an object not yet built creates its shell
 * (an empty object of the right kind and prototype) from that object's record header, so
 * cycles and forward references need no recursion and every id yields exactly one object
 * (shared references and cycles keep their identity).
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
import { ObjectProto, getPrototypeOf, isArrayBuffer, mapPut, objectCreate, setPrototypeOf, setPut } from './builtins.js'
import {
  KIND_ARRAY, KIND_BYTES, KIND_CLASS, KIND_DATE, KIND_DICT, KIND_MAP, KIND_OBJECT, KIND_REGEXP, KIND_SET,
  KIND_SHAPE, KIND_SPARSE, KIND_GONE, KIND_MAX, KIND_SEGMENTED, KIND_SEGMENT, KIND_BUFFER, KIND_CHUNKED, KIND_CHUNK, KIND_STATEFUL, KIND_VIEW, MAX_SHAPE_KEYS, PROTO_BUILTIN, PROTO_CLASS_BASE, PROTO_NULL, header, readHeader,
  TAG_BIGINT, TAG_DROPPED, TAG_FALSE, TAG_FLOAT64, TAG_HOLE, TAG_INT32, TAG_LATIN1, TAG_NULL, TAG_REF, TAG_TRUE,
  TAG_UNDEFINED, TAG_UTF16, kindName,
} from './format.js'
import { LogIndex } from './log-index.js'
import { BUILTIN_PROTO, VIEW_CTORS } from './kinds.js'
import { compileShape, defineValue, objectPrototypeKeys, type CompiledShape } from './shapes.js'
import type { ClassRegistry } from './classes.js'
import { ClassHookError, UnknownClassError } from './errors.js'
import { IdList, RefStore } from './refs.js'
import { packedArray } from './identity.js'
import { chunkedShell, fillChunks, isChunkedBase, readChunked } from './binary-decode.js'
import { applyProps, readProps, type PendingProps } from './props-decode.js'

/** Stands in the object table for a GONE record; references to it read as null. */
const GONE = Object.freeze({ gone: true })


/**
 * A plain object in V8's dictionary mode, for a DICT record (keys inline: the encoder writes
 * them for objects whose key list no other object of the point had, or too many keys). Made
 * with a null prototype (V8 makes those in dictionary mode) and given Object.prototype; its
 * properties are then hash-table entries instead of one hidden class per key added. Parsed
 * JSON of varied keys (json-generated: 47k objects with key lists of their own, 260k keys)
 * built 2.4x faster this way (300 ms against 700-760 ms for the same stores into `{}`, whose
 * transition trees fan out into thousands of maps used once); the objects are the same to
 * the program (the same own data properties in the same order on Object.prototype).
 */
function dictionaryObject(): object {
  const o = objectCreate(null) as object
  setPrototypeOf(o, ObjectProto)
  return o
}

/** Receives each restored object with its id (the container stamps ids here). */
export type BindFn = (o: object, id: number) => void

/** Shape and class records found by a restore, for the encoder's tables. */
export interface RestoredTables {
  shapes: Map<number, readonly string[]>
  classes: Map<number, { name: string; proto: object }>
}

export class Restorer extends LogIndex {
  /** id -> restored object. */
  readonly objects: (object | undefined)[]
  readonly #shapes = new Map<number, CompiledShape>()
  readonly #protoKeys = objectPrototypeKeys()
  readonly #classes = new Map<number, { name: string; proto: object }>()
  readonly #registry: ClassRegistry
  /** Receives each object created (a lazy restore sets it once the container's id table is known). */
  bind: BindFn
  /** Number of current records (objects, shapes, classes). */
  records = 0
  /** References of every current record. */
  readonly refs = new RefStore()
  readonly #scratch = new IdList()
  /** Ids of the ArrayBuffers and Buffers restored (BYTES, BUFFER and CHUNKED records). */
  readonly bytesIds: number[] = []
  /** Chunked buffer id -> the chunk size and CHUNK ids its record lists. */
  readonly chunked = new Map<number, { size: number; ids: Int32Array }>()
  /** Pairs [buffer id, view id] of the views restored. */
  readonly views: number[] = []
  /** Segmented collection id -> its segments (id, entry bytes as a latin-1 key). */
  readonly segments = new Map<number, [number, string][]>()
  /** STATEFUL records filled: [id, state, ...] in log order (their instances are revived once the graph is built). */
  readonly stateful: unknown[] = []
  /** Ids of the SHAPE records read, in the order met (a lazy restore binds them as they come: lazy.ts). */
  readonly shapeIds: number[] = []
  /** End of the log (`end` moves to each record's end while it is read). */
  readonly logEnd: number

  /**
   * @param log the log bytes `[0, end)`
   * @param high one past the highest id the log may use (from the container metadata)
   */
  constructor(log: Uint8Array, end: number, high: number, where: string, registry: ClassRegistry, bind: BindFn, objects?: (object | undefined)[], unfilled = false) {
    super(log, end, high, where, unfilled)
    this.objects = objects ?? packedArray(high) as (object | undefined)[]
    this.logEnd = end
    this.#registry = registry
    this.bind = bind
  }

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
    try {
      const at = this.offsets[id]
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
      if (id <= 0 || id >= this.high || this.offsets[id] < 0) { this.pos = 0; this.fail(`root object ${id} has no record`) }
      return this.ref(id)
    } catch (e) { throw this.#typed(e) }
  }

  /** The keys of the SHAPE record `id`, read already (its id is in `shapeIds`). */
  shapeKeys(id: number): readonly string[] { return this.#shapes.get(id)!.keys }

  /** The shape and class records met. */
  tables(): RestoredTables {
    const shapes = new Map<number, readonly string[]>()
    for (const [id, s] of this.#shapes) shapes.set(id, s.keys)
    return { shapes, classes: this.#classes }
  }

  /** The prototype a proto code stands for (kind's built-in, null, or a registered class). */
  #proto(kind: number, code: number): object | null {
    if (code === PROTO_BUILTIN) return BUILTIN_PROTO[kind] ?? null
    if (code === PROTO_NULL) return null
    return this.#classProto(code - PROTO_CLASS_BASE)
  }

  #classProto(id: number): object {
    const known = this.#classes.get(id)
    if (known !== undefined) return known.proto
    const pos = this.pos, end = this.end
    const kind = this.enter(id)
    if (kind !== KIND_CLASS) this.fail(`prototype reference to a ${kindName(kind)} record`)
    this.varint()
    const name = this.value()
    if (typeof name !== 'string') this.fail('class record without a name')
    const proto = this.#registry.protoOf(name)
    if (proto === undefined) {
      throw new UnknownClassError(`Cannot restore container "${this.where}": it holds instances of class "${name}", which is not registered; pass it in the classes option of Container.open`, name)
    }
    this.#classes.set(id, { name, proto })
    this.pos = pos; this.end = end
    return proto
  }

  #shape(id: number): CompiledShape {
    const known = this.#shapes.get(id)
    if (known !== undefined) return known
    const pos = this.pos, end = this.end
    if (this.enter(id) !== KIND_SHAPE) this.fail(`shape reference to a non-shape record`)
    this.varint()
    const n = this.count(1)
    if (n > MAX_SHAPE_KEYS) this.fail(`shape with ${n} keys`)
    const keys: string[] = []
    for (let i = 0; i < n; i++) {
      const k = this.value()
      if (typeof k !== 'string') this.fail('shape key is not a string')
      keys.push(k)
    }
    if (this.pos !== this.end) this.fail('shape record has trailing bytes')
    const shape = compileShape(keys, this.#protoKeys)
    this.#shapes.set(id, shape)
    this.shapeIds.push(id)
    this.pos = pos; this.end = end
    return shape
  }

  /** The object with id `id`, creating its shell if it does not exist yet. */
  ref(id: number): object {
    const o = this.objects[id]
    if (o !== undefined) return o
    if (id <= 0 || id >= this.high) this.fail(`reference to impossible id ${id}`)
    const pos = this.pos, end = this.end
    const shell = this.#shell(id)
    this.pos = pos; this.end = end
    return shell
  }

  #shell(id: number): object {
    const kind = this.enter(id)
    const protoCode = this.varint()
    if (kind === KIND_GONE) { this.objects[id] = GONE; this.bind(GONE, id); return GONE }
    const base = kind === KIND_SEGMENTED || kind === KIND_CHUNKED ? this.u8() : kind
    if (kind === KIND_SEGMENTED && base !== KIND_ARRAY && base !== KIND_MAP && base !== KIND_SET) this.fail(`segmented record of kind ${base}`)
    if (kind === KIND_CHUNKED && !isChunkedBase(base)) this.fail(`chunked record of kind ${base}`)
    const proto = this.#proto(base, protoCode)
    let o: object
    switch (kind) {
      case KIND_OBJECT: {
        const shape = this.#shape(this.varint())
        o = proto === ObjectProto ? shape.make() : shape.makeWith(proto)    // shapes.ts inv. 3
        break
      }
      case KIND_DICT: o = proto === ObjectProto ? dictionaryObject() : objectCreate(proto); break
      case KIND_STATEFUL: o = this.#instance(proto); break
      case KIND_ARRAY: o = new Array(this.count(1)); break   // exact size: pushing allocated 17 slots for 2 elements (44 MB more heap on the 200k-user graph)
      case KIND_SPARSE: o = []; break
      case KIND_MAP: o = new Map(); break
      case KIND_SET: o = new Set(); break
      case KIND_SEGMENTED: o = base === KIND_ARRAY ? new Array(this.#entries()) : base === KIND_MAP ? new Map() : new Set(); break
      case KIND_DATE: o = new Date(this.f64()); break
      case KIND_REGEXP: {
        const src = this.value(), flags = this.value()
        if (typeof src !== 'string' || typeof flags !== 'string') this.fail('RegExp record without source and flags')
        o = new RegExp(src, flags)
        break
      }
      case KIND_BYTES: o = new ArrayBuffer(this.count(1)); break
      case KIND_BUFFER: o = Buffer.alloc(this.count(1)); break
      case KIND_CHUNKED: o = chunkedShell(this, base); break
      case KIND_VIEW: o = this.#viewShell(); break
      default: this.fail(`reference to a ${kindName(kind)} record`)
    }
    if (protoCode !== PROTO_BUILTIN && kind !== KIND_OBJECT && kind !== KIND_DICT && kind !== KIND_STATEFUL) setPrototypeOf(o, proto)
    this.objects[id] = o
    this.bind(o, id)
    return o
  }

  /**
   * A blank instance for a STATEFUL record: made by its class's `create` hook, so that it has
   * the class's private members (a class without hooks now, or a check: `Object.create`).
   */
  #instance(proto: object | null): object {
    if (proto === null) this.fail('instance record without a class')
    const info = this.#registry.infoByProto(proto)
    if (info?.hooks == null) return objectCreate(proto)
    let o: unknown
    try { o = info.hooks.create() } catch (e) {
      throw new ClassHookError(`Cannot restore container "${this.where}": creating an instance of class "${info.name}" threw (${(e as Error)?.message ?? String(e)}); give the class a static [Container.create]() that makes a blank instance`, info.name, { cause: e })
    }
    if (typeof o !== 'object' || o === null || getPrototypeOf(o) !== proto) {
      throw new ClassHookError(`Cannot restore container "${this.where}": [Container.create] of class "${info.name}" returned ${o === null ? 'null' : typeof o === 'object' ? 'an object of another class' : typeof o}, not an instance of the class`, info.name)
    }
    return o
  }

  #viewShell(): object {
    const type = this.u8()
    if (type >= VIEW_CTORS.length) this.fail(`unknown view type ${type}`)
    const bid = this.varint(), off = this.varint(), len = this.varint()
    const buffer = this.ref(bid)
    if (!isArrayBuffer(buffer)) this.fail('view whose buffer is not an ArrayBuffer')
    return new VIEW_CTORS[type](buffer as ArrayBuffer, off, len)
  }

  /** Reads the body of `id`'s current record into its object. */
  fill(id: number, bodyStart: number, end: number): void {
    this.pos = bodyStart
    this.end = end
    const kind = this.u8()
    if (kind < KIND_OBJECT || kind > KIND_MAX) this.fail(`unknown record kind ${kind}`)
    const body = this.pos
    if (kind === KIND_SHAPE) { this.#shape(id); this.pos = this.end; return }
    if (kind === KIND_CLASS) { this.#classProto(id); this.pos = this.end; return }
    if (kind === KIND_SEGMENT || kind === KIND_CHUNK) { this.pos = this.end; return }   // read by its collection or buffer
    const o = this.ref(id)
    if (o === GONE) { this.pos = this.end; this.refs.set(id, this.#scratch.a, 0, 0); return }
    this.pos = body
    this.end = end
    const protoCode = this.varint()
    this.#scratch.n = 0
    switch (kind) {
      case KIND_VIEW: { this.u8(); const bid = this.varint(); this.varint(); this.varint(); this.#scratch.push(bid); this.views.push(bid, id); break }
      case KIND_OBJECT: {
        const shape = this.#shape(this.varint())
        shape.fill(o, this)    // a class instance's keys are own properties already (shapes.ts inv. 3)
        break
      }
      case KIND_DICT: this.#fillDict(o as Record<string, unknown>, protoCode); break
      case KIND_STATEFUL: this.#fillDict(o as Record<string, unknown>, protoCode); this.stateful.push(id, this.value()); break
      case KIND_SEGMENTED: this.#fillSegmented(id, o); return
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
      case KIND_MAP: { const n = this.count(2); for (let i = 0; i < n; i++) { const k = this.value(); mapPut(o as Map<unknown, unknown>, k, this.value()) } break }
      case KIND_SET: { const n = this.count(1); for (let i = 0; i < n; i++) setPut(o as Set<unknown>, this.value()); break }
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
    if (this.pos < this.end) applyProps(o, readProps(this))
    if (this.pos !== this.end) this.fail(`${kindName(kind)} record of id ${id} has ${this.end - this.pos} trailing bytes`)
    this.refs.set(id, this.#scratch.a, 0, this.#scratch.n)
  }

  /** Fills a segmented collection from its SEGMENT records; records the references of each. */
  #fillSegmented(id: number, o: object): void {
    const base = this.u8()
    const n = this.varint()
    const count = this.count(1)
    const segIds: number[] = []
    for (let i = 0; i < count; i++) segIds.push(this.varint())
    const props = this.#props()
    const list: [number, string][] = []
    let entries = 0
    for (const sid of segIds) {
      if (this.enter(sid) !== KIND_SEGMENT) this.fail(`segmented record ${id} lists a non-segment record ${sid}`)
      this.varint()
      const k = this.count(1)
      const from = this.pos
      this.#scratch.n = 0
      for (let i = 0; i < k; i++) {
        if (base === KIND_ARRAY) {
          if (this.buf[this.pos] === TAG_HOLE && this.pos < this.end) { this.pos++; entries++; continue }
          ;(o as unknown[])[entries] = this.value()
        } else if (base === KIND_MAP) { const key = this.value(); mapPut(o as Map<unknown, unknown>, key, this.value()) }
        else setPut(o as Set<unknown>, this.value())
        entries++
      }
      if (this.pos !== this.end) this.fail(`segment ${sid} has trailing bytes`)
      this.refs.set(sid, this.#scratch.a, 0, this.#scratch.n)
      list.push([sid, this.buf.latin1Slice(from, this.end)])
    }
    if (entries !== n) this.fail(`segmented collection ${id} has ${entries} entries, its record says ${n}`)
    if (base === KIND_ARRAY) (o as unknown[]).length = n
    this.segments.set(id, list)
    this.#partsDone(id, o, segIds, props)
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

  /** Entries of a segmented collection: each takes at least a byte of the log, which bounds it. */
  #entries(): number {
    const n = this.varint()
    if (n > this.buf.length) this.fail(`segmented collection of ${n} entries in a log of ${this.buf.length} bytes`)
    return n
  }

  #key(): string {
    const k = this.value()
    if (typeof k !== 'string') this.fail('property key is not a string')
    return k
  }

  #fillDict(o: Record<string, unknown>, protoCode: number): void {
    const n = this.count(2)
    const protoKeys = this.#protoKeys
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
    if (a.length === 0 && n > 0) {
      for (let i = 0; i < n; i++) {
        if (b[this.pos] === TAG_HOLE && this.pos < this.end) { this.pos++; a.length = i + 1; continue }
        a[i] = this.value()
      }
    } else {
      if (n !== a.length) this.fail('array length changed between reads')
      for (let i = 0; i < n; i++) {
        if (b[this.pos] === TAG_HOLE && this.pos < this.end) { this.pos++; continue }
        a[i] = this.value()
      }
    }
    this.#fillExtras(a)
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
        const o = this.objects[id] ?? this.ref(id)
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
