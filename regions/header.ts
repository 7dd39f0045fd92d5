/**
 * The region file header: encoding, and a pure, total decoder.
 *
 * A region file is one 4096-byte header page followed by the user area:
 *
 *     file offset 0      4096                         4096 + userSize
 *                 | header page | user area (mapped, page aligned) |
 *
 * Header struct, little-endian, at file offset 0 (bytes [64, 4096) are reserved: written
 * as zeros at creation, ignored on read: this decoder reads bytes [0, 64) only, as every
 * earlier version did. Since session 12 a writer keeps its writer record at offset 1024,
 * sector 2, with its own CRC (writer-record.ts, lock.ts inv. L10), and since session 16 its
 * claim word at offset 1016 (writer-claim.ts, inv. L11); nothing here reads either):
 *
 * | OFFSET | SIZE | DESCRIPTION                                                         |
 * | ------ | ---- | ------------------------------------------------------------------- |
 * |      0 |    8 | magic, ASCII "PMEMRGN\0"                                            |
 * |      8 |    4 | format version, u32 (this library writes and reads version 1)       |
 * |     12 |    4 | header size, u32: bytes before the user area (always 4096)          |
 * |     16 |    8 | user-area size, u64: a multiple of 4096, at least 4096              |
 * |     24 |   16 | region id: 128 random bits, fixed at creation                       |
 * |     40 |    4 | flags, u32: incompatible-feature bits; none defined, must be 0      |
 * |     44 |    4 | reserved, 0                                                          |
 * |     48 |    8 | creation time, u64, milliseconds since the Unix epoch               |
 * |     56 |    4 | reserved, 0                                                          |
 * |     60 |    4 | CRC-32C of bytes [0, 60)                                             |
 *
 * Compatibility rule kept by every future version: bytes [0, 16) keep this meaning and
 * [60, 64) holds the CRC-32C of [0, 60); a newer version adds fields after offset 64
 * (still inside sector 0) with their own checksum. So a checksum failure always means
 * damage, and a valid checksum with a larger version means "written by a newer library".
 *
 * Invariants open relies on (cited as "inv. H1".."inv. H4" in region code and tests):
 *  H1. The header struct lies inside the first 512-byte sector, so one write of it is
 *      atomic in the crash model (DESIGN.md section 2): it is never torn.
 *  H2. A header never announces more bytes than the file durably holds: creation and
 *      growth write and fsync the user area before the header that announces it. So a
 *      file shorter than 4096 + userSize is damage (CorruptionError naming both sizes).
 *  H3. A file longer than its header announces is the trace of an interrupted grow: the
 *      extra bytes are zeros outside the region; open ignores them (a writer that wrote the
 *      file trims them at close, Region inv. R9; an open alone never changes the file).
 *  H4. A file under a region's own name is complete: creation writes a temporary file,
 *      fsyncs it, then links it into place and fsyncs the directory.
 */
import { CorruptionError, InvalidArgumentError, NotARegionError, UnsupportedVersionError } from './errors.js'
import { crc32c } from './checksum.js'
import { PAGE_SIZE } from './bounds.js'

/** The 8 magic bytes at offset 0: "PMEMRGN\0". */
export const MAGIC: Uint8Array = Uint8Array.of(0x50, 0x4d, 0x45, 0x4d, 0x52, 0x47, 0x4e, 0x00)
/** Format version written by this library; files with a larger one are refused. */
export const FORMAT_VERSION = 1
/** Bytes before the user area (the header page). The user area is page aligned. */
export const HEADER_SIZE = PAGE_SIZE
/** Bytes of the header struct covered by the layout table above. */
export const HEADER_STRUCT_SIZE = 64
/**
 * Largest user area: 2 GiB - 4 KiB. The mmap binding passes sizes and offsets as C `int`,
 * so a mapping (and an msync range) must stay below 2^31 bytes.
 */
export const MAX_USER_SIZE = 2 ** 31 - PAGE_SIZE

const OFF_VERSION = 8
const OFF_HEADER_SIZE = 12
const OFF_USER_SIZE = 16
const OFF_ID = 24
const ID_SIZE = 16
const OFF_FLAGS = 40
const OFF_CREATED = 48
const OFF_CRC = 60

/** The decoded header fields. */
export interface RegionHeader {
  /** Format version (1). */
  readonly version: number
  /** Bytes before the user area (4096). */
  readonly headerSize: number
  /** User-area size in bytes, a multiple of 4096. */
  readonly userSize: number
  /** Region id, 32 lowercase hex digits. */
  readonly id: string
  /** Incompatible-feature flags (0). */
  readonly flags: number
  /** Creation time in milliseconds since the Unix epoch. */
  readonly createdAt: number
}

/** Encodes a header page (4096 bytes: the struct, then zeros). `id` is 32 hex digits. */
export function encodeHeader(h: RegionHeader): Uint8Array {
  const page = new Uint8Array(HEADER_SIZE)
  const dv = new DataView(page.buffer)
  page.set(MAGIC, 0)
  dv.setUint32(OFF_VERSION, h.version, true)
  dv.setUint32(OFF_HEADER_SIZE, h.headerSize, true)
  dv.setBigUint64(OFF_USER_SIZE, BigInt(h.userSize), true)
  page.set(hexToBytes(h.id), OFF_ID)
  dv.setUint32(OFF_FLAGS, h.flags, true)
  dv.setBigUint64(OFF_CREATED, BigInt(h.createdAt), true)
  dv.setUint32(OFF_CRC, crc32c(page, 0, OFF_CRC), true)
  return page
}

/**
 * Decodes and validates a header. Pure and total: for any bytes it returns a valid header
 * or throws `NotARegionError` (not our file), `CorruptionError` (damaged or truncated) or
 * `UnsupportedVersionError` (newer format), each naming `path` and the problem.
 *
 * `bytes` holds the start of the file (at least the 64-byte struct when the file has it).
 * When `fileSize` is given, the file must hold the whole user area (inv. H2); a longer
 * file is accepted (inv. H3).
 */
export function decodeHeader(bytes: Uint8Array, path: string, fileSize?: number): RegionHeader {
  const where = `region "${path}"`
  checkMagic(bytes, where)
  if (bytes.length < HEADER_STRUCT_SIZE) {
    throw new CorruptionError(`Cannot open ${where}: header is truncated (${bytes.length} of ${HEADER_STRUCT_SIZE} bytes); the file is damaged`)
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, HEADER_STRUCT_SIZE)
  const stored = dv.getUint32(OFF_CRC, true)
  const actual = crc32c(bytes, 0, OFF_CRC)
  if (stored !== actual) {
    throw new CorruptionError(`Cannot open ${where}: header checksum mismatch (stored 0x${hex32(stored)}, computed 0x${hex32(actual)}); the header is damaged`)
  }
  const header = readFields(dv, bytes, where)
  if (fileSize !== undefined) checkFileSize(header, fileSize, where)
  return header
}

/**
 * True when `start` (the first bytes of a file) begins with our magic, or is a non-empty
 * prefix of it (a region truncated inside its magic). Used before deleting a file.
 */
export function hasRegionMagic(start: Uint8Array): boolean {
  if (start.length === 0) return false
  const n = Math.min(start.length, MAGIC.length)
  for (let i = 0; i < n; i++) if (start[i] !== MAGIC[i]) return false
  return true
}

function checkMagic(bytes: Uint8Array, where: string): void {
  const n = Math.min(bytes.length, MAGIC.length)
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== MAGIC[i]) {
      throw new NotARegionError(`Cannot open ${where}: not a persistent-memory region (wrong magic number ${describeMagic(bytes)})`)
    }
  }
  if (bytes.length === 0) {
    throw new NotARegionError(`Cannot open ${where}: the file is empty, not a persistent-memory region`)
  }
  if (bytes.length < MAGIC.length) {
    throw new CorruptionError(`Cannot open ${where}: file is truncated to ${bytes.length} bytes inside the header`)
  }
}

function readFields(dv: DataView, bytes: Uint8Array, where: string): RegionHeader {
  const version = dv.getUint32(OFF_VERSION, true)
  if (version > FORMAT_VERSION) {
    throw new UnsupportedVersionError(`Cannot open ${where}: format version ${version} is newer than the supported version ${FORMAT_VERSION}; upgrade persistent-memory`)
  }
  if (version === 0) throw new CorruptionError(`Cannot open ${where}: impossible format version 0`)
  const headerSize = dv.getUint32(OFF_HEADER_SIZE, true)
  if (headerSize !== HEADER_SIZE) {
    throw new CorruptionError(`Cannot open ${where}: impossible header size ${headerSize} (expected ${HEADER_SIZE})`)
  }
  const userSize = readUserSize(dv, where)
  const flags = dv.getUint32(OFF_FLAGS, true)
  if (flags !== 0) {
    throw new UnsupportedVersionError(`Cannot open ${where}: uses features unknown to this version (flags 0x${hex32(flags)}); upgrade persistent-memory`)
  }
  const created = dv.getBigUint64(OFF_CREATED, true)
  const createdAt = created > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(created)
  const id = bytesToHex(bytes.subarray(OFF_ID, OFF_ID + ID_SIZE))
  return { version, headerSize, userSize, id, flags, createdAt }
}

function readUserSize(dv: DataView, where: string): number {
  const big = dv.getBigUint64(OFF_USER_SIZE, true)
  if (big === 0n || big % BigInt(PAGE_SIZE) !== 0n || big > BigInt(MAX_USER_SIZE)) {
    throw new CorruptionError(`Cannot open ${where}: impossible user-area size ${big} (must be a positive multiple of ${PAGE_SIZE} up to ${MAX_USER_SIZE})`)
  }
  return Number(big)
}

function checkFileSize(h: RegionHeader, fileSize: number, where: string): void {
  const expected = h.headerSize + h.userSize
  if (fileSize < expected) {
    throw new CorruptionError(`Cannot open ${where}: file is truncated: the header announces ${expected} bytes (${h.headerSize} + ${h.userSize}) but the file has ${fileSize}`)
  }
}

function describeMagic(bytes: Uint8Array): string {
  return JSON.stringify(Array.from(bytes.subarray(0, MAGIC.length), b => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join(''))
}

function hex32(n: number): string { return n.toString(16).padStart(8, '0') }

/** Lowercase hex of `bytes`. */
export function bytesToHex(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}

function hexToBytes(hex: string): Uint8Array {
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new InvalidArgumentError(`Cannot encode region header: id must be 32 lowercase hex digits, got ${JSON.stringify(hex)}`)
  const out = new Uint8Array(ID_SIZE)
  for (let i = 0; i < ID_SIZE; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}
