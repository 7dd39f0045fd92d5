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
 */
import { getPrototypeOf, isMap, isProxy, isSet } from './builtins.js'
import { ownMessage } from './natives.js'

const failed = new WeakMap<object, string>()
let count = 0
/** A proxy in `failed` that the program dropped leaves `count` when collected, so the classifier's fast test comes back. */
const collected = new FinalizationRegistry<null>(() => { count-- })

const ownKeys = Reflect.ownKeys
const gOPD = Object.getOwnPropertyDescriptor
const isExtensible = Object.isExtensible
const objectKeys = Object.keys
const mapEntries = Map.prototype.entries
const setValues = Set.prototype.values

/** True if some proxy is in `failed` (the classifier's fast test). */
export function anyFailed(): boolean { return count !== 0 }

/** Why `o` cannot persist if it is in `failed` and its traps still throw, else '' (it leaves `failed`). */
export function stillThrowing(o: object): string {
  if (!failed.has(o)) return ''
  const why = tryTraps(o)
  if (why === '') { failed.delete(o); collected.unregister(o); count--; return '' }
  return `proxy whose trap threw (${why})`
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
