/**
 * The snapshot of a persistence point, synchronous (the only part of a point the program
 * waits for): compares binary data and Dates with their persisted values, takes the dirty
 * set marked by the write barriers (barrier.ts), and encodes the records of those objects and
 * of every object they reach that is new (walk.ts, encode.ts) into a batch. A full point
 * re-walks the whole graph from the root instead, and frees the ids it no longer reaches.
 * The batch is then written by write.ts; its sealed buffers may already be on their way to
 * the file (stream.ts).
 *
 * Invariants (cited as "inv. N" of the container; numbered as they always were):
 *   1. A version's log holds the records of one snapshot (plus older records it does not
 *      supersede): a restore sees the graph exactly as it was when that `persist()` was
 *      called. A crash before the commit leaves the previous version (log.ts inv. 1).
 *      So nothing that frees ids or starts another point may run during a snapshot: the
 *      container refuses `persist` and `exclude` in its `snapshot` state (lifecycle.ts).
 *   2. Every id referenced by a committed record has a current record in the same version:
 *      ids are freed only in a snapshot (compaction or full point) for objects that the
 *      persisted references (RefStore) no longer reach, or by `exclude`, which makes the
 *      next point a full rewrite; so a later snapshot never references a freed id (it sees
 *      the object as new).
 *   3. Change detection never misses a mutation, through whatever reference: proxies mark
 *      what changes through them (barrier.ts), and every object the program may hold raw
 *      (exposed) is compared with what its record was encoded from (verify.ts inv. V2);
 *      binary data and Dates are compared with their persisted values. With
 *      `track: 'barriers'` only the proxies, binary data and Dates read through the
 *      container are watched, and what calls on the real instance of Map and Set subclasses
 *      reached raw since the last point (watch.ts); mutations through other raw references
 *      need `persist({ full: true })`.
 *   5. A Map or Set whose entries change while its record is encoded (a proxy trap that the
 *      encoder runs on a new entry's value, `getPrototypeOf` or `ownKeys` of a proxy the
 *      program made, adds or deletes entries) is never written with a count that is not the
 *      number of entries written, nor with entries missing: the encoder throws
 *      ChangedWhileEncodedError (encode-bodies.ts, patch-record.ts), the snapshot is given up
 *      as any failed snapshot is (nothing written, the next point full), and `persist` takes
 *      the point again at once, full (container.ts). What the first attempt discovered has
 *      its id, so the second encodes the collection without running those traps again; if
 *      its entries change again, `persist` throws the error (the next point is full). Before
 *      (session 11), a small collection's record said one count and held another (the
 *      version could not be restored: CorruptionError), and a large one threw a plain Error.
 */
import { Encoder, type Batch } from './encode.js'
import { drain, encodeFromRoot, encodeObjects, isShared } from './walk.js'
import { PartRef } from './segments.js'
import type { ContainerTables } from './tables.js'
import { findThrowing } from './trap-failures.js'
import type { Pipe, SealedOutput } from './stream.js'

export interface Snapshot {
  batch: Batch
  /** 'append' the batch; 'rewrite' the log with it alone; 'compact' old records + batch. */
  mode: 'append' | 'rewrite' | 'compact'
  /** For 'compact' and 'rewrite': ids whose records the log keeps (1) or drops (0). */
  keep: Uint8Array | null
  rootId: number
  highWater: number
  objects: number
  /** Ids in use (objects, shapes and classes) after the snapshot. */
  live: number
  blockedMs: number
  start: number
  /** The records already on their way to the file (a streamed full point), or null. */
  pipe: Pipe | null
  /** Exposed objects compared with their shadows (verify.ts), and objects reached raw by calls on the real instance (watch.ts). */
  verified: number
  /** The batch holds ERROR or BOXED records: the version is format 6 (write.ts inv. F6). */
  natives: boolean
  /** The batch holds records of segmented dictionaries (format 7, write.ts inv. F6). */
  dicts: boolean
}

/**
 * Takes the snapshot of a point. `compact(bytes)` says whether a point of `bytes` makes
 * the log due for compaction (the writer's rule, write.ts). If it throws (a getter threw, a
 * buffer was detached mid-walk), ids may have been given to objects whose records were not
 * written: the next point is full, and the stream, if any, is given up; a program proxy
 * whose traps throw is dropped from the next points on (trap-failures.ts inv. TF1).
 */
export function takeSnapshot(t: ContainerTables, full: boolean, out: SealedOutput, compact: (bytes: number) => boolean): Snapshot {
  const start = performance.now()
  t.stampAll()
  t.droppedChanged()
  t.verifier?.shadow.compact()
  t.watch?.shadow.compact()
  let snap: Snapshot
  t.snapshotting(true)
  t.encodedIds = []
  try {
    snap = full ? snapshotFull(t, out) : snapshotChanges(t, out, compact)
    snap.pipe = out.finish(snap.batch)
  } catch (e) {
    t.needFull = true
    out.giveUp()
    findThrowing(t.table.objects, encoding !== null ? t.table.objects[encoding.holder] : undefined)     // trap-failures.ts inv. TF1
    throw e
  } finally {
    encoding = null
    t.snapshotting(false, t.encodedIds)
    t.encodedIds = []
  }
  snap.start = start
  snap.live = t.table.highWater - 1 - t.table.free.length
  snap.blockedMs = performance.now() - start
  return snap
}

/** Marks Dates whose time value differs from the persisted one (inv. 3). */
function compareDates(t: ContainerTables): void {
  // The table holds only ids whose object is that Date (forget removes freed ids; an id
  // is reused only after it was freed), so no type check is needed.
  t.dates.compare(t.table.objects, id => t.dirty.mark(id))
}

/** The encoder of the snapshot being taken (its `holder` names the record a throw interrupted), or null. */
let encoding: Encoder | null = null

function encoderFor(t: ContainerTables, out: SealedOutput): Encoder {
  encoding = new Encoder(t.context((sealed, bytes) => out.sealed(sealed, bytes)), t.classRefs)
  return encoding
}

/** An incremental point: the dirty objects and what they reach that is new. */
function snapshotChanges(t: ContainerTables, out: SealedOutput, compact: (bytes: number) => boolean): Snapshot {
  const enc = encoderFor(t, out)
  enc.trustPlain = t.verifier !== null      // encode.ts inv. 5
  enc.records += t.binaries.compare(t.table.objects, t.viewsOf, id => t.dirty.mark(id), enc.w, t.table)    // inv. 3, binary.ts inv. BIN2, BIN4
  compareDates(t)
  const verified = t.verifier?.verify(t.table.objects, t.dirty, id => t.dirty.mark(id), t.classes, t.states, t.inspect) ?? 0   // inv. 3, verify.ts inv. V2
  const watched = t.watch !== null && t.watch.listed > 0 ? t.watch.verify(t.table.objects, t.dirty, id => rawChanged(t, id), t.classes, t.states, t.inspect) : 0    // watch.ts inv. W3
  const ids = t.dirty.take()
  if (t.watch !== null) t.encodedIds = ids     // watched ones get their shadows again when the snapshot ends (watch.ts inv. W4)
  let rootId = t.table.idOf(t.root)
  encodeObjects(enc, t.table, ids)
  if (rootId === 0) {
    rootId = enc.discover(t.root, 'root', 'prop')
    drain(enc, t.table)
  }
  t.rootId = rootId
  const batch = enc.output()
  const keep = compact(batch.length) ? collect(t) : null
  return { batch, mode: keep ? 'compact' : 'append', keep, rootId, highWater: t.table.highWater, objects: enc.records, live: 0, blockedMs: 0, start: 0, pipe: null, verified: verified + watched, natives: enc.natives > 0, dicts: enc.dicts > 0 }
}

/** A watched object differs from what it was when a call reached it raw: re-encoded whole (watch.ts inv. W3). */
function rawChanged(t: ContainerTables, id: number): void {
  t.dirty.mark(id)
  t.dirty.beyond(id)
  const o = t.table.objects[id]
  const log = t.dirty.changes.size === 0 ? undefined : t.dirty.changes.get(o as object)
  if (log !== undefined) log.whole = true
}

/** Frees the ids the persisted references no longer reach from the root (inv. 2). */
function collect(t: ContainerTables): Uint8Array {
  t.lazy?.complete()      // the mark needs every record's references (tables.ts inv. T4)
  const high = t.table.highWater
  const keep = t.refs.mark(t.rootId, high)
  const objects = t.table.objects
  for (let id = 1; id < high; id++) {
    if (keep[id] === 1) continue
    const o = objects[id]
    if (o === undefined) continue
    if (isShared(o)) { keep[id] = 1; continue }
    t.forget(id)
  }
  return keep
}

/** A full point's records, in the order its stream (if any) received them (inv. P2 of stream.ts). */
function output(enc: Encoder, out: SealedOutput): Batch { return out.streaming ? enc.outputObjectsFirst() : enc.output() }

/** The first point of a new container: everything is new, so discovery alone walks it. */
function snapshotFirst(t: ContainerTables, out: SealedOutput): Snapshot {
  const enc = encoderFor(t, out)
  const rootId = encodeFromRoot(enc, t.table, t.root)
  t.rootId = rootId
  t.needFull = false
  const high = t.table.highWater
  return { batch: output(enc, out), mode: 'rewrite', keep: null, rootId, highWater: high, objects: enc.records, live: 0, blockedMs: 0, start: 0, pipe: null, verified: 0, natives: enc.natives > 0, dicts: enc.dicts > 0 }
}

/** Encodes everything reachable from the root; ids no longer reachable are freed (inv. 2). */
function snapshotFull(t: ContainerTables, out: SealedOutput): Snapshot {
  t.lazy?.complete()      // the walk follows every record's references (tables.ts inv. T4)
  if (t.table.highWater === 1) return snapshotFirst(t, out)
  t.dirty.take()
  const table = t.table
  t.resetForFull()
  const enc = encoderFor(t, out)
  const rootId = table.idOf(t.root) || enc.discover(t.root, 'root', 'prop')
  let seen = new Uint8Array(Math.max(1024, table.highWater * 2))
  const stack = [rootId]
  seen[rootId] = 1
  while (stack.length > 0) {
    const id = stack.pop()!
    const o = table.objects[id]
    if (!(o instanceof PartRef)) {    // a segment or chunk was written with its owner: follow a segment's entries
      enc.record(id, o as object, 0, 0)
      enc.pending.clear()
    }
    const refs = t.refs
    for (let i = refs.start[id], e = i + refs.count[id]; i < e; i++) {
      const r = refs.pool[i]
      if (r >= seen.length) { const s = new Uint8Array(Math.max(r + 1, seen.length * 2)); s.set(seen); seen = s }
      if (seen[r] === 0) { seen[r] = 1; stack.push(r) }
    }
  }
  const high = table.highWater
  const keep = new Uint8Array(high)
  for (let id = 1; id < high; id++) {
    const o = table.objects[id]
    if (o === undefined) continue
    if (seen[id] === 1 || isShared(o)) keep[id] = 1
    else t.forget(id)
  }
  t.rootId = rootId
  t.needFull = false
  return { batch: output(enc, out), mode: 'rewrite', keep, rootId, highWater: high, objects: enc.records, live: 0, blockedMs: 0, start: 0, pipe: null, verified: 0, natives: enc.natives > 0, dicts: enc.dicts > 0 }
}
