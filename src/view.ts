/**
 * Typed views: objects with a getter and a setter per field that compile to the raw
 * transactional reads and writes (`tx.readF64(offset + 8)`, ...). One accessor class is
 * built per type descriptor and cached, so a view is one small object and each field access
 * is one raw call. A view belongs to its transaction: used after the transaction ended, it
 * throws TransactionEndedError like the transaction itself.
 */
import { InvalidArgumentError, MisalignedError, OutOfRangeError, describe } from '../regions/index.js'
import type { Tx } from '../txn/index.js'
import type { TypeDesc, ArrayType, StructType } from './types.js'
import { encodeVar, heapTx, readString, readVar, writeVar } from './varlen.js'

/** Common shape of every view. */
export interface ViewBase { readonly offset: number; readonly type: TypeDesc }

type Ctor = new (tx: Tx, offset: number) => ViewBase

/** Where a view keeps its transaction: a symbol, so no struct field name can hide it. */
const TX = Symbol('tx')

const classes = new WeakMap<TypeDesc, Ctor>()

/** Reads a value of a scalar/bytes/ptr type, or returns a view for struct/array types. */
export function readValue(tx: Tx, type: TypeDesc, offset: number): unknown {
  switch (type.kind) {
    case 'u8': return tx.readU8(offset)
    case 'u32': return tx.readU32(offset)
    case 'i32': return tx.readI32(offset)
    case 'f64': return tx.readF64(offset)
    case 'u64': return tx.readBigU64(offset)
    case 'ptr': return Number(tx.readBigU64(offset))
    case 'bytes': return tx.readBytes(offset, type.length)
    case 'string': return readString(tx, offset)
    case 'blob': return readVar(tx, offset)
    default: return viewAt(tx, type, offset)
  }
}

/** Writes a value of any type; struct and array types take a plain object or array. */
export function writeValue(tx: Tx, type: TypeDesc, offset: number, value: unknown): void {
  switch (type.kind) {
    case 'u8': return tx.writeU8(offset, value as number)
    case 'u32': return tx.writeU32(offset, value as number)
    case 'i32': return tx.writeI32(offset, value as number)
    case 'f64': return tx.writeF64(offset, value as number)
    case 'u64': return tx.writeBigU64(offset, value as bigint)
    case 'ptr': return tx.writeBigU64(offset, BigInt(pointerValue(value)))
    case 'bytes': {
      const b = value as Uint8Array
      if (!(b instanceof Uint8Array) || b.length !== type.length) throw new InvalidArgumentError(`Cannot write bytes(${type.length}): expected a Uint8Array of that length, got ${describe(value)}`)
      return tx.writeBytes(offset, b)
    }
    case 'string': case 'blob': {
      const bytes = encodeVar(type.kind, value, `Cannot write t.${type.kind}`)
      return writeVar(heapTx(tx, `t.${type.kind}`), offset, bytes)
    }
    case 'array': return writeArray(tx, type, offset, value)
    case 'struct': return writeStruct(tx, type, offset, value)
  }
}

function pointerValue(v: unknown): number {
  if (v === null) return 0
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v
  if (v !== null && typeof v === 'object' && typeof (v as ViewBase).offset === 'number') return (v as ViewBase).offset
  throw new InvalidArgumentError(`Cannot write pointer: expected an offset, a view or null, got ${describe(v)}`)
}

function writeArray(tx: Tx, type: ArrayType, offset: number, value: unknown): void {
  if (!Array.isArray(value) && !ArrayBuffer.isView(value)) throw new InvalidArgumentError(`Cannot write ${type.sig}: expected an array, got ${describe(value)}`)
  const arr = value as ArrayLike<unknown>
  if (arr.length !== type.length) throw new InvalidArgumentError(`Cannot write ${type.sig}: expected ${type.length} elements, got ${arr.length}`)
  for (let i = 0; i < arr.length; i++) writeValue(tx, type.elem, offset + i * type.elem.size, arr[i])
}

function writeStruct(tx: Tx, type: StructType, offset: number, value: unknown): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidArgumentError(`Cannot write ${type.sig}: expected an object with its fields, got ${describe(value)}`)
  for (const f of type.fields) {
    if (f.name in value) writeValue(tx, f.type, offset + f.offset, (value as Record<string, unknown>)[f.name])
  }
}

/**
 * Throws unless a value of `type` at `offset` lies in the data area `[dataOffset, size)` and
 * is aligned to the type: a view is checked when it is made, not at its first field access.
 */
export function checkViewRange(type: TypeDesc, offset: unknown, dataOffset: number, size: number): asserts offset is number {
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset)) throw new InvalidArgumentError(`Cannot make a view of ${type.sig}: offset must be an integer, got ${describe(offset)}`)
  if (offset < dataOffset || offset + type.size > size) throw new OutOfRangeError(`Cannot make a view of ${type.sig} (${type.size} bytes) at offset ${offset}: the data area is [${dataOffset}, ${size})`)
  if (offset % type.align !== 0) throw new MisalignedError(`Cannot make a view of ${type.sig} at offset ${offset}: it must be ${type.align}-byte aligned`)
}

/** A view of `type` at `offset` in `tx`. */
export function viewAt(tx: Tx, type: TypeDesc, offset: number): ViewBase {
  let C = classes.get(type)
  if (C === undefined) { C = compile(type); classes.set(type, C) }
  return new C(tx, offset)
}

/** Builds the accessor class of a type (the "compile" step). */
function compile(type: TypeDesc): Ctor {
  class View implements ViewBase {
    readonly [TX]: Tx
    readonly offset: number
    constructor(tx: Tx, offset: number) { this[TX] = tx; this.offset = offset }
    get type(): TypeDesc { return type }
    /** A plain JavaScript copy of the value (structs as objects, arrays as arrays). */
    toJSON(): unknown { return plain(this[TX], type, this.offset) }
  }
  const proto = View.prototype as unknown as Record<PropertyKey, unknown>
  if (type.kind === 'struct') {
    for (const f of type.fields) {
      Object.defineProperty(proto, f.name, {
        get(this: View) { return readValue(this[TX], f.type, this.offset + f.offset) },
        set(this: View, v: unknown) { writeValue(this[TX], f.type, this.offset + f.offset, v) },
        enumerable: true,
      })
    }
  } else if (type.kind === 'array') {
    const { elem, length } = type
    const index = (i: number) => {
      if (!Number.isInteger(i) || i < 0 || i >= length) throw new OutOfRangeError(`Index ${describe(i)} is outside ${type.sig}`)
      return i * elem.size
    }
    Object.defineProperty(proto, 'length', { value: length })
    proto.get = function (this: View, i: number) { return readValue(this[TX], elem, this.offset + index(i)) }
    proto.set = function (this: View, i: number, v: unknown) { writeValue(this[TX], elem, this.offset + index(i), v) }
    proto[Symbol.iterator] = function* (this: View) { for (let i = 0; i < length; i++) yield readValue(this[TX], elem, this.offset + i * elem.size) }
  } else {
    Object.defineProperty(proto, 'value', {
      get(this: View) { return readValue(this[TX], type, this.offset) },
      set(this: View, v: unknown) { writeValue(this[TX], type, this.offset, v) },
      enumerable: true,
    })
  }
  return View
}

/** A plain JavaScript copy of the value of `type` at `offset` (structs as objects, arrays as arrays). */
export function readPlain(tx: Tx, type: TypeDesc, offset: number): unknown { return plain(tx, type, offset) }

type Reader = (tx: Tx, offset: number) => unknown
const readers = new WeakMap<TypeDesc, Reader>()

function plain(tx: Tx, type: TypeDesc, offset: number): unknown {
  let r = readers.get(type)
  if (r === undefined) { r = plainReader(type); readers.set(type, r) }
  return r(tx, offset)
}

/** A reader of plain values of `type`, built once per type (struct fields resolved in advance). */
function plainReader(type: TypeDesc): Reader {
  if (type.kind === 'struct') {
    const fields = type.fields.map(f => ({ name: f.name, at: f.offset, read: plainReader(f.type) }))
    return (tx, offset) => {
      const o: Record<string, unknown> = {}
      for (const f of fields) o[f.name] = f.read(tx, offset + f.at)
      return o
    }
  }
  if (type.kind === 'array') {
    const elem = plainReader(type.elem), size = type.elem.size, n = type.length
    return (tx, offset) => { const a = new Array<unknown>(n); for (let i = 0; i < n; i++) a[i] = elem(tx, offset + i * size); return a }
  }
  return (tx, offset) => readValue(tx, type, offset)
}
