/**
 * Proxies whose traps threw during a point (inv. TF1). A program's own Proxy over a plain
 * object or array persists as what its traps show (README); one whose `ownKeys`, `get`,
 * `getOwnPropertyDescriptor` or `isExtensible` trap throws made its point throw, and, while
 * it kept throwing, every later point too: one odd value and the container persisted
 * nothing more.
 *
 * State (process-wide, like the proxies themselves): `failed`, the proxies found throwing
 * after a failed point, and `count`, how many it holds, collected ones leaving it (so the classifier pays one integer
 * compare per object while it holds none). Transitions:
 *   - a point throws: `findThrowing` tries the traps of every program proxy among the
 *     container's objects and the values of the record being encoded; each that throws
 *     joins `failed` with the error it gave;
 *   - an object in `failed` is classified (kinds.ts `kindOf`, encode-classes.ts): its traps
 *     are tried again; throwing still, it cannot persist ("proxy whose trap threw"): dropped,
 *     or a GONE record if it had an id, and reported; not throwing, it leaves `failed` and
 *     persists as any proxy does.
 *
 * Inv. TF1: a proxy whose traps keep throwing fails at most the point that met it first
 * (the user sees that error); the next points drop and report it.
 *
 * The same for an own enumerable accessor whose getter throws (on a plain object, a class
 * instance, or an array: an element or a named property; arrays since session 16, before
 * which such an element failed every point): the body of its record reads it
 * (encode-bodies.ts), and so does the comparison of an exposed object with its shadow
 * (verify.ts), so it failed every point while it threw (a non-enumerable one is props.ts's,
 * inv. P1). State: `getters`, the
 * objects found with such a getter after a failed point, counted in `count` with the proxies.
 * Transitions:
 *   - a point throws: the record being encoded and the object the comparison was at
 *     (`noteCompared`) are looked at; one with an enumerable own getter that throws joins
 *     `getters`;
 *   - its record is encoded (the point after a failed one is full): `readableKeys` gives the
 *     body its enumerable keys whose getters return now; the others are left out of the body
 *     (and so reported, by props.ts inv. P1, or by encode-bodies.ts with `properties:
 *     'enumerable'`, which runs no inspection); none left out, it leaves `getters`;
 *   - at the next points the comparison (verify-compare.ts) meets a key its shadow does not
 *     have and calls the object changed before it reads any value (keys are compared first),
 *     so the getter left out never runs there and the record is encoded again, as above.
 *     An array is written as a SPARSE record without the elements left out (they come back
 *     as holes, as an object comes back without the property), each reported by
 *     encode-bodies.ts `guardedArray`, and its shadow holds a length no array has, so the
 *     comparison (`sameSparse` compares the length first) calls it changed before it reads
 *     an element.
 *
 * Inv. TF2: a getter that keeps throwing fails at most the point that met it first; the next
 * points persist its object without that property and report it, each point, until the getter
 * returns (the property persists again from the point after).
 */
import { getPrototypeOf, isMap, isProxy, isSet, reflectApply } from './builtins.js'
import { ownMessage } from './natives.js'
import { thrownReason } from './props.js'

const failed = new WeakMap<object, string>()
const getters = new WeakSet<object>()
let count = 0
/** The object the shadow comparison was at when it threw (verify.ts), read by the failure path. */
let compared: unknown = undefined
/** A proxy in `failed` that the program dropped leaves `count` when collected, so the classifier's fast test comes back. */
const collected = new FinalizationRegistry<null>(() => { count-- })

const ownKeys = Reflect.ownKeys
const gOPD = Object.getOwnPropertyDescriptor
const isExtensible = Object.isExtensible
const objectKeys = Object.keys
const mapEntries = Map.prototype.entries
const setValues = Set.prototype.values

/** True if some proxy is in `failed` or some object in `getters` (the classifier's and comparison's fast test). */
export function anyFailed(): boolean { return count !== 0 }

/** Why `o` cannot persist if it is in `failed` and its traps still throw, else '' (it leaves `failed`). */
export function stillThrowing(o: object): string {
  if (!failed.has(o)) return ''
  const why = tryTraps(o)
  if (why === '') { failed.delete(o); collected.unregister(o); count--; return '' }
  return `proxy whose trap threw (${why})`
}

/** True if `o` is in `getters` (inv. TF2): call only when `anyFailed()`. */
export function getterFailed(o: object): boolean { return getters.has(o) }

/** The comparison (verify.ts) threw while at `o`: the failure path looks at it (inv. TF2). */
export function noteCompared(o: unknown): void { compared = o }

/**
 * Inv. TF2: the own enumerable string keys of `o` (in `getters`) whose getters do not throw
 * now, for its record's body; `left` gets each key left out with the reason. With none
 * left out, `o` leaves `getters`. (A getter left in runs again as the body reads it.)
 */
export function readableKeys(o: object, left: [string, string][]): string[] {
  const keys: string[] = []
  for (const k of objectKeys(o)) {
    const e = getterError(o, k)
    if (e !== RETURNED) left.push([k, thrownReason(e)])     // the reason props.ts inv. P1 gives
    else keys.push(k)
  }
  if (left.length === 0) { getters.delete(o); collected.unregister(o); count-- }
  return keys
}

/**
 * Puts `o` in `getters` if it is an ordinary object or an array (not a proxy, Map or Set) with
 * an own enumerable getter that throws now (an array's keys are its indices too: one
 * descriptor per element, on this failure path only).
 */
function checkGetters(o: unknown): void {
  if (typeof o !== 'object' || o === null || isProxy(o) || isMap(o) || isSet(o) || getters.has(o)) return
  try {
    for (const k of objectKeys(o)) {
      if (getterError(o, k) !== RETURNED) { getters.add(o); collected.register(o, null, o); count++; return }
    }
  } catch { /* its keys cannot be listed: not a getter's failure */ }
}

/** What `getterError` answers for a data property, or an accessor whose getter returned. */
const RETURNED: unique symbol = Symbol('returned')

/** The value thrown by the getter of `o`'s own property `k` when run now, or RETURNED. */
function getterError(o: object, k: string): unknown {
  const d = gOPD(o, k)
  if (d === undefined || d.get === undefined) return RETURNED
  try { reflectApply(d.get, o, []); return RETURNED } catch (e) { return e }
}

/** The error the traps of `p` throw when read as the encoder reads a proxy, or ''. */
function tryTraps(p: object): string {
  try {
    getPrototypeOf(p)
    isExtensible(p)
    for (const k of ownKeys(p)) gOPD(p, k)
    for (const k of objectKeys(p)) void (p as Record<string, unknown>)[k]
    return ''
  } catch (e) {
    return describe(e)
  }
}

/**
 * Why an object whose prototype cannot be read cannot persist (kinds.ts, encode-classes.ts):
 * a revoked proxy (V8's TypeError names it), else a program proxy's `getPrototypeOf` trap threw.
 */
export function prototypeFailure(e: unknown): string {
  const why = describe(e)
  return e instanceof TypeError && why.includes('revoked') ? 'revoked proxy' : `proxy whose getPrototypeOf trap threw (${why})`
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const msg = ownMessage(e)
    return msg === '' ? 'an error' : msg
  }
  return typeof e
}

function check(o: unknown): void {
  if (typeof o !== 'object' || o === null || !isProxy(o) || failed.has(o)) return
  const why = tryTraps(o)
  if (why !== '') { failed.set(o, why); collected.register(o, null, o); count++ }
}

/**
 * After a point threw (snapshot.ts): every program proxy among `objects` (the container's
 * table: a proxy with an id, compared or encoded) and among the data values of `holder` (the
 * record being encoded: a proxy it was discovering has no id yet) whose traps throw joins
 * `failed` (the container's own proxies are never in the table). Runs only on that failure
 * path: one `isProxy` per object.
 */
export function findThrowing(objects: readonly unknown[], holder: unknown): void {
  checkGetters(holder)             // inv. TF2
  checkGetters(compared)
  compared = undefined
  // Lengths and values taken before any trap runs: a trap may add to the table's collections
  // (a trap that stores a new proxy at each call made the Map being read grow without end).
  for (let i = 1, n = objects.length; i < n; i++) check(objects[i])
  if (typeof holder !== 'object' || holder === null) return
  const values: unknown[] = []
  try {
    if (isProxy(holder)) return       // its own traps: checked above if it has an id
    if (isMap(holder)) { for (const [k, v] of mapEntries.call(holder as Map<unknown, unknown>)) values.push(k, v) }
    else if (isSet(holder)) { for (const v of setValues.call(holder as Set<unknown>)) values.push(v) }
    else {
      for (const k of ownKeys(holder)) {
        const d = gOPD(holder, k)
        if (d !== undefined && 'value' in d) values.push(d.value)
      }
    }
  } catch { return }     // a holder that cannot be read: its point failed already
  for (const v of values) check(v)
}
