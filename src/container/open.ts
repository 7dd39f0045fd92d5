/**
 * Opening a container (pCAlloc / pCRestore): creates the root with `init()` for a container
 * never persisted, or restores the newest version (or the one asked for) into the
 * container's tables (tables.ts) and the writer's log position (write.ts). A damaged newest
 * version falls back to the newest intact retained one, and always says so.
 *
 * Invariants:
 *   O1. A fall-back is never silent: `fellBack` is set, a process warning of type
 *       PersistentMemoryWarning with code PMEM_CONTAINER_FELL_BACK is emitted, and `check`
 *       reports it (check.ts). Only damage (CorruptionError) falls back; any other error
 *       (an unregistered class, an I/O error) fails the open.
 *   O2. After a fall-back or the restore of an older version, the next point is full: it
 *       rewrites the whole graph as the newest version, so no record of the damaged or newer
 *       versions is ever referenced again.
 *   O3. Restore returns as soon as the graph is built; ids are stamped in the background
 *       (tables.ts inv. T2), stopping if the container is closed first.
 */
import { CorruptionError, InvalidArgumentError, RegionNotFoundError } from '../../regions/index.js'
import { ClassRef } from './classes.js'
import { SegmentRef } from './segments.js'
import { restoreFrom, type Restored } from './restore.js'
import { checkRoot, type ContainerOptions, type FallBack } from './options.js'
import type { ContainerTables } from './tables.js'
import { BinaryChunk } from './binary.js'
import type { Backing } from './backing.js'
import type { PointWriter } from './write.js'
import type { ChunkStore } from './store.js'

/** Where an open puts what it restores, and how it learns that the container was closed. */
export interface OpenTarget {
  readonly path: string
  readonly backing: Backing
  readonly tables: ContainerTables
  readonly writer: PointWriter
  readonly closed: () => boolean
}

/** Creates or restores the root (see the file's comment); returns the fall-back made, or null. */
export function load<T extends object>(c: OpenTarget, options: ContainerOptions<T>): FallBack | null {
  const store = c.writer.store
  if (store === null || store.getMeta().length === 0) {
    if (options.version !== undefined) throw new InvalidArgumentError(`Cannot open container "${c.path}" at version ${options.version}: it has no persisted version`)
    if (options.init === undefined) throw new RegionNotFoundError(`Cannot open container "${c.path}": it has no persisted version and no init was given; pass { init: () => root }`)
    c.tables.root = checkRoot(options.init(), c.path)
    return null
  }
  const target = options.version
  if (target !== undefined && target !== store.version) {
    restoreVersion(c, store, target)
    c.tables.needFull = true     // inv. O2
    return null
  }
  try {
    adopt(c, restoreFrom(store, c.path, c.tables.classes))
    c.writer.version = store.version
    c.tables.needFull = false
    if (store.fellBack !== null) return reportFallBack(c.path, store.fellBack.from, store.version, store.fellBack.reason)
    return null
  } catch (e) {
    if (!(e instanceof CorruptionError)) throw e
    return fallBack(c, store, e)
  }
}

function restoreVersion(c: OpenTarget, store: ChunkStore, v: number): void {
  const view = c.backing.openVersion(v)
  adopt(c, restoreFrom(view, c.path, c.tables.classes))
  c.writer.version = store.version
}

/** The newest version is damaged: restore the newest older one that is intact (inv. O1, O2). */
function fallBack(c: OpenTarget, store: ChunkStore, cause: CorruptionError): FallBack {
  const older = store.versions().map(v => v.version).filter(v => v < store.version && v > 0).sort((a, b) => b - a)
  for (const v of older) {
    try {
      restoreVersion(c, store, v)
      c.tables.needFull = true
      return reportFallBack(c.path, store.version, v, cause.message)
    } catch (e) {
      if (!(e instanceof CorruptionError)) throw e
    }
  }
  throw cause
}

function reportFallBack(path: string, from: number, to: number, reason: string): FallBack {
  process.emitWarning(`Container "${path}": version ${from} is damaged (${reason}); restored version ${to}`, { type: 'PersistentMemoryWarning', code: 'PMEM_CONTAINER_FELL_BACK' })
  return { from, to, reason }
}

/** Fills the tables and the writer's log position from a restored version. */
function adopt(c: OpenTarget, r: Restored): void {
  const t = c.tables
  t.table.objects = r.objects
  for (const [id, keys] of r.shapes) {
    const node = t.shapes.lookup([...keys])
    node.id = id
    t.table.bindDescriptor(node, id)
  }
  for (const [owner, list] of r.segments) {
    const byKey = new Map<string, number>()
    for (const [sid, key] of list) {
      t.table.bindDescriptor(new SegmentRef(owner, key), sid)
      byKey.set(key, sid)
    }
    t.segments.set(owner, byKey)
  }
  for (const [id, cls] of r.classes) {
    const ref = new ClassRef(cls.name, cls.proto)
    ref.id = id
    t.classRefs.set(cls.proto, ref)
    t.table.bindDescriptor(ref, id)
  }
  for (const [owner, c] of r.chunked) for (const cid of c.ids) t.table.bindDescriptor(new BinaryChunk(owner), cid)
  t.table.setHighWater(r.meta.highWater)     // ids free are those with nothing bound: after every descriptor
  t.refs = r.refs
  for (const id of r.bytesIds) {
    const c = r.chunked.get(id)
    t.binaries.restored(id, r.objects[id] as object, c?.ids ?? null, c?.size ?? 0)
  }
  for (let i = 0; i < r.views.length; i += 2) {
    const set = t.viewsOf.get(r.views[i])
    if (set === undefined) t.viewsOf.set(r.views[i], new Set([r.views[i + 1]]))
    else set.add(r.views[i + 1])
  }
  t.root = r.root
  t.startStamping(c.closed)    // inv. O3
  t.rootId = r.meta.rootId
  c.writer.logEnd = r.meta.logEnd
  c.writer.compactedSize = r.meta.compactedSize
}
