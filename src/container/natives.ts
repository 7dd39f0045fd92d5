/**
 * Native errors and boxed primitives (container format 6, format.ts kinds ERROR and BOXED):
 * which of them can persist, what their record's body holds, how a restore makes them, and
 * which own properties are theirs by construction (never in a PROPS section).
 *
 * An error's record body is the index of its native type (ERROR_TYPES): the native error
 * prototype nearest in its prototype chain (a registered `class HttpError extends TypeError`
 * is a TypeError; an error whose chain holds none, `Object.setPrototypeOf(err, null)`, is an
 * Error). Everything else an error has is an own property (`message`, `stack`, `cause`, an
 * AggregateError's `errors`, `err.code = ...`): the PROPS section (props.ts), with its
 * attributes, identity of the values it references, and extensibility. A boxed primitive's
 * body is its primitive value (a tagged value, never a reference); its own properties go to
 * the PROPS section too, but a String object's index keys below its length and its `length`
 * are made by the String itself (`intrinsicKey`), never stored.
 *
 * Invariants:
 *   N1. A restored error is made by its native constructor (`makeError`: `new TypeError()`,
 *       ...), so it has the [[ErrorData]] slot (`util.types.isNativeError`, `util.inspect`
 *       prints it as an error), then stripped of the own properties the constructor gave
 *       it (`stack`, AggregateError's `errors`): every own property it comes back with is
 *       the one its PROPS section holds, so a `delete err.stack` persists too.
 *   N2. A restored boxed primitive is `Object(value)` of its stored primitive (the
 *       [[StringData]], [[NumberData]], ... slot its methods need); its value cannot change
 *       in memory, so only its own properties are compared at a point (verify.ts inv. V5).
 *   N3. An ERROR or BOXED record is always written with its own properties inspected, even
 *       with `properties: 'enumerable'` (an error's message and stack are non-enumerable
 *       own properties: without them it is not the error), and an exposed one is always
 *       compared by them (verify.ts inv. V5).
 */
import { types } from 'node:util'
import { getPrototypeOf } from './builtins.js'

/** Native error types; the index is what an ERROR record stores. Never reorder: append. */
export const ERROR_TYPES = ['Error', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError', 'URIError', 'AggregateError'] as const
const ERROR_CTORS: (new () => Error)[] = ERROR_TYPES.map(t => (globalThis as unknown as Record<string, new () => Error>)[t])
const ERROR_PROTOS: object[] = ERROR_CTORS.map(c => c.prototype as object)
const AGGREGATE = ERROR_TYPES.indexOf('AggregateError')

/** The ERROR_TYPES index of an error (the native prototype nearest in its chain; Error if none). */
export function errorType(o: object): number {
  let p: unknown = o
  for (let depth = 0; depth < 64; depth++) {
    try { p = getPrototypeOf(p) } catch { return 0 }
    if (p === null) return 0
    const i = ERROR_PROTOS.indexOf(p as object)
    if (i >= 0) return i
  }
  return 0
}

/** The built-in prototype of an error of ERROR_TYPES index `type`. */
export function errorProto(type: number): object { return ERROR_PROTOS[type] }

/** Number of native error types (a stored type at or above it is damage). */
const gOPD = Object.getOwnPropertyDescriptor

/**
 * An error's own `message` data property, at most 120 characters, or '' (none, an accessor, not
 * a string). Read without running any user code: the reports of a throw (props.ts inv. P1,
 * trap-failures.ts inv. TF1) must not throw themselves.
 */
export function ownMessage(e: object): string {
  const m = gOPD(e, 'message')
  return m !== undefined && typeof m.value === 'string' ? m.value.slice(0, 120) : ''
}

export const ERROR_TYPE_COUNT = ERROR_TYPES.length

/** Inv. N1: a blank native error of type `type`, without the own properties its constructor gives. */
export function makeError(type: number): Error {
  const Ctor = ERROR_CTORS[type]
  const e = type === AGGREGATE ? new (Ctor as unknown as new (errors: unknown[]) => Error)([]) : new Ctor()
  delete (e as { stack?: unknown }).stack
  if (type === AGGREGATE) delete (e as { errors?: unknown }).errors
  return e
}

const stringValue = String.prototype.valueOf
const numberValue = Number.prototype.valueOf
const booleanValue = Boolean.prototype.valueOf
const bigintValue = BigInt.prototype.valueOf
const { isStringObject, isNumberObject, isBooleanObject, isBigIntObject } = types

/** The primitive a boxed primitive holds (not a Symbol object: kinds.ts refuses those). */
export function boxedValue(o: object): string | number | boolean | bigint {
  if (isStringObject(o)) return stringValue.call(o)
  if (isNumberObject(o)) return numberValue.call(o)
  if (isBooleanObject(o)) return booleanValue.call(o)
  return bigintValue.call(o as unknown as bigint)
}

/** The built-in prototype of a boxed primitive (String.prototype, ...), or null for a Symbol object. */
export function boxedProto(o: object): object | null {
  if (isStringObject(o)) return String.prototype
  if (isNumberObject(o)) return Number.prototype
  if (isBooleanObject(o)) return Boolean.prototype
  if (isBigIntObject(o)) return BigInt.prototype
  return null
}

/** Inv. N2: the boxed primitive of a stored value, or null if the value is not one that boxes (damage). */
export function makeBoxed(v: unknown): object | null {
  switch (typeof v) {
    case 'string': case 'number': case 'boolean': case 'bigint': return Object(v) as object
    default: return null
  }
}

/**
 * The `exempt` of props.ts `inspect` for a String object: its index keys below its length
 * and its `length`, which the String makes itself (never stored, never compared).
 */
export const STRING_KEYS = '[[StringData]]'

/** How many own string keys the String object `o` has by construction: its length's index keys and `length` (inv. N2). */
export function intrinsicCount(o: object): number { return stringValue.call(o).length + 1 }

/** True if `k` is an own key a String object of length `n` has by construction. */
export function intrinsicKey(k: string, n: number): boolean {
  if (k === 'length') return true
  const i = Number(k)
  return Number.isInteger(i) && i >= 0 && i < n && String(i) === k
}

/** True for an object of the two kinds of this file (used where a kind is not at hand: verify.ts, barrier.ts, lazy.ts). */
export function isNativeOrBoxed(o: object): boolean { return types.isNativeError(o) || types.isBoxedPrimitive(o) }
