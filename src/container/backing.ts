/**
 * Backing: where a container's chunk store lives. `fileBacking` opens a region file and the
 * shadow store in it; `regionBacking` does the same on any RegionLike (SimRegion in tests).
 * A backing can also open a retained older version read-only, which the container uses to
 * restore an earlier version or to fall back from a damaged newest one.
 */
import * as txn from '../../txn/index.js'
import { Region, InvalidArgumentError, PmemError, type RegionLike } from '../../regions/index.js'
import type { ChunkStore } from './store.js'

/** Region size a new container file starts with (the store grows it as needed). */
const INITIAL_SIZE = 1 << 20

/** What the container needs of the ShadowStore class of txn/. */
export interface StoreClass {
  create(region: RegionLike, opts: { chunkSize: number; keepVersions?: number }): ChunkStore
  open(region: RegionLike, opts?: { version?: number }): ChunkStore
}

let storeClass: StoreClass | undefined = (txn as unknown as { ShadowStore?: StoreClass }).ShadowStore

/** Internal: supplies the store class (until txn/index.js exports ShadowStore). */
export function useStoreClass(s: StoreClass): void { storeClass = s }

function shadow(): StoreClass {
  if (storeClass === undefined) throw new PmemError('ERR_PMEM_UNAVAILABLE', 'Cannot open container: the shadow store of txn/ is not available in this build')
  return storeClass
}

export interface Backing {
  readonly path: string
  /** The writable store (newest version), or null for a new container. */
  readonly store: ChunkStore | null
  /** Creates the store (new container). */
  create(chunkSize: number, keepVersions: number): ChunkStore
  /** A read-only view of retained version `v`. */
  openVersion(v: number): ChunkStore
  close(): void
}

/** A backing on an open region; `owned` regions are closed with the container. */
export function regionBacking(region: RegionLike, owned: boolean): Backing {
  let store: ChunkStore | null = null
  const empty = region.unsafeBytes().subarray(0, 8).every(b => b === 0)
  if (!empty) store = shadow().open(region)
  return {
    path: region.path,
    get store() { return store },
    create(chunkSize, keepVersions) { store = shadow().create(region, { chunkSize, keepVersions }); return store },
    openVersion(v) { return shadow().open(region, { version: v }) },
    close() { if (owned) region.close() },
  }
}

/** A backing on the file at `path` (created when `create` is true and it does not exist). */
export function fileBacking(path: string, create: boolean, readOnly: boolean): Backing {
  if (typeof path !== 'string' || path === '') throw new InvalidArgumentError(`Cannot open container: path must be a non-empty string, got ${String(path)}`)
  const region = create && !readOnly ? Region.open(path, { size: INITIAL_SIZE }) : Region.open(path, { readOnly })
  try {
    return regionBacking(region, true)
  } catch (e) {
    region.close()
    throw e
  }
}
