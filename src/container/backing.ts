/**
 * Backing: where a container's chunk store lives. `fileBacking` opens a region file and the
 * shadow store in it; `regionBacking` does the same on any RegionLike (SimRegion in tests).
 * A backing can also open a retained older version read-only, which the container uses to
 * restore an earlier version or to fall back from a damaged newest one.
 *
 * Invariants:
 *   B1. A region is taken for a blank container only if this open created it, or its user
 *       area is entirely zero. A region with store metadata (magic in either slot) is
 *       opened as a store, damage included; anything else is NotAPoolError, unchanged.
 *   B2. An open that fails after the region was opened closes it (the writer lock is
 *       released) and deletes the file if it created it, so a failed open leaves nothing.
 *   B3. One writer per region object: containers opened with `Container.openRegion` on
 *       one region (the file lock cannot tell them apart: the region holds it once for all)
 *       may all read, but the first point of one claims the region until it closes
 *       (`claim`): a point of another is RegionLockedError while the claim is held, and
 *       also once it is released if the region's newest version is not the one that
 *       container restored or last committed (its free chunks may be the other's
 *       version's: its commit would have written over it). Nothing is written by a refused
 *       point. (Before session 10 both wrote: each committed over the other's versions,
 *       found by trust21.) A file container owns its region, so this never refuses it.
 *   B4. The store's growth (`geometricGrowth`) never asks for more than the largest region
 *       (MAX_USER_SIZE): near it, one growth takes the region to its end, rather than a
 *       failed step and a growth by the one chunk needed at every chunk.
 */
import { ShadowStore } from '../../txn/index.js'
import { Region, InvalidArgumentError, MAX_USER_SIZE, NotAPoolError, RegionLockedError, type RegionLike, type RegionStream } from '../../regions/index.js'
import type { ChunkStore } from './store.js'
import { openFollowing } from './follow.js'

/** The container of this process whose points write each region opened with `openRegion` (inv. B3): its backing's token. */
const claims = new WeakMap<RegionLike, object>()

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
export function geometricGrowth(region: RegionLike, expected: () => number): (needed: number) => void {
  return needed => {
    // inv. B4: a step that would pass the largest region stops at it. Before session 15 it
    // failed there and the fall-back grew by `needed` alone, a chunk: the last stretch below
    // 2 GiB grew 4 KiB at a time, each growth a header write, an fsync and a remap (a point
    // of a 2 GiB log crawled at about 40 KB/s).
    const step = Math.max(needed, Math.min(growthStep(region, expected()), MAX_USER_SIZE - region.size))
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
  /** True when the file was created by this open (deleted again if the open fails, inv. B2). */
  readonly created?: boolean
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
  /** Opens the store again (a read-only container follows its writer's newest version, follow.ts); null when it holds none. */
  reopen(): ChunkStore | null
  /** The versions the newest valid metadata slot retains now (ShadowStore.retained), newest first. */
  retained(): number[]
  /** True while a live process holds the file's writer lock (Region.liveWriter). */
  writerAlive(): boolean
  /** Read-only backings: maps what a writer grew the file to (Region.followGrowth). */
  followGrowth(): void
  /**
   * Hosted read-only stores (hosted.ts): fetches what the writer committed since (the store
   * then holds the newest version, in memory); resolves true if the version changed.
   * Absent for file and region backings, which follow the writer through `reopen`.
   */
  fetchNewest?(): Promise<boolean>
  /** An append stream of the region from `at` with blocks of `block` bytes, or null (Region.appendStream). */
  appendStream(at: number, block: number): RegionStream | null
  /** Whether the path still names the file written, or it was deleted or replaced since the open (Region.pathHolds; 'same' where the region has no path to check). Absent for hosted stores. */
  pathHolds?(): 'same' | 'deleted' | 'replaced'
  /**
   * A point is about to be taken by a container whose last known version is `version`:
   * region backings not owned by the container (`openRegion`) claim the region, or throw
   * RegionLockedError (inv. B3). Absent where the store's own lock settles it (hosted).
   */
  claim?(version: number): void
  /** Closes the store (a hosted store releases its lease: the promise says when). */
  close(): void | Promise<void>
  /** Closes after a failed open: like close, and deletes the file if this open created it (inv. B2). */
  discard(): void
}

/**
 * Whether the region holds no container yet (inv. B1): true only for a region this open
 * created, or one whose user area is entirely zero. A region with a store's metadata is
 * opened (damage there is CorruptionError or a reported fall-back); any other data is
 * NotAPoolError, and nothing is changed.
 */
function isBlank(region: RegionLike, created: boolean, action: string): boolean {
  const kind = ShadowStore.probe(region)
  if (kind === 'store') return false
  if (kind === 'blank' && (created || isZero(region.unsafeBytes()))) return true
  throw new NotAPoolError(`${action} "${region.path}": the region holds data but no container (${kind === 'blank' ? 'its metadata slots are zero and other bytes are not: a container whose metadata was destroyed, or other data' : 'no container metadata at its start: another kind of region, such as a pool'}); nothing was changed, open a container at another path`)
}

/** True when every byte of `b` is zero. */
function isZero(b: Uint8Array): boolean {
  const zeros = new Uint8Array(Math.min(b.length, 1 << 16))
  for (let at = 0; at < b.length; at += zeros.length) {
    const part = b.subarray(at, Math.min(b.length, at + zeros.length))
    if (Buffer.compare(part, zeros.subarray(0, part.length)) !== 0) return false
  }
  return true
}

/**
 * A backing on an open region; `owned` regions are closed with the container. `created`:
 * the region was created by this open (so it is blank whatever the check would cost).
 */
export function regionBacking(region: RegionLike, owned: boolean, created = false): Backing {
  let current: ChunkStore | null = null
  const me = {}
  const empty = isBlank(region, created, 'Cannot open container')
  let expecting = 0
  const growBy = geometricGrowth(region, () => expecting)
  if (!empty) current = region.readOnly ? openFollowing(region, () => store.open(region, { growBy })) : store.open(region, { growBy })
  return {
    path: region.path,
    created,
    blank: empty,
    get store() { return current },
    create(chunkSize, keepVersions) { current = store.create(region, { chunkSize, keepVersions, growBy }); return current },
    openVersion(v) { return store.open(region, { version: v }) },
    reopen() {
      if (ShadowStore.probe(region) !== 'store') return current
      current = store.open(region, { growBy })
      return current
    },
    retained() { return ShadowStore.retained(region) },
    writerAlive() { try { return (region.liveWriter?.() ?? null) !== null } catch { return true } },
    followGrowth() { region.followGrowth?.() },
    expectWrite(bytes) { expecting = bytes > 0 ? withOverhead(bytes) : 0 },
    prepareFlush() { region.prepareFlushAsync?.() },
    appendStream(at, block) { return region.appendStream?.(at, block) ?? null },
    pathHolds() { return region.pathHolds?.() ?? 'same' },
    reserve(bytes) {
      if (region.reserveAsync === undefined || bytes < RESERVE_MIN) return Promise.resolve()
      const need = withOverhead(bytes)
      const free = current === null ? 0 : current.stats().freeChunks * current.chunkSize
      if (need <= free) return Promise.resolve()
      return region.reserveAsync(region.size + growthStep(region, need))
    },
    claim(version) {
      if (owned) return
      const holder = claims.get(region)
      if (holder === me) return
      if (holder !== undefined) throw new RegionLockedError(`Cannot persist container "${region.path}": another container of this process opened on the same region writes it (its points claim the region until it closes), and two writers would commit over each other's versions; close that one first`)
      const newest = ShadowStore.probe(region) === 'store' ? ShadowStore.retained(region)[0] ?? 0 : 0
      if (newest !== version) throw new RegionLockedError(`Cannot persist container "${region.path}": another container of this process committed version ${newest} on the same region after this one restored version ${version}; this one's point would write over it. Open the region again to go on from version ${newest}`)
      claims.set(region, me)
    },
    close() {
      if (claims.get(region) === me) claims.delete(region)
      if (owned) region.close()
    },
    discard() {
      if (claims.get(region) === me) claims.delete(region)
      if (owned) discardRegion(region, created)
    },
  }
}

/** A backing on the file at `path` (created when `create` is true and it does not exist). */
export function fileBacking(path: string, create: boolean, readOnly: boolean): Backing {
  if (typeof path !== 'string' || path === '') throw new InvalidArgumentError(`Cannot open container: path must be a non-empty string, got ${String(path)}`)
  const region = create && !readOnly ? Region.open(path, { size: INITIAL_SIZE }) : Region.open(path, { readOnly })
  const created = region.created === true
  try {
    return regionBacking(region, true, created)
  } catch (e) {
    discardRegion(region, created)
    throw e
  }
}

/** Closes a region (releasing its lock) and deletes its file if this process just created it (inv. B2). */
export function discardRegion(region: RegionLike, created: boolean): void {
  region.close()
  if (created) {
    try { Region.delete(region.path) } catch { /* the file stays: it is a blank region, harmless */ }
  }
}
