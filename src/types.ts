/**
 * Type descriptors for persistent data (`t.u8`, `t.f64`, `t.struct({...})`, ...): size,
 * alignment, field layout, and a signature string that is stored with each named variable
 * so that a later declaration with another type is caught.
 *
 * Layout rules (C-like): every type is aligned to its own alignment; struct fields are laid
 * out in declaration order, each at the next offset aligned to the field; a struct's size
 * is rounded up to its alignment; an array of n elements has size n * elementSize.
 *
 * Signatures (stored with each named variable, see vars.ts):
 *
 *   sig   := "u8" | "u32" | "i32" | "f64" | "u64" | "string" | "blob" | "bytes(" n ")" | sig "[" n "]"
 *          | "ptr" | "ptr(*)" | "ptr(" sig ")" | "{" [ field { "," field } ] "}"
 *   field := name ":" sig
 *   name  := identifier ([A-Za-z_$][A-Za-z0-9_$]*), written bare
 *          | any other string, written as a JSON string literal ("a:b", "first name", "")
 *
 * Invariants (cited as "types inv. N"):
 *   1. The signature determines the layout and field names: two types with equal signatures
 *      are interchangeable. (A bare name never contains a signature character, a quoted
 *      one starts with `"` and ends at its closing quote; `ptr(*)`, the pointer whose target
 *      is given by a function, names no target and matches any such pointer.)
 *   2. Earlier versions wrote every name bare. For types whose names are all identifiers the
 *      signature is unchanged. A stored signature in the old form is still accepted for a
 *      type whose names contain no signature character (`legacySig`, `matchesSig`); one with
 *      such a name was ambiguous and is matched only by the new form.
 *   3. Only objects made by `t` are types (`isType`): a copy or a hand-made object with the
 *      same fields is refused, so a type's size, alignment and signature always agree.
 */
import { InvalidArgumentError, MAX_USER_SIZE, describe } from '../regions/index.js'

export type Scalar = 'u8' | 'u32' | 'i32' | 'f64' | 'u64'

/** A persistent type. */
export type TypeDesc = ScalarType | BytesType | ArrayType | StructType | PtrType | StringType | BlobType

interface Base { readonly size: number; readonly align: number; readonly sig: string }
export interface ScalarType<K extends Scalar = Scalar> extends Base { readonly kind: K }
export interface BytesType extends Base { readonly kind: 'bytes'; readonly length: number }
export interface ArrayType<E extends TypeDesc = TypeDesc> extends Base { readonly kind: 'array'; readonly elem: E; readonly length: number }
export interface StructType<F extends Record<string, TypeDesc> = Record<string, TypeDesc>> extends Base {
  readonly kind: 'struct'
  readonly fields: ReadonlyArray<{ readonly name: string; readonly type: TypeDesc; readonly offset: number }>
  /** Type-level only: the field types by name. */
  readonly __fields?: F
}
/**
 * A variable-length UTF-8 string (`t.string`) or byte string (`t.blob`): a 16-byte slot that
 * holds up to 15 bytes inline, or the length and the offset of a heap block holding them (see
 * varlen.ts). Writing a new value frees the old block; a zero slot is the empty value.
 */
export interface StringType extends Base { readonly kind: 'string' }
export interface BlobType extends Base { readonly kind: 'blob' }
/** A persistent pointer: the byte offset of its target in the region (0 is null), stored as u64. */
export interface PtrType extends Base { readonly kind: 'ptr'; readonly target: () => TypeDesc | undefined }

/** What reading a field of type T gives: numbers, bigint for u64, bytes, an offset for pointers, or a view. */
export type ValueOf<T extends TypeDesc> =
  T extends StringType ? string :
  T extends BlobType ? Uint8Array :
  T extends ScalarType<'u64'> ? bigint :
  T extends ScalarType ? number :
  T extends BytesType ? Uint8Array :
  T extends PtrType ? number :
  T extends ArrayType<infer E> ? ArrayView<E> :
  T extends StructType<infer F> ? StructView<F> : never

/** What a collection read gives for a value of type T: like ValueOf, but structs and arrays as plain objects and arrays. */
export type PlainOf<T extends TypeDesc> =
  T extends StructType<infer F> ? { [K in keyof F]: PlainOf<F[K]> } :
  T extends ArrayType<infer E> ? Array<PlainOf<E>> :
  ValueOf<T>

/** What a field of type T accepts: like ValueOf (views of structs and arrays included), plus plain objects/arrays for structs/arrays and views/null for pointers. */
export type InputOf<T extends TypeDesc> =
  T extends PtrType ? number | { readonly offset: number } | null :
  T extends ArrayType<infer E> ? ArrayLike<InputOf<E>> | ArrayView<E> :
  T extends StructType<infer F> ? { [K in keyof F]?: InputOf<F[K]> } :
  ValueOf<T>

/** Every view has its offset and type. */
export interface ViewCommon { readonly offset: number; readonly type: TypeDesc; toJSON(): unknown }
/** A view of a struct: one property per field. */
export type StructView<F extends Record<string, TypeDesc>> = ViewCommon & { -readonly [K in keyof F]: ValueOf<F[K]> }
/** A view of an array: `get(i)`, `set(i, v)`, `length`, iteration. */
export interface ArrayView<E extends TypeDesc> extends ViewCommon, Iterable<ValueOf<E>> {
  readonly length: number
  get(i: number): ValueOf<E>
  set(i: number, v: InputOf<E>): void
}
/** A view of a scalar, bytes or pointer variable: its `value`. */
export interface ValueView<T extends TypeDesc> extends ViewCommon { value: ValueOf<T> }
/** The view `tx.view` returns for a variable of type T. */
export type ViewOf<T extends TypeDesc> = T extends ArrayType | StructType ? ValueOf<T> : ValueView<T>

/** Every type `t` made (types inv. 3). */
const made = new WeakSet<object>()

function brand<T extends TypeDesc>(type: T): T {
  Object.freeze(type)
  made.add(type)
  return type
}

/** True when `v` is a type made by `t` (types inv. 3). */
export function isType(v: unknown): v is TypeDesc {
  return typeof v === 'object' && v !== null && made.has(v)
}

/** Throws InvalidArgumentError unless `v` is a type made by `t`. */
export function checkType(v: unknown, where: string): asserts v is TypeDesc {
  if (!isType(v)) {
    const forged = v !== null && typeof v === 'object' && 'sig' in v ? ' (an object that looks like a type but was not made by t: use t.u8, t.struct(...), ... themselves, not copies)' : ''
    throw new InvalidArgumentError(`${where}: expected a type from t (t.u8, t.f64, t.struct(...), ...), got ${describe(v)}${forged}`)
  }
}

function scalar<K extends Scalar>(kind: K, size: number): ScalarType<K> { return brand({ kind, size, align: size, sig: kind }) }

function checkCount(n: unknown, where: string): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`${where}: length must be a non-negative integer, got ${describe(n)}`)
}

/** No region holds more: a larger type could never be stored. */
function checkSize(size: number, where: string): void {
  if (size > MAX_USER_SIZE) throw new InvalidArgumentError(`${where}: the type would take ${size} bytes, more than the largest region (${MAX_USER_SIZE} bytes)`)
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/
/** Characters of the signature grammar; a name with one of them was ambiguous in the old form (types inv. 2). */
const SIG_CHARS = /[{}:,()[\]"*]/

/** A field name as written in a signature (types inv. 1). */
function sigName(name: string): string { return IDENTIFIER.test(name) ? name : JSON.stringify(name) }

/** The signature earlier versions gave `type`: every field name bare (types inv. 2). */
export function legacySig(type: TypeDesc): string {
  switch (type.kind) {
    case 'struct': return `{${type.fields.map(f => `${f.name}:${legacySig(f.type)}`).join(',')}}`
    case 'array': return `${legacySig(type.elem)}[${type.length}]`
    case 'ptr': { const to = type.sig === 'ptr' || type.sig === 'ptr(*)' ? undefined : type.target(); return to === undefined ? type.sig : `ptr(${legacySig(to)})` }
    default: return type.sig
  }
}

/** True when some field name of `type` (at any depth) contains a signature character. */
function hasSigCharNames(type: TypeDesc): boolean {
  switch (type.kind) {
    case 'struct': return type.fields.some(f => SIG_CHARS.test(f.name) || hasSigCharNames(f.type))
    case 'array': return hasSigCharNames(type.elem)
    case 'ptr': { const to = type.sig === 'ptr' || type.sig === 'ptr(*)' ? undefined : type.target(); return to !== undefined && hasSigCharNames(to) }
    default: return false
  }
}

/** True when a stored signature denotes `type`: its own, or the old form of an unambiguous one (types inv. 2). */
export function matchesSig(stored: string, type: TypeDesc): boolean {
  return stored === type.sig || (!hasSigCharNames(type) && stored === legacySig(type))
}

/**
 * Struct field names a view cannot carry as accessors, because every view already has them
 * (`offset`, `type`, `toJSON`) or JavaScript gives them a meaning on every object; `t.struct`
 * refuses them, so a write through a view can never land on the view's own property instead
 * of the pool (a silent loss).
 */
export const RESERVED_FIELD_NAMES: ReadonlySet<string> = new Set(['offset', 'type', 'toJSON', 'constructor', '__proto__'])

/** The type constructors. */
export const t = Object.freeze({
  u8: scalar('u8', 1),
  u32: scalar('u32', 4),
  i32: scalar('i32', 4),
  f64: scalar('f64', 8),
  /** Unsigned 64-bit integer, read and written as bigint. */
  u64: scalar('u64', 8),
  /**
   * A UTF-8 string of any length, read and written as a JavaScript string (a lone surrogate is
   * stored as U+FFFD). Its bytes live inline (up to 15) or in a heap block, freed when the
   * value is replaced or its collection entry deleted. Writing it needs a transaction.
   */
  string: brand<StringType>({ kind: 'string', size: 16, align: 8, sig: 'string' }),
  /** Bytes of any length, read and written as Uint8Array; stored like `t.string`. */
  blob: brand<BlobType>({ kind: 'blob', size: 16, align: 8, sig: 'blob' }),
  /** `n` raw bytes, read and written as Uint8Array. */
  bytes(n: number): BytesType {
    checkCount(n, 't.bytes')
    checkSize(n, 't.bytes')
    return brand({ kind: 'bytes' as const, length: n, size: n, align: 1, sig: `bytes(${n})` })
  },
  /** `n` elements of `elem`. */
  array<E extends TypeDesc>(elem: E, n: number): ArrayType<E> {
    checkType(elem, 't.array')
    checkCount(n, 't.array')
    checkSize(elem.size * n, 't.array')
    return brand({ kind: 'array' as const, elem, length: n, size: elem.size * n, align: elem.align, sig: `${elem.sig}[${n}]` })
  },
  /**
   * A struct with the given fields, in declaration order. Field names may be any strings
   * except `offset`, `type`, `toJSON`, `constructor` and `__proto__`, which views use.
   */
  struct<F extends Record<string, TypeDesc>>(fields: F): StructType<F> {
    if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) throw new InvalidArgumentError(`t.struct: expected an object of fields, got ${describe(fields)}`)
    let offset = 0, align = 1
    const out: Array<{ name: string; type: TypeDesc; offset: number }> = []
    for (const [name, type] of Object.entries(fields)) {
      checkType(type, `t.struct field ${JSON.stringify(name)}`)
      if (RESERVED_FIELD_NAMES.has(name)) throw new InvalidArgumentError(`t.struct: field name ${JSON.stringify(name)} is reserved (every view has its own ${JSON.stringify(name)}, so a write through a view would never reach the pool); rename the field`)
      offset = Math.ceil(offset / type.align) * type.align
      out.push(Object.freeze({ name, type, offset }))
      offset += type.size
      align = Math.max(align, type.align)
    }
    const size = Math.ceil(offset / align) * align
    checkSize(size, 't.struct')
    const sig = `{${out.map(f => `${sigName(f.name)}:${f.type.sig}`).join(',')}}`
    return brand({ kind: 'struct' as const, fields: Object.freeze(out), size, align, sig }) as StructType<F>
  },
  /**
   * A pointer to `target` (a type, or a function returning one for recursive types like
   * linked-list nodes, or nothing for an untyped pointer).
   */
  ptr(target?: TypeDesc | (() => TypeDesc)): PtrType {
    if (target !== undefined && typeof target !== 'function') checkType(target, 't.ptr')
    const get = typeof target === 'function' ? target : () => target
    const sig = target === undefined ? 'ptr' : typeof target === 'function' ? 'ptr(*)' : `ptr(${target.sig})`
    return brand({ kind: 'ptr' as const, target: get, size: 8, align: 8, sig })
  },
})
