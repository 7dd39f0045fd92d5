/**
 * Verification: the change detection for objects the program may hold raw ("exposed"),
 * which no write barrier sees. JavaScript has no hook on a store into an ordinary object,
 * array, Map or Set, so each point compares every exposed object with the values its
 * record was encoded from (its shadow, shadow.ts) and marks those that differ dirty.
 *
 * Which objects are exposed (exposure.ts keeps the set closed): every object the program
 * handed in (the `init` graph, values stored through the proxies, everything new a point
 * discovers), every object the container handed out raw (`c.unwrap(x)`, class instances,
 * objects held by frozen properties, objects revived by class hooks), and everything
 * reachable raw from those. Objects only ever handed out as proxies (a restore's objects)
 * are not: their proxies mark them dirty (barrier.ts), so a point after a restore costs in
 * proportion to what changed plus the objects handed in since.
 *
 * What a comparison sees, per kind (the same as what the encoder writes, encode-bodies.ts):
 * plain and class objects: prototype, own enumerable string keys in order, and their values;
 * arrays: prototype, length, elements and holes, extra enumerable properties; Maps and Sets:
 * prototype and entries in order; objects that could not persist (GONE): whether they can
 * now; class instances with hooks: also `save(instance)` against the state persisted
 * (`stateEqual`). Values compare with `===` (one pointer for unchanged strings and objects),
 * except -0 (differs from 0) and NaN (equals NaN). Dates are compared by dates.ts and binary
 * data by binary.ts.
 *
 * Own properties beyond the body (props.ts, the PROPS section; unless `properties:
 * 'enumerable'`): an object whose record had a PROPS section or reported a property (an
 * accessor, a `Symbol()` key) is inspected again at every point and compared with what
 * was found then (`PropsSeen`: keys, attributes, values, extensibility). Any other Map or
 * Set is inspected too (it must still have no own property). Any other object or array is
 * checked for what can appear on it: extensibility (`freeze`, `seal`, `preventExtensions`),
 * symbol-keyed properties and (objects) non-enumerable ones (`noExtras`: the count of
 * `Reflect.ownKeys` for objects, of `Object.getOwnPropertySymbols` for arrays; the cost per
 * object is in the README, "Change detection"). Not seen through a raw reference: a change of the
 * attributes of an enumerable property of an extensible object that has no other extra
 * property (`Object.defineProperty(o, 'a', { writable: false })`), non-index string-keyed
 * properties of arrays that are not enumerable (never looked at, props.ts), and own
 * properties of Dates, RegExps and binary data after their record is written.
 *
 * Invariants:
 *   V1. An exposed id with no dirty mark has a shadow equal to what its current record was
 *       encoded from (the encoder writes it with the record; `captureLive` takes it only
 *       from an object not changed since its record), or kind 0 when its kind has nothing to
 *       compare here.
 *   V2. `verify` marks dirty every exposed object that differs from its shadow, so a point
 *       re-encodes it (container inv. 3).
 *   V3. An exposed id has an entry in `props` exactly when the last inspection of its own
 *       properties (the encoder's, or `captureLive`'s) found something beyond its body.
 */
import { ObjectProto, getPrototypeOf, hasOwn, isArray, mapEach, mapSize, objectKeys, setEach, setSize } from './builtins.js'
import { KIND_ARRAY, KIND_DICT, KIND_MAP, KIND_OBJECT, KIND_SET, MAX_SHAPE_KEYS } from './format.js'
import { ShapeNode, type ShapeTrie } from './shapes.js'
import { classified, kindOf } from './kinds.js'
import { HOLE, S_ARRAY, S_GONE, S_MAP, S_OBJECT, S_SET, S_SPARSE, S_STATEFUL, ShadowStore } from './shadow.js'
import type { ClassRegistry } from './classes.js'
import type { DirtySet } from './dirty.js'
import { inspect, own } from './props.js'

const isExtensible = Object.isExtensible
const gOPS = Object.getOwnPropertySymbols
const ownKeys = Reflect.ownKeys
const NO_KEYS: readonly string[] = []

/** What an inspection of an exposed object's own properties found (props.ts `own`), with the arguments it was made with. */
export interface PropsSeen {
  body: readonly string[]
  names: boolean
  attrs: boolean
  exempt: string | null
  sealed: boolean
  keys: (string | symbol)[]
  bits: number[]
  values: unknown[]
  drops: (string | symbol)[]
}

/** Takes what the last `inspect` found (props.ts `own`). */
export function propsSeen(body: readonly string[], names: boolean, attrs: boolean, exempt: string | null): PropsSeen {
  return { body, names, attrs, exempt, sealed: own.sealed, keys: own.real.slice(), bits: own.attrs.slice(), values: own.values.slice(), drops: own.drops.map(d => d[0]) }
}

/** The set of exposed ids and their shadows. */
export class Verifier {
  flags = new Uint8Array(1024)
  readonly shadow = new ShadowStore()
  /** Exposed id -> its own properties beyond the body, when it has any (inv. V3). */
  readonly props = new Map<number, PropsSeen>()
  #hasProps = new Uint8Array(1024)
  #list = new Int32Array(1024)
  #n = 0

  /** Exposed ids listed (some may have been forgotten since). */
  get listed(): number { return this.#n }

  has(id: number): boolean { return id < this.flags.length && this.flags[id] === 1 }

  /** Records that the program may hold `id`'s object raw. */
  add(id: number): void {
    if (id >= this.flags.length) {
      let n = this.flags.length * 2
      while (n <= id) n *= 2
      const f = new Uint8Array(n); f.set(this.flags); this.flags = f
    }
    if (this.flags[id] === 1) return
    this.flags[id] = 1
    if (this.#n === this.#list.length) { const l = new Int32Array(this.#n * 2); l.set(this.#list); this.#list = l }
    this.#list[this.#n++] = id
  }

  /** The id was freed (tables.ts inv. T1). */
  forget(id: number): void {
    if (id < this.flags.length) this.flags[id] = 0
    this.shadow.clear(id)
    this.setProps(id, null)
  }

  /** Forgets every shadow and what was seen of own properties (a full point takes them again). */
  reset(): void {
    this.shadow.reset()
    this.props.clear()
    this.#hasProps.fill(0)
  }

  /** What the last inspection of `id`'s own properties found, or null for nothing (inv. V3). */
  setProps(id: number, seen: PropsSeen | null): void {
    if (seen === null) {
      if (id < this.#hasProps.length && this.#hasProps[id] === 1) { this.#hasProps[id] = 0; this.props.delete(id) }
      return
    }
    if (id >= this.#hasProps.length) {
      let n = this.#hasProps.length * 2
      while (n <= id) n *= 2
      const f = new Uint8Array(n); f.set(this.#hasProps); this.#hasProps = f
    }
    this.#hasProps[id] = 1
    this.props.set(id, seen)
  }

  /**
   * Calls `changed(id)` for every exposed object that differs from its shadow (inv. V2);
   * ids with `dirty[id] === 1` are re-encoded anyway and skipped. Returns how many were compared.
   */
  verify(objects: unknown[], dirtySet: DirtySet, changed: (id: number) => void, classes: ClassRegistry, states: Map<number, unknown>, inspectOwn: boolean): number {
    const sh = this.shadow, flags = this.flags, list = this.#list, hasProps = this.#hasProps
    const dirty = dirtySet.flags     // marks made below are for ids already compared
    const forIn = prototypeIsClean()
    let kept = 0, compared = 0
    for (let i = 0; i < this.#n; i++) {
      const id = list[i]
      if (flags[id] !== 1) continue
      list[kept++] = id
      if (id < dirty.length && dirty[id] === 1) continue
      const kind = sh.kind[id]
      if (kind === 0) continue
      compared++
      const o = objects[id] as object
      const a = sh.chunks[sh.chunkOf[id]], p = sh.startOf[id], n = sh.lenOf[id]
      let same: boolean
      switch (kind) {
        case S_OBJECT: same = sameObject(o as Record<string, unknown>, a, p, forIn); break
        case S_STATEFUL: same = sameObject(o as Record<string, unknown>, a, p, false) && sameState(o, id, a[p], classes, states); break
        case S_ARRAY: same = sameArray(o as unknown[], a, p, n); break
        case S_SPARSE: same = sameSparse(o as unknown[], a, p); break
        case S_MAP: same = sameMap(o as Map<unknown, unknown>, a, p); break
        case S_SET: same = sameSet(o as Set<unknown>, a, p); break
        default: same = stillGone(o, classes)
      }
      if (same && inspectOwn && kind !== S_GONE) {
        same = id < hasProps.length && hasProps[id] === 1 ? sameOwn(o, this.props.get(id)!)
          : kind === S_MAP || kind === S_SET ? (isExtensible(o) && ownKeys(o).length === 0) || !inspect(o, NO_KEYS, true, true, null) : noExtras(o, kind, a, p)
      }
      if (!same) changed(id)
    }
    this.#n = kept
    return compared
  }

  /**
   * Takes the shadow of `o` (id `id`) from the object itself: only for an object not changed
   * since its record (inv. V1: a restored object that no proxy marked dirty).
   */
  captureLive(id: number, o: object, classes: ClassRegistry, shapes: ShapeTrie, inspectOwn: boolean, attributes: boolean): void {
    if (inspectOwn) this.#captureProps(id, o, attributes)
    const sh = this.shadow
    const kind = kindOf(o)
    const proto = getPrototypeOf(o) as object | null
    const info = classified.classProto !== null ? classes.infoByProto(classified.classProto) : undefined
    sh.begin()
    if (kind === 0 || (classified.classProto !== null && info === undefined)) { sh.end(id, S_GONE); return }
    sh.push(proto)
    switch (kind) {
      case KIND_OBJECT: case KIND_DICT: {
        const keys = objectKeys(o)
        sh.push(info?.hooks || keys.length > MAX_SHAPE_KEYS ? keys : shapes.lookup(keys))
        for (const k of keys) sh.push((o as Record<string, unknown>)[k])
        sh.end(id, info?.hooks ? S_STATEFUL : S_OBJECT)
        return
      }
      case KIND_ARRAY: sh.end(id, captureArray(sh, o as unknown[])); return
      case KIND_MAP: sh.push(mapSize(o as Map<unknown, unknown>)); mapEach(o as Map<unknown, unknown>, (v, k) => { sh.push(k); sh.push(v) }); sh.end(id, S_MAP); return
      case KIND_SET: sh.push(setSize(o as Set<unknown>)); setEach(o as Set<unknown>, v => { sh.push(v) }); sh.end(id, S_SET); return
      default: sh.abandon()
    }
  }

  /** Inspects the own properties of `o` as the encoder does for its kind (encode-own.ts `ownSection`; inv. V3). */
  #captureProps(id: number, o: object, attributes: boolean): void {
    const kind = kindOf(o)
    if (kind !== KIND_OBJECT && kind !== KIND_DICT && kind !== KIND_ARRAY && kind !== KIND_MAP && kind !== KIND_SET) { this.setProps(id, null); return }
    const arr = kind === KIND_ARRAY
    const body = kind === KIND_MAP || kind === KIND_SET ? NO_KEYS : objectKeys(o)
    const attrs = attributes && !arr
    this.setProps(id, inspect(o, body, !arr, attrs, null) ? propsSeen(body, !arr, attrs, null) : null)
  }
}

/**
 * An object or array whose last inspection found nothing beyond its body still has nothing:
 * it is extensible, has no symbol-keyed property and (objects) no non-enumerable one. For
 * objects one `Reflect.ownKeys` count (string and symbol keys: the body's keys, which the
 * comparison just found unchanged, and nothing else) does what `getOwnPropertySymbols` and
 * `getOwnPropertyNames` did in two calls: on a stamped object (identity.ts: the private
 * field keeps V8 off its enum-cache fast path) it costs about what `getOwnPropertyNames`
 * alone did, 60-90 ns less per object than the two.
 */
function noExtras(o: object, kind: number, a: unknown[], p: number): boolean {
  if (!isExtensible(o)) return false
  if (kind !== S_OBJECT && kind !== S_STATEFUL) return gOPS(o).length === 0     // arrays: their other string keys are not looked at (props.ts)
  const s = a[p + 1]
  return ownKeys(o).length === (s instanceof ShapeNode ? s.keys.length : (s as readonly string[]).length)
}

/** `seen` still describes the own properties of `o` beyond its body. */
function sameOwn(o: object, seen: PropsSeen): boolean {
  if (!inspect(o, seen.body, seen.names, seen.attrs, seen.exempt)) return false
  const n = seen.keys.length
  if (own.sealed !== seen.sealed || own.real.length !== n || own.drops.length !== seen.drops.length) return false
  for (let i = 0; i < n; i++) {
    if (own.real[i] !== seen.keys[i] || own.attrs[i] !== seen.bits[i] || !same(own.values[i], seen.values[i])) return false
  }
  for (let i = 0; i < seen.drops.length; i++) if (own.drops[i][0] !== seen.drops[i]) return false
  return true
}

/** True when an array is stored as SPARSE (the encoder's rule, encode-bodies.ts `arrayBody`). */
export function sparseArray(length: number, keyCount: number): boolean { return length > 2 * keyCount + 16 }

/** The array part of a live capture (after the prototype), in S_ARRAY or S_SPARSE layout; returns which. */
function captureArray(sh: ShadowStore, a: unknown[]): number {
  const keys = objectKeys(a)
  const n = a.length
  sh.push(n)
  if (sparseArray(n, keys.length)) {
    sh.push(keys)
    for (const k of keys) sh.push((a as unknown as Record<string, unknown>)[k])
    return S_SPARSE
  }
  sh.push(keys.length)
  let holes = 0
  for (let i = 0; i < n; i++) {
    const v = a[i]
    if (v === undefined && !hasOwn(a, i)) { sh.push(HOLE); holes++ } else sh.push(v)
  }
  for (let i = n - holes; i < keys.length; i++) { sh.push(keys[i]); sh.push((a as unknown as Record<string, unknown>)[keys[i]]) }
  return S_ARRAY
}

/** `v` and `w` are the same value as the format sees it (-0 is not 0, NaN is NaN). */
function same(v: unknown, w: unknown): boolean {
  if (v === w) return v !== 0 || 1 / (v as number) === 1 / (w as number)
  return v !== v && w !== w
}

function sameObject(o: Record<string, unknown>, a: unknown[], p: number, forIn: boolean): boolean {
  const proto = a[p]
  if (getPrototypeOf(o) !== proto) return false
  const s = a[p + 1]
  let keys: readonly string[]
  if (s instanceof ShapeNode) {
    if (forIn && proto === ObjectProto) {
      const same = s.same ?? compileSame(s)
      if (same !== null) return same(o, a, p)
    }
    keys = s.keys
  } else keys = s as readonly string[]
  if (forIn && proto === ObjectProto) {
    let i = 0
    for (const k in o) {
      if (k !== keys[i] || !same(o[k], a[p + 2 + i])) return false
      i++
    }
    return i === keys.length
  }
  const ks = objectKeys(o)
  if (ks.length !== keys.length) return false
  for (let i = 0; i < ks.length; i++) {
    const k = ks[i]
    if (k !== keys[i] || !same(o[k], a[p + 2 + i])) return false
  }
  return true
}

/**
 * The comparator of plain objects of shape `node` with their shadow: the keys by for-in (the
 * enum cache: no allocation), then each value by a named load (monomorphic per shape; about
 * twice as fast as the generic loop on the users of the performance graph). Null when the
 * environment refuses code generation (shapes.ts): the generic loop is used then.
 */
function compileSame(node: ShapeNode): ((o: object, a: unknown[], p: number) => boolean) | null {
  const n = node.keys.length
  const loads = node.keys.map((k, i) =>
    `v = o[${JSON.stringify(k)}]; w = a[p + ${i + 2}]; if (v !== w) { if (v === v || w === w) return false } else if (v === 0 && 1 / v !== 1 / w) return false`)
  try {
    node.same = new Function('K', `return function same(o, a, p) {
      let i = 0
      for (const k in o) { if (k !== K[i]) return false; i++ }
      if (i !== ${n}) return false
      let v, w
      ${loads.join('\n      ')}
      return true
    }`)(node.keys) as (o: object, a: unknown[], p: number) => boolean
  } catch (e) {
    if (!(e instanceof EvalError)) throw e
    node.same = null
  }
  return node.same
}

function sameArray(o: unknown[], a: unknown[], p: number, n: number): boolean {
  if (getPrototypeOf(o) !== a[p]) return false
  const len = a[p + 1] as number
  if (o.length !== len) return false
  const e = p + 3
  for (let j = 0; j < len; j++) {
    const v = o[j], w = a[e + j]
    if (v === w) {
      if (v === undefined ? !hasOwn(o, j) : v === 0 && 1 / v !== 1 / (w as number)) return false
    } else if (w === HOLE) {
      if (v !== undefined || hasOwn(o, j)) return false
    } else if (v === v || w === w) return false
  }
  const keyCount = a[p + 2] as number
  const ks = objectKeys(o)
  if (ks.length !== keyCount) return false
  const extras = (n - 3 - len) >> 1
  for (let i = keyCount - extras, at = e + len; i < keyCount; i++, at += 2) {
    const k = ks[i]
    if (k !== a[at] || !same((o as unknown as Record<string, unknown>)[k], a[at + 1])) return false
  }
  return true
}

function sameSparse(o: unknown[], a: unknown[], p: number): boolean {
  if (getPrototypeOf(o) !== a[p] || o.length !== a[p + 1]) return false
  const keys = a[p + 2] as readonly string[]
  const ks = objectKeys(o)
  if (ks.length !== keys.length) return false
  for (let i = 0; i < ks.length; i++) {
    if (ks[i] !== keys[i] || !same((o as unknown as Record<string, unknown>)[ks[i]], a[p + 3 + i])) return false
  }
  return true
}

function sameMap(o: Map<unknown, unknown>, a: unknown[], p: number): boolean {
  if (getPrototypeOf(o) !== a[p] || mapSize(o) !== a[p + 1]) return false
  let at = p + 2, ok = true
  mapEach(o, (v, k) => {
    if (ok && (!same(k, a[at]) || !same(v, a[at + 1]))) ok = false
    at += 2
  })
  return ok
}

function sameSet(o: Set<unknown>, a: unknown[], p: number): boolean {
  if (getPrototypeOf(o) !== a[p] || setSize(o) !== a[p + 1]) return false
  let at = p + 2, ok = true
  setEach(o, v => {
    if (ok && !same(v, a[at])) ok = false
    at++
  })
  return ok
}

/** A GONE object stays gone while it still cannot persist (its class unregistered, or an unsupported kind). */
function stillGone(o: object, classes: ClassRegistry): boolean {
  if (kindOf(o) === 0) return true
  return classified.classProto !== null && classes.nameOf(classified.classProto) === undefined
}

/** The hooked instance's `save()` still gives (structurally) the state persisted. A save that throws counts as a change (the point then throws it). */
function sameState(o: object, id: number, proto: unknown, classes: ClassRegistry, states: Map<number, unknown>): boolean {
  const hooks = classes.infoByProto(proto as object)?.hooks
  if (hooks == null) return false
  try { return stateEqual(hooks.save(o), states.get(id)) } catch { return false }
}

/**
 * Whether two saved states are equal: the same value, or plain objects and arrays (the
 * fresh containers a `save` builds each time) with equal keys and equal values; any other
 * object only when it is the same object (its own changes are verified as its own record).
 */
export function stateEqual(x: unknown, y: unknown): boolean {
  const pairs: unknown[] = [x, y]
  const seen = new Map<unknown, unknown>()
  while (pairs.length > 0) {
    const b = pairs.pop(), a = pairs.pop()
    if (same(a, b)) continue
    if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return false
    if (seen.get(a) === b) continue
    if (seen.size > 10_000) return false
    seen.set(a, b)
    const proto = getPrototypeOf(a)
    if (proto !== getPrototypeOf(b)) return false
    if (isArray(a)) {
      const u = a as unknown[], w = b as unknown[]
      if (u.length !== w.length) return false
      for (let i = 0; i < u.length; i++) pairs.push(u[i], w[i])
      continue
    }
    if (proto !== ObjectProto && proto !== null) return false
    const ka = objectKeys(a), kb = objectKeys(b)
    if (ka.length !== kb.length) return false
    for (let i = 0; i < ka.length; i++) {
      if (ka[i] !== kb[i]) return false
      pairs.push((a as Record<string, unknown>)[ka[i]], (b as Record<string, unknown>)[kb[i]])
    }
  }
  return true
}

/** Object.prototype has no enumerable property, so for-in over a plain object sees its own keys only. */
export function prototypeIsClean(): boolean {
  for (const _ in {}) return false
  return true
}

