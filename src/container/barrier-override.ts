/**
 * Proxies for instances of Map and Set subclasses (barrier.ts inv. 7). The default mode
 * hands instances of subclasses that override a member the Map or Set proxy answers itself
 * (`set`, `add`, `get`, `size`, `keys`, ...) or reach the built-in's methods through `super`
 * out raw and compares them at each point (`classNeedsRaw`), and proxies the others; with
 * `track: 'barriers'` nothing is compared, so every subclass instance stays behind a proxy
 * (identity as for every other object). This handler lets the class's own members run,
 * looked up when they are used (inv. O6: in the default mode too, a member given to the
 * class later is seen):
 *
 * | what `k` is on the instance (own property first, then the prototypes up to Map/Set.prototype) | what the proxy's `get` hands out |
 * | --- | --- |
 * | an own data property holding a function (an arrow-function class field), writable or configurable | a function calling it on the real instance (`callRaw`, inv. O7) |
 * | any other own property | what the Map or Set proxy answers (barrier-traps.ts) |
 * | method whose source reaches the built-in (`super.x`, `Map.prototype`) | a function calling it on the real instance (`callRaw`) |
 * | other method (an override or an own method) | the method itself: it runs with the proxy as `this`, so what it calls and writes goes through the traps |
 * | getter reaching the built-in | its value, computed on the real instance (`callRaw`) |
 * | other getter | its value, computed with the proxy as `this` |
 * | anything else, and members the subclass does not define | what the Map or Set proxy answers (barrier-traps.ts) |
 *
 * Setters run with the proxy as `this`, after the mark, as for every Map and Set proxy
 * (barrier-traps.ts); one reaching the built-in runs on the real instance (`callRaw`).
 *
 * Invariants (barrier.ts inv. 7):
 *   O1. A call on the real instance (`callRaw`) marks the instance changed before and after
 *       it runs (inv. 2: a point that starts afterwards, or during it, re-encodes it; its
 *       change log, if any, is set `whole`, inv. 8, and its `plain` flag cleared, dirty.ts
 *       inv. D2), so whatever it did to the instance's entries and own properties persists
 *       at the next ordinary point. An async method's instance is marked again when its
 *       promise settles, and a returned iterator's before and after each step (a generator's
 *       body runs then).
 *   O2. What goes in and out of such a call is what the proxies hand out: arguments that are
 *       this container's proxies are unwrapped (inv. 1); callbacks (function arguments, except
 *       to `set` and `add`, whose arguments are values) are called with what they receive
 *       wrapped and their result unwrapped; the result is wrapped (the real instance comes
 *       back as its proxy), and an iterator result yields wrapped values. During the call the
 *       instance's own writable data properties hold their values' proxies (restored to the
 *       raw values after it), so a write the method makes through `this.log.push(...)` is
 *       marked.
 *   O3. In a lazy restore the instance is filled with everything it reaches before a call on
 *       the real instance (lazy.ts inv. Z2, `reached`): the built-in hands the method raw
 *       values; so is every object argument (the method holds it raw).
 *   O4. Once the container is closed or when it is read-only, an override of a built-in
 *       mutator (`set`, `add`, `delete`, `clear`) and every setter throw before running (inv. 3);
 *       other members that run on the real instance still run (reads work on a read-only
 *       container); what they change there is not persisted (no point can run).
 *   O5. What such a call can reach raw is watched until the next point (watch.ts; in the
 *       default mode it is exposed instead, barrier.ts inv. 4, and the instance is handed out
 *       raw from then on): before it
 *       runs, the instance and its object arguments with everything they reach; what its
 *       callbacks return; before each step of an iterator it returned, the instance again; and
 *       after each point while an async call is unsettled, the instance again. So a write it
 *       makes to an object the built-in handed it (`super.get(k).n++`, `for (const v of
 *       super.values()) v.n++`, `Map.prototype.get.call(this, k).x = 1`), at any depth, is
 *       found by the next point's comparison and persists. Not seen (a raw reference, as
 *       everywhere with `track: 'barriers'`): a write through a reference the program keeps
 *       after that point (`leak = super.get(k)`, written later), or to an object the method
 *       reaches by another way than its instance and arguments (a global, a closure).
 *   O6. Members are looked up on the instance's prototype chain when the proxy's `get` or
 *       `set` runs (`memberOf`), not when the proxy is made: a method given to the class's
 *       prototype later (`M.prototype.bump = function (k) { Map.prototype.get.call(this,
 *       k).n++ }`), a replaced one, and an override of `set` added to a class that had none
 *       run as the class now says. Whether a function reaches the built-in is read from its
 *       source once per function.
 *   O7. An own function property of the instance (an arrow-function class field, `bump = (k)
 *       => { this.get(k).n++ }`, whose `this` is the real instance captured at construction)
 *       is called on the real instance (inv. O1-O5), with `track: 'barriers'`, and so is one
 *       of any object read through its proxy (barrier-traps.ts `read`, `ownCaller`: one
 *       function handed out per field, so `===` holds between reads). It cannot persist: the point that writes
 *       the instance lists it in `dropped` (reason `function`), and it comes back as null (the
 *       record's value replaces what the constructor made), so a call in a later life is a
 *       TypeError, never a silent loss. A non-writable, non-configurable one must be handed out
 *       as it is (barrier.ts inv. 6): the read marks the instance and watches its reach
 *       instead (a point between the read and the call, rare, ends that watch).
 */
import { MapProto, SetProto, getPrototypeOf, hasOwn, isMap, isPromise, isSet, objectCreate, reflectApply, sourceOf } from './builtins.js'
import { PROXY_TARGET } from './identity.js'
import { read, type AnyMap, type AnySet, type TrapHost } from './barrier-traps.js'
import { entryFree } from './override-source.js'

type Fn = (...args: unknown[]) => unknown

const gOPD = Reflect.getOwnPropertyDescriptor

/** What the Map or Set proxy answers itself (barrier-traps.ts), whatever the class of its target defines. */
const COLLECTION_MEMBERS = new Set<string | symbol>(['size', 'get', 'has', 'set', 'add', 'delete', 'clear', 'forEach', 'keys', 'values', 'entries', Symbol.iterator])
/** Built-in mutators by name: refused on a closed or read-only container (inv. O4). */
const MUTATORS = new Set<string | symbol>(['set', 'add', 'delete', 'clear'])
/** Members whose arguments are values to store, never callbacks (inv. O2). */
const VALUE_ARGS = new Set<string | symbol>(['set', 'add'])
/** A function reaching the built-in's methods with its own `this`: `super.set(...)`, `Map.prototype.get.call(this, ...)`. */
const BUILTIN_CALL = /\bsuper\s*(?:\.|\[)|\b(?:Map|Set)\.prototype\b/

const needsByProto = new WeakMap<object, boolean>()

/**
 * True if a prototype between `proto` and `base` (Map.prototype or Set.prototype) defines a
 * member the proxy answers itself or a method or accessor reaching the built-in
 * (barrier.ts `collectionClassNeedsRaw`, the default mode's choice of raw and exposed). Read
 * once per prototype; the proxy looks members up when used (inv. O6).
 */
export function classNeedsRaw(proto: object, base: object): boolean {
  const known = needsByProto.get(proto)
  if (known !== undefined) return known
  let needed = false
  for (let p: object | null = proto; p !== null && p !== base && !needed; p = getPrototypeOf(p) as object | null) {
    for (const k of Reflect.ownKeys(p)) {
      if (k === 'constructor') continue
      const d = gOPD(p, k)!
      if (COLLECTION_MEMBERS.has(k)) { needed = true; break }
      for (const f of [d.value, d.get, d.set]) if (typeof f === 'function' && reachesBuiltin(f as Fn)) needed = true
      if (needed) break
    }
  }
  needsByProto.set(proto, needed)
  return needed
}

/** Whether a function reaches the built-in (BUILTIN_CALL), read once per function. */
const rawByFn = new WeakMap<Fn, boolean>()

/** `f`'s source reaches the built-in's methods with its own `this` (it must run on the real instance). */
function reachesBuiltin(f: Fn): boolean {
  let r = rawByFn.get(f)
  if (r === undefined) { r = BUILTIN_CALL.test(sourceOf(f)); rawByFn.set(f, r) }
  return r
}

/**
 * The descriptor of `k` on the nearest of `t`'s prototypes below `builtin`, looked up now
 * (inv. O6: a member added to or replaced on the class's prototype after the proxy was made
 * is the one that runs; `Object.setPrototypeOf` through the proxy changes the chain), or
 * undefined if the class does not define it.
 */
function memberOf(t: object, k: string | symbol, builtin: object): PropertyDescriptor | undefined {
  for (let p = getPrototypeOf(t) as object | null; p !== null && p !== builtin; p = getPrototypeOf(p) as object | null) {
    if (hasOwn(p, k)) return k === 'constructor' ? undefined : gOPD(p, k)
  }
  return undefined
}

/** Targets inside a call on the real instance (their own properties hold proxies: inv. O2). */
const inside = new Set<object>()

/**
 * The handler of proxied instances of Map and Set subclasses: `base` (the Map or Set
 * handler, barrier-traps.ts) for everything the subclass does not define and for own
 * properties (own functions, inv. O7, are `read`'s), the table at the top for what it does.
 */
export function overridingHandler<T extends AnyMap | AnySet>(b: TrapHost, base: ProxyHandler<T>, builtin: object): ProxyHandler<T> {
  const baseGet = base.get!, baseSet = base.set!
  return {
    ...base,
    get(t, k, proxy) {
      if (k === PROXY_TARGET) return t
      if (hasOwn(t, k)) return baseGet(t, k, proxy)      // an own function property: `read` hands out `ownCaller` (inv. O7)
      const d = memberOf(t, k, builtin)
      if (d === undefined) return baseGet(t, k, proxy)
      const fn = d.value as unknown
      if (typeof fn === 'function') return reachesBuiltin(fn as Fn) ? rawCaller(b, t, fn as Fn, k, builtin) : fn      // else it runs with the proxy as `this`
      const get = d.get as Fn | undefined
      if (get !== undefined) return reachesBuiltin(get) ? callRaw(b, t, get, [], k, builtin) : b.wrap(reflectApply(get, proxy, []))
      return read(b, t, k, t)
    },
    set(t, k, v, proxy) {
      const d = hasOwn(t, k) ? undefined : memberOf(t, k, builtin)
      const set = d?.set as Fn | undefined
      if (set === undefined || !reachesBuiltin(set)) return baseSet(t, k, v, proxy)
      b.mark(t)     // inv. O4: throws once closed, before the setter runs
      callRaw(b, t, set, [v], k, builtin)
      return true
    },
  }
}

/** The function handed out for each own function property (inv. O7), with the object it was made for: one per field, so `===` holds between reads. */
const ownCallers = new WeakMap<Fn, { t: object; w: Fn }>()

/**
 * What a read through a proxy with `track: 'barriers'` hands out for the own function
 * property `f` of `t` (barrier-traps.ts `read`, inv. O7): the same function at every read,
 * unless `f` is also a property of another object (a function assigned to several: a new one).
 */
export function ownCaller(b: TrapHost, t: object, f: Fn, k: string | symbol): Fn {
  const known = ownCallers.get(f)
  if (known !== undefined && known.t === t) return known.w
  const w = rawCaller(b, t, f, k, isMap(t) ? MapProto : isSet(t) ? SetProto : null)
  if (known === undefined) ownCallers.set(f, { t, w })
  return w
}

/** A function calling `fn` on the real instance `t` (inv. O1-O5). */
function rawCaller(b: TrapHost, t: object, fn: Fn, k: string | symbol, builtin: object | null): Fn {
  return function (...args: unknown[]): unknown { return callRaw(b, t, fn, args, k, builtin) }
}

/** Calls `fn` (a member of `t`'s class reaching the built-in, or an own function property) with the real instance `t` as `this` (inv. O1-O5). */
function callRaw(b: TrapHost, t: object, fn: Fn, args: unknown[], k: string | symbol, builtin: object | null): unknown {
  const open = b.closed === null
  if (!open && MUTATORS.has(k)) b.mark(t)       // throws (inv. O4)
  const after = (): void => { if (b.closed === null) { b.mark(t); b.whole(t); b.beyond(t) } }
  after()
  b.heldRaw(t, !entryFree(fn, t, builtin))      // inv. O3, O5 (a call that cannot reach the entries watches only its arguments: override-source.ts)
  const raw = new Array<unknown>(args.length)
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (typeof a === 'function' && !VALUE_ARGS.has(k)) { raw[i] = callback(b, a as Fn); continue }
    const u = b.unwrap(a)
    if (typeof u === 'object' && u !== null) b.heldRaw(u)     // inv. O5: the method holds it raw
    raw[i] = u
  }
  const outer = !inside.has(t)
  let swapped: (string | symbol)[] | null = null
  let r: unknown
  try {
    if (outer) { inside.add(t); swapped = proxiesIn(b, t) }
    r = reflectApply(fn, t, raw)
  } finally {
    if (outer) { inside.delete(t); rawsBack(b, t, swapped!) }
    after()
  }
  return handOut(b, t, r, after)
}

/** A callback handed to a call on the real instance: receives what the proxies hand out, returns raw (inv. O2), and what it returns is watched (inv. O5). */
function callback(b: TrapHost, f: Fn): Fn {
  return function (this: unknown, ...a: unknown[]): unknown {
    for (let i = 0; i < a.length; i++) a[i] = b.wrap(a[i])
    const r = b.unwrap(reflectApply(f, b.wrap(this), a))
    if (typeof r === 'object' && r !== null) b.heldRaw(r)
    return r
  }
}

/**
 * The result of a call on the real instance `t`, as the proxies hand it out (inv. O1, O2).
 * An async method's body goes on raw after its awaits: `t` stays held (watched again after
 * each point) until its promise settles; a returned iterator's body runs at each step: `t`
 * is watched again before each (inv. O5).
 */
function handOut(b: TrapHost, t: object, r: unknown, after: () => void): unknown {
  if (typeof r !== 'object' || r === null) return r
  const w = b.wrap(r)
  if (w !== r || b.isProxy(r)) return w
  if (isPromise(r)) {
    b.hold(t, true)
    const settled = (): void => { b.hold(t, false); after() }
    return (r as Promise<unknown>).then(v => { settled(); return handOut(b, t, v, after) }, (e: unknown) => { settled(); throw e })
  }
  const next = (r as { next?: unknown }).next
  if (typeof next !== 'function') return r
  const it = r as Iterator<unknown>
  const before = (): void => { after(); b.heldRaw(t) }
  const step = (res: IteratorResult<unknown>): IteratorResult<unknown> => {
    after()
    return res.done === true ? res : { done: false, value: b.wrap(res.value) }
  }
  const out = objectCreate(IteratorProto) as Iterator<unknown>     // iterable (returns itself), with the platform's iterator helpers
  out.next = (...a: [] | [unknown]) => { before(); return step(it.next(...a)) }
  out.return = (v?: unknown) => { before(); return typeof it.return === 'function' ? step(it.return(v)) : { done: true, value: v } }
  out.throw = (e?: unknown) => { before(); if (typeof it.throw === 'function') return step(it.throw(e)); throw e }
  return out
}

/** %IteratorPrototype%: `[Symbol.iterator]() { return this }`. */
const IteratorProto = getPrototypeOf(getPrototypeOf([][Symbol.iterator]())) as object

/** Puts the proxies of `t`'s own writable data properties' object values in their place; the keys changed (inv. O2). */
function proxiesIn(b: TrapHost, t: object): (string | symbol)[] {
  const keys: (string | symbol)[] = []
  for (const k of Reflect.ownKeys(t)) {
    const d = Reflect.getOwnPropertyDescriptor(t, k)!
    if (d.writable !== true || typeof d.value !== 'object' || d.value === null) continue
    const p = b.wrap(d.value)
    if (p === d.value) continue
    Reflect.defineProperty(t, k, { value: p })
    keys.push(k)
  }
  return keys
}

/** Undoes `proxiesIn`: every own data property of `t` holding one of this container's proxies holds its raw object again. */
function rawsBack(b: TrapHost, t: object, swapped: (string | symbol)[]): void {
  const keys = swapped.length > 0 ? Reflect.ownKeys(t) : swapped
  for (const k of keys) {
    const d = Reflect.getOwnPropertyDescriptor(t, k)
    if (d === undefined || d.writable !== true || typeof d.value !== 'object' || d.value === null || !b.isProxy(d.value as object)) continue
    Reflect.defineProperty(t, k, { value: b.unwrap(d.value) })
  }
}
