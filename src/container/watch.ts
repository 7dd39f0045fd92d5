/**
 * The raw reach of calls on the real instance, with `track: 'barriers'` (barrier-override.ts
 * inv. O5). A member of a Map or Set subclass that reaches the built-in (`super.get(k)`,
 * `Map.prototype.get.call(this, k)`), an own function property of such an instance (an
 * arrow-function class field, whose `this` is the real instance) and the later steps of what
 * they return (a generator's body, an async method after an await) run with the real instance
 * as `this`: every object they reach through it, or through their arguments (unwrapped for
 * the built-in), is raw, and no barrier sees a write to it (`super.get(k).n++`). Those
 * objects are watched instead: each is compared at the next point with what it was when it
 * was first watched (verify.ts's shadows and comparators, in a Verifier of their own,
 * `ContainerTables.watch`), and marked changed if it differs. A point forgets the set.
 *
 * The walk is exposure.ts's (`addReach`): an object that is not dirty holds what its record references
 * (the RefStore) and what its record was encoded from (its shadow is captured from it as it
 * is); a dirty one is read (own properties of Maps and Sets too). Cost: one visit per object
 * the first time a call reaches it between two points (the instance's entries and everything
 * they reach: about what re-encoding the instance whole costs, which the call causes anyway,
 * plus the values it holds), and one comparison per watched object at the next point; a
 * second call on the same instance before that point costs one lookup.
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
 *   W3. A point compares the watched objects before it takes the dirty set, marks those that
 *       differ (their change log set `whole` and their `plain` flag cleared: a raw write may
 *       be anything, dirty.ts inv. D2), and forgets the set when its snapshot ends; then the
 *       instances with a call still running (an async method's promise unsettled:
 *       `ContainerTables.held`) are watched again, since its body goes on raw. A generator's
 *       instance is watched again before each step (barrier-override.ts `handOut`).
 */
import { addReach } from './exposure.js'
import type { ContainerTables } from './tables.js'

/** Watches `raw` and everything it reaches raw until the next point (inv. W1, W2); returns how many objects were added. */
export function watchFrom(t: ContainerTables, raw: object): number {
  const w = t.watch
  if (w === null) return 0
  t.stampAll()      // ids of a restore are stamped in the background (tables.ts inv. T2)
  const id = t.table.idOf(raw)
  if (id === 0 || w.has(id)) return 0
  return addReach(t, w, id, false)
}
