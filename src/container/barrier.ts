/**
 * Write barriers: the proxies that `Container.root` hands out. Every object read through a
 * proxy comes back as a proxy too (one per object, so `===` holds between reads), and every
 * mutation through a proxy marks the target's id dirty, so that the next point re-encodes
 * exactly the objects that changed (change detection without a walk: cost per point is
 * proportional to what changed, not to the graph).
 *
 * Detected (marks dirty): property set, delete and define, `Object.setPrototypeOf`, on plain
 * objects, arrays (including every Array.prototype method called on the proxy) and
 * registered class instances (including their methods and setters, which see the proxy as
 * `this`); Map `set`/`delete`/`clear`; Set `add`/`delete`/`clear`; `Object.preventExtensions`
 * (and `seal`, `freeze`) on all of them; own properties of Maps and Sets (set, delete,
 * define, `setPrototypeOf`: they persist, props.ts). Dates, ArrayBuffers and
 * typed arrays are handed out raw (so that `new Date(d)`, `util.types` checks and native
 * APIs work on them) and compared with their persisted value at every point instead
 * (snapshot.ts: a time value per Date, dates.ts; bytes per ArrayBuffer, binary.ts).
 *
 * Not detected: mutations through references the program kept to raw objects (the ones it
 * passed in, `init`'s graph, `c.unwrap(x)`), of objects held by frozen (non-writable,
 * non-configurable) properties, which a proxy must hand out raw, and of RegExp `lastIndex`
 * (not persisted). After such mutations call `persist({ full: true })`.
 *
 * Invariants:
 *   1. Values stored through a proxy are unwrapped first: the graph itself never holds this
 *      container's proxies (the encoder unwraps any that arrive by other paths).
 *   2. A proxy's traps mark the target before the mutation happens, so a point that starts
 *      afterwards always sees the mutation as dirty.
 *   3. After the container is closed, every mutation through its proxies throws
 *      RegionClosedError before changing anything (`closed`): a write that no point could
 *      ever persist is refused, not silently accepted.
 */
import {
  ObjectProto, getPrototypeOf, isArray, isDate, isMap, isSet, mapContains, mapEach, mapFetch, mapPut,
  mapSize, reflectGet, setEach, setSize,
} from './builtins.js'
import { PROXY_TARGET, type ObjectTable } from './identity.js'
import type { DirtySet } from './dirty.js'
import type { ClassRegistry } from './classes.js'

type AnyMap = Map<unknown, unknown>
type AnySet = Set<unknown>
type Fn = (...args: unknown[]) => unknown

const isExtensible = Object.isExtensible
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
/** Creates and recognizes the write-barrier proxies of one container. */
export class Barrier {
  readonly #table: ObjectTable
  readonly #dirty: DirtySet
  readonly #classes: ClassRegistry
  readonly #excluded: WeakSet<object>
  readonly #object: ProxyHandler<object>
  readonly #map: ProxyHandler<AnyMap>
  readonly #set: ProxyHandler<AnySet>

  /** Called with every Date handed out (raw): the container then compares it at each point. */
  readonly #onDate: (d: Date) => void

  constructor(table: ObjectTable, dirty: DirtySet, classes: ClassRegistry, excluded: WeakSet<object>, onDate: (d: Date) => void) {
    this.#onDate = onDate
    this.#table = table
    this.#dirty = dirty
    this.#classes = classes
    this.#excluded = excluded
    this.#object = this.#objectHandler()
    this.#map = this.#mapHandler()
    this.#set = this.#setHandler()
  }

  /**
   * While ids of a restore are still being stamped (in the background), marks of targets
   * without a stamp wait here and are resolved when stamping completes.
   */
  deferred: object[] | null = null
  /** True once a proxy has been handed out (the encoder then unwraps proxies it finds in the graph). */
  created = false
  /** False until the program excludes something (skips the WeakSet lookup for every object wrapped). */
  anyExcluded = false

  /** Set when the container is closed: every mutation through a proxy then throws what it returns (inv. 3). */
  closed: (() => Error) | null = null

  /** Marks `t` changed (if it has been persisted; new objects are written whole anyway). */
  mark(t: object): void {
    if (this.closed !== null) throw this.closed()
    const id = this.#table.idOf(t)
    if (id !== 0) this.#dirty.mark(id)
    else if (this.deferred !== null) this.deferred.push(t)
  }

  /** The raw object behind one of this container's proxies, or `v` itself. */
  unwrap<T>(v: T): T {
    if (typeof v !== 'object' || v === null) return v
    return (this.#table.targetOf(v) ?? v) as T
  }

  /** The proxy for `v` (created on first use), or `v` itself if it is not an object that is tracked. */
  wrap(v: unknown): unknown {
    if (typeof v !== 'object' || v === null) return v
    const known = this.#table.proxyOf(v)
    if (known !== undefined) return known
    if (this.#table.targetOf(v) !== undefined) return v
    const handler = this.#handlerFor(v)
    if (handler === undefined) {
      if (isDate(v)) this.#onDate(v as Date)
      return v
    }
    const p = new Proxy(v, handler)
    this.created = true
    this.#table.setProxy(v, p)
    return p
  }

  #handlerFor(v: object): ProxyHandler<never> | undefined {
    const proto = getPrototypeOf(v) as object | null
    if (this.anyExcluded && this.#excluded.has(v)) return undefined
    if (proto === ObjectProto || isArray(v)) return this.#object
    if (isMap(v)) return this.#map as ProxyHandler<never>
    if (isSet(v)) return this.#set as ProxyHandler<never>
    if (proto === null) return this.#object
    if (this.#classes.nameOf(proto) !== undefined && !ArrayBuffer.isView(v)) return this.#object
    return undefined
  }

  #objectHandler(): ProxyHandler<object> {
    return {
      get: (t, k, r) => {
        if (k === PROXY_TARGET) return t
        const v = reflectGet(t, k, r)
        if (typeof v !== 'object' || v === null) return v
        // A proxy must return the very value of a non-writable, non-configurable property
        // (frozen objects): hand those out raw (their mutations then need a full point).
        if (!isExtensible(t)) {
          const d = Reflect.getOwnPropertyDescriptor(t, k)
          if (d !== undefined && d.configurable === false && d.writable === false) return v
        }
        return this.wrap(v)
      },
      set: (t, k, v, r) => { this.mark(t); return Reflect.set(t, k, this.unwrap(v), r) },
      deleteProperty: (t, k) => { this.mark(t); return Reflect.deleteProperty(t, k) },
      defineProperty: (t, k, d) => {
        this.mark(t)
        if ('value' in d) d = { ...d, value: this.unwrap(d.value) }
        return Reflect.defineProperty(t, k, d)
      },
      setPrototypeOf: (t, p) => { this.mark(t); return Reflect.setPrototypeOf(t, this.unwrap(p)) },
      preventExtensions: t => { this.mark(t); return Reflect.preventExtensions(t) },
    }
  }

  /**
   * Traps of Map and Set proxies for their own properties (`m.meta = {...}`, symbol keys,
   * `Object.defineProperty`, `Object.freeze`): they persist too (props.ts), so they mark.
   */
  #ownPropertyTraps<T extends object>(): ProxyHandler<T> {
    return {
      set: (t, k, v) => { this.mark(t); return Reflect.set(t, k, this.unwrap(v), t) },
      deleteProperty: (t, k) => { this.mark(t); return Reflect.deleteProperty(t, k) },
      defineProperty: (t, k, d) => {
        this.mark(t)
        if ('value' in d) d = { ...d, value: this.unwrap(d.value) }
        return Reflect.defineProperty(t, k, d)
      },
      setPrototypeOf: (t, p) => { this.mark(t); return Reflect.setPrototypeOf(t, this.unwrap(p)) },
      preventExtensions: t => { this.mark(t); return Reflect.preventExtensions(t) },
    }
  }

  #mapHandler(): ProxyHandler<AnyMap> {
    const b = this
    return {
      get(t, k, proxy) {
        switch (k) {
          case PROXY_TARGET: return t
          case 'size': return mapSize(t)
          case 'get': return (key: unknown) => b.wrap(mapFetch(t, b.unwrap(key)))
          case 'has': return (key: unknown) => mapContains(t, b.unwrap(key))
          case 'set': return (key: unknown, v: unknown) => { b.mark(t); mapPut(t, b.unwrap(key), b.unwrap(v)); return proxy }
          case 'delete': return (key: unknown) => { b.mark(t); return mapDelete.call(t, b.unwrap(key)) }
          case 'clear': return () => { b.mark(t); mapClear.call(t) }
          case 'forEach': return (cb: Fn, thisArg?: unknown) => mapEach(t, (v, key) => { cb.call(thisArg, b.wrap(v), b.wrap(key), proxy) })
          case 'keys': return function* () { for (const key of mapKeys.call(t)) yield b.wrap(key) }
          case 'values': return function* () { for (const v of mapValues.call(t)) yield b.wrap(v) }
          case 'entries': case Symbol.iterator:
            return function* () { for (const [key, v] of mapEntries.call(t)) yield [b.wrap(key), b.wrap(v)] }
        }
        return b.wrap(reflectGet(t, k, t))
      },
      ...b.#ownPropertyTraps<AnyMap>(),
    }
  }

  #setHandler(): ProxyHandler<AnySet> {
    const b = this
    return {
      get(t, k, proxy) {
        switch (k) {
          case PROXY_TARGET: return t
          case 'size': return setSize(t)
          case 'has': return (v: unknown) => setHas.call(t, b.unwrap(v))
          case 'add': return (v: unknown) => { b.mark(t); setAdd.call(t, b.unwrap(v)); return proxy }
          case 'delete': return (v: unknown) => { b.mark(t); return setDelete.call(t, b.unwrap(v)) }
          case 'clear': return () => { b.mark(t); setClear.call(t) }
          case 'forEach': return (cb: Fn, thisArg?: unknown) => setEach(t, v => { const w = b.wrap(v); cb.call(thisArg, w, w, proxy) })
          case 'values': case 'keys': case Symbol.iterator: return function* () { for (const v of setValues.call(t)) yield b.wrap(v) }
          case 'entries': return function* () { for (const v of setValues.call(t)) { const w = b.wrap(v); yield [w, w] } }
        }
        return b.wrap(reflectGet(t, k, t))
      },
      ...b.#ownPropertyTraps<AnySet>(),
    }
  }
}
