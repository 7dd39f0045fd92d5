/**
 * Shadow paging, opening a store: the checks of the static entry points (`ShadowStore.create`,
 * `open`, `probe`, `retained`), formatting a new store, choosing the version to view over
 * what recovery found (shadow-recover.ts), reading the slots without opening, and growing
 * the region (at create, and when a batch needs more free chunks than there are). Each entry point's work ends in a {@link StoreInit}: the state the store's
 * constructor takes (shadow.ts).
 *
 * Invariants kept (numbers shared with shadow.ts):
 *   inv. 9  create zeroes both slots and writes version 0 into slot 0, durable before it
 *           returns; the commit of version 1 writes slot 1.
 *   inv. 5  open views the newest version recovery validated unless `{ version }` names an
 *           older retained one, which is read-only.
 *   inv. 1  `retained` lists what the newest valid slot retains: while a version is listed,
 *           none of its chunks was freed.
 */
import {
  BrokenError, InvalidArgumentError, OutOfSpaceError, ReadOnlyError, RegionClosedError, describe, roundUp, PAGE_SIZE,
} from '../regions/index.js'
import type { RegionLike } from '../regions/index.js'
import {
  DATA_START, MAX_KEEP, MAX_PHYS, NONE, SLOT_SIZE, decodeSlot, encodeSlot, probeSlots, validChunkSize, MIN_CHUNK, MAX_CHUNK,
  type VersionDesc,
} from './shadow-format.js'
import { recover } from './shadow-recover.js'
import type { ChunkIO } from './shadow-io.js'
import type { FreeSpace } from './shadow-space.js'

/** Options of {@link ShadowStore.create}. */
export interface ShadowCreateOptions {
  /** Bytes per chunk: a power of two from 512 to 16 MiB. Fixed for the store's life. */
  chunkSize: number
  /** Committed versions kept readable (and their chunks kept), 1 to 64; default 2. */
  keepVersions?: number
  /** Grows the region by at least `neededBytes` when free chunks run out (default: `region.grow`). */
  growBy?: (neededBytes: number) => void
  /** Where the store starts in the region's user area (multiple of 4096, default 0). */
  base?: number
}

/** Options of {@link ShadowStore.open}. */
export interface ShadowOpenOptions {
  /** Open this retained older version, read-only (default: the newest). */
  version?: number
  growBy?: (neededBytes: number) => void
  base?: number
}

/** The state a store starts from: what create formatted or open recovered. */
export interface StoreInit {
  region: RegionLike
  base: number
  chunkSize: number
  keepVersions: number
  growBy: ((neededBytes: number) => void) | undefined
  readOnly: string | null
  descs: VersionDesc[]
  view: VersionDesc
  metas: Map<number, Uint8Array>
  /** Physical chunk -> 1 + index in `descs` of the newest retained version referencing it, 0 for none (shadow-recover.ts). */
  lastRef: Uint8Array
  fellBack: { from: number; reason: string } | null
  dropped: ReadonlyArray<{ version: number; reason: string }>
}

/** `ShadowStore.create`: checks, formats the slots, commits version 0 (inv. 9). */
export function createStore(region: RegionLike, opts: ShadowCreateOptions): StoreInit {
  const action = 'Cannot create shadow store'
  checkRegion(region, action)
  if (opts === null || typeof opts !== 'object') throw new InvalidArgumentError(`${action}: options { chunkSize } are required, got ${describe(opts)}`)
  const { chunkSize, keepVersions = 2, growBy } = opts
  const base = checkBase(opts.base, action)
  if (!validChunkSize(chunkSize)) {
    throw new InvalidArgumentError(`${action} on region "${region.path}": chunkSize must be a power of two from ${MIN_CHUNK} to ${MAX_CHUNK}, got ${describe(chunkSize)}`)
  }
  if (!Number.isInteger(keepVersions) || keepVersions < 1 || keepVersions > MAX_KEEP) {
    throw new InvalidArgumentError(`${action} on region "${region.path}": keepVersions must be an integer from 1 to ${MAX_KEEP}, got ${describe(keepVersions)}`)
  }
  checkGrowBy(growBy, action)
  if (region.readOnly) throw new ReadOnlyError(`${action} on region "${region.path}": the region was opened read-only`)
  if (region.size < base + DATA_START) growRegion(region, growBy, base + DATA_START, action)
  const desc: VersionDesc = {
    version: 0, time: Date.now(), bytes: 0, chunkCount: 0, root: NONE, rootCrc: 0, metaPhys: NONE, metaCrc: 0, metaLen: 0, depth: 0,
  }
  const bytes = region.unsafeBytes()
  bytes.fill(0, base, base + DATA_START)
  bytes.set(encodeSlot({ chunkSize, keepVersions, descs: [desc] }), base)
  region.flush(base, DATA_START)
  return {
    region, base, chunkSize, keepVersions, growBy, readOnly: null, descs: [desc], view: desc,
    metas: new Map([[0, new Uint8Array(0)]]), lastRef: new Uint8Array(0), fellBack: null, dropped: [],
  }
}

/** `ShadowStore.open`: checks, recovers, picks the version to view (inv. 5). */
export function openStore(region: RegionLike, opts: ShadowOpenOptions): StoreInit {
  const action = 'Cannot open shadow store'
  checkRegion(region, action)
  if (opts === null || typeof opts !== 'object') throw new InvalidArgumentError(`${action}: options must be an object, got ${describe(opts)}`)
  const base = checkBase(opts.base, action)
  checkGrowBy(opts.growBy, action)
  if (opts.version !== undefined && (!Number.isSafeInteger(opts.version) || opts.version < 0)) {
    throw new InvalidArgumentError(`${action} on region "${region.path}": version must be a non-negative integer, got ${describe(opts.version)}`)
  }
  const rec = recover(region, base)
  const view = opts.version === undefined ? rec.descs[0]! : rec.descs.find(d => d.version === opts.version)
  if (view === undefined) {
    const list = rec.descs.map(d => d.version).reverse().join(', ')
    throw new InvalidArgumentError(`${action} on region "${region.path}" at version ${opts.version}: it is not retained (retained versions: ${list})`)
  }
  const readOnly = region.readOnly ? 'the region was opened read-only'
    : view !== rec.descs[0] ? `it shows version ${view.version}, an older retained version (open without { version } to write)` : null
  return { region, base, growBy: opts.growBy, readOnly, view, ...rec }
}

/** `ShadowStore.probe`: what the slots at `base` hold, unvalidated. */
export function probeStore(region: RegionLike, base: number): 'blank' | 'store' | 'foreign' {
  checkRegion(region, 'Cannot probe shadow store')
  const at = checkBase(base, 'Cannot probe shadow store')
  const bytes = region.unsafeBytes()
  return probeSlots(bytes.subarray(Math.min(at, bytes.length), Math.min(at + DATA_START, bytes.length)))
}

/** `ShadowStore.retained`: the versions the newest valid slot at `base` retains, newest first. */
export function retainedVersions(region: RegionLike, base: number): number[] {
  checkRegion(region, 'Cannot read the versions of shadow store')
  const at = checkBase(base, 'Cannot read the versions of shadow store')
  const bytes = region.unsafeBytes()
  if (bytes.length < at + DATA_START) return []
  let best: VersionDesc[] = []
  for (const i of [0, 1]) {
    const d = decodeSlot(bytes.slice(at + i * SLOT_SIZE, at + (i + 1) * SLOT_SIZE), i)
    if (d.ok && (best.length === 0 || d.slot.descs[0]!.version > best[0]!.version)) best = d.slot.descs
  }
  return best.map(d => d.version)
}

function checkRegion(region: RegionLike, action: string): void {
  if (region === null || typeof region !== 'object' || typeof region.unsafeBytes !== 'function' || typeof region.flush !== 'function') {
    throw new InvalidArgumentError(`${action}: expected a region, got ${describe(region)}`)
  }
  if (region.closed) throw new RegionClosedError(`${action}: region "${region.path}" is closed`)
}

function checkBase(base: unknown, action: string): number {
  if (base === undefined) return 0
  if (typeof base !== 'number' || !Number.isSafeInteger(base) || base < 0 || base % PAGE_SIZE !== 0) {
    throw new InvalidArgumentError(`${action}: base must be a non-negative multiple of ${PAGE_SIZE}, got ${describe(base)}`)
  }
  return base
}

function checkGrowBy(growBy: unknown, action: string): void {
  if (growBy !== undefined && typeof growBy !== 'function') {
    throw new InvalidArgumentError(`${action}: growBy must be a function, got ${describe(growBy)}`)
  }
}

/**
 * Grows the region to at least `minSize` (asking for `wanted`); OutOfSpaceError if it cannot.
 * A region broken by an I/O failure while growing (Region inv. R6: its extension or its
 * header could not be made durable) or closed is that error, not a full disk: before
 * session 14 it became an OutOfSpaceError saying "nothing was changed", which a container
 * took for a lost point (write.ts inv. 4a) and the program for a disk to free.
 */
export function growRegion(region: RegionLike, growBy: ((n: number) => void) | undefined, minSize: number, what: string, wanted = minSize): void {
  const errors: string[] = []
  const attempts = growBy ? [() => growBy(roundUp(minSize, PAGE_SIZE) - region.size)]
    : [...new Set([roundUp(wanted, PAGE_SIZE), roundUp(minSize, PAGE_SIZE)])].map(size => () => region.grow(size))
  for (const attempt of attempts) {
    try {
      attempt()
      if (region.size >= minSize) return
      errors.push(`the region is still ${region.size} bytes`)
    } catch (e) {
      if (e instanceof BrokenError || e instanceof RegionClosedError) throw e
      errors.push(e instanceof Error ? e.message : String(e))
    }
  }
  throw new OutOfSpaceError(`${what}: the region must grow to ${minSize} bytes and cannot (${errors.join('; ')}); nothing was changed`)
}

/**
 * `ShadowStore`'s reserve when fewer than `n` chunks are free: grows the region by a quarter
 * (at least to what `n` needs) and extends the free set over the new chunks; OutOfSpaceError,
 * with nothing changed, if it cannot.
 */
export function growForChunks(region: RegionLike, growBy: ((n: number) => void) | undefined, io: ChunkIO, space: FreeSpace, n: number, action: string): void {
  const need = n - space.freeCount
  const what = `Cannot ${action} shadow store on region "${region.path}"`
  if (space.count + need > MAX_PHYS) throw new OutOfSpaceError(`${what}: it would need more than ${MAX_PHYS} physical chunks`)
  const exact = io.chunkOffset(space.count + need)
  const roomy = Math.max(exact, region.size + Math.floor(region.size / 4))
  growRegion(region, growBy, exact, what, roomy)
  io.sync(action)
  space.extend(io.physCount)
  if (space.freeCount < n) {
    throw new OutOfSpaceError(`${what}: ${n} free chunks are needed and the region grew only to ${region.size} bytes; nothing was changed`)
  }
}
