/**
 * Proxies for instances of Map and Set subclasses that override a member the Map or Set
 * proxy answers itself (`set`, `add`, `get`, `size`, `keys`, ...) or reach the built-in's
 * methods through `super` (barrier.ts inv. 7, `collectionClassNeedsRaw`), with `track:
 * 'barriers'`. The default mode hands such instances out raw and compares them at each
 * point; with `track: 'barriers'` nothing is compared, so they stay behind a proxy (identity
 * as for every other object), and this handler lets the class's own members run:
 *
 * | member of the subclass (nearest prototype first, up to Map/Set.prototype) | what the proxy's `get` hands out |
 * | --- | --- |
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
 *       promise settles, and a returned iterator's after each step (a generator's body runs then).
 *   O2. What goes in and out of such a call is what the proxies hand out: arguments that are
 *       this container's proxies are unwrapped (inv. 1); callbacks (function arguments, except
 *       to `set` and `add`, whose arguments are values) are called with what they receive
 *       wrapped and their result unwrapped; the result is wrapped (the real instance comes
 *       back as its proxy), and an iterator result yields wrapped values. During the call the
 *       instance's own writable data properties hold their values' proxies (restored to the
 *       raw values after it), so a write the method makes through `this.log.push(...)` is
 *       marked. Not seen (a mutation through a raw reference, as everywhere with `track:
 *       'barriers'`): a write to an object the method reached through the built-in itself
 *       (`super.get(k).n++`); it persists with `persist({ full: true })`.
 *   O3. In a lazy restore the instance is filled with everything it reaches before a call on
 *       the real instance (lazy.ts inv. Z2, `reached`): the built-in hands the method raw values.
 *   O4. Once the container is closed or when it is read-only, an override of a built-in
 *       mutator (`set`, `add`, `delete`, `clear`) and every setter throw before running (inv. 3);
 *       other members that run on the real instance still run (reads work on a read-only
 *       container); what they change there is not persisted (no point can run).
 */
import { getPrototypeOf, isPromise, objectCreate, reflectApply, sourceOf } from './builtins.js'
import { PROXY_TARGET } from './identity.js'
import { read, type AnyMap, type AnySet, type TrapHost } from './barrier-traps.js'

type Fn = (...args: unknown[]) => unknown

/** What the Map or Set proxy answers itself (barrier-traps.ts), whatever the class of its target defines. */
const COLLECTION_MEMBERS = new Set<string | symbol>(['size', 'get', 'has', 'set', 'add', 'delete', 'clear', 'forEach', 'keys', 'values', 'entries', Symbol.iterator])
/** Built-in mutators by name: refused on a closed or read-only container (inv. O4). */
const MUTATORS = new Set<string | symbol>(['set', 'add', 'delete', 'clear'])
/** Members whose arguments are values to store, never callbacks (inv. O2). */
const VALUE_ARGS = new Set<string | symbol>(['set', 'add'])
/** A function reaching the built-in's methods with its own `this`: `super.set(...)`, `Map.prototype.get.call(this, ...)`. */
const BUILTIN_CALL = /\bsuper\s*(?:\.|\[)|\b(?:Map|Set)\.prototype\b/

/** One member a subclass defines (the table at the top). */
interface Member {
  /** A method, or undefined for an accessor. */
  readonly fn: Fn | undefined
  /** The method (or getter) reaches the built-in: it runs on the real instance. */
  readonly raw: boolean
  readonly get: Fn | undefined
  readonly set: Fn | undefined
  readonly rawSet: boolean
}

/** The members of a Map or Set subclass's prototypes, or null if none overrides or calls the built-in (barrier.ts inv. 7). */
export type Members = ReadonlyMap<string | symbol, Member> | null

const membersByProto = new WeakMap<object, Members>()

/**
 * The members defined between `proto` and `base` (Map.prototype or Set.prototype), nearest
 * first, or null if none is a member the proxy answers itself or reaches the built-in
 * (`collectionClassNeedsRaw` is `!== null`). Read once per prototype.
 */
export function membersOf(proto: object, base: object): Members {
  const known = membersByProto.get(proto)
  if (known !== undefined) return known
  const members = new Map<string | symbol, Member>()
  let needed = false
  for (let p: object | null = proto; p !== null && p !== base; p = getPrototypeOf(p) as object | null) {
    for (const k of Reflect.ownKeys(p)) {
      if (k === 'constructor' || members.has(k)) continue
      const d = Reflect.getOwnPropertyDescriptor(p, k)!
      const fn = typeof d.value === 'function' ? d.value as Fn : undefined
      const get = typeof d.get === 'function' ? d.get as Fn : undefined
      const set = typeof d.set === 'function' ? d.set as Fn : undefined
      if (fn === undefined && get === undefined && set === undefined) {
        if (COLLECTION_MEMBERS.has(k)) { needed = true; members.set(k, { fn: undefined, raw: false, get: undefined, set: undefined, rawSet: false }) }
        continue
      }
      const raw = (fn ?? get) !== undefined && BUILTIN_CALL.test(sourceOf(fn ?? get!))
      const rawSet = set !== undefined && BUILTIN_CALL.test(sourceOf(set))
      if (raw || rawSet || COLLECTION_MEMBERS.has(k)) needed = true
      members.set(k, { fn, raw, get, set, rawSet })
    }
  }
  const found = needed ? members : null
  membersByProto.set(proto, found)
  return found
}

/** The member `k` of `t`'s class (its prototype now: `Object.setPrototypeOf` through the proxy may change it), if the table has it. */
function memberOf(t: object, k: string | symbol, builtin: object): Member | undefined {
  const proto = getPrototypeOf(t) as object | null
  return proto === null ? undefined : membersOf(proto, builtin)?.get(k)
}

/** Targets inside a call on the real instance (their own properties hold proxies: inv. O2). */
const inside = new Set<object>()

/**
 * The handler of such instances: `base` (the Map or Set handler, barrier-traps.ts) for
 * everything the subclass does not define, the table at the top for what it does.
 */
export function overridingHandler<T extends AnyMap | AnySet>(b: TrapHost, base: ProxyHandler<T>, builtin: object): ProxyHandler<T> {
  const baseGet = base.get!, baseSet = base.set!
  return {
    ...base,
    get(t, k, proxy) {
      if (k === PROXY_TARGET) return t
      const m = memberOf(t, k, builtin)
      if (m === undefined) return baseGet(t, k, proxy)
      if (m.fn !== undefined) {
        if (!m.raw) return m.fn      // runs with the proxy as `this`
        const fn = m.fn
        return function (...args: unknown[]): unknown { return callRaw(b, t, fn, args, k) }
      }
      if (m.get !== undefined) return m.raw ? callRaw(b, t, m.get, [], k) : b.wrap(reflectApply(m.get, proxy, []))
      return read(b, t, k, t)
    },
    set(t, k, v, proxy) {
      const m = memberOf(t, k, builtin)
      if (m === undefined || !m.rawSet) return baseSet(t, k, v, proxy)
      b.mark(t)     // inv. O4: throws once closed, before the setter runs
      callRaw(b, t, m.set!, [v], k)
      return true
    },
  }
}

/** Calls `fn` (a member of `t`'s class reaching the built-in) with the real instance `t` as `this` (inv. O1-O4). */
function callRaw(b: TrapHost, t: object, fn: Fn, args: unknown[], k: string | symbol): unknown {
  const open = b.closed === null
  if (!open && MUTATORS.has(k)) b.mark(t)       // throws (inv. O4)
  const after = (): void => { if (b.closed === null) { b.mark(t); b.whole(t); b.beyond(t) } }
  after()
  b.heldRaw(t)      // inv. O3
  const raw = new Array<unknown>(args.length)
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    raw[i] = typeof a === 'function' && !VALUE_ARGS.has(k) ? callback(b, a as Fn) : b.unwrap(a)
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
  return handOut(b, r, after)
}

/** A callback handed to a call on the real instance: receives what the proxies hand out, returns raw (inv. O2). */
function callback(b: TrapHost, f: Fn): Fn {
  return function (this: unknown, ...a: unknown[]): unknown {
    for (let i = 0; i < a.length; i++) a[i] = b.wrap(a[i])
    return b.unwrap(reflectApply(f, b.wrap(this), a))
  }
}

/** The result of a call on the real instance, as the proxies hand it out (inv. O1, O2). */
function handOut(b: TrapHost, r: unknown, after: () => void): unknown {
  if (typeof r !== 'object' || r === null) return r
  const w = b.wrap(r)
  if (w !== r || b.isProxy(r)) return w
  if (isPromise(r)) return (r as Promise<unknown>).then(v => { after(); return handOut(b, v, after) }, (e: unknown) => { after(); throw e })
  const next = (r as { next?: unknown }).next
  if (typeof next !== 'function') return r
  const it = r as Iterator<unknown>
  const step = (res: IteratorResult<unknown>): IteratorResult<unknown> => {
    after()
    return res.done === true ? res : { done: false, value: b.wrap(res.value) }
  }
  const out = objectCreate(IteratorProto) as Iterator<unknown>     // iterable (returns itself), with the platform's iterator helpers
  out.next = (...a: [] | [unknown]) => step(it.next(...a))
  out.return = (v?: unknown) => typeof it.return === 'function' ? step(it.return(v)) : { done: true, value: v }
  out.throw = (e?: unknown) => { if (typeof it.throw === 'function') return step(it.throw(e)); throw e }
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
