/**
 * The walk of a persistence point: encodes the given objects, then everything they lead
 * to that has no id yet, with an explicit queue (Encoder.pending), never recursion, so a
 * linked list of a million nodes or a tree a million levels deep persists like any other
 * graph.
 *
 * Invariant: when `drain` returns, every object reachable from the encoded records either
 * has a record in this point or had one before (it has an id), or is reported dropped.
 */
import type { Encoder } from './encode.js'
import type { ObjectTable } from './identity.js'
import { ShapeNode } from './shapes.js'
import { ClassRef } from './classes.js'
import { PartRef } from './segments.js'

/** True for table entries that are shapes, classes or parts (segments, chunks) rather than program objects. */
export function isDescriptor(o: unknown): boolean { return o instanceof ShapeNode || o instanceof ClassRef || o instanceof PartRef }

/** True for shapes and classes, which compaction always keeps (they are small and shared). */
export function isShared(o: unknown): boolean { return o instanceof ShapeNode || o instanceof ClassRef }

/** Encodes the records of `ids` (objects already known) and everything new they reach. */
export function encodeObjects(enc: Encoder, table: ObjectTable, ids: Iterable<number>): void {
  for (const id of ids) {
    const o = table.objects[id]
    if (o === undefined || o === null || isDescriptor(o)) continue
    enc.record(id, o as object, 0, 0)
    drain(enc, table)
  }
}

/** Encodes every discovered object until none is pending. */
export function drain(enc: Encoder, table: ObjectTable): void {
  const pending = enc.pending
  while (pending.pop()) {
    const id = pending.id
    enc.record(id, table.objects[id] as object, pending.kind, pending.proto, pending.names)
  }
}

/** Gives the root an id if it has none and encodes the whole graph it reaches that is new. */
export function encodeFromRoot(enc: Encoder, table: ObjectTable, root: object): number {
  let id = table.idOf(root)
  if (id === 0) {
    id = enc.discover(root, 'root', 'prop')
    drain(enc, table)
  }
  return id
}
