/**
 * Typed views: objects with a getter and a setter per field that compile to the raw
 * transactional reads and writes (`tx.readF64(offset + 8)`, ...). One accessor class is
 * built per type descriptor and cached, so a view is one small object and each field access
 * is one raw call. A view belongs to its transaction: used after the transaction ended, it
 * throws TransactionEndedError like the transaction itself. A view also holds the Life of
 * the allocation it shows (view-life.ts): once that block is freed, or its allocation undone
 * by an aborted sub-transaction, every access throws OutOfRangeError (guard inv. G2).
 */
import { InvalidArgumentError, MisalignedError, OutOfRangeError, describe } from '../regions/index.js'
import type { Tx } from '../txn/index.js'
import type { TypeDesc, ArrayType, StructType } from './types.js'
import { checkText, encodeVar, hasVar, heapTx, mayNeedBlock, ownBytes, readString, readVar, writeVar } from './varlen.js'
import { FOREVER, type Life } from './view-life.js'

/** Common shape of every view. */
export interface ViewBase { readonly offset: number; readonly type: TypeDesc }

type Ctor = new (tx: Tx, offset: number, life: Life) => ViewBase

/** Where a view keeps its transaction: a symbol, so no struct field name can hide it. */
const TX = Symbol('tx')
/** Where a view keeps the Life of its block (guard inv. G2): a symbol too. */
const LIFE = Symbol('life')

/** Guard inv. G2: the error of a use of a view whose block's allocation ended; nothing was read or written. */
function staleView(v: ViewBase, action: string): OutOfRangeError {
  return new OutOfRangeError(`Cannot ${action} the view of ${v.type.sig} at offset ${v.offset}: its block was freed, or the sub-transaction that allocated it aborted, earlier in this transaction, so the memory is no longer the allocation it was made of (it may be free or hold something else now); nothing was read or written (guard inv. G2). Take a new view of a live allocation`)
}

const classes = new WeakMap<TypeDesc, Ctor>()

/** Reads a value of a scalar/bytes/ptr type, or returns a view for struct/array types (of the allocation `life`). */
export function readValue(tx: Tx, type: TypeDesc, offset: number, life: Life): unknown {
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
    default: return viewAt(tx, type, offset, life)
  }
}

/**
 * Writes a value of any type; struct and array types take a plain object (or a view of the
 * same type; fields it lacks are left as they are) or an array. View inv. V1: a value of the
 * wrong type or out of range is a typed error with nothing written, for a struct or an array
 * too (the whole value is checked by `checkedCopy` before its first field is written; before
 * session 11 the fields before the bad one were written, and a field name the type does not
 * have was ignored; before session 12 a string with a lone surrogate, varlen inv. 4, was
 * found only when its field was reached). Integer fields store -0 as 0; f64 keeps -0 and NaN.
 *
 * View inv. V3: a struct or array value is read once, before anything is written: each field
 * and element (a getter, a Proxy trap, a view's field) is read exactly once into a plain copy
 * (`checkedCopy`), which is checked and then written. So a getter that throws on a later read,
 * or returns another value than the one checked, or writes to the value's other fields, can
 * neither stop the write half way nor slip an unchecked value in: what is written is the
 * value as read, whole, or nothing. A view of the destination itself is read before it is
 * written. Before session 13 the value was read three times (check, `mayAlloc`, write), so a
 * getter giving 4 then 'bad' committed the fields before it and threw (a torn struct that a
 * caller catching the error committed), and the bytes of a `t.bytes` field were the caller's
 * array, read after the other fields' getters ran.
 */
export function writeValue(tx: Tx, type: TypeDesc, offset: number, value: unknown): void {
  writeOwned(tx, type, offset, ownValue(type, value))
}

/**
 * View inv. V3: what `writeOwned` takes for `value`: a struct or array value read once into a
 * checked copy (`checkedCopy`), anything else as it is (no user code can run while it is
 * written). The collections take it before they read any of their own state, so a getter of
 * the value that writes the same collection (a nested sub-transaction) runs before, not in the
 * middle of, the put (before session 13 a hash map linked the entry into a bucket a split had
 * moved, losing the key, and a vector overwrote the elements pushed meanwhile).
 */
export function ownValue(type: TypeDesc, value: unknown): unknown {
  return type.kind === 'array' || type.kind === 'struct' ? checkedCopy(type, value, `Cannot write ${type.sig}`, '') : value
}

/** Writes a value `ownValue` returned, and nothing else (view inv. V2: whole or not at all when it may allocate or overflow the log). */
export function writeOwned(tx: Tx, type: TypeDesc, offset: number, value: unknown): void {
  if (((hasVar(type) && mayAlloc(type, value)) || mayOverflow(tx, type)) && typeof (tx as Partial<WholeTx>).whole === 'function') (tx as WholeTx).whole(() => writeChecked(tx, type, offset, value))
  else writeChecked(tx, type, offset, value)
}

/**
 * View inv. V2, the redo log: true when writing a struct or array value of `type` might stage
 * more than the log room left (`tx.logRoom()`), so a TransactionTooLargeError could stop it
 * between two fields. Each leaf write stages one entry of at most 8 + its size + 7 bytes; a
 * string or blob slot written without allocating may still free its old block (heap
 * metadata writes): 1 KiB each, generously. Far from a full log (nearly always) this is false
 * and the write takes no sub-transaction.
 */
function mayOverflow(tx: Tx, type: TypeDesc): boolean {
  if (type.kind !== 'struct' && type.kind !== 'array') return false
  return tx.logRoom() < stagingBound(type)
}

const bounds = new WeakMap<TypeDesc, number>()
function stagingBound(type: TypeDesc): number {
  let b = bounds.get(type)
  if (b !== undefined) return b
  switch (type.kind) {
    case 'struct': b = 0; for (const f of type.fields) b += stagingBound(f.type); break
    case 'array': b = type.length * stagingBound(type.elem); break
    case 'string': case 'blob': b = 8 + 16 + 1024; break
    default: b = 8 + type.size + 7
  }
  bounds.set(type, b)
  return b
}

/**
 * False when writing `value` (checked) as `type` allocates no heap block, so it cannot fail
 * half way (view inv. V2): every string or blob in it fits inline (varlen.ts `mayNeedBlock`).
 * True when one may not.
 */
function mayAlloc(type: TypeDesc, value: unknown): boolean {
  switch (type.kind) {
    case 'string': case 'blob': return mayNeedBlock(type.kind, value) // a string or blob written alone is not checked yet: anything else throws before writing
    case 'struct': {     // a plain object `checkedCopy` made: its own keys are the fields given
      const o = value as Record<string, unknown>
      for (const f of type.fields) if (hasVar(f.type) && Object.hasOwn(o, f.name) && mayAlloc(f.type, o[f.name])) return true
      return false
    }
    case 'array': {
      if (!hasVar(type.elem)) return false
      const arr = value as ArrayLike<unknown>
      for (let i = 0; i < arr.length; i++) if (mayAlloc(type.elem, arr[i])) return true
      return false
    }
    default: return false
  }
}

/**
 * A transaction that can undo a part of itself (PmTx.whole). View inv. V2: a write of a value
 * holding strings or blobs that allocates heap blocks as it goes runs whole or not at all:
 * when an allocation fails (OutOfSpaceError: heap or region full) after some of its fields
 * were written and old blocks freed, the error propagates with the value as it was, so a
 * caller that catches it inside its transaction commits no half-written struct. Values whose
 * strings and blobs all fit inline allocate nothing and skip the sub-transaction (`mayAlloc`).
 * Before session 12 the fields written so far were committed, and a string slot whose old
 * block was freed before the failing allocation went on naming that free block (its value
 * garbled once the block was reused). The redo log too: a struct or array write that might not
 * fit the log room left (`mayOverflow`) runs as a sub-transaction, so a TransactionTooLargeError
 * between two fields leaves the value as it was (before session 12 the fields staged before it
 * were committed by a caller that caught the error).
 */
interface WholeTx extends Tx { whole<T>(fn: () => T): T }

const INT_RANGE = { u8: [0, 0xff], u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff] } as const
const U64_MAX = (1n << 64n) - 1n

/**
 * View inv. V1, V3: the value to write for `value` as `type`, read once (each field and element
 * read exactly once, V3) and checked: primitives as they are, `t.bytes` and blob bytes copied,
 * structs as a plain object with the fields `value` gives, arrays as a plain array. Throws the
 * typed error (InvalidArgumentError) a write of it would meet, naming the field (`at`: `.x`,
 * `[3]`), before anything is written. The same rules as the Tx writes (tx.ts) and
 * `pointerValue`, `encodeVar`.
 */
export function checkedCopy(type: TypeDesc, value: unknown, where: string, at: string): unknown {
  const bad = (expected: string): never => {
    throw new InvalidArgumentError(`${where}: ${at === '' ? 'value' : `field ${at}`} must be ${expected}, got ${describe(value)}; nothing was written`)
  }
  switch (type.kind) {
    case 'u8': case 'u32': case 'i32': {
      const [min, max] = INT_RANGE[type.kind]
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) bad(`an integer in [${min}, ${max}] (${type.kind})`)
      return value
    }
    case 'f64': if (typeof value !== 'number') bad('a number (f64)'); return value
    case 'u64': if (typeof value !== 'bigint' || value < 0n || value > U64_MAX) bad('a bigint in [0, 2^64) (u64)'); return value
    case 'ptr': if (!isPointerValue(value)) bad('an offset (a non-negative integer), a view or null (ptr)'); return pointerValue(value)
    case 'bytes': {
      if (!(value instanceof Uint8Array)) bad(`a Uint8Array of ${type.length} bytes`)
      const b = ownBytes(value as Uint8Array) // V3: a later getter resizing its buffer cannot change what was checked
      if (b.length !== type.length) bad(`a Uint8Array of ${type.length} bytes`)
      return b
    }
    case 'string': // and well formed (varlen inv. 4)
      if (typeof value !== 'string') bad('a string')
      checkText(value as string, at === '' ? where : `${where}: field ${at}`)
      return value
    case 'blob': if (!(value instanceof Uint8Array)) bad('a Uint8Array (blob)'); return ownBytes(value as Uint8Array)
    case 'array': {
      // a view of an array (a field of a struct view given as a value) is read by its iterator:
      // before session 13 it was refused, so no struct view with an array field could be copied
      const isView = value !== null && typeof value === 'object' && TX in value && (value as unknown as ViewBase).type.kind === 'array'
      if (!Array.isArray(value) && !ArrayBuffer.isView(value) && !isView) bad(`an array of ${type.length} elements (${type.sig})`)
      const arr = isView ? Array.from(value as unknown as Iterable<unknown>) : value as ArrayLike<unknown>, n = arr.length
      if (n !== type.length) bad(`an array of ${type.length} elements (${type.sig}), not ${n}`)
      const out = new Array<unknown>(n)
      for (let i = 0; i < n; i++) out[i] = checkedCopy(type.elem, arr[i], where, `${at}[${i}]`)
      return out
    }
    case 'struct': {
      if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) bad(`an object with fields of ${type.sig}`)
      const o = value as Record<string, unknown>
      const view = TX in o
      if (!view) { // a view of the struct has its own `offset`: its fields are what it reads
        for (const k of Object.keys(o)) {
          if (!type.fields.some(f => f.name === k)) {
            throw new InvalidArgumentError(`${where}: ${type.sig} has no field ${JSON.stringify(k)}${at === '' ? '' : ` (at ${at})`}; its fields are ${type.fields.map(f => JSON.stringify(f.name)).join(', ')}; nothing was written`)
          }
        }
      }
      const out: Record<string, unknown> = {}
      for (const f of type.fields) if (hasField(o, f.name, view)) out[f.name] = checkedCopy(f.type, o[f.name], where, `${at}.${f.name}`)
      return out
    }
  }
}

/** Writes `value`, already checked (inv. V1) for struct and array types; scalars are checked by the Tx writes. */
function writeChecked(tx: Tx, type: TypeDesc, offset: number, value: unknown): void {
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
  if (!isPointerValue(v)) throw new InvalidArgumentError(`Cannot write pointer: expected an offset (a non-negative integer), a view or null, got ${describe(v)}`)
  if (v === null) return 0
  if (typeof v === 'number') return v
  const life = (v as { [LIFE]?: Life })[LIFE] // a view's offset is a pointer only while its block lives (guard inv. G2)
  if (life !== undefined && !life.live) throw staleView(v as ViewBase, 'take a pointer to')
  return (v as ViewBase).offset
}

/**
 * A pointer's value: null, a non-negative safe integer, or an object with an own `offset`
 * that is one (a view, a variable's handle). Before session 11 `{ offset: 1.5 }` threw a plain
 * RangeError, and a Buffer was taken as a pointer to its `offset` (its place in Node's pool).
 */
function isPointerValue(v: unknown): boolean {
  if (v === null) return true
  if (typeof v === 'object' && (ArrayBuffer.isView(v) || !Object.hasOwn(v, 'offset'))) return false
  const n = typeof v === 'object' ? (v as { offset?: unknown }).offset : v
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}

function writeArray(tx: Tx, type: ArrayType, offset: number, value: unknown): void {
  if (!Array.isArray(value) && !ArrayBuffer.isView(value)) throw new InvalidArgumentError(`Cannot write ${type.sig}: expected an array, got ${describe(value)}`)
  const arr = value as ArrayLike<unknown>
  if (arr.length !== type.length) throw new InvalidArgumentError(`Cannot write ${type.sig}: expected ${type.length} elements, got ${arr.length}`)
  for (let i = 0; i < arr.length; i++) writeChecked(tx, type.elem, offset + i * type.elem.size, arr[i])
}

function writeStruct(tx: Tx, type: StructType, offset: number, value: unknown): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidArgumentError(`Cannot write ${type.sig}: expected an object with its fields, got ${describe(value)}`)
  for (const f of type.fields) {     // a plain object `checkedCopy` made (never a view): its own keys are the fields given
    if (Object.hasOwn(value, f.name)) writeChecked(tx, f.type, offset + f.offset, (value as Record<string, unknown>)[f.name])
  }
}

/** Whether a struct value gives field `name`: an own property of a plain object (never one inherited, such as `toString`), or any field of a view (its getters are on its prototype). */
function hasField(o: object, name: string, view: boolean): boolean {
  return view ? name in o : Object.hasOwn(o, name)
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

/** A view of `type` at `offset` in `tx`, of the allocation `life` (FOREVER in read transactions). */
export function viewAt(tx: Tx, type: TypeDesc, offset: number, life: Life): ViewBase {
  let C = classes.get(type)
  if (C === undefined) { C = compile(type); classes.set(type, C) }
  return new C(tx, offset, life)
}

/** Builds the accessor class of a type (the "compile" step). */
function compile(type: TypeDesc): Ctor {
  class View implements ViewBase {
    readonly [TX]: Tx
    readonly offset: number
    readonly [LIFE]: Life
    constructor(tx: Tx, offset: number, life: Life) { this[TX] = tx; this.offset = offset; this[LIFE] = life }
    get type(): TypeDesc { return type }
    /** A plain JavaScript copy of the value (structs as objects, arrays as arrays). */
    toJSON(): unknown {
      if (!this[LIFE].live) throw staleView(this, 'read')
      return plain(this[TX], type, this.offset)
    }
  }
  const proto = View.prototype as unknown as Record<PropertyKey, unknown>
  if (type.kind === 'struct') {
    for (const f of type.fields) {
      Object.defineProperty(proto, f.name, {
        get(this: View) {
          const life = this[LIFE]
          if (!life.live) throw staleView(this, `read field ${JSON.stringify(f.name)} of`)
          return readValue(this[TX], f.type, this.offset + f.offset, life)
        },
        set(this: View, v: unknown) {
          if (!this[LIFE].live) throw staleView(this, `write field ${JSON.stringify(f.name)} of`)
          writeValue(this[TX], f.type, this.offset + f.offset, v)
        },
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
    proto.get = function (this: View, i: number) {
      const life = this[LIFE]
      if (!life.live) throw staleView(this, 'read an element of')
      return readValue(this[TX], elem, this.offset + index(i), life)
    }
    proto.set = function (this: View, i: number, v: unknown) {
      if (!this[LIFE].live) throw staleView(this, 'write an element of')
      writeValue(this[TX], elem, this.offset + index(i), v)
    }
    proto[Symbol.iterator] = function* (this: View) {
      for (let i = 0; i < length; i++) {
        const life = this[LIFE]
        if (!life.live) throw staleView(this, 'read an element of')
        yield readValue(this[TX], elem, this.offset + i * elem.size, life)
      }
    }
  } else {
    Object.defineProperty(proto, 'value', {
      get(this: View) {
        if (!this[LIFE].live) throw staleView(this, 'read')
        return readValue(this[TX], type, this.offset, FOREVER)
      },
      set(this: View, v: unknown) {
        if (!this[LIFE].live) throw staleView(this, 'write')
        writeValue(this[TX], type, this.offset, v)
      },
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
  return (tx, offset) => readValue(tx, type, offset, FOREVER) // a scalar: never a view
}
