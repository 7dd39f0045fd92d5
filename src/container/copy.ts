/**
 * `Container.snapshot(x)`: a deep copy of what a point would persist of `x` now, detached
 * from the container (no proxies, nothing exposed), for the platform features that refuse
 * proxies (`structuredClone`, `v8.serialize`, `postMessage`, `Map.prototype.get.call`,
 * `util.inspect`). Kinds, prototypes and what cannot persist follow kinds.ts, as the
 * encoder does; shared references and cycles are kept; nothing recurses.
 *
 * Own properties beyond the enumerable string-keyed ones are copied as a point persists
 * them (props.ts: data properties with their attributes, extensibility; accessors as their
 * getter's value; `Symbol()` keys not).
 *
 * Class instances with hooks are copied as a restore makes them: `create()`, their own
 * properties, then, once everything is copied, `revive(copy, copy of save(original))`.
 */
import {
  ArrayProto, bufferLength, dateTime, defineProperty, getPrototypeOf, isArrayBuffer, isDataView, mapEach, mapPut,
  objectCreate, objectKeys, regexpParts, setEach, setPrototypeOf, setPut, typedArrayTag, viewParts,
} from './builtins.js'
import { KIND_ARRAY, KIND_BOXED, KIND_BYTES, KIND_DATE, KIND_ERROR, KIND_MAP, KIND_OBJECT, KIND_REGEXP, KIND_SET, KIND_VIEW } from './format.js'
import { STRING_KEYS, boxedValue, errorType, isNativeOrBoxed, makeBoxed, makeError } from './natives.js'
import { types } from 'node:util'
import { VIEW_CTORS, VIEW_INDEX, classified, kindOf } from './kinds.js'
import { bytesOf, maxOf } from './binary.js'
import { ATTR_CONFIGURABLE, ATTR_ENUMERABLE, ATTR_IN_BODY, ATTR_WRITABLE, inspect, own } from './props.js'
import type { ClassHooks, ClassRegistry } from './classes.js'
import type { ObjectTable } from './identity.js'
import { BigMap } from './big-map.js'

const BufferProto = Buffer.prototype as object

/** A deep copy of `root` (see the file's comment). */
export function copyGraph(root: unknown, table: ObjectTable, classes: ClassRegistry, excluded: WeakSet<object>): unknown {
  const copies = new BigMap<object, unknown>()      // big-map.ts: a graph may hold more objects than a V8 Map can
  const fills: [object, object][] = []
  const revivals: [ClassHooks, object, object][] = []
  const conv = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return typeof v === 'function' || typeof v === 'symbol' ? null : v
    const raw = table.targetOf(v) ?? v
    const got = copies.get(raw)
    if (got !== undefined) return got      // a copy is an object, or null for what cannot persist: never undefined
    const c = shell(raw, excluded, classes, conv, revivals)
    copies.set(raw, c)
    if (c !== null) fills.push([raw, c])
    return c
  }
  const out = conv(root)
  let done = 0
  const drain = (): void => { for (; done < fills.length; done++) fill(fills[done][0], fills[done][1], conv) }
  drain()
  const states: unknown[] = []
  for (let i = 0; i < revivals.length; i++) {      // (converting a state may find more instances with hooks)
    states.push(conv(revivals[i][0].save(revivals[i][1])))
    drain()
  }
  for (let i = 0; i < revivals.length; i++) revivals[i][0].revive(revivals[i][2], states[i])
  return out
}

/** An empty copy of `o`, or null if `o` cannot persist. */
function shell(o: object, excluded: WeakSet<object>, classes: ClassRegistry, conv: (v: unknown) => unknown, revivals: [ClassHooks, object, object][]): object | null {
  if (excluded.has(o)) return null
  const kind = kindOf(o)
  if (kind === 0) return null
  const proto = getPrototypeOf(o) as object | null
  const info = classified.classProto !== null ? classes.infoByProto(classified.classProto) : undefined
  if (classified.classProto !== null && info === undefined) return null
  let c: object
  switch (kind) {
    case KIND_OBJECT:
      if (info?.hooks != null) { c = info.hooks.create(); revivals.push([info.hooks, o, c]); return c }
      return objectCreate(proto) as object
    case KIND_ARRAY: c = new Array((o as unknown[]).length); break
    case KIND_MAP: c = new Map(); break
    case KIND_SET: c = new Set(); break
    case KIND_DATE: c = new Date(dateTime(o as Date)); break
    case KIND_REGEXP: { const [s, f] = regexpParts(o as RegExp); c = new RegExp(s, f); break }
    case KIND_ERROR: c = makeError(errorType(o)); break      // natives.ts inv. N1: its own properties by copyOwn
    case KIND_BOXED: c = makeBoxed(boxedValue(o))!; break
    case KIND_BYTES: {
      const bytes = bytesOf(o, KIND_BYTES)!, max = maxOf(o as ArrayBuffer)
      c = max === 0 ? new ArrayBuffer(bytes.length) : new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(bytes.length, { maxByteLength: max - 1 })
      new Uint8Array(c as ArrayBuffer).set(bytes)
      break
    }
    case KIND_VIEW: {
      const [buffer, off, len] = viewParts(o as ArrayBufferView)
      if (proto === BufferProto && (off !== 0 || len !== bufferLength(buffer))) return Buffer.from(new Uint8Array(buffer, off, len))
      const tag = isDataView(o) ? 'DataView' : typedArrayTag(o)!
      c = new VIEW_CTORS[VIEW_INDEX.get(tag)!](conv(buffer) as ArrayBuffer, off, len)
      break
    }
    default: return null
  }
  if (proto !== getPrototypeOf(c)) setPrototypeOf(c, proto)
  return c
}

/** Copies the entries of `src` into its shell `dst`. */
function fill(src: object, dst: object, conv: (v: unknown) => unknown): void {
  let body: readonly string[] = []
  if (dst instanceof Map) mapEach(src as Map<unknown, unknown>, (v, k) => { mapPut(dst, conv(k), conv(v)) })
  else if (dst instanceof Set) setEach(src as Set<unknown>, v => { setPut(dst, conv(v)) })
  else if (!(isArrayBuffer(dst) || ArrayBuffer.isView(dst) || dst instanceof Date || dst instanceof RegExp || isNativeOrBoxed(dst))) {
    const s = src as Record<string, unknown>
    body = objectKeys(src)
    for (const k of body) {
      const v = conv(s[k])
      if (k === '__proto__' || getPrototypeOf(dst) !== (Array.isArray(dst) ? ArrayProto : Object.prototype)) defineProperty(dst, k, { value: v, writable: true, enumerable: true, configurable: true })
      else (dst as Record<string, unknown>)[k] = v
    }
  }
  copyOwn(src, dst, body, conv)
}

/** The own properties a point would put in a PROPS section (props.ts), copied onto `dst`. */
function copyOwn(src: object, dst: object, body: readonly string[], conv: (v: unknown) => unknown): void {
  const elements = Array.isArray(src) || (ArrayBuffer.isView(src) && !isDataView(src))
  if (!inspect(src, body, !elements, !Array.isArray(src), src instanceof RegExp ? 'lastIndex' : types.isStringObject(src) ? STRING_KEYS : null)) return
  const keys = own.real.slice(), attrs = own.attrs.slice(), values = own.values.slice(), sealed = own.sealed
  for (let i = 0; i < keys.length; i++) {
    const a = attrs[i]
    const d: PropertyDescriptor = { enumerable: (a & ATTR_ENUMERABLE) !== 0, writable: (a & ATTR_WRITABLE) !== 0, configurable: (a & ATTR_CONFIGURABLE) !== 0 }
    if ((a & ATTR_IN_BODY) === 0) d.value = conv(values[i])
    try { defineProperty(dst, keys[i], d) } catch { /* a typed array's element or a RegExp's lastIndex: as the copy has it */ }
  }
  if (sealed) Object.preventExtensions(dst)
}
