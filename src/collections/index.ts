/**
 * Persistent collections on the pool's heap: HashMap (linear hashing), SortedMap (a B+tree),
 * Vector (segments of doubling size). Opened by name through `pm.hashMap`, `pm.sortedMap`
 * and `pm.vector`; validated by `pm.check()` (check.ts).
 */
export { Collection } from './collection.js'
export type { CollectionOptions, WriteOptions } from './collection.js'
export { HashMap } from './hash-map.js'
export { SortedMap } from './sorted-map.js'
export type { RangeOptions } from './sorted-map.js'
export { Vector } from './vector.js'
export type { KeyType } from './keys.js'
export type { CollectionReport } from './check.js'
