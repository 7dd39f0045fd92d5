/**
 * Verification: the change detection for objects the program may hold raw ("exposed"),
 * which no write barrier sees. JavaScript has no hook on a store into an ordinary object,
 * array, Map or Set, so each point compares every exposed object with the values its
 * record was encoded from (its shadow, shadow.ts) and marks those that differ dirty.
 *
 * Which objects are exposed (exposure.ts keeps the set closed): every object the program
 * handed in (the `init` graph, values stored through the proxies, everything new a point
 * discovers), every object the container handed out raw (`c.unwrap(x)`, instances of classes with private members or hooks,
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
 * symbol-keyed properties and (objects) non-enumerable ones (`noExtras`: for plain objects,
 * which have loose ids in a verifying container (loose-ids.ts), the counts of
 * `Object.getOwnPropertyNames` and `Object.getOwnPropertySymbols`, on V8's fast path; for
 * other objects the count of `Reflect.ownKeys`; for arrays `Object.getOwnPropertySymbols`;
 * the cost per object is in the README, "Change detection"). Dates, RegExps, errors, boxed
 * primitives and binary objects (no shadow: kind 0) are checked for their own properties only (inv. V5). Not seen through a
 * raw reference: a change of the attributes of an enumerable property of an extensible
 * object that has no other extra property (`Object.defineProperty(o, 'a', { writable: false
 * })`), non-index string-keyed properties of arrays that are not enumerable, and of typed
 * arrays (never looked at, props.ts).
 *
 * The comparators are in verify-compare.ts; this file keeps the set of exposed ids, the
 * loop over them, and the capture of a shadow from a live object.
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
 *   V4. `takeChanged(id)` returns positions only for a collection that this point's
 *       `verify` found different from its shadow in nothing but the entries at those
 *       positions: an S_NUMS array whose prototype is the same, whose keys are its indices,
 *       whose differing elements below both lengths are numbers (those listed) and whose
 *       elements past the old length are numbers (a length change: patch-segments.ts
 *       finds another length and re-encodes; a PATCH part says it); a segmented Map or Set
 *       that is its shadow's entries (keys compared by identity) with some deleted (position p listed as -3 - p), some
 *       Map values changed (p listed) and entries appended after them, none of them a
 *       function or a symbol (verify-compare.ts `sameEntries`). Every entry not listed (and
 *       before the appended ones) equals its shadow's, so the encoder may write only the
 *       listed and appended entries (a PATCH part, patch-record.ts), or, when nothing was
 *       deleted and every entry is a primitive (`holdsRefs(id)` false), re-encode only the
 *       segments holding them (patch-segments.ts). The positions are taken once, and
 *       forgotten at the next `verify` and at `reset`.
 *   V5. An exposed Date, RegExp, error, boxed primitive or binary object (shadow kind 0) is marked dirty by `verify`
 *       when its own properties differ from what its last inspection found (`PropsSeen`,
 *       inv. V3), or, found nothing then, when it has any now (`rawNoExtras`: a RegExp's
 *       `lastIndex` counts unless it is a writable 0, as the encoder's `ownSection`; a String
 *       object's index keys and `length` never count, natives.ts inv. N2). Errors and boxed
 *       primitives are compared so even with `properties: 'enumerable'` (natives.ts inv. N3):
 *       an error's `message`, `stack` and `cause` are own properties. With
 *       the default `track: 'all'` every such object the barrier hands out is exposed
 *       (barrier.ts `wrap`), so the check covers the ones read after a restore too. Cost:
 *       one `Reflect.ownKeys` count per exposed Date per point (about 300 ns on a stamped
 *       Date: 60-70 ms per point for the performance graph's 200,000 Dates).
 */
import { getPrototypeOf, hasOwn, isDataView, mapEach, mapSize, objectKeys, setEach, setSize } from './builtins.js'
import { KIND_ARRAY, KIND_BOXED, KIND_BYTES, KIND_DATE, KIND_DICT, KIND_ERROR, KIND_MAP, KIND_OBJECT, KIND_REGEXP, KIND_SET, KIND_VIEW, MAX_SHAPE_KEYS, nativeKind } from './format.js'
import { isNativeOrBoxed } from './natives.js'
import type { ShapeTrie } from './shapes.js'
import { classified, kindOf } from './kinds.js'
import { HOLE, S_ARRAY, S_GONE, S_MAP, S_NUMS, S_OBJECT, S_SET, S_SPARSE, S_STATEFUL, ShadowStore } from './shadow.js'
import { SEGMENT_MIN } from './segments.js'
import { grownI32, grownU8, sharedI32, sharedU8 } from './by-id.js'
import type { ClassRegistry } from './classes.js'
import type { DirtySet } from './dirty.js'
import { exemptFor, inspect, own } from './props.js'
import { noteCompared } from './trap-failures.js'
import { noExtras, numbersAt, prototypeIsClean, rawNoExtras, sameArray, sameEntries, sameMap, sameNums, sameObject, sameOwn, sameSet, sameSparse, sameState, stillGone } from './verify-compare.js'

const isExtensible = Object.isExtensible
const ownKeys = Reflect.ownKeys
const gOPS = Object.getOwnPropertySymbols
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
  /** id -> 1 listed and exposed (watched), 2 listed but forgotten since (`verify` drops it from the list), 0 neither: an id is listed once. */
  flags = sharedU8(1024)     // by-id.ts: shared memory
  readonly shadow = new ShadowStore()
  /** Exposed id -> its own properties beyond the body, when it has any (inv. V3). */
  readonly props = new Map<number, PropsSeen>()
  #hasProps = sharedU8(1024)
  #list = sharedI32(1024)
  #n = 0
  /** S_NUMS array id -> the indices of its elements found changed by this point's `verify` (inv. V4). */
  readonly #changed = new Map<number, number[]>()
  /** Ids in `#changed` whose collection holds an object key or value (inv. V4: a PATCH part may take them, patch-segments.ts may not). */
  readonly #refs = new Set<number>()
  /** The indices `sameNums` found; emptied when it finds more than a cap, or a change that is not a number's value. */
  #found: number[] = []

  /** True if the collection `id` whose positions this point found holds an object key or value (inv. V4). */
  holdsRefs(id: number): boolean { return this.#refs.has(id) }

  /** The positions `takeChanged` would return, left in place (inv. V4). */
  peekChanged(id: number): readonly number[] | undefined { return this.#changed.get(id) }

  /** The indices of `id`'s elements found changed by this point's `verify` (inv. V4), once; undefined if not known. */
  takeChanged(id: number): number[] | undefined {
    const c = this.#changed.get(id)
    if (c !== undefined) this.#changed.delete(id)
    return c
  }

  /** Exposed ids listed (some may have been forgotten since). */
  get listed(): number { return this.#n }

  has(id: number): boolean { return id < this.flags.length && this.flags[id] === 1 }

  /** Records that the program may hold `id`'s object raw. */
  add(id: number): void {
    if (id >= this.flags.length) this.flags = grownU8(this.flags, id)
    if (this.flags[id] === 1) return
    const listed = this.flags[id] === 2
    this.flags[id] = 1
    if (listed) return      // forgotten since, still in the list: listed once
    if (this.#n === this.#list.length) this.#list = grownI32(this.#list, this.#n * 2)
    this.#list[this.#n++] = id
  }

  /** The id was freed (tables.ts inv. T1). */
  forget(id: number): void {
    if (id < this.flags.length && this.flags[id] === 1) this.flags[id] = 2     // still in the list until `verify` drops it
    this.shadow.clear(id)
    this.setProps(id, null)
  }

  /** Forgets the shadow of `id` and what was seen of its own properties; it stays listed (watch.ts `rewatch` takes them again). */
  forgetShadow(id: number): void {
    this.shadow.clear(id)
    this.setProps(id, null)
  }

  /** The ids listed now. */
  ids(): number[] {
    const out: number[] = []
    for (let i = 0; i < this.#n; i++) { const id = this.#list[i]; if (this.flags[id] === 1) out.push(id) }
    return out
  }

  /**
   * Forgets every listed id, its shadow and what was seen of its own properties: the set is
   * empty again (watch.ts inv. W3: the raw reach of calls is watched from one point to the next).
   */
  forgetAll(): void {
    if (this.#n === 0) return
    for (let i = 0; i < this.#n; i++) { const id = this.#list[i]; this.forget(id); this.flags[id] = 0 }
    this.#n = 0
    this.#changed.clear()
    this.shadow.compact()
  }

  /** Forgets every shadow and what was seen of own properties (a full point takes them again). */
  reset(): void {
    this.#changed.clear()
    this.#refs.clear()
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
    if (id >= this.#hasProps.length) this.#hasProps = grownU8(this.#hasProps, id)
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
    this.#changed.clear()
    this.#refs.clear()
    let kept = 0, compared = 0, i = 0
    try {
      for (; i < this.#n; i++) {
        const id = list[i]
        if (flags[id] !== 1) { flags[id] = 0; continue }     // forgotten: leaves the list
        list[kept++] = id
        if (id < dirty.length && dirty[id] === 1) continue
        const kind = id < sh.kind.length ? sh.kind[id] : 0      // no shadow was ever taken at this id (a Date exposed after a restore): kind 0, not undefined, which compared it as GONE and re-encoded it at every point
        if (kind === 0) {
          // inv. V5: a Date, RegExp or binary object: its own properties (bytes and time values are binary.ts's and dates.ts's)
          const o = objects[id] as object
          if (!inspectOwn && !isNativeOrBoxed(o)) continue     // natives.ts inv. N3: an error's own properties are what it is
          if (!(id < hasProps.length && hasProps[id] === 1 ? sameOwn(o, this.props.get(id)!) : rawNoExtras(o))) changed(id)
          continue
        }
        compared++
        const o = objects[id] as object
        const a = sh.chunks[sh.chunkOf[id]], p = sh.startOf[id], n = sh.lenOf[id]
        numbersAt(sh.nums, sh.numAt[id])      // shadow.ts inv. S2
        let same: boolean
        switch (kind) {
          case S_OBJECT: same = sameObject(o as Record<string, unknown>, a, p, forIn); break
          case S_STATEFUL: same = sameObject(o as Record<string, unknown>, a, p, false) && sameState(o, id, a[p], classes, states); break
          case S_ARRAY: same = sameArray(o as unknown[], a, p, n); break
          case S_NUMS: {
            const found = this.#found
            found.length = 0
            same = sameNums(o as unknown[], a, p, found)
            if (found.length > 0) { found.pop(); this.#changed.set(id, found); this.#found = [] }
            break
          }
          case S_SPARSE: same = sameSparse(o as unknown[], a, p); break
          case S_MAP: case S_SET: {
            if ((a[p + 1] as number) <= SEGMENT_MIN) { same = kind === S_MAP ? sameMap(o as Map<unknown, unknown>, a, p) : sameSet(o as Set<unknown>, a, p); break }
            const found = this.#found
            found.length = 0
            same = sameEntries(o as Map<unknown, unknown> | Set<unknown>, kind === S_MAP, a, p, found)
            if (!same && found.length > 0) { if (found.pop() === -2) this.#refs.add(id); this.#changed.set(id, found); this.#found = [] }
            break
          }
          default: same = stillGone(o, classes)
        }
        if (same && inspectOwn && kind !== S_GONE) {
          same = id < hasProps.length && hasProps[id] === 1 ? sameOwn(o, this.props.get(id)!)
            : kind === S_MAP || kind === S_SET ? (isExtensible(o) && ownKeys(o).length === 0) || !inspect(o, NO_KEYS, true, true, null) : noExtras(o, kind, a, p)
        }
        if (!same) changed(id)
      }
    } catch (e) {
      noteCompared(objects[list[i]])      // a getter or trap threw: the failure path looks at this object (trap-failures.ts inv. TF2)
      throw e
    }
    this.#n = kept
    return compared
  }

  /**
   * Takes the shadow of `o` (id `id`) from the object itself: only for an object not changed
   * since its record (inv. V1: a restored object that no proxy marked dirty). `plain`: the
   * object's `plain` flag is set (dirty.ts inv. D2) and nothing but proxies reached it since
   * its record, so it has nothing beyond its body and its own properties are not inspected
   * (watch.ts: 1-2 us per object of a stamped graph).
   */
  captureLive(id: number, o: object, classes: ClassRegistry, shapes: ShapeTrie, inspectOwn: boolean, attributes: boolean, plain = false): void {
    const kind = kindOf(o)
    if (rawKind(kind) && (classified.classProto === null || classes.infoByProto(classified.classProto) !== undefined)) {
      if (inspectOwn || nativeKind(kind)) this.#rawProps(id, o, kind, attributes)     // natives.ts inv. N3
      return      // no shadow (kind 0): its time value and bytes are dates.ts's and binary.ts's, its own properties inv. V5's
    }
    if (inspectOwn) { if (plain) this.setProps(id, null); else this.#captureProps(id, o, attributes) }
    const sh = this.shadow
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
      case KIND_MAP: sh.reserve(1 + 2 * mapSize(o as Map<unknown, unknown>)); sh.push(mapSize(o as Map<unknown, unknown>)); mapEach(o as Map<unknown, unknown>, (v, k) => { sh.push(k); sh.push(v) }); sh.end(id, S_MAP); return
      case KIND_SET: sh.reserve(1 + setSize(o as Set<unknown>)); sh.push(setSize(o as Set<unknown>)); setEach(o as Set<unknown>, v => { sh.push(v) }); sh.end(id, S_SET); return
      default: sh.abandon()
    }
  }

  /**
   * `#captureProps` for a Date, RegExp or binary object (inv. V5): one `Reflect.ownKeys` count
   * (a typed array: `getOwnPropertySymbols`) answers the common case, no own property at all;
   * a Date read through `c.root` after a restore is exposed here (barrier.ts `wrap`).
   */
  #rawProps(id: number, o: object, kind: number, attributes: boolean): void {
    const names = kind !== KIND_VIEW || isDataView(o), exempt = exemptFor(kind, o)
    if (exempt === null && isExtensible(o) && (names ? ownKeys(o).length === 0 : gOPS(o).length === 0)) { this.setProps(id, null); return }
    this.setProps(id, inspect(o, NO_KEYS, names, attributes, exempt) ? propsSeen(NO_KEYS, names, attributes, exempt) : null)
  }

  /** Inspects the own properties of `o` as the encoder does for its kind (encode-own.ts `ownSection`; inv. V3). */
  #captureProps(id: number, o: object, attributes: boolean): void {
    const kind = kindOf(o)
    if (rawKind(kind)) { this.#rawProps(id, o, kind, attributes); return }
    if (kind !== KIND_OBJECT && kind !== KIND_DICT && kind !== KIND_ARRAY && kind !== KIND_MAP && kind !== KIND_SET) { this.setProps(id, null); return }
    const arr = kind === KIND_ARRAY
    const body = kind === KIND_MAP || kind === KIND_SET ? NO_KEYS : objectKeys(o)
    const attrs = attributes && !arr
    this.setProps(id, inspect(o, body, !arr, attrs, null) ? propsSeen(body, !arr, attrs, null) : null)
  }
}

/** Kinds with no shadow (kind 0), compared by their own properties only (inv. V5). */
function rawKind(kind: number): boolean {
  return kind === KIND_DATE || kind === KIND_REGEXP || kind === KIND_BYTES || kind === KIND_VIEW || kind === KIND_ERROR || kind === KIND_BOXED
}

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

/** True when an array is stored as SPARSE (the encoder's rule, encode-bodies.ts `arrayBody`). */
export function sparseArray(length: number, keyCount: number): boolean { return length > 2 * keyCount + 16 }
