/**
 * Shadow paging, adopting appended chunks: the store side of `Region.appendStream`, where
 * another thread writes whole chunks past the region's end and the store then takes them
 * into its staged batch as if `write` had written them (`ShadowStore.appendTarget`, `adopt`).
 *
 * Invariants kept (numbers shared with shadow.ts):
 *   inv. 1  Adopted chunks lie past the store's physical space, so no retained version
 *           references them; the region grows over them and they are taken from the free
 *           set before anything else is allocated, so nothing else can take them. The
 *           chunks they replace are released like those `write` replaces.
 *   inv. 2  Adopted chunks are in the batch's written set: flushed before the slot naming
 *           the version is written (their bytes are already durable, Region inv. R7).
 *   inv. 8  Until the commit no durable slot references them: a crash or abort frees them.
 */
import { InvalidArgumentError, OutOfRangeError } from '../regions/index.js'
import type { RegionLike } from '../regions/index.js'
import { MAX_CHUNKS, MAX_PHYS } from './shadow-format.js'
import type { ChunkIO } from './shadow-io.js'
import type { FreeSpace } from './shadow-space.js'
import type { StagedMap } from './shadow-map.js'
import { growRegion } from './shadow-open.js'

/** The parts of the store adopting works on (the staged map of the current batch). */
export interface AdoptHost {
  region: RegionLike
  io: ChunkIO
  space: FreeSpace
  map: StagedMap
  /** Makes sure `n` chunks are free, growing the region if needed (ShadowStore's `#reserve`). */
  reserve(n: number, action: string): void
}

/** `ShadowStore.appendTarget`: first physical chunk at or past the region's reserved end, or null. */
export function appendTarget(h: AdoptHost): { phys: number; offset: number } | null {
  const end = h.region.reservedEnd
  if (end === undefined || end < 0 || h.region.appendStream === undefined) return null
  const first = h.io.chunkOffset(0)
  const phys = Math.max(h.space.count, Math.ceil((end - first) / h.io.chunkSize))
  return { phys, offset: h.io.chunkOffset(phys) }
}

/** `ShadowStore.adopt`: stages physical chunks `[phys, ...)` with checksums `crcs` as logical `[logical, ...)`. */
export function adoptChunks(h: AdoptHost, logical: number, phys: number, crcs: Uint32Array): void {
  const n = crcs.length
  const what = `Cannot adopt chunks into shadow store on region "${h.region.path}"`
  if (!Number.isSafeInteger(logical) || logical < 0 || logical + n > MAX_CHUNKS) {
    throw new OutOfRangeError(`${what}: logical chunks [${logical}, ${logical + n}) are outside 0 to ${MAX_CHUNKS}`)
  }
  if (!Number.isSafeInteger(phys) || phys < h.space.count || phys + n > MAX_PHYS) {
    throw new InvalidArgumentError(`${what}: physical chunk ${phys} is not past the store's ${h.space.count} chunks`)
  }
  for (let i = 0; i < n; i++) {
    if (h.map.dirty.has(logical + i)) throw new InvalidArgumentError(`${what}: logical chunk ${logical + i} was already written in this batch`)
  }
  if (n === 0) return
  const count = Math.max(h.map.count, logical + n)
  const nodes = (Math.ceil(count / h.io.fanout) + 2) * (depthOf(count, h.io.fanout) + 1) + h.map.resizeCost(count)
  const need = h.io.chunkOffset(phys + n + nodes)
  if (h.region.size < need) growRegion(h.region, undefined, need, what)   // exactly: the data is there already, a policy step would zero-fill past it
  h.io.sync('adopt')
  h.space.extend(h.io.physCount)
  for (let i = 0; i < n; i++) h.space.take(phys + i)
  if (count > h.map.count) { h.reserve(h.map.resizeCost(count), 'adopt'); h.map.resize(count) }
  h.reserve(h.map.adoptCost(logical, n), 'adopt')
  h.map.stageAdopted(logical, phys, crcs)
}

/** Map depth for `count` logical chunks with `fanout` entries per node (an upper bound is enough here). */
function depthOf(count: number, fanout: number): number {
  let d = 0
  for (let c = 1; c < count; c *= fanout) d++
  return d
}
