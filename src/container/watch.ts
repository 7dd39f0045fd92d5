/**
 * What the container hands out raw with `track: 'barriers'`, and what it reaches: the raw reach
 * of calls on the real instance (barrier-override.ts inv. O5, below), and since session 11 the
 * objects the barrier hands out as they are (barrier.ts inv. 9).
 * For calls (barrier-override.ts inv. O5): A member of a Map or Set subclass that reaches the built-in (`super.get(k)`,
 * `Map.prototype.get.call(this, k)`), an own function property of such an instance (an
 * arrow-function class field, whose `this` is the real instance) and the later steps of what
 * they return (a generator's body, an async method after an await) run with the real instance
 * as `this`: every object they reach through it, or through their arguments (unwrapped for
 * the built-in), is raw, and no barrier sees a write to it (`super.get(k).n++`). Those
 * objects are watched instead: each is compared at the next point with what it was when it
 * was first watched (verify.ts's shadows and comparators, in a Verifier of their own,
 * `ContainerTables.watch`), and marked changed if it differs. The program may keep any of them
 * past that point (`leak = super.get(k)` in a method, written later: inv. W4), so they stay
 * watched until their id is freed (the object left the graph: a point then never writes it).
 *
 * The walk is exposure.ts's (`addReach`): an object that is not dirty holds what its record references
 * (the RefStore) and what its record was encoded from (its shadow is captured from it as it
 * is); a dirty one is read (own properties of Maps and Sets too). Cost: one visit per object
 * the first time a call reaches it (the instance's entries and everything they reach: about
 * what re-encoding the instance whole costs, which the call causes anyway, plus the values it
 * holds), one comparison per watched object at every point while it is in the graph (inv.
 * W4), and one visit per watched object a point re-encodes; a later call on the same
 * instance costs one lookup.
 *
 * Invariants:
 *   W1. Between two points the watched set is closed under raw references: every object
 *       reachable raw from a watched one is watched, or new (no id: the point that finds it
 *       writes it whole). `watchFrom` walks the reach of what it adds; a value stored through
 *       a proxy into a watched object is watched (barrier.ts `mark` answers true for a watched
 *       target, `storing` watches the value); a call on the real instance can store only what
 *       it reaches raw (watched: the instance's reach and its arguments'), new objects, and
 *       what its callbacks return (watched, barrier-override.ts `callback`).
 *   W2. A watched id without a dirty mark has a shadow equal to its object when it was
 *       watched, which was then unchanged since its record (or since it was last watched:
 *       the point between re-encoded it or found it equal). So whatever a raw reference did
 *       to it since is a difference the next point finds.
 *   W3. A point compares the watched objects before it takes the dirty set, and marks those
 *       that differ (their change log set `whole` and their `plain` flag cleared: a raw write
 *       may be anything, dirty.ts inv. D2). The instances with a call still running (an async
 *       method's promise unsettled: `ContainerTables.held`) are watched again when its
 *       snapshot ends, since its body goes on raw (they stay watched by inv. W4 anyway). A
 *       generator's instance is watched again before each step (barrier-override.ts `handOut`).
 *   W4. A watched id stays watched from one point to the next until it is freed (tables.ts
 *       `forget`): a raw reference reached once may be kept by the program for ever, and
 *       JavaScript cannot tell the graph's references to an object from the program's (a
 *       WeakRef to a graph member is never cleared while the graph holds it). When a point's
 *       snapshot ends, every watched id it re-encoded (`rewatch`: the dirty ids it took) gets
 *       its shadow again from the object, now equal to its new record, and what it reaches now
 *       is watched (objects the point gave their first id included: inv. W1 holds again
 *       with no new object left). A full point forgets the shadows (`resetForFull`) and watches
 *       again, when it ends, every object that was watched before it (`watchAgain`). Cost:
 *       one comparison per watched object per point for as long as it lives in the graph, as
 *       the default mode verifies what it exposed (README, "Change detection").
 */
import { addReach, heldSwapped } from './exposure.js'
import { ClassRef } from './classes.js'
import { PartRef } from './segments.js'
import { ShapeNode } from './shapes.js'
import type { ContainerTables } from './tables.js'

/** Watches `raw` and everything it reaches raw until the next point (inv. W1, W2); returns how many objects were added. */
export function watchFrom(t: ContainerTables, raw: object): number {
  const w = t.watch
  if (w === null) return 0
  t.stampAll()      // ids of a restore are stamped in the background (tables.ts inv. T2)
  const id = t.table.idOf(raw)
  if (id === 0 || (w.has(id) && !heldSwapped(t, id))) return 0
  return addReach(t, w, id, false)
}

/**
 * After a point's snapshot (inv. W4): each of `ids` (the dirty ids the point took) that is
 * watched gets its shadow again from its object, which its new record was just encoded from,
 * and what it reaches now is watched. Returns how many objects were added.
 */
export function rewatch(t: ContainerTables, ids: readonly number[]): number {
  const w = t.watch
  if (w === null) return 0
  const objects = t.table.objects
  let count = 0
  for (const id of ids) {
    if (!w.has(id)) continue
    const o = objects[id]
    if (typeof o !== 'object' || o === null || o instanceof PartRef || o instanceof ShapeNode || o instanceof ClassRef) continue
    w.forgetShadow(id)
    count += addReach(t, w, id, false, true)
  }
  return count
}

/** The objects watched now, to watch again after a full point (inv. W4). */
export function watchedObjects(t: ContainerTables): object[] {
  const w = t.watch
  if (w === null) return []
  const out: object[] = []
  for (const id of w.ids()) {
    const o = t.table.objects[id]
    if (typeof o === 'object' && o !== null) out.push(o)
  }
  return out
}
