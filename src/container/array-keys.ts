/**
 * Whether a large array has own enumerable properties besides its elements, without
 * `Object.keys`, which makes a string of every index: 300 ms and 1M strings of garbage for
 * an array of a million numbers, most of a first point of large numeric arrays.
 *
 * JavaScript has no public call that lists only the non-index keys of an array, but
 * `util.inspect` does it natively (V8's key collector skipping indices) and prints them
 * after the elements; with `maxArrayLength: 0` it prints no element. So an array whose
 * inspection is exactly `[]` or `[ ... N more items ]` has no enumerable own string or
 * symbol key besides indices.
 *
 * Invariant: `noNamedKeys(a)` is true only when the array has no own enumerable non-index
 * key. Any other output (named keys, a subclass or null prototype, a changed inspect
 * format in a later Node) answers false, and the caller takes the exact path (Object.keys).
 * Proxies are never inspected (inspect shows a proxy's target, not what its traps show),
 * and non-extensible (sealed, frozen) arrays answer false too: checks of their keys'
 * attributes need the real key list.
 */
import { inspect } from 'node:util'
import { isProxy } from './builtins.js'

const captured = inspect
const isExtensible = Object.isExtensible
const OPTIONS = { maxArrayLength: 0, depth: 0, customInspect: false, showProxy: false, getters: false, showHidden: false, breakLength: Infinity, compact: true, colors: false, sorted: false }
const ONLY_ELEMENTS = /^\[(?: \.\.\. \d+ more items? )?\]$/

/** Arrays with at least this many elements are checked with `noNamedKeys` (about 15 us) before Object.keys. */
export const NAMED_KEYS_CHECK_MIN = 128

/** True only if `a` (an extensible array, not a proxy) has no own enumerable key other than its indices. */
export function noNamedKeys(a: unknown[]): boolean {
  if (isProxy(a) || !isExtensible(a)) return false
  return ONLY_ELEMENTS.test(captured(a, OPTIONS))
}
