/**
 * Validation of a container (debug validators, `pmem check`): the chunk store and the
 * records of the retained versions, decoded as a restore would, and each version's
 * persisted index compared with a scan of its log (log-offsets.ts inv. X3). A fall-back and retained
 * versions dropped as damaged are problems too (open.ts inv. O1): `ok` is true only for an
 * undamaged file. Nothing here writes.
 */
import { CorruptionError, PmemError } from '../../regions/index.js'
import { AnyClassRegistry, type ClassRegistry } from './classes.js'
import { fileBacking, type Backing } from './backing.js'
import { checkStable } from './follow.js'
import { checkIndex, restoreFrom } from './restore.js'
import type { FallBack } from './options.js'
import type { ChunkStore, HostedStore } from './store.js'

/** What {@link Container.check} finds. */
export interface ContainerCheck {
  /** True when nothing is damaged. */
  ok: boolean
  /** Newest retained version whose records all check (0 for a container never persisted, or none intact). */
  version: number
  /** Retained versions whose records were checked, oldest first. */
  versions: number[]
  problems: string[]
}

/** Damage the store found at open: retained versions dropped because their maps fail. */
function damageOf(store: ChunkStore): string[] {
  return (store.droppedVersions ?? []).map(d => `retained version ${d.version} is damaged and was dropped (${d.reason})`)
}

/** Checks an open container: its fall-back, its store, and the log of its newest version. */
export function checkOpen(store: ChunkStore | null, path: string, fellBack: FallBack | null, classes: ClassRegistry): { ok: boolean; problems: string[] } {
  const problems: string[] = []
  if (fellBack !== null) problems.push(`version ${fellBack.from} is damaged (${fellBack.reason}); version ${fellBack.to} was restored instead`)
  if (store === null) return { ok: problems.length === 0, problems }
  problems.push(...damageOf(store), ...store.check().problems)
  try {
    if (store.getMeta().length > 0 && fellBack === null) { restoreFrom(store, path, classes); problems.push(...checkIndex(store, path)) }
  } catch (e) { problems.push((e as Error).message) }
  return { ok: problems.length === 0, problems }
}

/**
 * Checks the container file at `path` through a read-only open (no writer lock): the store,
 * and every record of every retained version, decoded without the program's classes. Beside
 * a live writer the check is repeated until its report can be trusted (follow.ts
 * `checkStable`): the writer's work in progress is never reported as damage.
 */
export function checkFile(path: string): ContainerCheck {
  const backing = fileBacking(path, false, true)
  try {
    return checkStable(backing, () => checkStore(backing, path))
  } finally { backing.close() }
}

/** One check of the store as it is now (the newest valid metadata slot, opened again). */
function checkStore(backing: Backing, path: string): ContainerCheck {
  const store = backing.reopen()
  if (store === null) return { ok: true, version: 0, versions: [], problems: [] }
  return checkVersions(store, v => backing.openVersion(v), path)
}

/**
 * Checks a named store a host (PostgresStore.check) opened read-only with the rows of every
 * retained version at hand (its `openVersion` serves each one): what `checkFile` checks in a
 * file. Nothing here writes.
 */
export function checkHosted(h: HostedStore): ContainerCheck {
  if (h.store === null) return { ok: true, version: 0, versions: [], problems: [] }
  return checkVersions(h.store, v => h.openVersion(v), h.path)
}

/** The store's damage, and every record of every retained version (`openVersion` gives an older one). */
function checkVersions(store: ChunkStore, openVersion: (v: number) => ChunkStore, path: string): ContainerCheck {
  const problems = [...damageOf(store), ...store.check().problems]
  if (store.fellBack !== null) problems.unshift(`version ${store.fellBack.from} is damaged (${store.fellBack.reason}); the newest intact version is ${store.version}`)
  const versions: number[] = []
  let intact = 0
  for (const v of store.versions()) {
    if (v.meta.length === 0) continue
    versions.push(v.version)
    try {
      const view = v.version === store.version ? store : openVersion(v.version)
      restoreFrom(view, path, new AnyClassRegistry())
      const bad = checkIndex(view, path)
      if (bad.length > 0) throw new CorruptionError(bad.join('; '))
      intact = v.version
    } catch (e) {
      if (!(e instanceof PmemError)) throw e
      problems.push(`version ${v.version}: ${e.message}`)
    }
  }
  return { ok: problems.length === 0, version: intact, versions, problems }
}
