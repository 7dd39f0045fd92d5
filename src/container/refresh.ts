/**
 * The refresh of a read-only container (`Container.refresh`): it moves to the newest version
 * its writer committed. On a file or region: the newest retained version, unless it is the
 * version held (versions only grow), restored through follow.ts (which retries while the
 * writer replaces versions). On a hosted store: the rows written since are fetched first
 * (asynchronously, queued like points so that `close` waits for it), then the newest version
 * is restored from memory, unless the container began closing meanwhile. Either way the new
 * version's tables replace the old ones in one step (`refreshed`, lifecycle.ts: the refreshed
 * transition, idle -> idle); a failure leaves the container at its version. A file deleted
 * or replaced at its path since the open (region-file.ts inv. C7) rejects with
 * FileSystemError: the container still reads the file it opened, which no writer writes any
 * more (before session 10 refresh resolved with its version forever).
 */
import { FileSystemError } from '../../regions/index.js'
import { restoreFrom } from './restore.js'
import { followNewest } from './follow.js'
import { adoptVersion, type OpenTarget } from './open.js'
import type { Backing } from './backing.js'
import type { PointWriter } from './write.js'
import type { Lifecycle } from './lifecycle.js'
import type { ContainerTables } from './tables.js'
import type { ClassRegistry } from './classes.js'
import type { FallBack } from './options.js'

/** What a refresh works on: the container's parts (container.ts). */
export interface Refreshing {
  readonly path: string
  readonly backing: Backing
  readonly writer: PointWriter
  readonly life: Lifecycle
  /** Restore lazily (lazy.ts). */
  readonly lazy: boolean
  /** The container's fall-back at open, if any: then even the same version is restored again. */
  readonly fellBack: FallBack | null
  /** Empty tables for the version about to be restored. */
  newTables(classes: ClassRegistry): ContainerTables
  /** Where open.ts puts what it restores into `tables`. */
  target(tables: ContainerTables): OpenTarget
  /** The refreshed transition: `tables` replace the old ones, the fall-back is over. */
  refreshed(tables: ContainerTables): void
}

/** Moves a read-only container in state idle to its writer's newest version; resolves with the version it holds then. */
export function refreshNewest(c: Refreshing): Promise<number> {
  const fetch = c.backing.fetchNewest
  if (fetch !== undefined) return refreshHosted(c, () => fetch.call(c.backing))
  try { return Promise.resolve(refreshNow(c)) } catch (e) { return Promise.reject(e) }
}

/** A hosted store fetches what changed, queued like points; then the newest version is restored from its memory. */
function refreshHosted(c: Refreshing, fetch: () => Promise<boolean>): Promise<number> {
  return c.life.inTurn(async () => {
    const changed = await fetch()
    const store = c.writer.store
    if (!changed || store === null || c.life.state !== 'idle') return c.writer.version
    const tables = c.newTables(c.life.tables.classes)
    adoptVersion(c.target(tables), store, restoreFrom(store, c.path, tables.classes, c.lazy))
    c.refreshed(tables)
    return c.writer.version
  })
}

function refreshNow(c: Refreshing): number {
  const holds = c.backing.pathHolds?.() ?? 'same'
  if (holds !== 'same') {     // the writer's newest versions are in another file now: following this one would be stale forever
    throw new FileSystemError(`Cannot refresh container "${c.path}": its file was ${holds === 'deleted' ? 'deleted' : 'replaced at its path (created again, or renamed over)'} since this read-only container opened it, so it cannot follow the writer; it still shows version ${c.writer.version} of the file it opened: close it and open the path again`, holds === 'deleted' ? 'ENOENT' : undefined)
  }
  const newest = c.backing.retained()[0]
  if (c.fellBack === null && newest !== undefined && newest === c.writer.version) return c.writer.version // nothing newer (versions only grow)
  const got = followNewest(c.backing, c.path, c.life.tables.classes, c.lazy)
  if (got.store === null || got.restored === null) return c.writer.version
  const tables = c.newTables(c.life.tables.classes)
  adoptVersion(c.target(tables), got.store, got.restored)
  c.refreshed(tables)
  return c.writer.version
}
