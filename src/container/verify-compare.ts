/**
 * The comparators of verification (verify.ts): whether an exposed object still equals its
 * shadow (shadow.ts layouts), per shadow kind, and whether its own properties beyond the
 * body are still what its last inspection found. What each compares is listed at the top of
 * verify.ts; these functions are its loop's fast paths (keep them monomorphic).
 */
import { ObjectProto, getPrototypeOf, hasOwn, isArray, isArrayBuffer, isBoxedPrimitive, isDataView, isDate, isNativeError, isRegExp, isTypedArray, mapEach, mapSize, objectKeys, setEach, setSize } from './builtins.js'
import { KIND_BOXED, MAX_SHAPE_KEYS } from './format.js'
import { ShapeNode } from './shapes.js'
import { classified, kindOf } from './kinds.js'
import { HOLE, NUM, S_OBJECT, S_STATEFUL } from './shadow.js'
import { NAMED_KEYS_CHECK_MIN, noNamedKeys } from './array-keys.js'
import type { ClassRegistry } from './classes.js'
import { exemptFor, inspect, own } from './props.js'
import type { PropsSeen } from './verify.js'

const isExtensible = Object.isExtensible
const gOPS = Object.getOwnPropertySymbols
const gOPN = Object.getOwnPropertyNames
const ownKeys = Reflect.ownKeys

/** The numbers of the slice being compared (shadow.ts inv. S2) and the cursor into them: set by `numbersAt` before each comparison. */
const cur: { nums: Float64Array, q: number } = { nums: new Float64Array(0), q: 0 }

/** The slice compared next keeps its numbers in `pool` from `at` on (shadow.ts inv. S2). */
export function numbersAt(pool: Float64Array, at: number): void { cur.nums = pool; cur.q = at }

/** `same(v, w)` for a slot `w` that may be NUM: then `w` is the next number of the slice. */
function sameSlot(v: unknown, w: unknown): boolean {
  if (w !== NUM) return same(v, w)
  const d = cur.nums[cur.q++]
  return v === d ? (v !== 0 || 1 / v === 1 / d) : (v !== v && d !== d)
}

/**
 * An object or array whose last inspection found nothing beyond its body still has nothing:
 * it is extensible, has no symbol-keyed property and (objects) no non-enumerable one. The
 * body's keys are the object's own enumerable string keys (the comparison just found them
 * unchanged), so an object has nothing beyond them exactly when its own string keys are as
 * many and it has no symbol key.
 *
 * Plain objects (prototype Object.prototype) have loose ids in a container that verifies
 * (loose-ids.ts): no private-field stamp, so `getOwnPropertyNames` copies V8's enum cache
 * (its fast path: every own property enumerable) and `getOwnPropertySymbols` finds none:
 * 150-250 ns per object of the performance graph against 480-1,100 ns for one
 * `Reflect.ownKeys` count on the same objects stamped. Other objects (class instances,
 * null-prototype objects, plain objects restored and exposed since: stamped) take one
 * `Reflect.ownKeys` count (string and symbol keys), which on a stamped object costs less
 * than the two calls (each runs V8's slow key collector there).
 */
export function noExtras(o: object, kind: number, a: unknown[], p: number): boolean {
  if (!isExtensible(o)) return false
  if (kind !== S_OBJECT && kind !== S_STATEFUL) return gOPS(o).length === 0     // arrays: their other string keys are not looked at (props.ts)
  const s = a[p + 1]
  const count = s instanceof ShapeNode ? s.keys.length : (s as readonly string[]).length
  if (a[p] === ObjectProto) return gOPN(o).length === count && gOPS(o).length === 0
  return ownKeys(o).length === count
}

/**
 * A Date, RegExp or binary object whose last inspection found nothing beyond its body (it
 * has none: encode-own.ts `ownSection`) still has nothing (verify.ts inv. V5): extensible, no
 * own key (a RegExp: only its `lastIndex`, still a writable 0; a typed array: no symbol key,
 * its string keys are not looked at, props.ts). A Date costs one `Reflect.ownKeys` count
 * (about 300 ns on a stamped Date).
 */
export function rawNoExtras(o: object): boolean {
  if (isDate(o)) return isExtensible(o) && ownKeys(o).length === 0
  if (isRegExp(o)) return !inspect(o, NO_KEYS, true, false, 'lastIndex')
  if (isTypedArray(o)) return isExtensible(o) && gOPS(o).length === 0
  if (isArrayBuffer(o) || isDataView(o)) return isExtensible(o) && ownKeys(o).length === 0
  if (isNativeError(o)) return !inspect(o, NO_KEYS, true, false, null)      // natives.ts: an error stripped of every own property
  if (isBoxedPrimitive(o)) return !inspect(o, NO_KEYS, true, false, exemptFor(KIND_BOXED, o))
  return true     // kind 0 for another reason (shadow.ts): its record is due anyway
}

const NO_KEYS: readonly string[] = []

/** `seen` still describes the own properties of `o` beyond its body. */
export function sameOwn(o: object, seen: PropsSeen): boolean {
  if (!inspect(o, seen.body, seen.names, seen.attrs, seen.exempt)) return false
  const n = seen.keys.length
  if (own.sealed !== seen.sealed || own.real.length !== n || own.drops.length !== seen.drops.length) return false
  for (let i = 0; i < n; i++) {
    if (own.real[i] !== seen.keys[i] || own.attrs[i] !== seen.bits[i] || !same(own.values[i], seen.values[i])) return false
  }
  for (let i = 0; i < seen.drops.length; i++) if (own.drops[i][0] !== seen.drops[i]) return false
  return true
}

/** `v` and `w` are the same value as the format sees it (-0 is not 0, NaN is NaN). */
function same(v: unknown, w: unknown): boolean {
  if (v === w) return v !== 0 || 1 / (v as number) === 1 / (w as number)
  return v !== v && w !== w
}

export function sameObject(o: Record<string, unknown>, a: unknown[], p: number, forIn: boolean): boolean {
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
  if (forIn && proto === ObjectProto && keys.length <= MAX_SHAPE_KEYS) {     // a wide object: Object.keys is cheaper (wide.ts)
    let i = 0
    for (const k in o) {
      if (k !== keys[i] || !sameSlot(o[k], a[p + 2 + i])) return false
      i++
    }
    return i === keys.length
  }
  const ks = objectKeys(o)
  if (ks.length !== keys.length) return false
  for (let i = 0; i < ks.length; i++) {
    const k = ks[i]
    if (k !== keys[i] || !sameSlot(o[k], a[p + 2 + i])) return false
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
  // A slot holding NUM: the value is the next number of the slice, N[q] (shadow.ts inv. S2).
  const loads = node.keys.map((k, i) =>
    `v = o[${JSON.stringify(k)}]; w = a[p + ${i + 2}]; if (v !== w) { if (w === NUM) { d = N[q++]; if (v !== d ? v === v || d === d : v === 0 && 1 / v !== 1 / d) return false } else if (v === v || w === w) return false } else if (v === 0 && 1 / v !== 1 / w) return false`)
  try {
    node.same = new Function('K', 'NUM', 'S', `return function same(o, a, p) {
      const N = S.nums
      let q = S.q
      let i = 0
      for (const k in o) { if (k !== K[i]) return false; i++ }
      if (i !== ${n}) return false
      let v, w, d
      ${loads.join('\n      ')}
      return true
    }`)(node.keys, NUM, cur) as (o: object, a: unknown[], p: number) => boolean
  } catch (e) {
    if (!(e instanceof EvalError)) throw e
    node.same = null
  }
  return node.same
}

export function sameArray(o: unknown[], a: unknown[], p: number, n: number): boolean {
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
    } else if (w === NUM) {
      const d = cur.nums[cur.q++]
      if (v !== d ? v === v || d === d : v === 0 && 1 / (v as number) !== 1 / d) return false
    } else if (v === v || w === w) return false
  }
  const keyCount = a[p + 2] as number
  const extras = (n - 3 - len) >> 1
  if (extras === 0) return noKeysBeyond(o, keyCount)     // the elements matched, holes too: keyCount present indices
  const ks = objectKeys(o)
  if (ks.length !== keyCount) return false
  for (let i = keyCount - extras, at = e + len; i < keyCount; i++, at += 2) {
    const k = ks[i]
    if (k !== a[at] || !sameSlot((o as unknown as Record<string, unknown>)[k], a[at + 1])) return false
  }
  return true
}

/**
 * An array whose shadow is S_NUMS (shadow.ts): the same prototype and length, each element
 * the same number as the Float64Array's (a non-number or a hole differs; -0 is not 0, NaN
 * is NaN), and still no named key (array-keys.ts, without Object.keys's string per index).
 * When it differs only in number values and its length (elements past the old length all
 * present numbers), at most a sixteenth of the elements changed (and 64 at least), the
 * indices of the values changed below both lengths are left in `found` followed by -1
 * (inv. V4: the caller drops it; the length tells the rest); otherwise `found` is left empty.
 */
export function sameNums(o: unknown[], a: unknown[], p: number, found: number[]): boolean {
  if (getPrototypeOf(o) !== a[p]) return false
  const len = a[p + 1] as number
  const cur = o.length
  const f = a[p + 3] as Float64Array
  const cap = Math.max(64, len >>> 4)
  if (Math.abs(cur - len) > cap) return false
  const min = cur < len ? cur : len
  for (let j = 0; j < min; j++) {
    const v = o[j], w = f[j]
    if (v !== w) { if (v === v || w === w) { if (typeof v !== 'number' || found.length === cap) { found.length = 0; return false } found.push(j) } }
    else if (v === 0 && 1 / v !== 1 / w) { if (found.length === cap) { found.length = 0; return false } found.push(j) }
  }
  for (let j = len; j < cur; j++) if (typeof o[j] !== 'number') { found.length = 0; return false }      // appended: numbers (a hole reads undefined)
  if (!noKeysBeyond(o, cur) || found.length + Math.abs(cur - len) > cap) { found.length = 0; return false }
  if (found.length === 0 && cur === len) return true
  found.push(-1)
  return false
}

/** `o`, whose elements were all found present, has `count` own enumerable keys: its indices only. */
function noKeysBeyond(o: unknown[], count: number): boolean {
  if (count >= NAMED_KEYS_CHECK_MIN && noNamedKeys(o)) return true
  return objectKeys(o).length === count
}

export function sameSparse(o: unknown[], a: unknown[], p: number): boolean {
  if (getPrototypeOf(o) !== a[p] || o.length !== a[p + 1]) return false
  const keys = a[p + 2] as readonly string[]
  const ks = objectKeys(o)
  if (ks.length !== keys.length) return false
  for (let i = 0; i < ks.length; i++) {
    if (ks[i] !== keys[i] || !sameSlot((o as unknown as Record<string, unknown>)[ks[i]], a[p + 3 + i])) return false
  }
  return true
}

/**
 * `sameMap` or `sameSet` of a segmented collection (more than SEGMENT_MIN entries in its
 * shadow), which also finds where it differs (inv. V4) when it is the shadow's entries
 * (keys compared by identity), some deleted, some Map values changed, followed by
 * appended entries, none a function or a symbol, and no more changes than a cap:
 * `found` then holds, in ascending old position, each changed value's position p and each
 * deleted entry's as -3 - p, then one more number: -1 when every entry is a primitive
 * (patch-segments.ts inv. P3), -2 when some key or value is an object (a PATCH part may
 * hold it, patch-record.ts inv. PR2; the caller drops that number and remembers which);
 * otherwise `found` is left empty. Entries in the shadow's order and none deleted are
 * found in the walk that compares; deletions (an entry of the shadow missing where the
 * walk expects it, or fewer entries) take a second walk with the shadow's keys indexed
 * (`editScript`).
 */
export function sameEntries(o: Map<unknown, unknown> | Set<unknown>, isMap: boolean, a: unknown[], p: number, found: number[]): boolean {
  if (getPrototypeOf(o) !== a[p]) return false
  const old = a[p + 1] as number
  const size = isMap ? mapSize(o as Map<unknown, unknown>) : setSize(o as Set<unknown>)
  const cap = Math.max(64, old >>> 4)
  let i = 0, differs = size !== old, ok = true, order = size >= old, prim = true
  const at = p + 2
  const entry = (v: unknown, k: unknown): void => {
    if (ok) {
      const tk = typeof k, tv = typeof v
      if (tk === 'function' || tk === 'symbol' || tv === 'function' || tv === 'symbol') ok = false
      else if (prim && ((tk === 'object' && k !== null) || (tv === 'object' && v !== null))) prim = false
    }
    if (i < old) {
      if (isMap) {
        if (!same(k, a[at + 2 * i])) { differs = true; order = false }
        else if (!same(v, a[at + 2 * i + 1])) {
          differs = true
          if (ok && order) { if (found.length === cap) ok = false; else found.push(i) }
        }
      } else if (!same(v, a[at + i])) { differs = true; order = false }
    }
    i++
  }
  if (isMap) mapEach(o as Map<unknown, unknown>, entry)
  else setEach(o as Set<unknown>, v => { entry(v, v) })
  if (!differs) return true
  if (ok && order) { found.push(prim ? -1 : -2); return false }
  found.length = 0
  if (ok && old - size <= cap) editScript(o, isMap, a, at, old, cap, found, prim)
  return false
}

/**
 * The second walk of `sameEntries` (its `found` empty): each entry of the collection is
 * matched with the first entry of the shadow at or after the last match that has its key
 * (scanning forward: the shadow entries passed over are deleted); a matched Map entry whose
 * value differs is changed; an entry with no match from there on makes it and every later
 * one appended (the rest of the shadow deleted: a collection's order is its kept entries in
 * their old order, then those added since). Each shadow entry is passed over once, so the
 * walk costs one comparison per entry and allocates nothing (an index of the shadow's keys
 * cost more than the re-encode it saves on a Map of 100,000). Applied to the shadow's
 * entries in order (patch-record.ts inv. PR1), that gives the collection, order included.
 * Leaves `found` empty past `cap` changes.
 */
function editScript(o: Map<unknown, unknown> | Set<unknown>, isMap: boolean, a: unknown[], at: number, old: number, cap: number, found: number[], prim: boolean): void {
  const step = isMap ? 2 : 1
  let j = 0, appended = 0, over = false
  const entry = (v: unknown, k: unknown): void => {
    if (over) return
    let pos = j
    while (pos < old) {
      const s = a[at + step * pos]
      if (s === k || (s !== s && k !== k)) break       // SameValueZero, as the collection's keys
      pos++
    }
    if (pos < old) {
      for (; j < pos; j++) found.push(-3 - j)
      if (isMap && !same(v, a[at + 2 * pos + 1])) found.push(pos)
      j = pos + 1
    } else {
      for (; j < old; j++) found.push(-3 - j)
      appended++
    }
    if (found.length + appended > cap) over = true
  }
  if (isMap) mapEach(o as Map<unknown, unknown>, entry)
  else setEach(o as Set<unknown>, v => { entry(v, v) })
  for (; j < old && !over; j++) found.push(-3 - j)
  if (over || found.length + appended > cap) { found.length = 0; return }
  found.push(prim ? -1 : -2)
}

export function sameMap(o: Map<unknown, unknown>, a: unknown[], p: number): boolean {
  if (getPrototypeOf(o) !== a[p] || mapSize(o) !== a[p + 1]) return false
  let at = p + 2, ok = true
  mapEach(o, (v, k) => {
    if (ok && (!sameSlot(k, a[at]) || !sameSlot(v, a[at + 1]))) ok = false
    at += 2
  })
  return ok
}

export function sameSet(o: Set<unknown>, a: unknown[], p: number): boolean {
  if (getPrototypeOf(o) !== a[p] || setSize(o) !== a[p + 1]) return false
  let at = p + 2, ok = true
  setEach(o, v => {
    if (ok && !sameSlot(v, a[at])) ok = false
    at++
  })
  return ok
}

/** A GONE object stays gone while it still cannot persist (its class unregistered, or an unsupported kind). */
export function stillGone(o: object, classes: ClassRegistry): boolean {
  if (kindOf(o) === 0) return true
  return classified.classProto !== null && classes.nameOf(classified.classProto) === undefined
}

/** The hooked instance's `save()` still gives (structurally) the state persisted. A save that throws counts as a change (the point then throws it). */
export function sameState(o: object, id: number, proto: unknown, classes: ClassRegistry, states: Map<number, unknown>): boolean {
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

