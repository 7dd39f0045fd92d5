/**
 * Exposure: when the container hands a persisted object out raw (`c.unwrap(x)`, a class
 * instance, an object held by a frozen property, a value stored into an exposed object
 * through an old proxy, an instance revived by class hooks), the program can reach raw
 * everything that object reaches, now, and keep any of it. So the object and everything
 * reachable from it become exposed at once (verify.ts): compared at every point from now on.
 *
 * The walk needs no object reads for what did not change: an object that is not exposed
 * changes only through its proxies, which mark it dirty, so a clean one still holds exactly
 * what its record references (the RefStore) and what its record was encoded from (its shadow
 * is taken from it as it is: `captureLive`). A dirty one is read (its record is due at the
 * next point, which writes its shadow). Cost: one visit per object newly exposed; an
 * object already exposed ends the walk (what it reaches raw is exposed already: barrier.ts
 * inv. 4).
 *
 * Invariant E1: after `exposeFrom(id)`, every object reachable from `id` through raw
 * references is exposed or new (no id yet).
 * Invariant E2: an object the barrier handed out holding proxies (barrier.ts inv. 10,
 * `swapped`) reaches raw only what its own properties hold that is not one of this
 * container's proxies, so the walk follows those values, not its record's references (which
 * name the proxies' targets: exposing them would retire proxies the program holds, and
 * `e.cause === c.root.user` would no longer hold). A walk for `c.unwrap` (`unswapping`),
 * whose caller asked for the raw graph, puts the targets back instead and walks on as for
 * any object.
 */
import { dateTime, isDate, isMap, isSet, mapEach, objectKeys, setEach, viewParts } from './builtins.js'
import { ClassRef } from './classes.js'
import { holdRaw } from './held.js'
import { PartRef } from './segments.js'
import { ShapeNode } from './shapes.js'
import type { ContainerTables } from './tables.js'
import type { Verifier } from './verify.js'

/** Makes `id` and everything it reaches raw exposed (inv. E1); returns how many objects became exposed. */
export function exposeFrom(t: ContainerTables, id: number): number {
  const v = t.verifier
  if (v === null || (v.has(id) && !heldSwapped(t, id))) return 0
  return addReach(t, v, id, true)
}

/**
 * Adds `id` and everything it reaches raw to `v` (the exposed ids, or with `exposing` false
 * the ids watched by watch.ts), stopping at ids `v` has (their reach is in it already):
 * Dates are compared from now on, a clean object's shadow is captured from it as it is and
 * its children read from the RefStore, a dirty one's children from the object (and, when
 * watching, a Map's or Set's own properties' values too). Exposing retires the proxies of
 * what it adds (handed out raw from now on). `again`: `id` is in `v` already and is taken
 * again (its shadow was forgotten: watch.ts `rewatch`). Returns how many ids were added.
 */
export function addReach(t: ContainerTables, v: Verifier, id: number, exposing: boolean, again = false): number {
  const objects = t.table.objects, refs = t.refs, dirty = t.dirty
  const stack = [id]
  let count = 0
  while (stack.length > 0) {
    const at = stack.pop()!
    const o = objects[at]
    if (o === undefined || o instanceof ShapeNode || o instanceof ClassRef) continue
    if (!(o instanceof PartRef)) {     // a segment or chunk: follow its references
      if (again && at === id) again = false
      else if (!v.has(at)) { v.add(at); count++ }
      else if (!heldSwapped(t, at)) continue     // its reach is in `v` already, or (inv. E2) it holds proxies that `c.unwrap` takes back
      if (exposing) {
        const p = t.table.proxyOf(o as object)
        if (p !== undefined && p !== o) t.table.retire(o as object, p)
      }
      if (isDate(o)) t.dates.add(at, dateTime(o as Date))
      if (t.barrier.swapped.has(o as object)) {     // inv. E2
        if (t.barrier.unswapping) { t.barrier.swapped.delete(o as object); holdRaw(o as object, x => t.table.targetOf(x)) }     // held.ts
        else {
          if (!(at < dirty.flags.length && dirty.flags[at] === 1)) v.captureLive(at, o as object, t.classes, t.shapes, t.inspect, t.attributes, false)
          rawHeld(t, o as object, stack)
          continue
        }
      }
      if (at < dirty.flags.length && dirty.flags[at] === 1) {
        liveChildren(t, o as object, stack)
        if (!exposing) ownValues(t, o as object, stack)
        continue
      }
      // Watching: an object first reached raw now was reached only through proxies before (or
      // watched since its record, watch.ts inv. W2), so its `plain` flag is exact (dirty.ts
      // inv. D2); were it not, the comparison (`noExtras`) would find the extras and re-encode it.
      v.captureLive(at, o as object, t.classes, t.shapes, t.inspect, t.attributes, !exposing && at < dirty.plain.length && dirty.plain[at] === 1)
    }
    if (at >= refs.start.length) continue
    for (let i = refs.start[at], e = i + refs.count[at]; i < e; i++) {
      const r = refs.pool[i]
      if (!v.has(r) || heldSwapped(t, r)) stack.push(r)
    }
  }
  return count
}

/** A walk for `c.unwrap` meets `id` handed out holding proxies (inv. E2): walked again, to put its targets back. */
export function heldSwapped(t: ContainerTables, id: number): boolean {
  return t.barrier.unswapping && t.barrier.swapped.has(t.table.objects[id] as object)
}

/** Pushes the ids of what `o` holds raw (inv. E2): its own properties' objects (a proxy has no id: not pushed), and a DataView's buffer. */
function rawHeld(t: ContainerTables, o: object, stack: number[]): void {
  if (ArrayBuffer.isView(o)) { const id = t.table.idOf(viewParts(o)[0]); if (id !== 0) stack.push(id) }
  ownPropertyIds(t, o, stack)
}

/** Pushes the ids of the objects a Map's or Set's own properties hold (a dirty one: its record is stale). */
function ownValues(t: ContainerTables, o: object, stack: number[]): void {
  if (isMap(o) || isSet(o)) ownPropertyIds(t, o, stack)
}

/** Pushes the ids of the objects `o`'s own data properties hold (this container's proxies have none: idOf is 0). */
function ownPropertyIds(t: ContainerTables, o: object, stack: number[]): void {
  for (const k of Reflect.ownKeys(o)) {
    const x = Reflect.getOwnPropertyDescriptor(o, k)?.value as unknown
    if (typeof x !== 'object' || x === null) continue
    const id = t.table.idOf(x)
    if (id !== 0) stack.push(id)
  }
}

/** Pushes the ids of the objects `o` holds now (a dirty object: its record is stale). */
export function liveChildren(t: ContainerTables, o: object, stack: number[]): void {
  const push = (x: unknown): void => {
    if (typeof x !== 'object' || x === null) return
    const id = t.table.idOf(x)
    if (id !== 0) stack.push(id)
  }
  if (isMap(o)) { mapEach(o as Map<unknown, unknown>, (x, k) => { push(k); push(x) }); return }
  if (isSet(o)) { setEach(o as Set<unknown>, push); return }
  if (ArrayBuffer.isView(o)) { push(viewParts(o)[0]); return }
  for (const k of objectKeys(o)) push((o as Record<string, unknown>)[k])
}
