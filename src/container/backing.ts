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
  create(region: RegionLike, opts: { chunkSize: number; keepVersions?: number; growBy?: (needed: number) => void }): ChunkStore
  open(region: RegionLike, opts?: { version?: number; growBy?: (needed: number) => void }): ChunkStore
}

/** Largest single growth step (bytes). */
const MAX_STEP = 256 * 1024 * 1024

/**
 * Grows the region geometrically (by its size, up to 256 MiB at a time, at least what is
 * needed): every growth extends the file and remaps it, so growing chunk by chunk made the
 * first point of a 36 MB graph spend most of its write time growing.
 */
function geometricGrowth(region: RegionLike): (needed: number) => void {
  return needed => {
    const step = Math.max(needed, Math.min(region.size, MAX_STEP))
    try { region.grow(region.size + step) } catch (e) {
      if (step === needed) throw e
      region.grow(region.size + needed)
    }
  }
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
  const growBy = geometricGrowth(region)
  if (!empty) store = shadow().open(region, { growBy })
  return {
    path: region.path,
    get store() { return store },
    create(chunkSize, keepVersions) { store = shadow().create(region, { chunkSize, keepVersions, growBy }); return store },
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
