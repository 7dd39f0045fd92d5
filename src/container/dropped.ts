/**
 * What a persistence point could not persist. Each entry names the object that held the
 * value (its id) and the key under which it was found; `paths.ts` turns that into a path
 * from the root when the program asks.
 */

/** One value that did not persist (it is restored as null). */
export interface DroppedEntry {
  /** Path from the root, e.g. `root.users.get("ada").socket`. */
  readonly path: string
  /** What the value was: `function`, `symbol`, `WeakMap`, `Promise`, `instance of unregistered class Socket`, ... */
  readonly reason: string
}

/** A dropped value as the encoder records it: holder id, key, reason. */
export interface DroppedAt {
  /** Property name, array index, or Map key (`keyKind` says which). */
  readonly key: unknown
  readonly keyKind: 'prop' | 'index' | 'mapKey' | 'mapValue' | 'setEntry' | 'self'
  readonly reason: string
}
