/**
 * Pool superblock: how a transactional region's user area is divided.
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
 * The superblock is written once, at format time, and flushed before anything else is
 * written; it lies in one sector. The data area runs from dataOffset to the end of the
 * region (it grows with the region).
 */
import { CorruptionError, NotARegionError, UnsupportedVersionError } from '../regions/index.js'
import type { RegionLike } from '../regions/index.js'
import { hash32, wordsOf } from './hash.js'

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

/** Writes and flushes the superblock. */
export function writeSuperblock(region: RegionLike, layout: PoolLayout): void {
  const w = wordsOf(region.unsafeBytes().subarray(0, 32))
  w[0] = MAGIC_LO; w[1] = MAGIC_HI; w[2] = POOL_VERSION
  w[3] = layout.logOffset; w[4] = layout.logSize; w[5] = layout.dataOffset; w[6] = 0
  w[7] = hash32(w, 0, 7, SEED)
  region.flush(0, 32)
}

/** True when the first bytes are all zero (a region never formatted as a pool). */
export function isBlank(region: RegionLike): boolean {
  const b = region.unsafeBytes()
  for (let i = 0; i < 32; i++) if (b[i] !== 0) return false
  return true
}

/** Reads and validates the superblock; a typed error names the file and the problem. */
export function readSuperblock(region: RegionLike): PoolLayout {
  const w = wordsOf(region.unsafeBytes().subarray(0, 32))
  const where = `Cannot open pool "${region.path}"`
  if (w[0] !== MAGIC_LO || w[1] !== MAGIC_HI) throw new NotARegionError(`${where}: the region does not hold a transactional pool (bad superblock magic)`)
  if (hash32(w, 0, 7, SEED) !== w[7]) throw new CorruptionError(`${where}: superblock checksum mismatch`)
  if (w[2]! > POOL_VERSION) throw new UnsupportedVersionError(`${where}: pool format version ${w[2]} is newer than this library's ${POOL_VERSION}; upgrade persistent-memory`)
  const layout = { logOffset: w[3]!, logSize: w[4]!, dataOffset: w[5]! }
  if (layout.logOffset !== 4096 || layout.logSize % 4096 !== 0 || layout.dataOffset !== layout.logOffset + layout.logSize ||
    layout.dataOffset > region.size) {
    throw new CorruptionError(`${where}: impossible layout (log ${layout.logOffset}+${layout.logSize}, data ${layout.dataOffset}, region ${region.size})`)
  }
  return layout
}
