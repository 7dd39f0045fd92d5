/**
 * Whether a plain object the encoder discovers gets a loose id (identity.ts inv. 3): yes
 * while most plain objects of the point have shapes of their own, where a stamp would be a
 * hidden-class transition each. Decided by the point's records so far (a quarter or more
 * needed a new shape, `manyShapes`); before there are LOOSE_RECORDS of them (a large array
 * discovers all its elements before any is encoded), by the key lists of the first
 * LOOSE_SAMPLES plain objects discovered (Object.keys: no getter runs), stamped meanwhile.
 * One sampler per encoder (per point).
 *
 * In a container that verifies (`track: 'all'`, verify.ts) and inspects own properties (not
 * `properties: 'enumerable'`), every plain object gets a loose id (`always`): an exposed
 * plain object is checked at every point for own properties beyond its body
 * (verify-compare.ts `noExtras`), and a stamp (a private field) takes V8's
 * `Object.getOwnPropertyNames` off its enum-cache fast path, leaving only its slow key
 * collector (`Reflect.ownKeys`: 0.5-1.1 us per object of the performance graph, against
 * 0.15-0.25 us for `getOwnPropertyNames` and `getOwnPropertySymbols` on an object without a
 * stamp). The first point pays for the Map (an entry per plain object, a lookup per
 * reference) and gains fewer scavenges (a stamp grows the property array of an object
 * literal without slack): on bench/graph.mjs's users its blocked and wall time measured
 * the same within the noise (+2%), its CPU over all threads 5-13% more (container README,
 * "Change detection"); the first-life 1% point measured 0.74x blocked, 0.84x CPU.
 * Re-checked in session 9 with the first points of both in one process (paired, order
 * alternated, main-thread CPU from /proc, load 11-17): stamps cost the first point less,
 * 0.84x main-thread CPU at 50,000 users (6 of 6 pairs) and about 0.85x at 200,000 (3 of 4
 * pairs); loose ids are kept for what they save at every later point.
 */
import { objectKeys } from './builtins.js'
import { MAX_SHAPE_KEYS } from './format.js'
import type { ShapeTrie } from './shapes.js'

/** Plain records after which loose ids are decided by the point's shapes, and objects sampled before. */
export const LOOSE_RECORDS = 64
export const LOOSE_SAMPLES = 16

/**
 * A quarter or more of `plainRecords` (LOOSE_RECORDS at least) needed a shape new to the
 * point: plain objects rarely share shapes here, so ids are loose and the for-in pass that
 * expects a known shape is skipped (encode-objects.ts `objectBody`).
 */
export function manyShapes(plainRecords: number, newShapes: number): boolean {
  return plainRecords >= LOOSE_RECORDS && 4 * newShapes > plainRecords
}

export class LooseSampler {
  /** Shapes (or the objects, past MAX_SHAPE_KEYS keys) of the plain objects sampled, and how many were sampled. */
  readonly #sample = new Set<object>()
  #sampled = 0
  #loose = false
  readonly #shapes: ShapeTrie

  readonly #always: boolean

  /** `always`: every plain object gets a loose id (a container that verifies, see above). */
  constructor(shapes: ShapeTrie, always = false) { this.#shapes = shapes; this.#always = always }

  /** Whether the plain object `o` gets a loose id, given the point's plain records so far and how many needed a new shape. */
  loose(o: object, plainRecords: number, newShapes: number): boolean {
    if (this.#always) return true
    if (plainRecords >= LOOSE_RECORDS) return manyShapes(plainRecords, newShapes)
    if (this.#sampled < LOOSE_SAMPLES) {
      const keys = objectKeys(o)
      this.#sample.add(keys.length > MAX_SHAPE_KEYS ? o : this.#shapes.lookup(keys))
      if (++this.#sampled === LOOSE_SAMPLES) this.#loose = 2 * this.#sample.size > LOOSE_SAMPLES
      return false
    }
    return this.#loose
  }
}
