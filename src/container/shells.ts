/**
 * Shells: the one object of each id of a restore, made from its record's header (kind,
 * prototype, shape, size) the first time the restorer (decode.ts) needs it: when a
 * reference to the id is read, or when its own record is filled, whichever comes first.
 * A shell has its final identity, kind and prototype; the restorer fills its body later.
 * Also reads the SHAPE and CLASS records that headers name, once each.
 *
 * Held by the Restorer (composition, not a base class) and reading through it: the reader
 * is bounded to the record being read and `ref` puts its position back, so a shell can be
 * made in the middle of another record's body.
 *
 * Invariants:
 *   1. Every id yields at most one object: `objects[id]` is set once, when its shell is
 *      made, and `bind` receives it then (a lazy restore stamps it, lazy.ts). A GONE record
 *      yields GONE, which references read as null.
 *   2. A shell is made only through captured built-ins, a shape (shapes.ts, whose generated
 *      code embeds keys as JSON literals) or a registered class's `create` hook, never
 *      through code found in the data (decode.ts inv. 2).
 *   3. A class instance's shell has its shape's keys as own data properties before its
 *      prototype is set (shapes.ts inv. 3): filling it never reaches the class's accessors.
 *   4. An array's shell has its record's length, except an array of more than
 *      ARRAY_SHELL_MAX elements: its shell is empty and its fill gives it its length before
 *      its elements (decode.ts), so a lazy open that only references a large array (the
 *      numeric workload's root: two arrays of a million numbers) does not allocate it.
 */
import { ObjectProto, getPrototypeOf, isArrayBuffer, objectCreate, setPrototypeOf } from './builtins.js'
import {
  KIND_ARRAY, KIND_BOXED, KIND_BYTES, KIND_CLASS, KIND_DATE, KIND_DICT, KIND_ERROR, KIND_MAP, KIND_OBJECT, KIND_REGEXP, KIND_SET,
  KIND_SHAPE, KIND_SPARSE, KIND_GONE, TAG_REF, KIND_SEGMENTED, KIND_PATCH, KIND_BUFFER, KIND_CHUNKED, KIND_STATEFUL, KIND_VIEW,
  MAX_SHAPE_KEYS, PROTO_BUILTIN, PROTO_CLASS_BASE, PROTO_NULL, kindName,
} from './format.js'
import type { LogIndex } from './log-index.js'
import { BUILTIN_PROTO, VIEW_CTORS } from './kinds.js'
import { ERROR_TYPE_COUNT, makeBoxed, makeError } from './natives.js'
import { compileShape, objectPrototypeKeys, shapeEpoch, type CompiledShape } from './shapes.js'
import type { ClassRegistry } from './classes.js'
import { ClassHookError, UnknownClassError } from './errors.js'
import { chunkedShell, isChunkedBase } from './binary-decode.js'

/** Stands in the object table for a GONE record; references to it read as null. */
export const GONE = Object.freeze({ gone: true })

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

/** What shells read with: the restorer (a LogIndex that also reads tagged values). */
export interface ShellReader extends LogIndex {
  value(): unknown
}

export class Shells {
  readonly #r: ShellReader
  /** id -> restored object (the restorer's table). */
  readonly objects: (object | undefined)[]
  readonly #shapes = new Map<number, CompiledShape>()
  /** Object.prototype's property names when the restore began (shapes.ts, DICT records). */
  readonly protoKeys = objectPrototypeKeys()
  /** The shape epoch `protoKeys` was taken in: once it moved on, program code may have changed Object.prototype (shapes.ts inv. 4). */
  readonly protoEpoch = shapeEpoch.n
  readonly #classes = new Map<number, { name: string; proto: object }>()
  readonly #registry: ClassRegistry
  /** Receives each object created (a lazy restore sets it once the container's id table is known). */
  bind: BindFn
  /** Ids of the SHAPE records read, in the order met (a lazy restore binds them as they come: lazy.ts). */
  readonly shapeIds: number[] = []

  constructor(r: ShellReader, objects: (object | undefined)[], registry: ClassRegistry, bind: BindFn) {
    this.#r = r
    this.objects = objects
    this.#registry = registry
    this.bind = bind
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
    return this.classProto(code - PROTO_CLASS_BASE)
  }

  /** The prototype of the CLASS record `id` (read once; its class must be registered). */
  classProto(id: number): object {
    const known = this.#classes.get(id)
    if (known !== undefined) return known.proto
    const r: ShellReader = this.#r
    const pos = r.pos, end = r.end
    const kind = r.enter(id)
    if (kind !== KIND_CLASS) r.fail(`prototype reference to a ${kindName(kind)} record`)
    r.varint()
    const name = r.value()
    if (typeof name !== 'string') r.fail('class record without a name')
    const proto = this.#registry.protoOf(name)
    if (proto === undefined) {
      throw new UnknownClassError(`Cannot restore container "${r.where}": it holds instances of class "${name}", which is not registered; pass it in the classes option of Container.open`, name)
    }
    this.#classes.set(id, { name, proto })
    r.pos = pos; r.end = end
    return proto
  }

  /** The shape of the SHAPE record `id` (read once). */
  shape(id: number): CompiledShape {
    const known = this.#shapes.get(id)
    if (known !== undefined) return known
    const r: ShellReader = this.#r
    const pos = r.pos, end = r.end
    if (r.enter(id) !== KIND_SHAPE) r.fail(`shape reference to a non-shape record`)
    r.varint()
    const n = r.count(1)
    if (n > MAX_SHAPE_KEYS) r.fail(`shape with ${n} keys`)
    const keys: string[] = []
    for (let i = 0; i < n; i++) {
      const k = r.value()
      if (typeof k !== 'string') r.fail('shape key is not a string')
      keys.push(k)
    }
    if (r.pos !== r.end) r.fail('shape record has trailing bytes')
    const shape = compileShape(keys, this.protoKeys, this.protoEpoch)
    this.#shapes.set(id, shape)
    this.shapeIds.push(id)
    r.pos = pos; r.end = end
    return shape
  }

  /** The object with id `id`, creating its shell if it does not exist yet (inv. 1); the reader's position is kept. */
  ref(id: number): object {
    const o = this.objects[id]
    if (o !== undefined) return o
    const r: ShellReader = this.#r
    if (id <= 0 || id >= r.high) r.fail(`reference to impossible id ${id}`)
    const pos = r.pos, end = r.end
    const shell = this.#shell(r, id)
    r.pos = pos; r.end = end
    return shell
  }

  #shell(r: ShellReader, id: number): object {
    const kind = r.enter(id)
    const protoCode = r.varint()
    if (kind === KIND_GONE) { this.objects[id] = GONE; this.bind(GONE, id); return GONE }
    const base = kind === KIND_SEGMENTED || kind === KIND_PATCH || kind === KIND_CHUNKED ? r.u8() : kind
    if ((kind === KIND_SEGMENTED || (kind === KIND_PATCH && !isChunkedBase(base))) && base !== KIND_ARRAY && base !== KIND_MAP && base !== KIND_SET && base !== KIND_DICT) r.fail(`segmented record of kind ${base}`)
    if (kind === KIND_CHUNKED && !isChunkedBase(base)) r.fail(`chunked record of kind ${base}`)
    const proto = this.#proto(base, protoCode)
    let o: object
    switch (kind) {
      case KIND_OBJECT: {
        const shape = this.shape(r.varint())
        o = proto === ObjectProto ? shape.make() : shape.makeWith(proto)    // inv. 3
        break
      }
      case KIND_DICT: o = proto === ObjectProto ? dictionaryObject() : objectCreate(proto); break
      case KIND_STATEFUL: o = this.#instance(r, proto); break
      case KIND_ARRAY: o = arrayShell(r.count(1)); break   // exact size: pushing allocated 17 slots for 2 elements (44 MB more heap on the 200k-user graph)
      case KIND_SPARSE: o = []; break
      case KIND_MAP: o = new Map(); break
      case KIND_SET: o = new Set(); break
      case KIND_PATCH: case KIND_SEGMENTED:
        if (base === KIND_DICT) {     // a dictionary (format 7, patch-record.ts inv. PR6): built-in or null prototype only
          if (protoCode >= PROTO_CLASS_BASE) r.fail('segmented dictionary with a class prototype')
          o = proto === ObjectProto ? dictionaryObject() : objectCreate(proto)
          break
        }
        o = isChunkedBase(base) ? chunkedShell(r, base) : base === KIND_ARRAY ? arrayShell(entries(r)) : base === KIND_MAP ? new Map() : new Set(); break     // a buffer's PATCH record is chunked (binary-patch.ts)
      case KIND_DATE: o = new Date(r.f64()); break
      case KIND_REGEXP: {
        const src = r.value(), flags = r.value()
        if (typeof src !== 'string' || typeof flags !== 'string') r.fail('RegExp record without source and flags')
        o = new RegExp(src, flags)
        break
      }
      case KIND_ERROR: {      // natives.ts inv. N1: made by its native constructor; its own properties are the PROPS section's
        const type = r.u8()
        if (type >= ERROR_TYPE_COUNT) r.fail(`unknown error type ${type}`)
        o = makeError(type)
        break
      }
      case KIND_BOXED: {      // natives.ts inv. N2
        if (r.pos < r.end && r.buf[r.pos] === TAG_REF) r.fail('boxed primitive record holding a reference')
        const b = makeBoxed(r.value())
        if (b === null) r.fail('boxed primitive record without a string, number, boolean or bigint')
        o = b
        break
      }
      case KIND_BYTES: o = new ArrayBuffer(r.count(1)); break
      case KIND_BUFFER: o = Buffer.alloc(r.count(1)); break
      case KIND_CHUNKED: o = chunkedShell(r, base); break
      case KIND_VIEW: o = this.#viewShell(r); break
      default: r.fail(`reference to a ${kindName(kind)} record`)
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
  #instance(r: ShellReader, proto: object | null): object {
    if (proto === null) r.fail('instance record without a class')
    const info = this.#registry.infoByProto(proto)
    if (info?.hooks == null) return objectCreate(proto)
    let o: unknown
    shapeEpoch.n++      // program code runs (shapes.ts inv. 3a)
    try { o = info.hooks.create() } catch (e) {
      throw new ClassHookError(`Cannot restore container "${r.where}": creating an instance of class "${info.name}" threw (${(e as Error)?.message ?? String(e)}); give the class a static [Container.create]() that makes a blank instance`, info.name, { cause: e })
    }
    if (typeof o !== 'object' || o === null || getPrototypeOf(o) !== proto) {
      throw new ClassHookError(`Cannot restore container "${r.where}": [Container.create] of class "${info.name}" returned ${o === null ? 'null' : typeof o === 'object' ? 'an object of another class' : typeof o}, not an instance of the class`, info.name)
    }
    return o
  }

  #viewShell(r: ShellReader): object {
    const type = r.u8()
    if (type >= VIEW_CTORS.length) r.fail(`unknown view type ${type}`)
    const bid = r.varint(), off = r.varint(), len = r.varint()
    const buffer = this.ref(bid)
    if (!isArrayBuffer(buffer)) r.fail('view whose buffer is not an ArrayBuffer')
    return new VIEW_CTORS[type](buffer as ArrayBuffer, off, len)
  }
}

/**
 * Above this many elements an array's shell is empty until filled (inv. 4): `new Array(n)`
 * writes n holes at once (two arrays of a million took about 20 ms of a lazy open's CPU,
 * and the garbage collection their 16 MB asked for), and a shell may never be filled.
 */
export const ARRAY_SHELL_MAX = 1 << 16

/** The shell of an array of `n` elements (inv. 4). */
function arrayShell(n: number): unknown[] { return n > ARRAY_SHELL_MAX ? [] : new Array(n) }

/** Entries of a segmented collection: each takes at least a byte of the log, which bounds it. */
function entries(r: ShellReader): number {
  const n = r.varint()
  if (n > r.buf.length) r.fail(`segmented collection of ${n} entries in a log of ${r.buf.length} bytes`)
  return n
}
