/**
 * Backing: where a container's chunk store lives. `fileBacking` opens a region file and the
 * shadow store in it; `regionBacking` does the same on any RegionLike (SimRegion in tests).
 * A backing can also open a retained older version read-only, which the container uses to
 * restore an earlier version or to fall back from a damaged newest one.
 */
import { ShadowStore } from '../../txn/index.js'
import { Region, InvalidArgumentError, type RegionLike, type RegionStream } from '../../regions/index.js'
import type { ChunkStore } from './store.js'

/** Region size a new container file starts with (the store grows it as needed). */
const INITIAL_SIZE = 1 << 20

/**
 * Writes smaller than this do not reserve space ahead: they rarely need the region to
 * grow, and the estimate of what they need (withOverhead) is too coarse for them.
 */
const RESERVE_MIN = 1 << 20

/** Largest single growth step (bytes). */
const MAX_STEP = 256 * 1024 * 1024

/**
 * Grows the region geometrically (by its size, up to 256 MiB at a time, at least what is
 * needed), or at once by what the write under way still announced (`expected()`): every
 * growth zero-fills, fsyncs and remaps, so growing chunk by chunk made the first point of a
 * 36 MB graph spend most of its write time growing, and doubling from 1 MiB still took five
 * growths (150 ms of a 1.2 s first point); one growth sized from the batch takes one.
 */
function geometricGrowth(region: RegionLike, expected: () => number): (needed: number) => void {
  return needed => {
    const step = Math.max(needed, growthStep(region, expected()))
    try { region.grow(region.size + step) } catch (e) {
      if (step === needed) throw e
      region.grow(region.size + needed)
    }
  }
}

/** How much a growth for a write of `expected` region bytes adds (at least). */
function growthStep(region: RegionLike, expected: number): number {
  return Math.max(Math.min(region.size, MAX_STEP), expected)
}

/** Region bytes a write of `bytes` log bytes may take: its chunks, their map nodes, and a few whole chunks (tail copy, meta, root). */
function withOverhead(bytes: number): number {
  return bytes + Math.ceil(bytes / 256) + (1 << 16)
}

type Grow = (needed: number) => void

/** The chunk store class of txn/, seen through the ChunkStore interface. */
const store = {
  create: (region: RegionLike, opts: { chunkSize: number; keepVersions: number; growBy: Grow }): ChunkStore => ShadowStore.create(region, opts),
  open: (region: RegionLike, opts: { version?: number; growBy?: Grow }): ChunkStore => ShadowStore.open(region, opts),
}

export interface Backing {
  readonly path: string
  /** The writable store (newest version), or null for a new container. */
  readonly store: ChunkStore | null
  /** True if the region holds no store yet (a container created and never persisted). */
  readonly blank: boolean
  /** Creates the store (new container). */
  create(chunkSize: number, keepVersions: number): ChunkStore
  /** A read-only view of retained version `v`. */
  openVersion(v: number): ChunkStore
  /**
   * Announces that about `bytes` log bytes are about to be written (0: the write ended), so
   * that a growth of the region during that write grows once by all of it.
   */
  expectWrite(bytes: number): void
  /** A point is about to be encoded: start what its asynchronous flush needs (the region's flush thread). */
  prepareFlush(): void
  /**
   * A point will write about `bytes` log bytes: if the store has not that much free space,
   * start allocating the growth its write will make, off the main thread (the region's
   * flush thread zero-fills and fsyncs it while the point is still encoding), so that the
   * growth itself only remaps. Resolves when that allocation is done (or was not needed).
   */
  reserve(bytes: number): Promise<void>
  /** An append stream of the region from `at` with blocks of `block` bytes, or null (Region.appendStream). */
  appendStream(at: number, block: number): RegionStream | null
  close(): void
}

/** A backing on an open region; `owned` regions are closed with the container. */
export function regionBacking(region: RegionLike, owned: boolean): Backing {
  let current: ChunkStore | null = null
  const empty = region.unsafeBytes().subarray(0, 8).every(b => b === 0)
  let expecting = 0
  const growBy = geometricGrowth(region, () => expecting)
  if (!empty) current = store.open(region, { growBy })
  return {
    path: region.path,
    blank: empty,
    get store() { return current },
    create(chunkSize, keepVersions) { current = store.create(region, { chunkSize, keepVersions, growBy }); return current },
    openVersion(v) { return store.open(region, { version: v }) },
    expectWrite(bytes) { expecting = bytes > 0 ? withOverhead(bytes) : 0 },
    prepareFlush() { region.prepareFlushAsync?.() },
    appendStream(at, block) { return region.appendStream?.(at, block) ?? null },
    reserve(bytes) {
      if (region.reserveAsync === undefined || bytes < RESERVE_MIN) return Promise.resolve()
      const need = withOverhead(bytes)
      const free = current === null ? 0 : current.stats().freeChunks * current.chunkSize
      if (need <= free) return Promise.resolve()
      return region.reserveAsync(region.size + growthStep(region, need))
    },
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
