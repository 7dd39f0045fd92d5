/**
 * The traps of the write-barrier proxies (barrier.ts): what each mutation through a proxy
 * marks and records before it happens, and how reads hand values out. Barrier (barrier.ts)
 * makes the proxies and decides what is proxied; these handlers act for it through
 * `TrapHost`.
 *
 * Keeps barrier.ts inv. 1 (values stored through a proxy are unwrapped: `storing`), inv. 2
 * (every writing trap marks its target before the mutation), inv. 3 (`mark` throws once the
 * container is closed, before anything changes), inv. 6 (reads of non-writable,
 * non-configurable properties return the target's own value: `read`, the descriptor trap,
 * `defineProperty` of such a property) and inv. 8 (a collection's change log records each
 * mutation before it happens, or is set `whole`).
 *
 * A class's methods, getters and setters run with the proxy as `this` (barrier.ts inv. 7),
 * Maps' and Sets' too (`read` and `set` pass the proxy on), so what they read is handed out
 * and what they write is marked; Map and Set subclasses whose members need the real instance
 * are barrier-override.ts's.
 */
import { getPrototypeOf, hasOwn, mapContains, mapEach, mapFetch, mapPut, mapSize, reflectApply, reflectGet, setEach, setSize } from './builtins.js'
import { PROXY_TARGET } from './identity.js'
import { isPinned, pin } from './pinned.js'
import type { Changes } from './change-log.js'
import { KIND_DICT } from './format.js'

export type AnyMap = Map<unknown, unknown>
export type AnySet = Set<unknown>
type Fn = (...args: unknown[]) => unknown

const isExtensible = Object.isExtensible
const propertyIsEnumerable = Object.prototype.propertyIsEnumerable
const gOPD = Reflect.getOwnPropertyDescriptor
const mapDelete = Map.prototype.delete
const mapClear = Map.prototype.clear
const mapEntries = Map.prototype.entries
const mapKeys = Map.prototype.keys
const mapValues = Map.prototype.values
const setAdd = Set.prototype.add
const setDelete = Set.prototype.delete
const setClear = Set.prototype.clear
const setHas = Set.prototype.has
const setValues = Set.prototype.values

/** What the traps ask of the barrier (barrier.ts `Barrier`). */
export interface TrapHost {
  /** Marks `t` changed before a mutation (inv. 2; throws once closed, inv. 3); true if `t` is exposed. */
  mark(t: object): boolean
  /** A value about to be stored: unwrapped (inv. 1), exposed if its holder is (inv. 4). */
  storing<T>(v: T, holderExposed: boolean): T
  /** The change log of `t` (inv. 8), if it has one. */
  changesOf(t: object): Changes | undefined
  /** A mutation of `t` that its change log cannot express. */
  whole(t: object): void
  /** `t` may hold something beyond its body now (dirty.ts inv. D2). */
  beyond(t: object): void
  /** The proxy for `v`, or `v` itself. */
  wrap(v: unknown): unknown
  /** The raw object behind a proxy, or `v` itself. */
  unwrap<T>(v: T): T
  /** `v` from a non-writable, non-configurable property, handed out as it is (inv. 6). */
  raw(v: object): object
  /** `v` is one of this container's proxies. */
  isProxy(v: object): boolean
  /** `t` is about to be reached raw by a call on the real instance (barrier-override.ts): filled with what it reaches (inv. 5), and watched with it unless `watch` is false (watch.ts). */
  heldRaw(t: object, watch?: boolean): void
  /** An async call on the real instance `t` began or settled (watch.ts inv. W3). */
  hold(t: object, on: boolean): void
  /** Set once the container is closed (or read-only): what every mutation through a proxy throws (inv. 3). */
  readonly closed: (() => Error) | null
  /**
   * With `track: 'barriers'`: what a read hands out for an own function property `f` of `t`
   * (an arrow-function class field, whose `this` is the real instance): a function calling it
   * on the real instance (barrier-override.ts inv. O7). Null in the default mode (raw objects
   * are compared there; a restored instance's field is null).
   */
  readonly ownCall: ((t: object, f: Fn, k: string | symbol) => Fn) | null
}

/** The handler of plain objects, arrays and proxied class instances (inv. 7). */
export function objectHandler(b: TrapHost): ProxyHandler<object> {
  return {
    get: (t, k, r) => k === PROXY_TARGET ? t : read(b, t, k, r),
    // The writing traps are the Map/Set ones, but a set passes the receiver on (setters of
    // the prototype chain see the proxy, as for an ordinary object).
    ...ownPropertyTraps<object>(b),
    set: (t, k, v, r) => {
      const e = b.mark(t)
      const raw = b.storing(v, e)
      const log = b.changesOf(t)
      if (log !== undefined) {      // inv. 8
        if (log.base !== KIND_DICT) log.arraySet(k, raw)
        else if (k === '__proto__' && !hasOwn(t, k)) log.whole = true     // Object.prototype's setter: a new prototype, not a key
        else log.dictSet(k, hasOwn(t, k))      // change-log.ts inv. CL3
      }
      // The common case, an own writable data property set through this very proxy: stored
      // as the round trip below would end (the receiver's defineProperty trap with `{ value }`:
      // a symbol key or a non-enumerable property is beyond the body), without the two extra
      // traps and their descriptors.
      if (b.unwrap(r) === t) {
        const d = gOPD(t, k)
        if (d !== undefined && d.writable === true) {
          if (typeof k !== 'string' || d.enumerable !== true) b.beyond(t)
          return Reflect.set(t, k, raw, t)
        }
      }
      return Reflect.set(t, k, raw, r)
    },
  }
}

/**
 * Traps of Map and Set proxies for their own properties (`m.meta = {...}`, symbol keys,
 * `Object.defineProperty`, `Object.freeze`): they persist too (props.ts), so they mark.
 */
function ownPropertyTraps<T extends object>(b: TrapHost): ProxyHandler<T> {
  return {
    // A setter of the class runs with the proxy as `this`, as its methods and getters do
    // (what it writes through `this` goes through the traps); a data property is set on the target.
    set: (t, k, v, r) => {
      const e = b.mark(t), raw = b.storing(v, e)
      const setter = setterOf(t, k)
      if (setter === undefined) return Reflect.set(t, k, raw, t)
      reflectApply(setter, r, [raw])
      return true
    },
    deleteProperty: (t, k) => {     // an array's element, a dictionary's key: its log takes it (inv. 8; change-log.ts inv. CL3)
      b.mark(t)
      const log = b.changesOf(t)
      if (log !== undefined) { if (log.base === KIND_DICT) log.dictDelete(k, hasOwn(t, k)); else log.arrayDelete(k) }
      return Reflect.deleteProperty(t, k)
    },
    defineProperty: (t, k, d) => {
      const e = b.mark(t)
      // `{ value }` alone is how a set through the proxy (Reflect.set with the proxy as
      // receiver) updates an existing property: an element write of an array (inv. 8).
      const log = b.changesOf(t)
      if (log !== undefined) {
        // `{ value }` alone on an existing property keeps its attributes; all three true is
        // an ordinary element (what a set through the proxy makes of a new index: push).
        const plain = d.get === undefined && d.set === undefined && 'value' in d
        const dict = log.base === KIND_DICT
        if (plain && d.writable === undefined && d.enumerable === undefined && d.configurable === undefined && hasOwn(t, k)) { if (dict) log.dictSet(k, true); else log.arraySet(k, b.unwrap(d.value)) }
        else if (plain && d.writable === true && d.enumerable === true && d.configurable === true) { if (dict) log.dictSet(k, hasOwn(t, k)); else log.arraySet(k, b.unwrap(d.value)) }
        else log.whole = true
      }
      // A symbol key, or a property that is (or may become) non-enumerable: something beyond
      // the body (dirty.ts inv. D2). `{ value }` alone (a set of an existing property) keeps
      // the property's enumerability; on a missing property it makes a non-enumerable one.
      if (typeof k !== 'string' || (d.enumerable !== true && (d.enumerable === false || !propertyIsEnumerable.call(t, k)))) b.beyond(t)
      const pinning = d.writable !== true && d.configurable !== true && pins(t, k, d)
      // A proxy of ours defined read-only stays as given: later reads must return it (inv. 6).
      if ('value' in d && !(pinning && b.isProxy(d.value as object))) d = { ...d, value: b.storing(d.value, e) }
      const ok = Reflect.defineProperty(t, k, d)
      if (ok && pinning) pin(t)
      return ok
    },
    // A descriptor's value is handed out like a property read (a non-writable,
    // non-configurable one must be the target's own value: inv. 6).
    getOwnPropertyDescriptor: (t, k) => {
      const d: PropertyDescriptor | undefined = gOPD(t, k)
      if (d === undefined || typeof d.value !== 'object' || d.value === null) return d
      if (d.configurable === false && d.writable === false) b.raw(d.value as object)
      else d.value = b.wrap(d.value)
      return d
    },
    setPrototypeOf: (t, p) => { b.mark(t); b.whole(t); return Reflect.setPrototypeOf(t, b.unwrap(p)) },
    preventExtensions: t => { b.mark(t); b.whole(t); b.beyond(t); return Reflect.preventExtensions(t) },
  }
}

/** The setter `t[k] = v` would call (an accessor on `t` or its prototype chain), or undefined for a data property or none. */
function setterOf(t: object, k: string | symbol): Fn | undefined {
  for (let p: object | null = t; p !== null; p = getPrototypeOf(p) as object | null) {
    const d = gOPD(p, k)
    if (d !== undefined) return d.set as Fn | undefined
  }
  return undefined
}

/** True if defining `d` (writable and configurable not true) leaves `t[k]` a non-writable, non-configurable data property (absent attributes keep the current ones, or are false). */
function pins(t: object, k: string | symbol, d: PropertyDescriptor): boolean {
  if (d.get !== undefined || d.set !== undefined) return false
  const cur = gOPD(t, k)
  const data = cur !== undefined && !('get' in cur)
  return (d.writable ?? (data && cur.writable === true)) === false && (d.configurable ?? cur?.configurable === true) === false
}

/**
 * A property read through a proxy: objects wrapped, except that a proxy must return the
 * very value of a non-writable, non-configurable property (inv. 6): those are handed out
 * raw. Looked up for non-extensible and pinned targets only.
 */
export function read(b: TrapHost, t: object, k: string | symbol, r: unknown): unknown {
  const v = reflectGet(t, k, r)
  if (typeof v !== 'object' || v === null) return typeof v === 'function' && b.ownCall !== null && hasOwn(t, k) ? ownFunction(b, t, k, v as Fn) : v
  if (!isExtensible(t) || isPinned(t)) {
    const d = gOPD(t, k)
    if (d !== undefined && d.configurable === false && d.writable === false) return b.raw(v)
  }
  return b.wrap(v)
}

/** An own function property `f` of `t` read through its proxy with `track: 'barriers'`: called on the real instance, unless the proxy must return it as it is (inv. 6; barrier-override.ts inv. O7). */
function ownFunction(b: TrapHost, t: object, k: string | symbol, f: Fn): unknown {
  const d = gOPD(t, k)
  if (d === undefined || d.value !== f) return f       // an accessor's result
  if (d.writable === true || d.configurable === true) return b.ownCall!(t, f, k)
  if (b.closed === null) { b.mark(t); b.whole(t); b.beyond(t); b.heldRaw(t) }     // handed out as it is: watched from this read on
  return f
}

/** The handler of Maps (and proxied Map subclass instances). */
export function mapHandler(b: TrapHost): ProxyHandler<AnyMap> {
  return {
    get(t, k, proxy) {
      switch (k) {
        case PROXY_TARGET: return t
        case 'size': return mapSize(t)
        case 'get': return (key: unknown) => b.wrap(mapFetch(t, b.unwrap(key)))
        case 'has': return (key: unknown) => mapContains(t, b.unwrap(key))
        case 'set': return (key: unknown, v: unknown) => {
          const e = b.mark(t), k = b.storing(key, e)
          b.changesOf(t)?.mapSet(k, mapContains(t, k))    // inv. 8
          mapPut(t, k, b.storing(v, e))
          return proxy
        }
        case 'delete': return (key: unknown) => { b.mark(t); const k = b.unwrap(key); b.changesOf(t)?.remove(k, mapContains(t, k)); return mapDelete.call(t, k) }
        case 'clear': return () => { b.mark(t); b.whole(t); mapClear.call(t) }
        case 'forEach': return (cb: Fn, thisArg?: unknown) => mapEach(t, (v, key) => { cb.call(thisArg, b.wrap(v), b.wrap(key), proxy) })
        case 'keys': return function* () { for (const key of mapKeys.call(t)) yield b.wrap(key) }
        case 'values': return function* () { for (const v of mapValues.call(t)) yield b.wrap(v) }
        case 'entries': case Symbol.iterator:
          return function* () { for (const [key, v] of mapEntries.call(t)) yield [b.wrap(key), b.wrap(v)] }
      }
      return read(b, t, k, proxy)     // not one of its methods: read like an object's (inv. 6); a getter sees the proxy as `this`
    },
    ...ownPropertyTraps<AnyMap>(b),
  }
}

/** The handler of Sets (and proxied Set subclass instances). */
export function setHandler(b: TrapHost): ProxyHandler<AnySet> {
  return {
    get(t, k, proxy) {
      switch (k) {
        case PROXY_TARGET: return t
        case 'size': return setSize(t)
        case 'has': return (v: unknown) => setHas.call(t, b.unwrap(v))
        case 'add': return (v: unknown) => {
          const e = b.mark(t), raw = b.storing(v, e)
          b.changesOf(t)?.setAdd(raw, setHas.call(t, raw))    // inv. 8
          setAdd.call(t, raw)
          return proxy
        }
        case 'delete': return (v: unknown) => { b.mark(t); const raw = b.unwrap(v); b.changesOf(t)?.remove(raw, setHas.call(t, raw)); return setDelete.call(t, raw) }
        case 'clear': return () => { b.mark(t); b.whole(t); setClear.call(t) }
        case 'forEach': return (cb: Fn, thisArg?: unknown) => setEach(t, v => { const w = b.wrap(v); cb.call(thisArg, w, w, proxy) })
        case 'values': case 'keys': case Symbol.iterator: return function* () { for (const v of setValues.call(t)) yield b.wrap(v) }
        case 'entries': return function* () { for (const v of setValues.call(t)) { const w = b.wrap(v); yield [w, w] } }
      }
      return read(b, t, k, proxy)     // not one of its methods: read like an object's (inv. 6); a getter sees the proxy as `this`
    },
    ...ownPropertyTraps<AnySet>(b),
  }
}
