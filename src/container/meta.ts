/**
 * Container metadata: the blob stored with each version of the chunk store (setMeta). It
 * says where the log ends and which object is the root, so a version is self-describing.
 *
 * | OFFSET | SIZE | DESCRIPTION |
 * | ------ | ---- | ----------- |
 * | 0      | 4    | magic "PMCT" |
 * | 4      | 2    | format version of the records (2; version 1 is read too: its records are those of version 2 without STATEFUL, CHUNKED and CHUNK records and PROPS sections, format.ts) |
 * | 6      | 2    | reserved, 0 |
 * | 8      | 8    | log end in bytes (float64 LE, an integer) |
 * | 16     | 4    | root id (u32 LE) |
 * | 20     | 4    | id high-water mark: every id in the log is below it |
 * | 24     | 4    | objects whose records this point wrote |
 * | 28     | 4    | current records in the log |
 * | 32     | 8    | bytes this point appended (float64 LE) |
 * | 40     | 8    | log size after the last compaction (float64 LE) |
 * | 48     | 8    | time of the point, ms since the epoch (float64 LE) |
 * | 56     | 8    | ms the point blocked the program (float64 LE) |
 * | 64     | 4    | CRC-32 of bytes 0..64 |
 *
 * Invariant: a blob is accepted only with the magic, a known format version and a
 * matching CRC; anything else is "not a container" (no magic) or damage (CorruptionError).
 * A newer format version is UnsupportedVersionError (an older library refuses a file this
 * one wrote, rather than taking its new records for damage); every point writes version 2,
 * so a version-1 container is read as it is and becomes version 2 at its next point.
 */
import { crc32 } from 'node:zlib'
import { CorruptionError, NotARegionError, UnsupportedVersionError } from '../../regions/index.js'

export const META_SIZE = 68
const MAGIC = 0x54434d50 // "PMCT" little-endian
export const FORMAT_VERSION = 2

export interface ContainerMeta {
  logEnd: number
  rootId: number
  highWater: number
  objectsWritten: number
  records: number
  bytesWritten: number
  compactedSize: number
  time: number
  blockedMs: number
}

export function encodeMeta(m: ContainerMeta): Uint8Array {
  const b = new Uint8Array(META_SIZE)
  const dv = new DataView(b.buffer)
  dv.setUint32(0, MAGIC, true)
  dv.setUint16(4, FORMAT_VERSION, true)
  dv.setFloat64(8, m.logEnd, true)
  dv.setUint32(16, m.rootId, true)
  dv.setUint32(20, m.highWater, true)
  dv.setUint32(24, m.objectsWritten, true)
  dv.setUint32(28, m.records, true)
  dv.setFloat64(32, m.bytesWritten, true)
  dv.setFloat64(40, m.compactedSize, true)
  dv.setFloat64(48, m.time, true)
  dv.setFloat64(56, m.blockedMs, true)
  dv.setUint32(64, crc32(b.subarray(0, 64)), true)
  return b
}

/** Decodes a metadata blob; `where` names the file in errors. */
export function decodeMeta(b: Uint8Array, where: string): ContainerMeta {
  if (b.length < 4 || new DataView(b.buffer, b.byteOffset, b.length).getUint32(0, true) !== MAGIC) {
    throw new NotARegionError(`Cannot open container "${where}": the file is not a container (no container metadata); use Container.open with init to create one at another path`)
  }
  const dv = new DataView(b.buffer, b.byteOffset, b.length)
  if (b.length < META_SIZE) throw new CorruptionError(`Cannot open container "${where}": metadata truncated to ${b.length} bytes`)
  const fmt = dv.getUint16(4, true)
  if (fmt > FORMAT_VERSION) throw new UnsupportedVersionError(`Cannot open container "${where}": written by a newer format version ${fmt} (this library reads ${FORMAT_VERSION}); upgrade persistent-memory`)
  if (crc32(b.subarray(0, 64)) !== dv.getUint32(64, true)) throw new CorruptionError(`Cannot open container "${where}": metadata checksum mismatch`)
  const m: ContainerMeta = {
    logEnd: dv.getFloat64(8, true), rootId: dv.getUint32(16, true), highWater: dv.getUint32(20, true),
    objectsWritten: dv.getUint32(24, true), records: dv.getUint32(28, true), bytesWritten: dv.getFloat64(32, true),
    compactedSize: dv.getFloat64(40, true), time: dv.getFloat64(48, true), blockedMs: dv.getFloat64(56, true),
  }
  if (!Number.isSafeInteger(m.logEnd) || m.logEnd < 0 || m.rootId === 0 || m.rootId >= m.highWater) {
    throw new CorruptionError(`Cannot open container "${where}": impossible metadata (log end ${m.logEnd}, root ${m.rootId}, ids below ${m.highWater})`)
  }
  return m
}
