/**
 * Wide plain objects: those whose last record (written, or decoded at a restore) held more
 * keys than any shape (format.ts MAX_SHAPE_KEYS), typically an object used as a dictionary.
 * The encoder's for-in fast path (encode-objects.ts `objectForIn`) can only match a shape,
 * so for such an object it is skipped and Object.keys lists the keys directly: for-in
 * prepares every key before its first step and then filters each (on 1,000,000 keys in
 * V8's dictionary mode, 1.1-2 s of CPU here against 0.8-0.9 s for Object.keys).
 *
 * A hint only (inv. WD1): whether an object is in the set never changes what is encoded,
 * only how its keys are listed, so one set serves every container of the process and an
 * object that shrank since is merely listed by Object.keys once more. Objects are held
 * weakly. `anyWide` stays false until one is marked, so a process without wide objects
 * pays one boolean test per plain-object record.
 */
import { MAX_SHAPE_KEYS } from './format.js'

const wide = new WeakSet<object>()
let anyWide = false

/** Records that `o`, a plain object, was written or decoded with `keys` keys. */
export function noteKeys(o: object, keys: number): void {
  if (keys > MAX_SHAPE_KEYS) { wide.add(o); anyWide = true }
}

/** `o`'s last record held more keys than any shape (a hint: inv. WD1). */
export function isWide(o: object): boolean {
  return anyWide && wide.has(o)
}
