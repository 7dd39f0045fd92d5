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
 * unchanged; they are exposed), Dates, RegExps, ArrayBuffers and typed arrays (compared at
 * every point: dates.ts, binary.ts; exposed too with `track: 'all'`, so that their own
 * properties are compared as well, verify.ts inv. V5). So an object the program stored comes back as itself:
 * `c.root.o.x === x`, `c.root.list.indexOf(x)`.
 *
 * With `track: 'barriers'` nothing is exposed: every object with an id is proxied (except
 * instances of classes with private members or hooks, handed out raw and watched, inv. 9;
 * instances of Map and Set subclasses are proxied by barrier-override.ts, and what its calls
 * on the real instance reach raw is watched from then on, watch.ts), and mutations through
 * other raw references need `persist({ full: true })`.
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
 *      value is handed out raw and exposed (`raw`; or it is one of our proxies, below), a
 *      Date, RegExp or binary object too, and a Date is recorded in the DateTable as one
 *      `wrap` hands out (before session 9 such a Date's `setTime` was lost).
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
 *      out raw and exposed (their methods need the real instance), or watched with `track:
 *      'barriers'` (inv. 9; untracked before session 11). (Before issue 16 every class instance was handed out raw in the default
 *      mode; the corpus's classes workload then compared 113,000 objects at every 1% point.)
 *      So are, in every mode, instances of registered subclasses of Date, RegExp and
 *      ArrayBuffer (their methods need the real instance's internal slots; a Date's time is
 *      compared at each point as any Date's), and, in the default mode, of Map and Set
 *      subclasses that define a member the Map or Set proxy answers itself (`set`, `add`, ...:
 *      the override would be bypassed) or a method reaching the built-in's methods with its
 *      `this` (`super.set(...)`: the built-in refuses a proxy); `collectionClassNeedsRaw`.
 *      Other Map and Set subclass instances are proxied by barrier-override.ts, which looks
 *      members up when used: one given to the class later that needs the real instance runs
 *      on it, and the call exposes it (its inv. O5, O6).
 *      With `track: 'barriers'` (nothing compared, so raw would mean untracked) every Map and
 *      Set subclass instance is proxied by barrier-override.ts: the proxy hands out the
 *      class's own members, looked up when used (its inv. O6: a member added later is seen),
 *      those reaching the built-in (and own function properties, inv. O7) as calls on the
 *      real instance that mark it before and after and watch what they reach raw (its inv.
 *      O1-O5, watch.ts), so an ordinary point persists what they did.
 *   9. With `track: 'barriers'`, what is handed out raw (Dates, RegExps, binary objects,
 *      instances of classes with private members or hooks and of Date, RegExp and
 *      ArrayBuffer subclasses, values of non-writable non-configurable properties: inv. 5,
 *      6, 7) is watched from its hand-out on, with what it reaches, until it leaves the graph
 *      (watch.ts inv. W4), so a write through it (`d.note = 1`, `re.lastIndex = 3`, a method
 *      of a class with private members) persists at the next ordinary point. Before (session
 *      11) such writes were lost silently: nothing compared them in that mode (a Date's time
 *      value and a buffer's bytes were, by dates.ts and binary.ts).
 *   8. A collection with a change log (change-log.ts: a large array, Map or Set behind its
 *      proxy whose record is SEGMENTED or PATCH) has every mutation through its proxy
 *      recorded there before it happens, with what it needs (was the key present): Map
 *      `set`/`delete`, Set `add`/`delete`, an array's element or length set, an element
 *      deleted (`pop`) or defined as an ordinary element (what a set of a new index makes:
 *      `push`); every other mutation (`clear`, a named property deleted, another define,
 *      `setPrototypeOf`, `preventExtensions`) sets the log's `whole` (inv. CL2), so the
 *      next point re-encodes it. The encoder writes a PATCH record from the log (patch-record.ts).
 *  10. A restore's object (identity.ts `fromRestore`: never one the program made) handed out
 *      raw for the first time that can hold its objects as proxies (`#proxyOwn`: not a typed
 *      array, Map or Set; not exposed or watched already) is given, in its own data
 *      properties, the proxies `wrap` hands out for their restored values (what the program
 *      stored there raw stays as it is), and joins `swapped`: identity holds whichever path
 *      the program reads first, and its reach through them stays behind barriers
 *      (exposure.ts inv. E2). `c.unwrap` takes them back (E2). Before session 17 such an object's reach was exposed (default mode: the
 *      proxies the program held were retired, so `===` with them failed) or raw (barriers,
 *      read-only: `e.cause === c.root.user` false).
 *  11. Default mode: an object handed out raw once it is exposed is handed out at once by
 *      later reads (`#settled`).
 * This file decides what is proxied and what is handed out raw (`wrap`, inv. 4, 5, 7) and
 * what a mutation marks (`mark` and the helpers below); the traps themselves (inv. 1, 2, 3,
 * 6, 8) are in barrier-traps.ts.
 */
import {
  ArrayProto, MapProto, ObjectProto, SetProto, getPrototypeOf, isArray, isArrayBuffer, isDate, isMap, isRegExp, isSet, isSharedArrayBuffer, isTypedArray,
} from './builtins.js'
import type { ObjectTable } from './identity.js'
import { isNativeOrBoxed } from './natives.js'
import { holdAsProxies, holdsObjects } from './held.js'
import type { DirtySet } from './dirty.js'
import type { ClassRegistry } from './classes.js'
import type { Verifier } from './verify.js'
import type { Changes } from './change-log.js'
import { mapHandler, objectHandler, setHandler, type AnyMap, type AnySet, type TrapHost } from './barrier-traps.js'
import { classNeedsRaw, overridingHandler, ownCaller } from './barrier-override.js'

/** What the barrier asks of its container (tables.ts). */
export interface BarrierHost {
  /** A Date was handed out raw: compare it at each point. */
  onDate(d: Date): void
  /** `raw` (a container object) is handed out raw: make it and what it reaches exposed (exposure.ts). */
  expose(raw: object): void
  /** Exposed ids, or null with `track: 'barriers'`. */
  readonly verifier: Verifier | null
  /** `raw` is reached raw by a call on the real instance: watch it and what it reaches until the next point (watch.ts; barriers mode). */
  watch(raw: object): void
  /** Ids watched (watch.ts), with `track: 'barriers'`; else null. */
  readonly watched: Verifier | null
  /** An async call on the real instance `t` began or settled (watch.ts inv. W3). */
  hold(t: object, on: boolean): void
  /** Finishes stamping a restore's ids now (tables.ts inv. T2). */
  stampAll(): void
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

/**
 * inv. 7: true if instances of the Map or Set subclass whose prototype is `proto` cannot be
 * proxied by the plain Map or Set handler: a prototype between `proto` and `base`
 * (Map.prototype or Set.prototype) defines a member the proxy answers itself (the class's
 * override would be bypassed: silently other behaviour), or a method or accessor whose
 * source reaches the built-in's methods with its `this` (a super call; they refuse a proxy).
 * Read once per prototype (barrier-override.ts `classNeedsRaw`); a false positive only costs the
 * comparison of an exposed object (default mode) or a call on the real instance (barriers).
 */
function collectionClassNeedsRaw(proto: object, base: object): boolean {
  return classNeedsRaw(proto, base)
}

/** Creates and recognizes the write-barrier proxies of one container. */
export class Barrier implements TrapHost {
  readonly #table: ObjectTable
  readonly #dirty: DirtySet
  readonly #classes: ClassRegistry
  readonly #excluded: WeakSet<object>
  #object: ProxyHandler<object>
  #map: ProxyHandler<AnyMap>
  #set: ProxyHandler<AnySet>
  readonly #overMap: ProxyHandler<AnyMap>
  readonly #overSet: ProxyHandler<AnySet>
  readonly #host: BarrierHost
  /** The exposed ids (default mode) or the watched ones (barriers mode: watch.ts inv. W1): `mark` answers whether its target is one. */
  readonly #seen: Verifier | null
  /** Objects handed out raw that hold their own properties' objects as proxies (inv. 10). */
  readonly swapped = new WeakSet<object>()
  /** True while `c.unwrap` exposes what it hands out: the walk puts swapped objects' targets back (exposure.ts inv. E2). */
  unswapping = false

  constructor(table: ObjectTable, dirty: DirtySet, classes: ClassRegistry, excluded: WeakSet<object>, host: BarrierHost) {
    this.#host = host
    this.#seen = host.verifier ?? host.watched
    this.ownCall = host.verifier === null ? (t, f, k) => ownCaller(this, t, f, k) : null
    this.#table = table
    this.#dirty = dirty
    this.#classes = classes
    this.#excluded = excluded
    this.#object = objectHandler(this)
    this.#map = mapHandler(this)
    this.#set = setHandler(this)
    this.#overMap = overridingHandler(this, this.#map, MapProto)
    this.#overSet = overridingHandler(this, this.#set, SetProto)
  }

  /**
   * While ids of a restore are still being stamped (in the background), marks of targets
   * without a stamp wait here and are resolved when stamping completes.
   */
  deferred: object[] | null = null
  /**
   * While ids of a restore are being stamped: targets without a stamp that a trap gave
   * something beyond their body (`beyond`); their `plain` flags (set by the restore, dirty.ts
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

  /** With `track: 'barriers'`: own function properties are called on the real instance (barrier-traps.ts `read`). */
  readonly ownCall: ((t: object, f: (...args: unknown[]) => unknown, k: string | symbol) => (...args: unknown[]) => unknown) | null

  /** Set when the container is closed: every mutation through a proxy then throws what it returns (inv. 3). */
  closed: (() => Error) | null = null

  /** Marks `t` changed (if it has been persisted; new objects are written whole anyway); true if `t` is exposed (or watched, with `track: 'barriers'`: watch.ts inv. W1). */
  mark(t: object): boolean {
    if (this.closed !== null) throw this.closed()
    const id = this.#table.idOf(t)
    if (id !== 0) { this.#dirty.mark(id); return this.#seen?.has(id) === true }
    if (this.deferred !== null) this.deferred.push(t)
    return false
  }

  // The helpers below are the traps' (barrier-traps.ts), not the container's.

  /**
   * `t` is reached raw by a call on the real instance (barrier-override.ts inv. O3, O5): filled
   * with what it reaches (inv. 5) and, while the container is open, exposed with what it
   * reaches (the default mode: inv. 4) or watched with it until the next point (watch.ts),
   * unless `watch` is false (a call that cannot reach its instance's entries, override-source.ts).
   */
  heldRaw(t: object, watch = true): void {
    this.lazy?.reached(t)
    if (!watch || this.closed !== null) return
    if (this.#host.verifier !== null) this.#host.expose(t)
    else this.#host.watch(t)
  }

  /** An async call on the real instance `t` began or settled (watch.ts inv. W3). */
  hold(t: object, on: boolean): void { this.#host.hold(t, on) }

  /** The change log of `t` (change-log.ts; inv. 8), if it has one. */
  changesOf(t: object): Changes | undefined {
    const log = this.#dirty.changes
    return log.size === 0 ? undefined : log.get(t)
  }

  /** A mutation of `t` that its change log cannot express (change-log.ts inv. CL2). */
  whole(t: object): void {
    const c = this.changesOf(t)
    if (c !== undefined) c.whole = true
  }

  /** `t` may hold something beyond its body now (dirty.ts inv. D2): cleared now, or when its id is stamped. */
  beyond(t: object): void {
    const id = this.#table.idOf(t)
    if (id !== 0) this.#dirty.beyond(id)
    else if (this.deferred !== null) this.deferredBeyond.push(t)
  }

  /** A value stored through a proxy: unwrapped (inv. 1); exposed if its holder is (inv. 4), or watched (watch.ts inv. W1); remembered while ids are stamped. */
  storing<T>(v: T, holderExposed: boolean): T {
    if (typeof v !== 'object' || v === null) return v
    const raw = this.unwrap(v)
    if (holderExposed) { if (this.#host.verifier !== null) this.#host.expose(raw as object); else this.#host.watch(raw as object) }
    else if (this.handedIn !== null) this.handedIn.add(raw as object)
    return raw
  }

  /** `v` is one of this container's proxies. */
  isProxy(v: object): boolean { return this.#table.targetOf(v) !== undefined }

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
      if (isDate(v)) this.#host.onDate(v as Date)
      if (this.anyExcluded && this.#excluded.has(v)) this.lazy?.reached(v)     // inv. 5
      else { this.#proxyOwn(v); this.rawOut(v); this.#settled(v) }     // inv. 5, 10, 11; a Date, RegExp or binary object: its own properties compared at every point (verify.ts inv. V5)
      return v
    }
    if (handler === RAW_CLASS) {
      if (isDate(v)) this.#host.onDate(v as Date)     // a Date subclass (inv. 7): its time compared at each point, as any Date's
      this.#proxyOwn(v)     // inv. 10
      this.rawOut(v)
      this.#settled(v)
      return v
    }
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

  /**
   * Inv. 10: `v`, a persisted object about to be handed out raw for the first time (a Date,
   * RegExp, ArrayBuffer, error, boxed primitive, or an instance of a class with private
   * members or hooks), holds what its own data properties reach as this container's proxies
   * from now on, where `wrap` would give one: `e.cause === c.root.user` whichever the program
   * read first, and a write through `e.cause` goes through a barrier. `v` joins `swapped`, so
   * exposure and watching (exposure.ts `addReach`) follow what it holds raw, not its record's
   * references. Left as they are: typed arrays (their index keys are not listed, and their
   * named properties do not persist: props.ts), Maps and Sets (entries cannot be replaced in
   * place), objects already exposed or watched (the program may hold what they reach raw),
   * objects the program made, and a property that cannot be redefined (non-writable and
   * non-configurable: what it holds is exposed with `v`).
   */
  #proxyOwn(v: object): void {
    if (this.swapped.has(v) || isTypedArray(v) || isMap(v) || isSet(v)) return
    this.lazy?.touch(v)     // inv. 5: its own properties are read below (what they reach: `wrap` fills it, or `rawOut` below with `v`)
    if (!holdsObjects(v)) return
    this.#host.stampAll()     // a restore's ids (tables.ts inv. T2): `fromRestore` below is exact
    const t = this.#table
    if (!t.fromRestore(v)) return      // the program made it: what it holds is the program's, as it is
    if (this.#seen !== null && this.#seen.has(t.idOf(v))) return     // exposed or watched already: the program may hold its reach raw
    this.swapped.add(v)
    holdAsProxies(v, x => this.wrap(x), x => t.targetOf(x) !== undefined || !t.fromRestore(x))     // held.ts
  }

  /**
   * Inv. 11: in the default mode, an object handed out raw that is exposed now stays exposed
   * until its id is freed (verify.ts: a full point forgets shadows, not the exposed set), its
   * Date time recorded (dates.ts `add` keeps the first): `wrap` hands it out at once from
   * then on, as a retired proxy's target (`proxyOf(v) === v`), instead of walking its class,
   * swap, Date and exposure checks at every read (about 2 us per read of a restored Date
   * before). Not with `track: 'barriers'`, where the watched set is forgotten by a full point
   * and taken again (watch.ts inv. W4), nor while the exposure waits (stamping, a snapshot).
   */
  #settled(v: object): void {
    const verifier = this.#host.verifier
    if (verifier === null) return
    const id = this.#table.idOf(v)
    if (id !== 0 && verifier.has(id)) this.#table.setProxy(v, v)
  }

  #handlerFor(v: object): ProxyHandler<never> | undefined {
    const proto = getPrototypeOf(v) as object | null
    if (this.anyExcluded && this.#excluded.has(v)) return undefined
    if (proto === ObjectProto || proto === ArrayProto || (proto === null && !isNativeOrBoxed(v))) return this.#object     // a null-prototype error: raw, as any error (inv. 7)
    if (proto === MapProto && isMap(v)) return this.#map as ProxyHandler<never>
    if (proto === SetProto && isSet(v)) return this.#set as ProxyHandler<never>
    const info = this.#classes.infoByProto(proto as object)
    if (info !== undefined) {
      if (ArrayBuffer.isView(v)) return undefined
      // Raw only for classes with private members or hooks, whose methods must see the real
      // instance as `this` (#private members; exposed, or watched with track: 'barriers': inv. 9).
      // Other instances are proxied like plain objects (inv. 7): their methods and accessors
      // run with the proxy as `this`, so every write they make goes through the traps.
      if (info.unsaved.length > 0 || info.hooks !== null) return RAW_CLASS
      if (isArray(v)) return this.#object
      if (isMap(v) || isSet(v)) {
        // A member of its class the proxy answers itself would be bypassed, and a call of the
        // built-in's method on `this` (super.set) refuses the proxy: raw and exposed in the
        // default mode; with track: 'barriers' the proxy lets the class's members run (inv. 7).
        // Every other subclass instance gets the overriding handler, which looks the class's
        // members up when they are used (a method added to the prototype later,
        // barrier-override.ts inv. O6); in the default mode, one that needs the real instance
        // now is handed out raw and exposed.
        const map = isMap(v)
        if (this.#host.verifier !== null && collectionClassNeedsRaw(proto as object, map ? MapProto : SetProto)) return RAW_CLASS
        return (map ? this.#overMap : this.#overSet) as ProxyHandler<never>
      }
      if (isDate(v) || isRegExp(v) || isArrayBuffer(v) || isSharedArrayBuffer(v) || isNativeOrBoxed(v)) return RAW_CLASS     // their methods need the real instance's internal slots (inv. 7; an error: util.inspect and isNativeError need the real one)
      return this.#object
    }
    if (isArray(v)) return this.#object
    if (isMap(v)) return this.#map as ProxyHandler<never>
    if (isSet(v)) return this.#set as ProxyHandler<never>
    return undefined
  }

  /** `v`, read from a non-writable, non-configurable property, must be handed out as it is (inv. 6): exposed (inv. 4), unless it is one of our proxies. */
  raw(v: object): object {
    if (this.#table.targetOf(v) !== undefined) return v
    if (isDate(v)) this.#host.onDate(v as Date)     // its time compared at each point, as any Date handed out (dates.ts)
    // Exposed, as `wrap` exposes what it hands out raw: Dates, RegExps and binary objects too (verify.ts inv. V5)
    if (this.#host.verifier !== null && this.#table.proxyOf(v) !== v && !(this.anyExcluded && this.#excluded.has(v))) this.#host.expose(v)
    else {
      this.lazy?.reached(v)     // inv. 5
      if (this.#host.verifier === null && this.closed === null && !(this.anyExcluded && this.#excluded.has(v))) this.#host.watch(v)      // inv. 9
    }
    return v
  }

  /** `v` is handed out raw (inv. 5, 7, 9; `c.unwrap`): exposed (the default mode) or watched (`track: 'barriers'`, while the container can still take points). */
  rawOut(v: object): void {
    this.#host.expose(v)
    if (this.#host.verifier === null && this.closed === null) this.#host.watch(v)
  }
}
