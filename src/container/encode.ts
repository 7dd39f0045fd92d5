/**
 * Encoder: the fast paths that write object records (format.ts) for objects of a container,
 * and discover objects that have no id yet (new since the last point) so that they are
 * written too. The rules it applies live elsewhere: the byte layouts in format.ts, which
 * kind an object is stored as in kinds.ts, the descriptor records (SHAPE, CLASS, SEGMENT,
 * GONE) in records.ts, where segments are cut in segments.ts. This file holds the loops
 * that run per object and per value (keep them monomorphic: V8 inlines them): discovery,
 * values, the framing of each record; the body of each kind is written by encode-bodies.ts and encode-objects.ts,
 * the own-property checks and the PROPS section by encode-own.ts, the choice of loose ids
 * by loose-ids.ts, each object's kind and proto code (and the CLASS records) by
 * encode-classes.ts.
 *
 * Discovery follows own enumerable string-keyed properties, array elements (and extra
 * enumerable properties of arrays), Map and Set entries, and the buffer of typed arrays.
 * It never recurses: a newly discovered object is given an id and pushed on `pending`
 * (pending.ts), and the caller drains that queue (walk.ts), so graphs of any depth work.
 *
 * Invariants:
 *   1. A record written for id X reflects X's state at the moment it was encoded; every
 *      REF in it names an id that is live in the table and either already persisted or
 *      pending in this same point (so a point is closed under references).
 *   2. A value that cannot persist is written as DROPPED and reported in `dropped` under
 *      the id of its holder; nothing else is silently changed.
 *   3. Only built-ins captured in builtins.ts are called on user objects (besides property
 *      reads, which may run user getters).
 *   4. A plain object or class instance whose discovery found it extensible, without
 *      symbol-keyed properties, and with as many own string keys as its body holds, gets
 *      no PROPS section and no inspection at its record (encode-own.ts): checked
 *      before the id stamp, because the stamp (a private field) takes V8's
 *      `getOwnPropertyNames` off its fast path (25 ns before, 330 ns after, per user of
 *      the performance graph). Only a getter or proxy trap run by this same snapshot could
 *      change the object in between; such a change goes to the next point (verify.ts
 *      compares the own keys of every exposed object), as every mutation made during a
 *      snapshot does (container README, "during a snapshot").
 *   5. In an incremental point of the default mode (`trustPlain`), the record of a plain
 *      object or class instance that is not exposed and whose `plain` flag is set (dirty.ts
 *      inv. D2: its last record held all it has, and no trap of its proxy has since given it
 *      a symbol key, a non-enumerable property or made it non-extensible) gets no PROPS
 *      section without looking (`Reflect.ownKeys` on a stamped object costs 0.2-1 us per
 *      record). Such an object can only have changed through its proxy (it is not exposed:
 *      the program holds no raw reference to it, barrier.ts inv. 4), so the flag is exact.
 *      Full points, `track: 'barriers'` (raw references are not watched, and a full point
 *      is how their changes are taken) and exposed objects always look.
 *   6. The prototype in an exposed object's shadow is the one its record's proto code stands
 *      for (classified at discovery), never read again at the record: a getter run by this
 *      snapshot between the two (`Object.setPrototypeOf`) would otherwise leave a shadow
 *      equal to the object and a record that is not, and the change would never persist
 *      (verify.ts inv. V1).
 */
import { ArrayProto, MapProto, ObjectProto, SetProto, dateTime, getPrototypeOf, regexpParts } from './builtins.js'
import {
  KIND_ARRAY, KIND_BOXED, KIND_BYTES, KIND_DATE, KIND_ERROR, KIND_MAP, KIND_OBJECT, KIND_REGEXP, KIND_SET, KIND_VIEW, PROTO_BUILTIN, PROTO_CLASS_BASE, PROTO_NULL,
  nativeKind, TAG_BIGINT, TAG_DROPPED, TAG_FALSE, TAG_NULL, TAG_REF, TAG_TRUE, TAG_UNDEFINED,
} from './format.js'
import { writeGone } from './records.js'
import { boxedValue, errorType } from './natives.js'
import { PendingQueue } from './pending.js'
import { bytesOf, maxOf, type BinaryTable } from './binary.js'
import { ByteWriter, RecordList, type Batch } from './writer.js'
import type { ObjectTable } from './identity.js'
import type { ShapeTrie } from './shapes.js'
import type { ClassRef, ClassRegistry } from './classes.js'
import type { DroppedAt } from './dropped.js'
import type { BigMap } from './big-map.js'
import { IdList, type RefStore } from './refs.js'
import type { DateTable } from './dates.js'
import type { DirtySet } from './dirty.js'
import { S_GONE, type ShadowStore } from './shadow.js'
import type { Verifier } from './verify.js'
import { Classifier } from './encode-classes.js'
import { arrayBody, binaryBody, mapBody, setBody, viewBody } from './encode-bodies.js'
import { objectBody } from './encode-objects.js'
import { NAMES_UNKNOWN, earlyNames, nothingBeyond, ownSection } from './encode-own.js'
import { LooseSampler, manyShapes } from './loose-ids.js'

const EMPTY_KEYS: readonly string[] = []
export { joinBatch, type Batch } from './writer.js'

/** Everything an encoder needs from its container. */
export interface EncoderContext {
  readonly table: ObjectTable
  readonly shapes: ShapeTrie
  readonly classes: ClassRegistry
  /** Objects the program excluded (never followed). */
  readonly excluded: WeakSet<object>
  /** False until the program excludes something (skips the WeakSet lookup). */
  readonly anyExcluded: boolean
  /** False until the container has handed out a proxy (skips looking for its proxies in the graph). */
  readonly anyProxies: boolean
  /** References of every current record (updated as records are encoded). */
  readonly refs: RefStore
  /** Holder id -> values it could not persist (replaced whenever the holder is encoded; a BigMap: more holders than a V8 Map holds, tables.ts). */
  readonly dropped: BigMap<number, DroppedAt[]>
  /** Segmented collection id -> its segments by content (segments.ts). */
  readonly segments: Map<number, Map<string, number>>
  /** The Dates compared at each point: the value of those it encodes is updated. */
  readonly dates: DateTable
  /** ArrayBuffer id -> ids of the views on it (re-encoded when its length changes). */
  readonly viewsOf: Map<number, Set<number>>
  /** Persisted buffers: lengths, chunk ids and fingerprints (binary.ts); updated as their records are encoded. */
  readonly binaries: BinaryTable
  /** Look at own properties beyond the enumerable string-keyed ones (props.ts); false: the `properties: 'enumerable'` option. */
  readonly inspect: boolean
  /** Also check the attributes of the body's keys of extensible objects (`properties: 'attributes'`). */
  readonly attributes: boolean
  /** Given each sealed buffer of object records (every few MiB of a large point) and the bytes sealed so far. */
  readonly onOutput?: (sealed: Buffer, bytes: number) => void
  /** Exposed ids and their shadows (verify.ts): the record of an exposed id also writes its shadow. Null: barriers only. */
  readonly verifier: Verifier | null
  /** Class instance with hooks (id) -> the state its current record holds. */
  readonly states: Map<number, unknown>
  /** The dirty set, with the `plain` flags (dirty.ts inv. D2) that records set and `trustPlain` points read (inv. 5). */
  readonly dirty: DirtySet
}

export class Encoder {
  /** Object records of this point (swapped for `seg` while a collection's entries are encoded). */
  w = new ByteWriter(1 << 16)
  /** Entries of a collection being segmented (encode-bodies.ts `segmented`). */
  readonly seg = new ByteWriter(1 << 16)
  /** SHAPE and CLASS records of this point (written before the object records). */
  readonly aux = new ByteWriter(1 << 10)
  /** Ids discovered and not yet encoded (first in, first out), with their kind and proto code. */
  readonly pending = new PendingQueue()
  /** Holder id -> what it could not persist (the context's map). */
  readonly dropped: BigMap<number, DroppedAt[]>
  /** Ids whose record was encoded in this point. */
  records = 0
  /** ERROR and BOXED records encoded in this point (the version is format 6: write.ts inv. F6). */
  natives = 0
  /** Records of segmented plain objects (base KIND_DICT: SEGMENTED, PATCH records and parts) written by this point: it needs format 7 (write.ts inv. F6). */
  dicts = 0
  readonly ctx: EncoderContext
  /** Kind and proto code of each object, and the CLASS records (encode-classes.ts). */
  readonly #cls: Classifier
  holder = 0
  holderDropped: DroppedAt[] | undefined
  /** The record being encoded lists CHUNK records to write after it (binary.ts). */
  chunksAfter = false
  /** The references of the holder's previous record (RefStore slice), tried first for each object value. */
  #prevStart = 0
  #prevCount = 0
  readonly scratch = new IdList()
  /** A key list whose length alone is used: an array's element count (encode-bodies.ts `indexKeys`; an array-like, its elements undefined, never read). */
  countOnly: string[] = []
  /** Object.prototype has no enumerable property, so for-in over a plain object sees its own keys only. */
  readonly forIn = prototypeIsClean()
  /** Objects are checked for own properties beyond their body when discovered (inv. 4): `properties: 'all'`. */
  readonly #early: boolean
  /** Plain-object records of this point, and how many of them needed a shape new to it (loose ids, `discover`). */
  plainRecords = 0
  newShapes = 0
  /** Key lists (joined) of the plain objects written as DICT for a shape the trie does not have (encode-objects.ts `objectBody`). */
  readonly dictSeen = new Set<string>()
  /** Decides loose ids before the point has enough plain records to tell (loose-ids.ts). */
  readonly #loose: LooseSampler
  /** The record being encoded is an exposed object's: its values go to the shadow too (`sh`). */
  cap = false
  /**
   * Numbers of the record's shadow may go to the shadow's `nums` (shadow.ts inv. S2): false
   * while a Map's or Set's entries are written, whose slices hold numbers as values only
   * (shadow.ts inv. S3: patch-segments.ts copies and overwrites their slots one by one).
   */
  numSlots = true
  readonly sh: ShadowStore | null
  /** Shadow kind of the record being encoded (S_*), set by the kind's body writer. */
  skind = 0
  /** An incremental point of the default mode: the `plain` flags of objects that are not exposed are trusted (inv. 5). */
  trustPlain = false

  constructor(ctx: EncoderContext, classRefs?: Map<object, ClassRef>) {
    this.w.track = new RecordList(); this.aux.track = new RecordList(); this.seg.track = new RecordList()    // the INDEX record's entries (log-offsets.ts)
    this.ctx = ctx
    this.dropped = ctx.dropped
    if (ctx.onOutput !== undefined) this.w.onSeal = ctx.onOutput
    this.#cls = new Classifier(ctx.table, ctx.classes, this.aux, classRefs ?? new Map())
    this.sh = ctx.verifier?.shadow ?? null
    this.#early = ctx.inspect && !ctx.attributes
    this.#loose = new LooseSampler(ctx.shapes, ctx.verifier !== null && ctx.inspect)     // loose-ids.ts: exposed plain objects are checked cheaper without a stamp
  }

  /** The class records known to this container (shared across points). */
  get classRefs(): Map<object, ClassRef> { return this.#cls.refs }

  /**
   * Kind of `o` (KIND_*), or 0 if it cannot persist: encode-classes.ts. Writes a CLASS
   * record the first time a class is used.
   */
  classify(o: object): number { return this.#cls.classify(o) }

  /** Gives `o` an id and queues it if it can persist; returns 0 (and reports) if it cannot. */
  discover(o: object, key: unknown, keyKind: DroppedAt['keyKind']): number {
    const ctx = this.ctx
    if (ctx.anyProxies) {
      const target = ctx.table.targetOf(o)
      if (target !== undefined) {
        const tid = ctx.table.idOf(target)
        if (tid !== 0) return tid
        o = target
      }
    }
    if (ctx.anyExcluded && ctx.excluded.has(o)) return 0
    const cls = this.#cls
    const kind = cls.classify(o)
    if (kind === 0) { this.drop(key, keyKind, cls.reason); return 0 }
    const names = kind === KIND_OBJECT && this.#early ? earlyNames(o) : NAMES_UNKNOWN      // before the stamp (inv. 4)
    const loose = kind === KIND_OBJECT && cls.proto === PROTO_BUILTIN && this.#loose.loose(o, this.plainRecords, this.newShapes)
    const id = ctx.table.assign(o, loose)
    ctx.verifier?.add(id)     // the program made it, so it may hold it raw (verify.ts)
    this.pending.push(id, kind, cls.proto, names)
    return id
  }

  /** Plain objects of this point rarely share shapes (loose-ids.ts `manyShapes`). */
  manyShapes(): boolean { return manyShapes(this.plainRecords, this.newShapes) }

  /** Reports a value of the holder that cannot persist. */
  drop(key: unknown, keyKind: DroppedAt['keyKind'], reason: string): void {
    const entry: DroppedAt = { key, keyKind, reason }
    if (this.holderDropped === undefined) {
      this.holderDropped = [entry]
      this.dropped.set(this.holder, this.holderDropped)
    } else this.holderDropped.push(entry)
  }

  /** Writes one tagged value; `key` only serves to report a dropped value. */
  value(v: unknown, key: unknown, keyKind: DroppedAt['keyKind']): void {
    if (this.cap) { if (typeof v === 'number' && this.numSlots) this.sh!.pushNumber(v); else this.sh!.push(v) }     // numbers outside the heap (shadow.ts inv. S2)
    const w = this.w
    switch (typeof v) {
      case 'string': w.str(v); return
      case 'number': w.num(v); return
      case 'boolean': w.u8(v ? TAG_TRUE : TAG_FALSE); return
      case 'undefined': w.u8(TAG_UNDEFINED); return
      case 'bigint': this.#bigint(v); return
      case 'object': {
        if (v === null) { w.u8(TAG_NULL); return }
        // The previous record of the holder referenced, at this same position, the id its
        // references then had: if that id's object is `v`, it is v's id (objects[id] === o
        // only for o's own id, identity.ts inv. 1), found without reading v's stamp (a
        // cache miss or two per child in a large heap).
        const k = this.scratch.n
        let id = 0
        if (k < this.#prevCount) {
          const c = this.ctx.refs.pool[this.#prevStart + k]
          if (this.ctx.table.objects[c] === v) id = c
        }
        if (id === 0) id = this.ctx.table.idOf(v)
        if (id === 0) id = this.discover(v, key, keyKind)
        if (id === 0) { w.u8(TAG_DROPPED); return }
        this.scratch.push(id)
        w.u8(TAG_REF); w.varint(id)
        return
      }
      default:
        this.drop(key, keyKind, typeof v)
        w.u8(TAG_DROPPED)
    }
  }

  /** A boxed primitive's value (natives.ts): a tagged value, never reported or shadowed. */
  #primitive(v: string | number | boolean | bigint): void {
    const w = this.w
    switch (typeof v) {
      case 'string': w.str(v); return
      case 'number': w.num(v); return
      case 'boolean': w.u8(v ? TAG_TRUE : TAG_FALSE); return
      default: this.#bigint(v)
    }
  }

  #bigint(v: bigint): void {
    const w = this.w
    const neg = v < 0n
    let hex = (neg ? -v : v).toString(16)
    if (hex.length % 2 === 1) hex = '0' + hex
    const n = hex.length / 2
    w.u8(TAG_BIGINT); w.u8(neg ? 1 : 0); w.varint(n)
    w.ensure(n)
    for (let i = 0; i < n; i++) w.buf[w.pos + i] = parseInt(hex.substr((n - 1 - i) * 2, 2), 16)
    w.pos += n
  }

  /**
   * Encodes the record of `o` (id `id`). Pass kind 0 to classify it here. `names`: what its
   * discovery found of its own properties (`earlyNames`, inv. 4), or NAMES_UNKNOWN.
   */
  record(id: number, o: object, kind: number, proto: number, names = NAMES_UNKNOWN): void {
    this.holder = id
    this.#names = names
    this.holderDropped = undefined
    this.scratch.n = 0
    const refs = this.ctx.refs
    this.#prevCount = id < refs.count.length ? refs.count[id] : 0
    this.#prevStart = this.#prevCount > 0 ? refs.start[id] : 0
    if (this.dropped.size > 0) this.dropped.delete(id)
    if (kind === 0) {
      const ord = this.ctx.dirty.ordinary
      const cls = this.#cls
      kind = id < ord.length && ord[id] === 1 ? cls.classifyOrdinary(o) : cls.classify(o)
      proto = cls.proto
      if (kind === 0) { this.#gone(id); return }
    }
    if (kind === KIND_OBJECT && proto !== PROTO_BUILTIN) this.ctx.dirty.setOrdinary(id)     // every brand check ran (dirty.ts inv. D3)
    const v = this.ctx.verifier
    this.cap = v !== null && id < v.flags.length && v.flags[id] === 1
    this.skind = 0
    if (this.cap) { this.sh!.begin(); this.sh!.push(this.#protoObject(o, kind, proto)) }     // inv. 6
    const w = this.w
    const lenAt = w.beginRecord(id)
    const start = lenAt + 1
    w.u8(kind); w.varint(proto)
    let body = EMPTY_KEYS
    switch (kind) {
      case KIND_OBJECT: body = objectBody(this, id, o as Record<string, unknown>, start, proto); break
      case KIND_ARRAY: body = arrayBody(this, o as unknown[], start); break
      case KIND_MAP: mapBody(this, o as Map<unknown, unknown>, start); break
      case KIND_SET: setBody(this, o as Set<unknown>, start); break
      case KIND_DATE: { const t = dateTime(o as Date); w.f64(t); if (this.cap) this.ctx.dates.set(id, t); else this.ctx.dates.update(id, t); break }
      case KIND_REGEXP: { const [s, f] = regexpParts(o as RegExp); w.str(s); w.str(f); break }
      case KIND_BYTES: binaryBody(this, id, KIND_BYTES, bytesOf(o, KIND_BYTES)!, maxOf(o as ArrayBuffer), start); break
      case KIND_VIEW: viewBody(this, id, o as ArrayBufferView, start); break
      case KIND_ERROR: w.u8(errorType(o)); this.natives++; break
      case KIND_BOXED: this.#primitive(boxedValue(o)); this.natives++; break
    }
    if (this.ctx.inspect || nativeKind(kind)) {      // natives.ts inv. N3
      const nothing = this.#plainTrusted(id, kind, names) || nothingBeyond(o, kind, body, names, this.#early)
      if (kind === KIND_OBJECT) this.ctx.dirty.setPlain(id, nothing && this.#early)    // dirty.ts inv. D2
      if (nothing) { if (this.cap) this.ctx.verifier!.setProps(id, null) }
      else ownSection(this, id, o, kind, body)
    }
    w.endRecord(lenAt)
    if (proto >= PROTO_CLASS_BASE && kind !== KIND_OBJECT) this.classDrop(proto, kind)
    if (this.cap) { if (this.skind !== 0) this.sh!.end(id, this.skind); else this.sh!.abandon(); this.cap = false }
    this.ctx.refs.set(id, this.scratch.a, 0, this.scratch.n)
    this.records++
    if (this.chunksAfter) { this.chunksAfter = false; this.records += this.ctx.binaries.writePending(this.w) }
  }

  /**
   * The prototype that the proto code `proto` of a record of kind `kind` stands for: what the
   * record holds, which its shadow must hold too (inv. 6), not the object's prototype now.
   */
  #protoObject(o: object, kind: number, proto: number): unknown {
    if (proto === PROTO_NULL) return null
    if (proto >= PROTO_CLASS_BASE) return (this.ctx.table.objects[proto - PROTO_CLASS_BASE] as ClassRef).proto
    switch (kind) {
      case KIND_OBJECT: return ObjectProto
      case KIND_ARRAY: return ArrayProto
      case KIND_MAP: return MapProto
      case KIND_SET: return SetProto
      default: return getPrototypeOf(o)     // kinds whose shadow is abandoned (dates, regexps, binary data: compared elsewhere)
    }
  }

  /** Reports what instances of the class `proto` stands for lose (private members without hooks: classes.ts). */
  classDrop(proto: number, kind: number): void {
    const reason = this.#cls.dropped(proto, kind)
    if (reason !== '') this.drop(undefined, 'self', reason)
  }

  /** An object with an id that can no longer persist: a GONE record (restored as null). */
  #gone(id: number): void {
    const v = this.ctx.verifier
    if (v !== null && v.has(id)) { this.sh!.begin(); this.sh!.end(id, S_GONE) }
    const reason = this.#cls.reason
    writeGone(this.w, id, reason)
    this.drop(undefined, 'self', reason)
    this.ctx.refs.set(id, this.scratch.a, 0, 0)
    this.records++
  }

  /**
   * Inv. 5: in an incremental point of the default mode, a dirty plain object or class
   * instance that is not exposed and whose `plain` flag is set (dirty.ts inv. D2) has nothing
   * beyond its body, known without the `Reflect.ownKeys` look of `nothingBeyond`.
   */
  /** What `record` was given of the current record's own names (inv. 4). */
  #names = NAMES_UNKNOWN

  /**
   * True if the current record (a plain object, `holder`) will get no PROPS section and no
   * inspection (inv. 5, or `properties: 'enumerable'`): a dictionary's PATCH record, whose
   * body lists no keys, is written only then (patch-record.ts inv. PR6).
   */
  nothingToInspect(): boolean {
    return !this.ctx.inspect || this.#plainTrusted(this.holder, KIND_OBJECT, this.#names)
  }

  #plainTrusted(id: number, kind: number, names: number): boolean {
    if (!this.trustPlain || kind !== KIND_OBJECT || names !== NAMES_UNKNOWN || this.cap || !this.#early) return false
    const plain = this.ctx.dirty.plain
    return id < plain.length && plain[id] === 1
  }

  /** The records of this point: SHAPE and CLASS records first, then object records. */
  output(): Batch {
    const parts = [...this.aux.parts(), ...this.w.parts()]
    return { parts, length: this.aux.length + this.w.length, records: this.#records(this.aux, this.w) }
  }

  /** The records of `first` then `second` as they lie in the batch (log-offsets.ts). */
  #records(first: ByteWriter, second: ByteWriter): Batch['records'] {
    const a = first.track, b = second.track, s = this.seg.track
    if (a === null || b === null || a.broken || b.broken || s === null || s.n > 0) return undefined     // a record begun in `seg`: scan instead
    return [{ list: a, shift: 0 }, { list: b, shift: first.length }]
  }

  /**
   * The records of this point with the object records first, in the order `onOutput` saw
   * the sealed ones (a streamed point). The restorer indexes the whole log before building
   * anything, so SHAPE, CLASS and SEGMENT records may come after the records using them.
   */
  outputObjectsFirst(): Batch {
    const parts = [...this.w.parts(), ...this.aux.parts()]
    return { parts, length: this.aux.length + this.w.length, records: this.#records(this.w, this.aux) }
  }
}

function prototypeIsClean(): boolean {
  for (const _ in {}) return false
  return true
}
