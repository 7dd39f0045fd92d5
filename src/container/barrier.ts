/**
 * Write barriers: the proxies that `Container.root` hands out for objects the program has
 * never held raw (a restore's objects). Every object read through a proxy comes back as a
 * proxy too (one per object, so `===` holds between reads), and every mutation through a
 * proxy marks the target's id dirty, so that the next point re-encodes exactly the objects
 * that changed (change detection without a walk: cost proportional to what changed).
 *
 * Detected (marks dirty): property set, delete and define, `Object.setPrototypeOf`, on plain
 * objects, arrays (including every Array.prototype method called on the proxy) and
 * instances of registered classes without private members or hooks (inv. 7); Map `set`/`delete`/`clear`; Set `add`/`delete`/`clear`;
 * `Object.preventExtensions` (and `seal`, `freeze`) on all of them; own properties of Maps
 * and Sets (set, delete, define, `setPrototypeOf`: they persist, props.ts). Dates,
 * ArrayBuffers and typed arrays are handed out raw (so that `new Date(d)`, `util.types`
 * checks and native APIs work on them) and compared with their persisted value at every
 * point instead (snapshot.ts: a time value per Date, dates.ts; chunk fingerprints per
 * ArrayBuffer, binary.ts).
 *
 * Handed out raw, not as proxies: objects the program may already hold raw (exposed:
 * handed in, or handed out raw before; verify.ts compares them at every point), objects
 * not persisted yet (the program made them), instances of registered classes with private
 * members or hooks (their methods must see the real instance as `this` for `#private`
 * members; they are exposed),
 * objects held by non-writable, non-configurable properties (a proxy must return those
 * unchanged; they are exposed), Dates, ArrayBuffers and typed arrays (compared at every
 * point: dates.ts, binary.ts). So an object the program stored comes back as itself:
 * `c.root.o.x === x`, `c.root.list.indexOf(x)`.
 *
 * With `track: 'barriers'` nothing is exposed: every object with an id is proxied (except
 * instances of classes with private members or hooks, handed out raw and not tracked), and
 * mutations through raw references need `persist({ full: true })`.
 *
 * Invariants:
 *   1. Values stored through a proxy are unwrapped first: the graph itself never holds this
 *      container's proxies because of a proxy (the encoder unwraps any the program stores
 *      into a raw object).
 *   2. A proxy's traps mark the target before the mutation happens, so a point that starts
 *      afterwards always sees the mutation as dirty.
 *   3. After the container is closed, every mutation through its proxies throws
 *      RegionClosedError before changing anything (`closed`): a write that no point could
 *      ever persist is refused, not silently accepted. (Raw objects cannot refuse.)
 *   4. An object is handed out raw only if it is exposed, or is new, or is made exposed
 *      as it is handed out (`expose`); a value stored through a proxy into an exposed
 *      object is exposed too (it is now reachable raw). So the exposed objects and the new
 *      ones are closed under raw references (verify.ts relies on it).
 *   5. In a lazily restored container (lazy.ts), an object is filled before its proxy is
 *      made (so no trap ever meets an unfilled shell, and traps cost what they cost after
 *      a full restore), and whatever is handed out raw is filled with what it reaches raw
 *      first (`lazy.reached`; class instances and exposed objects through `host.expose`):
 *      the program never sees an unfilled shell (lazy.ts inv. Z2).
 *   6. A read through a proxy (`get`, `getOwnPropertyDescriptor`) of a non-writable,
 *      non-configurable own data property of the target returns the target's own value (the
 *      platform's proxy invariant, a TypeError at the program's read otherwise): an object
 *      value is handed out raw and exposed (`#raw`; or it is one of our proxies, below).
 *      `get` looks the descriptor up only for non-extensible targets and pinned ones
 *      (pinned.ts: restored with such a property, or given one through a proxy), so reads of
 *      writable properties cost what they did. A `defineProperty` through a proxy that makes
 *      such a property with one of this container's proxies as its value stores that proxy
 *      itself (an exception to inv. 1, which the invariant forces: the encoder, verify.ts and
 *      copy.ts unwrap it as they do proxies the program stores raw). Not kept, with `track:
 *      'barriers'` only: such a property defined through a raw reference on an extensible
 *      object after its proxy was made (the barrier cannot see it; define it through the proxy).
 *   7. An instance of a registered class without private members (privates.ts) and without
 *      hooks is proxied like a plain object (or array, Map, Set, by what it is), in every
 *      mode: its methods and accessors run with the proxy as `this`, so what they write goes
 *      through the traps, and it is not exposed, so a point does not compare it (or what it
 *      reaches) with its shadow. Instances of classes with private members or hooks are handed
 *      out raw and exposed (their methods need the real instance), or untracked with `track:
 *      'barriers'`. (Before issue 16 every class instance was handed out raw in the default
 *      mode; the corpus's classes workload then compared 113,000 objects at every 1% point.)
 *   8. A collection with a change log (change-log.ts: a large array, Map or Set behind its
 *      proxy whose record is SEGMENTED or PATCH) has every mutation through its proxy
 *      recorded there before it happens, with what it needs (was the key present): Map
 *      `set`/`delete`, Set `add`/`delete`, an array's element or length set; every other
 *      mutation (`clear`, delete, define, `setPrototypeOf`, `preventExtensions`) sets the
 *      log's `whole` (inv. CL2), so the next point re-encodes it. The encoder writes a
 *      PATCH record from the log (patch-record.ts).
 */
import {
  ArrayProto, MapProto, ObjectProto, SetProto, getPrototypeOf, isArray, isDate, isMap, isSet, mapContains, mapEach, mapFetch, mapPut,
  mapSize, reflectGet, setEach, setSize,
} from './builtins.js'
import { PROXY_TARGET, type ObjectTable } from './identity.js'
import type { DirtySet } from './dirty.js'
import type { ClassRegistry } from './classes.js'
import type { Verifier } from './verify.js'
import { isPinned, pin } from './pinned.js'
import type { Changes } from './change-log.js'

type AnyMap = Map<unknown, unknown>
type AnySet = Set<unknown>
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
/** What the barrier asks of its container (tables.ts). */
export interface BarrierHost {
  /** A Date was handed out raw: compare it at each point. */
  onDate(d: Date): void
  /** `raw` (a container object) is handed out raw: make it and what it reaches exposed (exposure.ts). */
  expose(raw: object): void
  /** Exposed ids, or null with `track: 'barriers'`. */
  readonly verifier: Verifier | null
}

/** A lazy restore (lazy.ts): fills a shell before the program can see it (lazy.ts inv. Z2). */
export interface LazyFill {
  /** `o`'s proxy is about to be made: fill it if it is an unfilled shell. */
  touch(o: object): void
  /** `o` is handed out raw: fill it and what it reaches raw. */
  reached(o: object): void
}

/** `#handlerFor`'s answer for instances of registered classes: handed out raw. */
const RAW_CLASS: ProxyHandler<object> = {}

/** Creates and recognizes the write-barrier proxies of one container. */
export class Barrier {
  readonly #table: ObjectTable
  readonly #dirty: DirtySet
  readonly #classes: ClassRegistry
  readonly #excluded: WeakSet<object>
  #object: ProxyHandler<object>
  #map: ProxyHandler<AnyMap>
  #set: ProxyHandler<AnySet>
  readonly #host: BarrierHost

  constructor(table: ObjectTable, dirty: DirtySet, classes: ClassRegistry, excluded: WeakSet<object>, host: BarrierHost) {
    this.#host = host
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
  /**
   * While ids of a restore are being stamped: targets without a stamp that a trap gave
   * something beyond their body (`#beyond`); their `plain` flags (set by the restore, dirty.ts
   * inv. D2) are cleared when stamping completes (tables.ts).
   */
  deferredBeyond: object[] = []
  /** While ids are being stamped: objects stored through the proxies (new, so handed out raw although unstamped). */
  handedIn: Set<object> | null = null
  /** True once a proxy has been handed out (the encoder then unwraps proxies it finds in the graph). */
  created = false
  /** False until the program excludes something (skips the WeakSet lookup for every object wrapped). */
  anyExcluded = false

  /** A lazy restore's graph (inv. 5), or null. */
  lazy: LazyFill | null = null

  /** The container was restored lazily (inv. 5). */
  setLazy(lazy: LazyFill): void { this.lazy = lazy }

  /** Set when the container is closed: every mutation through a proxy then throws what it returns (inv. 3). */
  closed: (() => Error) | null = null

  /** Marks `t` changed (if it has been persisted; new objects are written whole anyway); true if `t` is exposed. */
  mark(t: object): boolean {
    if (this.closed !== null) throw this.closed()
    const id = this.#table.idOf(t)
    if (id !== 0) { this.#dirty.mark(id); return this.#host.verifier?.has(id) === true }
    if (this.deferred !== null) this.deferred.push(t)
    return false
  }

  /** The change log of `t` (change-log.ts; inv. 8), if it has one. */
  #changesOf(t: object): Changes | undefined {
    const log = this.#dirty.changes
    return log.size === 0 ? undefined : log.get(t)
  }

  /** A mutation of `t` that its change log cannot express (change-log.ts inv. CL2). */
  #whole(t: object): void {
    const c = this.#changesOf(t)
    if (c !== undefined) c.whole = true
  }

  /** `t` may hold something beyond its body now (dirty.ts inv. D2): cleared now, or when its id is stamped. */
  #beyond(t: object): void {
    const id = this.#table.idOf(t)
    if (id !== 0) this.#dirty.beyond(id)
    else if (this.deferred !== null) this.deferredBeyond.push(t)
  }

  /** A value stored through a proxy: unwrapped (inv. 1); exposed if its holder is (inv. 4); remembered while ids are stamped. */
  #storing<T>(v: T, holderExposed: boolean): T {
    if (typeof v !== 'object' || v === null) return v
    const raw = this.unwrap(v)
    if (holderExposed) this.#host.expose(raw as object)
    else if (this.handedIn !== null) this.handedIn.add(raw as object)
    return raw
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
    if (known !== undefined) return known       // its proxy, or itself (retired: exposed since)
    if (this.#table.targetOf(v) !== undefined) return v
    const handler = this.#handlerFor(v)
    if (handler === undefined) {
      this.lazy?.reached(v)     // inv. 5
      if (isDate(v)) this.#host.onDate(v as Date)
      return v
    }
    if (handler === RAW_CLASS) { this.#host.expose(v); return v }
    const verifier = this.#host.verifier
    if (verifier !== null) {
      const id = this.#table.idOf(v)
      if (id === 0 ? this.handedIn === null || this.handedIn.has(v) : verifier.has(id)) return v   // new, or exposed (inv. 4)
    }
    this.lazy?.touch(v)     // inv. 5
    const p = new Proxy(v, handler)
    this.created = true
    this.#table.setProxy(v, p)
    return p
  }

  #handlerFor(v: object): ProxyHandler<never> | undefined {
    const proto = getPrototypeOf(v) as object | null
    if (this.anyExcluded && this.#excluded.has(v)) return undefined
    if (proto === ObjectProto || proto === null || proto === ArrayProto) return this.#object
    if (proto === MapProto && isMap(v)) return this.#map as ProxyHandler<never>
    if (proto === SetProto && isSet(v)) return this.#set as ProxyHandler<never>
    const info = this.#classes.infoByProto(proto as object)
    if (info !== undefined) {
      if (ArrayBuffer.isView(v)) return undefined
      // Raw only for classes with private members or hooks, whose methods must see the real
      // instance as `this` (#private members; exposed, or untracked with track: 'barriers').
      // Other instances are proxied like plain objects (inv. 7): their methods and accessors
      // run with the proxy as `this`, so every write they make goes through the traps.
      if (info.unsaved.length > 0 || info.hooks !== null) return RAW_CLASS
      return isArray(v) ? this.#object : isMap(v) ? this.#map as ProxyHandler<never> : isSet(v) ? this.#set as ProxyHandler<never> : this.#object
    }
    if (isArray(v)) return this.#object
    if (isMap(v)) return this.#map as ProxyHandler<never>
    if (isSet(v)) return this.#set as ProxyHandler<never>
    return undefined
  }

  /** `v`, read from a non-writable, non-configurable property, must be handed out as it is (inv. 6): exposed (inv. 4), unless it is one of our proxies. */
  #raw(v: object): object {
    if (this.#table.targetOf(v) !== undefined) return v
    this.lazy?.reached(v)     // inv. 5
    if (this.#host.verifier !== null && this.#table.proxyOf(v) !== v && this.#handlerFor(v) !== undefined) this.#host.expose(v)
    return v
  }

  #objectHandler(): ProxyHandler<object> {
    return {
      get: (t, k, r) => k === PROXY_TARGET ? t : this.#read(t, k, r),
      // The writing traps are the Map/Set ones, but a set passes the receiver on (setters of
      // the prototype chain see the proxy, as for an ordinary object).
      ...this.#ownPropertyTraps<object>(),
      set: (t, k, v, r) => {
        const e = this.mark(t)
        const raw = this.#storing(v, e)
        this.#changesOf(t)?.arraySet(k, raw)    // inv. 8
        return Reflect.set(t, k, raw, r)
      },
    }
  }

  /**
   * Traps of Map and Set proxies for their own properties (`m.meta = {...}`, symbol keys,
   * `Object.defineProperty`, `Object.freeze`): they persist too (props.ts), so they mark.
   */
  #ownPropertyTraps<T extends object>(): ProxyHandler<T> {
    return {
      set: (t, k, v) => { const e = this.mark(t); return Reflect.set(t, k, this.#storing(v, e), t) },
      deleteProperty: (t, k) => { this.mark(t); this.#whole(t); return Reflect.deleteProperty(t, k) },
      defineProperty: (t, k, d) => {
        const e = this.mark(t)
        // `{ value }` alone is how a set through the proxy (Reflect.set with the proxy as
        // receiver) updates an existing property: an element write of an array (inv. 8).
        const log = this.#changesOf(t)
        if (log !== undefined) {
          if ('value' in d && d.get === undefined && d.set === undefined && d.writable === undefined && d.enumerable === undefined && d.configurable === undefined) log.arraySet(k, this.unwrap(d.value))
          else log.whole = true
        }
        // A symbol key, or a property that is (or may become) non-enumerable: something beyond
        // the body (dirty.ts inv. D2). `{ value }` alone (a set of an existing property) keeps
        // the property's enumerability; on a missing property it makes a non-enumerable one.
        if (typeof k !== 'string' || (d.enumerable !== true && (d.enumerable === false || !propertyIsEnumerable.call(t, k)))) this.#beyond(t)
        const pinning = d.writable !== true && d.configurable !== true && this.#pins(t, k, d)
        // A proxy of ours defined read-only stays as given: later reads must return it (inv. 6).
        if ('value' in d && !(pinning && this.#table.targetOf(d.value as object) !== undefined)) d = { ...d, value: this.#storing(d.value, e) }
        const ok = Reflect.defineProperty(t, k, d)
        if (ok && pinning) pin(t)
        return ok
      },
      // A descriptor's value is handed out like a property read (a non-writable,
      // non-configurable one must be the target's own value: inv. 6).
      getOwnPropertyDescriptor: (t, k) => {
        const d: PropertyDescriptor | undefined = gOPD(t, k)
        if (d === undefined || typeof d.value !== 'object' || d.value === null) return d
        if (d.configurable === false && d.writable === false) this.#raw(d.value as object)
        else d.value = this.wrap(d.value)
        return d
      },
      setPrototypeOf: (t, p) => { this.mark(t); this.#whole(t); return Reflect.setPrototypeOf(t, this.unwrap(p)) },
      preventExtensions: t => { this.mark(t); this.#whole(t); this.#beyond(t); return Reflect.preventExtensions(t) },
    }
  }

  /** True if defining `d` (writable and configurable not true) leaves `t[k]` a non-writable, non-configurable data property (absent attributes keep the current ones, or are false). */
  #pins(t: object, k: string | symbol, d: PropertyDescriptor): boolean {
    if (d.get !== undefined || d.set !== undefined) return false
    const cur = gOPD(t, k)
    const data = cur !== undefined && !('get' in cur)
    return (d.writable ?? (data && cur.writable === true)) === false && (d.configurable ?? cur?.configurable === true) === false
  }

  /** A property of a Map or Set proxy that is not one of its methods: read like an object's (inv. 6). */
  #other(t: object, k: string | symbol): unknown { return this.#read(t, k, t) }

  /**
   * A property read through a proxy: objects wrapped, except that a proxy must return the
   * very value of a non-writable, non-configurable property (inv. 6): those are handed out
   * raw. Looked up for non-extensible and pinned targets only.
   */
  #read(t: object, k: string | symbol, r: unknown): unknown {
    const v = reflectGet(t, k, r)
    if (typeof v !== 'object' || v === null) return v
    if (!isExtensible(t) || isPinned(t)) {
      const d = gOPD(t, k)
      if (d !== undefined && d.configurable === false && d.writable === false) return this.#raw(v)
    }
    return this.wrap(v)
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
          case 'set': return (key: unknown, v: unknown) => {
            const e = b.mark(t), k = b.#storing(key, e)
            b.#changesOf(t)?.mapSet(k, mapContains(t, k))    // inv. 8
            mapPut(t, k, b.#storing(v, e))
            return proxy
          }
          case 'delete': return (key: unknown) => { b.mark(t); const k = b.unwrap(key); b.#changesOf(t)?.remove(k, mapContains(t, k)); return mapDelete.call(t, k) }
          case 'clear': return () => { b.mark(t); b.#whole(t); mapClear.call(t) }
          case 'forEach': return (cb: Fn, thisArg?: unknown) => mapEach(t, (v, key) => { cb.call(thisArg, b.wrap(v), b.wrap(key), proxy) })
          case 'keys': return function* () { for (const key of mapKeys.call(t)) yield b.wrap(key) }
          case 'values': return function* () { for (const v of mapValues.call(t)) yield b.wrap(v) }
          case 'entries': case Symbol.iterator:
            return function* () { for (const [key, v] of mapEntries.call(t)) yield [b.wrap(key), b.wrap(v)] }
        }
        return b.#other(t, k)
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
          case 'add': return (v: unknown) => {
            const e = b.mark(t), raw = b.#storing(v, e)
            b.#changesOf(t)?.setAdd(raw, setHas.call(t, raw))    // inv. 8
            setAdd.call(t, raw)
            return proxy
          }
          case 'delete': return (v: unknown) => { b.mark(t); const raw = b.unwrap(v); b.#changesOf(t)?.remove(raw, setHas.call(t, raw)); return setDelete.call(t, raw) }
          case 'clear': return () => { b.mark(t); b.#whole(t); setClear.call(t) }
          case 'forEach': return (cb: Fn, thisArg?: unknown) => setEach(t, v => { const w = b.wrap(v); cb.call(thisArg, w, w, proxy) })
          case 'values': case 'keys': case Symbol.iterator: return function* () { for (const v of setValues.call(t)) yield b.wrap(v) }
          case 'entries': return function* () { for (const v of setValues.call(t)) { const w = b.wrap(v); yield [w, w] } }
        }
        return b.#other(t, k)
      },
      ...b.#ownPropertyTraps<AnySet>(),
    }
  }
}
