/**
 * Pinned objects: objects known to hold a non-writable, non-configurable own data property,
 * whose value a proxy's `get` must return unchanged (the platform's proxy invariant; a
 * proxy returning anything else throws TypeError at the program's read). The write
 * barrier's get trap looks up the descriptor of the property read only for these and for
 * non-extensible targets (barrier.ts inv. 6), so a read of an ordinary property pays one
 * boolean test while no object of the process is pinned, and one WeakSet lookup per object
 * value read after.
 *
 * Pinned: objects restored with such a property (props-decode.ts, a PROPS entry), and objects
 * given one through a proxy (barrier.ts, the defineProperty trap). The set is per process,
 * not per container: pinned is a fact about the object (an object can be in two containers).
 */

const objects = new WeakSet<object>()
let any = false

/** `o` holds a non-writable, non-configurable own data property. */
export function pin(o: object): void {
  any = true
  objects.add(o)
}

/** True if `o` was pinned (false at the cost of one test while nothing was). */
export function isPinned(o: object): boolean {
  return any && objects.has(o)
}
