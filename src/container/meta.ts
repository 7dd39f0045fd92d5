/**
 * Container metadata: the blob stored with each version of the chunk store (setMeta). It
 * says where the log ends and which object is the root, so a version is self-describing.
 *
 * | OFFSET | SIZE | DESCRIPTION |
 * | ------ | ---- | ----------- |
 * | 0      | 4    | magic "PMCT" |
 * | 4      | 2    | format version of the records (5, or 6 when the log holds ERROR or BOXED records, or 7 when it holds segmented dictionaries (format.ts, write.ts inv. F6); versions 1 to 4 are read too: version 4 is version 5 without PATCH parts that name their collection and may hold references (form 1, format.ts); version 3 is version 4 without PATCH records (format.ts); version 2 is version 3 without INDEX records and without bytes 64..76 below, version 1 is version 2 without STATEFUL, CHUNKED and CHUNK records and PROPS sections, format.ts) |
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
 * | 64     | 8    | log offset of the newest INDEX record (log-offsets.ts), -1 if this version has no index (float64 LE; format version 3) |
| 72     | 4    | CRC-32 of bytes 0..72 (format version 2: bytes 64..68 are the CRC-32 of bytes 0..64, and the blob ends there) |
 *
 * Invariant: a blob is accepted only with the magic, a known format version and a
 * matching CRC; anything else is "not a container" (no magic) or damage (CorruptionError).
 * A newer format version is UnsupportedVersionError (an older library refuses a file this
 * one wrote, rather than taking its new records for damage); every point writes version 5,
 * 6 or 7 (6 only when its log holds ERROR or BOXED records, 7 only when it holds a segmented
 * dictionary: write.ts inv. F6, so a file without them still opens in a format-5 library), so a version-1 to -4 container is read as it is
 * (versions 1-2 with no index: `indexAt` -1) and becomes version 5 at its next point.
 */
import { crc32 } from 'node:zlib'
import { CorruptionError, NotARegionError, UnsupportedVersionError } from '../../regions/index.js'

export const META_SIZE = 76
/** Size of a format version 2 blob (no index offset). */
const META_SIZE_2 = 68
const MAGIC = 0x54434d50 // "PMCT" little-endian
/** The newest format version this library reads (and writes when the log needs it: write.ts inv. F6). */
export const FORMAT_VERSION = 7
/** The format version written when the log holds no ERROR or BOXED record nor a segmented dictionary (write.ts inv. F6). */
export const FORMAT_BASE = 5
/** The format version of a log that holds ERROR or BOXED records (natives.ts) but no segmented dictionary. */
export const FORMAT_NATIVES = 6
/** The format version of a log that holds a segmented dictionary (SEGMENTED or PATCH records of base DICT, patch-record.ts inv. PR6). */
export const FORMAT_DICTS = 7

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
  /** Log offset of the newest INDEX record, or -1 (no index: a lazy open scans the log). */
  indexAt: number
  /** Format version of the blob: written as FORMAT_BASE when absent (write.ts inv. F6). */
  format?: number
}

export function encodeMeta(m: ContainerMeta): Uint8Array {
  const b = new Uint8Array(META_SIZE)
  const dv = new DataView(b.buffer)
  dv.setUint32(0, MAGIC, true)
  dv.setUint16(4, m.format ?? FORMAT_BASE, true)
  dv.setFloat64(8, m.logEnd, true)
  dv.setUint32(16, m.rootId, true)
  dv.setUint32(20, m.highWater, true)
  dv.setUint32(24, m.objectsWritten, true)
  dv.setUint32(28, m.records, true)
  dv.setFloat64(32, m.bytesWritten, true)
  dv.setFloat64(40, m.compactedSize, true)
  dv.setFloat64(48, m.time, true)
  dv.setFloat64(56, m.blockedMs, true)
  dv.setFloat64(64, m.indexAt, true)
  dv.setUint32(72, crc32(b.subarray(0, 72)), true)
  return b
}

/** Decodes a metadata blob; `where` names the file in errors. */
export function decodeMeta(b: Uint8Array, where: string): ContainerMeta {
  if (b.length < 4 || new DataView(b.buffer, b.byteOffset, b.length).getUint32(0, true) !== MAGIC) {
    throw new NotARegionError(`Cannot open container "${where}": the file is not a container (no container metadata); use Container.open with init to create one at another path`)
  }
  const dv = new DataView(b.buffer, b.byteOffset, b.length)
  if (b.length < META_SIZE_2) throw new CorruptionError(`Cannot open container "${where}": metadata truncated to ${b.length} bytes`)
  const fmt = dv.getUint16(4, true)
  if (fmt > FORMAT_VERSION) throw new UnsupportedVersionError(`Cannot open container "${where}": written by a newer format version ${fmt} (this library reads ${FORMAT_VERSION}); upgrade persistent-memory`)
  const crcAt = fmt >= 3 ? 72 : 64
  if (b.length < crcAt + 4) throw new CorruptionError(`Cannot open container "${where}": metadata truncated to ${b.length} bytes`)
  if (crc32(b.subarray(0, crcAt)) !== dv.getUint32(crcAt, true)) throw new CorruptionError(`Cannot open container "${where}": metadata checksum mismatch`)
  const m: ContainerMeta = {
    logEnd: dv.getFloat64(8, true), rootId: dv.getUint32(16, true), highWater: dv.getUint32(20, true),
    objectsWritten: dv.getUint32(24, true), records: dv.getUint32(28, true), bytesWritten: dv.getFloat64(32, true),
    compactedSize: dv.getFloat64(40, true), time: dv.getFloat64(48, true), blockedMs: dv.getFloat64(56, true),
    indexAt: fmt >= 3 ? dv.getFloat64(64, true) : -1, format: fmt,
  }
  if (!Number.isSafeInteger(m.logEnd) || m.logEnd < 0 || m.rootId === 0 || m.rootId >= m.highWater ||
    !(m.indexAt === -1 || (Number.isSafeInteger(m.indexAt) && m.indexAt >= 0 && m.indexAt < m.logEnd))) {
    throw new CorruptionError(`Cannot open container "${where}": impossible metadata (log end ${m.logEnd}, root ${m.rootId}, ids below ${m.highWater}, index at ${m.indexAt})`)
  }
  return m
}
