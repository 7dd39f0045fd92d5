/**
 * Built-ins captured once at module load, so that user code that patches prototypes
 * (`Map.prototype.forEach = ...`, `Object.keys = ...`) cannot change what a persistence
 * point discovers or how a restore rebuilds the graph (fast-check's habit).
 *
 * Invariant: discovery, encoding and decoding call only the functions captured here (or
 * language operators), never a method looked up on a user object at run time.
 */
import { types } from 'node:util'

export const ObjectProto = Object.prototype
export const ArrayProto = Array.prototype
export const MapProto = Map.prototype
export const SetProto = Set.prototype
export const DateProto = Date.prototype
export const RegExpProto = RegExp.prototype
export const ArrayBufferProto = ArrayBuffer.prototype

export const objectKeys = Object.keys
export const getPrototypeOf = Object.getPrototypeOf
export const setPrototypeOf = Object.setPrototypeOf
export const objectCreate = Object.create
export const defineProperty = Object.defineProperty
export const isArray = Array.isArray
export const hasOwn = Object.hasOwn
export const reflectApply = Reflect.apply
export const reflectGet = Reflect.get
export const reflectSet = Reflect.set
export const objectIs = Object.is

export const isMap = types.isMap
export const isSet = types.isSet
export const isDate = types.isDate
export const isRegExp = types.isRegExp
export const isArrayBuffer = types.isArrayBuffer
export const isSharedArrayBuffer = types.isSharedArrayBuffer
export const isTypedArray = types.isTypedArray
export const isDataView = types.isDataView
export const isProxy = types.isProxy
export const isPromise = types.isPromise
export const isWeakMap = types.isWeakMap
export const isWeakSet = types.isWeakSet
export const isBoxedPrimitive = types.isBoxedPrimitive
export const isNativeError = types.isNativeError
export const isStringObject = types.isStringObject

const mapForEach = Map.prototype.forEach
const mapSet = Map.prototype.set
const mapGet = Map.prototype.get
const mapHas = Map.prototype.has
const setForEach = Set.prototype.forEach
const setAdd = Set.prototype.add
const sizeOfMap = Object.getOwnPropertyDescriptor(Map.prototype, 'size')!.get!
const sizeOfSet = Object.getOwnPropertyDescriptor(Set.prototype, 'size')!.get!
const dateGetTime = Date.prototype.getTime
const regexpSource = Object.getOwnPropertyDescriptor(RegExp.prototype, 'source')!.get!
const regexpFlags = Object.getOwnPropertyDescriptor(RegExp.prototype, 'flags')!.get!
const abByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get!
const TypedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object
const taBuffer = Object.getOwnPropertyDescriptor(TypedArrayProto, 'buffer')!.get!
const taByteOffset = Object.getOwnPropertyDescriptor(TypedArrayProto, 'byteOffset')!.get!
const taLength = Object.getOwnPropertyDescriptor(TypedArrayProto, 'length')!.get!
const taTag = Object.getOwnPropertyDescriptor(TypedArrayProto, Symbol.toStringTag)!.get!
const dvBuffer = Object.getOwnPropertyDescriptor(DataView.prototype, 'buffer')!.get!
const dvByteOffset = Object.getOwnPropertyDescriptor(DataView.prototype, 'byteOffset')!.get!
const dvByteLength = Object.getOwnPropertyDescriptor(DataView.prototype, 'byteLength')!.get!
const fnToString = Function.prototype.toString

/** `m.forEach(fn)` with the original Map method. */
export function mapEach(m: Map<unknown, unknown>, fn: (v: unknown, k: unknown) => void): void { mapForEach.call(m, fn) }
export function mapPut(m: Map<unknown, unknown>, k: unknown, v: unknown): void { mapSet.call(m, k, v) }
export function mapFetch(m: Map<unknown, unknown>, k: unknown): unknown { return mapGet.call(m, k) }
export function mapContains(m: Map<unknown, unknown>, k: unknown): boolean { return mapHas.call(m, k) }
export function mapSize(m: Map<unknown, unknown>): number { return sizeOfMap.call(m) as number }
export function setEach(s: Set<unknown>, fn: (v: unknown) => void): void { setForEach.call(s, fn) }
export function setPut(s: Set<unknown>, v: unknown): void { setAdd.call(s, v) }
export function setSize(s: Set<unknown>): number { return sizeOfSet.call(s) as number }
export function dateTime(d: Date): number { return dateGetTime.call(d) }
export function regexpParts(r: RegExp): [string, string] { return [regexpSource.call(r) as string, regexpFlags.call(r) as string] }
export function bufferLength(b: ArrayBuffer): number { return abByteLength.call(b) as number }
/**
 * `[buffer, byteOffset, length]` of a typed array (length in elements) or DataView (in bytes).
 * A view whose buffer was detached, or shrunk below it (resizable), reads as offset 0 and
 * length 0, as a typed array's getters say (a DataView's throw; JavaScript shows neither's
 * old offset).
 */
export function viewParts(v: ArrayBufferView): [ArrayBuffer, number, number] {
  if (isDataView(v)) {
    const buffer = dvBuffer.call(v) as ArrayBuffer
    try { return [buffer, dvByteOffset.call(v) as number, dvByteLength.call(v) as number] } catch { return [buffer, 0, 0] }
  }
  return [taBuffer.call(v) as ArrayBuffer, taByteOffset.call(v) as number, taLength.call(v) as number]
}
/** `Symbol.toStringTag` of a typed array ("Uint8Array", ...), or undefined. */
export function typedArrayTag(v: unknown): string | undefined { return taTag.call(v) as string | undefined }
/** Source text of a function or class, '' if the platform refuses it (a revoked proxy of one). */
export function sourceOf(f: object): string {
  try { return fnToString.call(f) } catch { return '' }
}

/** Source text of a function (only used to name classes in messages). */
export function functionName(f: unknown): string {
  if (typeof f !== 'function') return String(f)
  const name = (f as { name?: unknown }).name
  return typeof name === 'string' && name !== '' ? name : fnToString.call(f).slice(0, 40)
}
