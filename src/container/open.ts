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
 *   O4. A read-only open of the newest version restores it as follow.ts does (follow 1-5):
 *       beside a live writer, a restore counts only if its version is still retained when
 *       it is done, and a failure counts as damage (and falls back, O1) only then.
 *   O5. Instances of classes with hooks are revived after the whole graph is built, exposed
 *       (verify.ts) and marked dirty; instances restored without their private state (a
 *       class without hooks, or whose hooks are gone) are reported by a process warning
 *       (PersistentMemoryWarning, code PMEM_CONTAINER_PRIVATE_STATE), one per class.
 *   O6. `lazy: true` (lazy.ts) restores every version it restores (the newest, an older
 *       one asked for, a fall-back's) lazily, unless instances of classes with hooks are
 *       current: the tables adopt a LazyGraph, whose shells are stamped as they are made
 *       (instead of O3's background stamping) and whose free ids come from the log's index
 *       (lazy.ts inv. Z4). Damage found at open falls back as O1 says.
 *   O7. A lazy open of the newest version by the writer, when that version has a persisted
 *       index (log-offsets.ts), reads the log on demand (lazy.ts inv. Z9): damage in a chunk
 *       no record of which was read at open is found later, as a CorruptionError at the
 *       touch that reads it, and cannot fall back (O1 applies to damage found at open). Every
 *       other restore (full, read-only, an older version, a fall-back) reads the whole log
 *       at open, each chunk verified.
 */
import { CorruptionError, InvalidArgumentError, RegionNotFoundError } from '../../regions/index.js'
import { restoreFrom, type Restored } from './restore.js'
import { followNewest } from './follow.js'
import { checkRoot, type ContainerOptions, type FallBack } from './options.js'
import type { ContainerTables } from './tables.js'
import { adoptFound } from './lazy.js'
import type { Backing } from './backing.js'
import type { PointWriter } from './write.js'
import { FORMAT_BASE } from './meta.js'
import type { ChunkStore } from './store.js'
import { getPrototypeOf } from './builtins.js'
import { ClassHookError } from './errors.js'
import { exposeFrom } from './exposure.js'

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
  let followed: Restored | null = null
  const lazy = options.lazy === true
  if (options.readOnly === true && options.version === undefined) {    // inv. O4
    try { followed = followNewest(c.backing, c.path, c.tables.classes, lazy).restored } catch (e) {
      if (!(e instanceof CorruptionError)) throw e
      c.writer.store = c.backing.store
      return fallBack(c, c.writer.store!, e, lazy)    // damage, not the writer's work (follow 2)
    } finally { c.writer.store = c.backing.store }
  }
  const store = c.writer.store
  if (store === null || store.getMeta().length === 0) {
    if (options.version !== undefined) throw new InvalidArgumentError(`Cannot open container "${c.path}" at version ${options.version}: it has no persisted version`)
    if (options.init === undefined) throw new RegionNotFoundError(`Cannot open container "${c.path}": it has no persisted version and no init was given; pass { init: () => root }`)
    c.tables.root = checkRoot(options.init(), c.path)
    return null
  }
  const target = options.version
  if (target !== undefined && target !== store.version) {
    restoreVersion(c, store, target, lazy)
    c.tables.needFull = true     // inv. O2
    return null
  }
  try {
    adoptVersion(c, store, followed ?? restoreFrom(store, c.path, c.tables.classes, lazy, options.readOnly !== true))    // inv. O7
    if (store.fellBack !== null) return reportFallBack(c.path, store.fellBack.from, store.version, store.fellBack.reason)
    return null
  } catch (e) {
    if (!(e instanceof CorruptionError)) throw e
    return fallBack(c, store, e, lazy)
  }
}

/** Adopts the restore of `store`'s newest version (an open, or a read-only container's refresh). */
export function adoptVersion(c: OpenTarget, store: ChunkStore, r: Restored): void {
  adopt(c, r)
  c.writer.store = store
  c.writer.version = store.version
  c.tables.needFull = false
}

function restoreVersion(c: OpenTarget, store: ChunkStore, v: number, lazy: boolean): void {
  const view = c.backing.openVersion(v)
  adopt(c, restoreFrom(view, c.path, c.tables.classes, lazy))
  c.writer.version = store.version
}

/** The newest version is damaged: restore the newest older one that is intact (inv. O1, O2). */
function fallBack(c: OpenTarget, store: ChunkStore, cause: CorruptionError, lazy: boolean): FallBack {
  const older = store.versions().map(v => v.version).filter(v => v < store.version && v > 0).sort((a, b) => b - a)
  for (const v of older) {
    try {
      restoreVersion(c, store, v, lazy)
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

/** Fills the tables and the writer's log position from a restored version (a lazy one: lazy.ts). */
function adopt(c: OpenTarget, r: Restored): void {
  const t = c.tables
  t.table.objects = r.objects
  adoptFound(t, r)
  const lazy = r.lazy
  // ids free are those with nothing bound (after every descriptor), or, lazily, with no record (lazy.ts inv. Z4)
  t.table.setHighWater(r.meta.highWater, lazy === null ? undefined : () => lazy.freeIds(r.meta.highWater))
  t.refs = r.refs
  t.root = r.root
  if (lazy === null && r.flags !== null) { t.dirty.plain = r.flags.plain; t.dirty.ordinary = r.flags.ordinary }   // dirty.ts inv. D2, D3: what the records say
  if (lazy === null) t.startStamping(c.closed)    // inv. O3
  else lazy.attach(t)      // shells are stamped as they are made (lazy.ts inv. Z3)
  t.rootId = r.meta.rootId
  c.writer.logEnd = r.meta.logEnd
  c.writer.indexAt = r.meta.indexAt
  c.writer.format = Math.max(FORMAT_BASE, r.meta.format ?? FORMAT_BASE)     // write.ts inv. F6
  c.writer.compactedSize = r.meta.compactedSize
  reviveInstances(t, r.stateful, c.path)
  warnLostState(t, r, c.path)
}

/**
 * Instances of classes with hooks (inv. O5): their state is recorded, then they and what they
 * reach are exposed (the hooks ran on them raw, and may have kept them), marked dirty (what
 * `create` gave them beyond their record is persisted by the next point), and revived, in
 * log order, once the whole graph is built.
 */
function reviveInstances(t: ContainerTables, stateful: unknown[], path: string): void {
  if (stateful.length === 0) return
  t.stampAll()
  for (let i = 0; i < stateful.length; i += 2) t.states.set(stateful[i] as number, stateful[i + 1])
  for (let i = 0; i < stateful.length; i += 2) exposeFrom(t, stateful[i] as number)
  for (let i = 0; i < stateful.length; i += 2) {
    const id = stateful[i] as number
    const o = t.table.objects[id] as object
    const info = t.classes.infoByProto(getPrototypeOf(o) as object)
    if (info?.hooks == null) continue
    t.dirty.mark(id)
    try { info.hooks.revive(o, stateful[i + 1]) } catch (e) {
      throw new ClassHookError(`Cannot restore container "${path}": [Container.revive] of class "${info.name}" threw (${(e as Error)?.message ?? String(e)})`, info.name, { cause: e })
    }
  }
}

/** Says which restored instances lack private state (inv. O5): a process warning per class. */
function warnLostState(t: ContainerTables, r: Restored, path: string): void {
  const noRevive = new Set<string>()
  for (let i = 0; i < r.stateful.length; i += 2) {
    const info = t.classes.infoByProto(getPrototypeOf(r.objects[r.stateful[i] as number] as object) as object)
    if (info !== undefined && info.hooks === null) noRevive.add(info.name)
  }
  for (const { name } of r.classes.values()) {
    const info = t.classes.infoOf(name)
    if (info === undefined) continue
    const why = noRevive.has(name)
      ? `its instances were saved with [Container.save] state, but the class registered now has no [Container.revive]: the state is not restored`
      : info.dropReason === '' ? '' : `its instances are restored without private members ${info.unsaved.join(', ')} (their methods that use them throw TypeError); ${info.dropReason}`
    if (why !== '') process.emitWarning(`Container "${path}": class ${name}: ${why}`, { type: 'PersistentMemoryWarning', code: 'PMEM_CONTAINER_PRIVATE_STATE' })
  }
}
