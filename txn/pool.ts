/**
 * Pool superblock: how a transactional region's user area is divided, and formatting a pool
 * (`formatPool`: the checks, the log size, the log then the superblock).
 *
 * | offset | size | description                                                        |
 * | -----: | ---: | ------------------------------------------------------------------ |
 * |      0 |    8 | magic "PMPOOL01"                                                   |
 * |      8 |    4 | format version (1)                                                 |
 * |     12 |    4 | logOffset: start of the redo log area (4096)                       |
 * |     16 |    4 | logSize: bytes of the redo log area (multiple of 4096)             |
 * |     20 |    4 | dataOffset: start of the data area (logOffset + logSize)           |
 * |     24 |    4 | reserved, zero                                                     |
 * |     28 |    4 | checksum: hash32 of words [0, 7) seeded with 0x504f4f4c            |
 *
 * The superblock is written once, at format time, and flushed after the log's control block
 * (so a region without a superblock holds at most a fresh, empty log); it lies in one
 * sector. The data area runs from dataOffset to the end of the region (it grows with it).
 *
 * Invariants (cited as "pool inv. N"):
 *   1. Only a region with nothing to lose is formatted: one created by this very open
 *      (`RegionLike.created`), or one whose user area is all zero except for a fresh log
 *      control block (a format that crashed before its superblock). Anything else without a
 *      valid superblock is NotAPoolError, or CorruptionError when the log control block
 *      shows that a pool was there; the file is left unchanged.
 */
import {
  CorruptionError, InvalidArgumentError, NotAPoolError, ReadOnlyError, UnsupportedVersionError, describe,
} from '../regions/index.js'
import type { RegionLike } from '../regions/index.js'
import { hash32, wordsOf } from './hash.js'
import { RedoLog, MIN_LOG_SIZE, readControl } from './redo-log.js'

const MAGIC_LO = 0x4f4f504d // "PMPO"
const MAGIC_HI = 0x31304c4f // "OL01"
const SEED = 0x504f4f4c
export const POOL_VERSION = 1

/** Where the log and the data live. */
export interface PoolLayout {
  readonly logOffset: number
  readonly logSize: number
  readonly dataOffset: number
}

/**
 * `TxEngine.create`: formats `region` as a pool with a redo log of `wanted` bytes (default
 * {@link defaultLogSize}) and returns its layout and log. Only a formattable region (inv. 1);
 * the superblock is written last, so a crash before it leaves a region that is still blank.
 */
export function formatPool(region: RegionLike, wanted: number | undefined): { layout: PoolLayout; log: RedoLog } {
  if (region.readOnly) throw new ReadOnlyError(`Cannot format pool "${region.path}": region is read-only`)
  if (!isFormattable(region)) {
    throw new NotAPoolError(`Cannot format pool "${region.path}": the region already holds data (pool inv. 1); nothing was changed. Open it with TxEngine.open, or format a new region`)
  }
  const logSize = wanted ?? defaultLogSize(region.size)
  if (!Number.isInteger(logSize) || logSize < MIN_LOG_SIZE || logSize % 4096 !== 0 || 4096 + logSize + 4096 > region.size) {
    throw new InvalidArgumentError(`Cannot format pool "${region.path}": logSize ${describe(logSize)} must be a multiple of 4096, at least ${MIN_LOG_SIZE}, and leave room for data in a region of ${region.size} bytes`)
  }
  const layout = { logOffset: 4096, logSize, dataOffset: 4096 + logSize }
  const log = RedoLog.format(region, layout.logOffset, logSize)
  writeSuperblock(region, layout) // last: a region without a superblock is still blank
  return { layout, log }
}

/**
 * Default log: an eighth of the region, between 64 KiB and 16 MiB, a multiple of 4096; in a
 * region too small for that, half of what the superblock page and one data page leave.
 */
export function defaultLogSize(regionSize: number): number {
  const eighth = Math.floor(regionSize / 8 / 4096) * 4096
  const size = Math.max(MIN_LOG_SIZE, Math.min(16 << 20, Math.max(64 << 10, eighth)))
  return 4096 + size + 4096 <= regionSize ? size : Math.max(MIN_LOG_SIZE, Math.floor((regionSize - 8192) / 2 / 4096) * 4096)
}

/** Writes and flushes the superblock. */
export function writeSuperblock(region: RegionLike, layout: PoolLayout): void {
  const w = wordsOf(region.unsafeBytes().subarray(0, 32))
  w[0] = MAGIC_LO; w[1] = MAGIC_HI; w[2] = POOL_VERSION
  w[3] = layout.logOffset; w[4] = layout.logSize; w[5] = layout.dataOffset; w[6] = 0
  w[7] = hash32(w, 0, 7, SEED)
  region.flush(0, 32)
}

/** True when the first bytes (where the superblock goes) are all zero. */
export function isBlank(region: RegionLike): boolean {
  const b = region.unsafeBytes()
  for (let i = 0; i < 32; i++) if (b[i] !== 0) return false
  return true
}

/** Pool inv. 1: true when formatting `region` destroys nothing. */
export function isFormattable(region: RegionLike): boolean {
  if (region.readOnly || !isBlank(region)) return false
  return region.created || holdsNothing(region)
}

/** The user area is zero, except perhaps for a fresh log control block at 4096 (an interrupted format). */
function holdsNothing(region: RegionLike): boolean {
  const b = region.unsafeBytes()
  const c = readControl(b, 4096)
  const fresh = c !== 'magic' && c !== 'checksum' && c.startSeq === 1 && c.epoch === 1
  return allZero(b, 0, 4096) && (fresh || allZero(b, 4096, 4096 + 64)) && allZero(b, 4096 + 64, b.length)
}

const ZEROS = new Uint8Array(65536)
function allZero(b: Uint8Array, from: number, to: number): boolean {
  for (let p = from; p < to; p += ZEROS.length) {
    const n = Math.min(ZEROS.length, to - p)
    if (Buffer.compare(b.subarray(p, p + n), ZEROS.subarray(0, n)) !== 0) return false
  }
  return true
}

/** Reads and validates the superblock; a typed error names the file and the problem (pool inv. 1). */
export function readSuperblock(region: RegionLike): PoolLayout {
  const w = wordsOf(region.unsafeBytes().subarray(0, 32))
  const where = `Cannot open pool "${region.path}"`
  if (w[0] !== MAGIC_LO || w[1] !== MAGIC_HI) throw noPool(region, where)
  if (hash32(w, 0, 7, SEED) !== w[7]) throw new CorruptionError(`${where}: superblock checksum mismatch; the file was damaged. Restore it from a backup`)
  if (w[2]! > POOL_VERSION) throw new UnsupportedVersionError(`${where}: pool format version ${w[2]} is newer than this library's ${POOL_VERSION}; upgrade persistent-memory`)
  const layout = { logOffset: w[3]!, logSize: w[4]!, dataOffset: w[5]! }
  if (layout.logOffset !== 4096 || layout.logSize % 4096 !== 0 || layout.logSize < 2 * 4096 || layout.dataOffset !== layout.logOffset + layout.logSize ||
    layout.dataOffset > region.size) {
    throw new CorruptionError(`${where}: impossible layout (log ${layout.logOffset}+${layout.logSize}, data ${layout.dataOffset}, region ${region.size})`)
  }
  return layout
}

/** The error for a region without a valid superblock magic (pool inv. 1). */
function noPool(region: RegionLike, where: string): Error {
  const blank = isBlank(region)
  if (blank && holdsNothing(region)) {
    return new NotAPoolError(`${where}: the region holds no pool yet (it was never formatted); open it writable to format it`)
  }
  if (readControl(region.unsafeBytes(), 4096) !== 'magic') {
    return new CorruptionError(`${where}: the pool superblock is ${blank ? 'zeroed' : 'overwritten'} but a redo log follows it, so a pool was here and its superblock was damaged; ` +
      'nothing was changed. Restore the file from a backup')
  }
  return new NotAPoolError(`${where}: the region does not hold a transactional pool: it holds data but no pool superblock (${blank ? 'its first bytes are zero' : 'bad superblock magic'}); ` +
    'nothing was formatted or changed. Check the path, or open a new file')
}
