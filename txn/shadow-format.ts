/**
 * Shadow paging, on-disk format: the two metadata slots, the version descriptors they hold,
 * the chunk-map nodes and the meta chunk; the slot encoder and its total decoder.
 *
 * A shadow store owns `[base, region.size)` of a region's user area:
 *
 * | offset         | size       | description                                          |
 * | -------------: | ---------: | ---------------------------------------------------- |
 * |              0 |       4096 | metadata slot 0 (holds even versions)                |
 * |           4096 |       4096 | metadata slot 1 (holds odd versions)                 |
 * |           8192 | n x chunk  | physical chunks 0 .. n-1, back to back               |
 *
 * A slot whose first 64 bytes are all zero is blank: never written. Create writes version 0
 * into slot 0 and the commit of version 1 writes slot 1, so a blank slot beside a version
 * above 0 is damage (shadow.ts inv. 9); both slots blank means no store (`probeSlots`).
 *
 * Metadata slot (all integers little-endian; only the first `usedLength` bytes count):
 *
 * | offset | size   | description                                                        |
 * | -----: | -----: | ------------------------------------------------------------------ |
 * |      0 |      8 | magic "PMSHADOW"                                                   |
 * |      8 |      4 | format version (1)                                                 |
 * |     12 |      4 | CRC-32C of bytes [0, usedLength) computed with this field zero     |
 * |     16 |      8 | store version v (< 2^53) = descriptor 0's version; v % 2 = slot    |
 * |     24 |      4 | usedLength = 64 + 48 x R                                           |
 * |        |        | (offsets 0-27 keep their meaning in every format version, so a     |
 * |        |        | newer-format slot is recognised only if its checksum verifies)    |
 * |     28 |      4 | chunkSize in bytes (power of two, 512 .. 16 MiB)                   |
 * |     32 |      4 | keepVersions K (1 .. 64)                                           |
 * |     36 |      4 | R: number of retained versions described (1 .. K)                  |
 * |     40 |     24 | reserved, zero                                                     |
 * |     64 | 48 x R | version descriptors, newest first: versions v, v-1, ..., v-R+1     |
 *
 * Version descriptor:
 *
 * | offset | size | description                                                          |
 * | -----: | ---: | -------------------------------------------------------------------- |
 * |      0 |    8 | version number                                                       |
 * |      8 |    8 | commit time, ms since the epoch (float64)                            |
 * |     16 |    8 | bytes written by the commit that made this version (new chunks)      |
 * |     24 |    4 | chunkCount: logical chunks                                           |
 * |     28 |    4 | root: physical chunk of the map's root (NONE = all holes)           |
 * |     32 |    4 | CRC-32C of the root chunk (0 when root is NONE)                      |
 * |     36 |    4 | meta chunk: physical chunk of the user blob (NONE = empty blob)     |
 * |     40 |    4 | CRC-32C of the meta chunk (0 when NONE)                              |
 * |     44 |    2 | meta length in bytes (0 .. 512)                                      |
 * |     46 |    1 | depth: levels of map nodes above the data (smallest d, F^d >= count) |
 * |     47 |    1 | reserved, zero                                                       |
 *
 * Chunk map (a radix tree of fan-out F = chunkSize / 8, copy-on-write like data). A map node
 * is one physical chunk holding F entries; the entry for child j is at offset 8j:
 *
 * | offset | size | description                                                          |
 * | -----: | ---: | -------------------------------------------------------------------- |
 * |     8j |    4 | physical chunk of child j (a node one level down, or data at level 1) |
 * |   8j+4 |    4 | CRC-32C of that whole child chunk (0 when NONE)                       |
 *
 * NONE (0xFFFFFFFF) marks a hole: the whole subtree reads as zeros. With depth 0 the root
 * is the data chunk of logical chunk 0 itself. The meta chunk holds the blob then zeros.
 * Free chunks are not stored: they are the complement of the chunks the retained versions
 * reference, rebuilt at open (shadow-recover.ts explains why that is equivalent to a bitmap).
 */
import { crc32c } from '../regions/index.js'

export const SLOT_SIZE = 4096
export const SLOT_HEADER = 64
export const DESC_SIZE = 48
/** Offset of physical chunk 0 from the store's base. */
export const DATA_START = 2 * SLOT_SIZE
export const FORMAT_VERSION = 1
export const NONE = 0xffffffff
/** Largest user blob stored with a version (setMeta). */
export const META_MAX = 512
/** Largest keepVersions: 64 descriptors fit a 4096-byte slot with room to spare. */
export const MAX_KEEP = 64
export const MIN_CHUNK = 512
export const MAX_CHUNK = 16 * 1024 * 1024
/** Physical chunk indexes are below this (NONE is reserved). */
export const MAX_PHYS = 0xfffffffe
/** Largest logical chunk count. */
export const MAX_CHUNKS = 0xfffffffe
const MAGIC = [0x50, 0x4d, 0x53, 0x48, 0x41, 0x44, 0x4f, 0x57] // "PMSHADOW"
const TWO32 = 2 ** 32

/** One retained version, as a slot describes it. */
export interface VersionDesc {
  version: number
  time: number
  bytes: number
  chunkCount: number
  root: number
  rootCrc: number
  metaPhys: number
  metaCrc: number
  metaLen: number
  depth: number
}

/** The decoded content of a valid slot. */
export interface SlotContent {
  chunkSize: number
  keepVersions: number
  /** Newest first; descs[0].version is the slot's version. */
  descs: VersionDesc[]
}

/** Result of {@link decodeSlot}: a valid slot, or why it is not one (never an exception). */
export type SlotDecode =
  | { ok: true; slot: SlotContent }
  | { ok: false; blank: boolean; reason: string; magic: boolean; newerFormat?: number }

/**
 * What the two slots at the start of `bytes` (a store's first 8192 bytes) hold, without
 * validating them: 'blank' (both entirely zero: no store was ever created here), 'store'
 * (either slot starts with the magic: a store, maybe damaged), or 'foreign' (other bytes).
 */
export function probeSlots(bytes: Uint8Array): 'blank' | 'store' | 'foreign' {
  if (bytes.length < DATA_START) return bytes.every(b => b === 0) ? 'blank' : 'foreign'
  for (let i = 0; i < 2; i++) if (MAGIC.every((m, j) => bytes[i * SLOT_SIZE + j] === m)) return 'store'
  return isZero(bytes.subarray(0, DATA_START)) ? 'blank' : 'foreign'
}

/** True when every byte of `b` is zero (compares 64 KiB at a time). */
export function isZero(b: Uint8Array): boolean {
  const step = 1 << 16
  for (let at = 0; at < b.length; at += step) {
    const part = b.subarray(at, Math.min(b.length, at + step))
    if (Buffer.compare(part, ZEROS.subarray(0, part.length)) !== 0) return false
  }
  return true
}
const ZEROS = new Uint8Array(1 << 16)

/** Smallest depth d with fanout^d >= count (0 for 0 or 1 chunks). */
export function depthFor(count: number, fanout: number): number {
  let d = 0
  for (let cap = 1; cap < count; cap *= fanout) d++
  return d
}

/** True when `n` is a chunk size this format accepts. */
export function validChunkSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= MIN_CHUNK && n <= MAX_CHUNK && (n & (n - 1)) === 0
}

/** Encodes a slot; returns its first `usedLength` bytes (the rest of the slot is ignored). */
export function encodeSlot(s: SlotContent): Uint8Array {
  const used = SLOT_HEADER + DESC_SIZE * s.descs.length
  const out = new Uint8Array(used)
  const dv = new DataView(out.buffer)
  out.set(MAGIC, 0)
  dv.setUint32(8, FORMAT_VERSION, true)
  setU64(dv, 16, s.descs[0]!.version)
  dv.setUint32(24, used, true)
  dv.setUint32(28, s.chunkSize, true)
  dv.setUint32(32, s.keepVersions, true)
  dv.setUint32(36, s.descs.length, true)
  s.descs.forEach((d, i) => encodeDesc(dv, SLOT_HEADER + i * DESC_SIZE, d))
  dv.setUint32(12, crc32c(out), true)
  return out
}

function encodeDesc(dv: DataView, o: number, d: VersionDesc): void {
  setU64(dv, o, d.version)
  dv.setFloat64(o + 8, d.time, true)
  setU64(dv, o + 16, d.bytes)
  dv.setUint32(o + 24, d.chunkCount, true)
  dv.setUint32(o + 28, d.root, true)
  dv.setUint32(o + 32, d.rootCrc, true)
  dv.setUint32(o + 36, d.metaPhys, true)
  dv.setUint32(o + 40, d.metaCrc, true)
  dv.setUint16(o + 44, d.metaLen, true)
  dv.setUint8(o + 46, d.depth)
}

/**
 * Decodes slot `index` from its 4096 bytes. Total: any bytes give a result, never an
 * exception (the slot fuzz test holds it to that). Checks every field (inv. 4).
 */
export function decodeSlot(bytes: Uint8Array, index: number): SlotDecode {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SLOT_SIZE) {
    return bad(false, false, `slot ${index} is not ${SLOT_SIZE} bytes`)
  }
  if (bytes.subarray(0, SLOT_HEADER).every(b => b === 0)) return bad(true, false, `slot ${index} is empty`)
  if (!MAGIC.every((m, i) => bytes[i] === m)) return bad(false, false, `slot ${index} has no shadow-store magic`)
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const why = checksumProblem(bytes, dv)
  if (why !== null) return { ok: false, blank: false, magic: true, reason: `slot ${index} ${why}` }
  const format = dv.getUint32(8, true)
  if (format > FORMAT_VERSION) {
    return { ok: false, blank: false, magic: true, newerFormat: format, reason: `slot ${index} has format version ${format}, newer than ${FORMAT_VERSION}` }
  }
  const wrong = headerProblem(bytes, dv, index, format)
  if (wrong !== null) return { ok: false, blank: false, magic: true, reason: `slot ${index} ${wrong}` }
  return decodeBody(dv, index, getU64(dv, 16))
}

/**
 * The checksum test, the same in every format version (magic, format, checksum, version and
 * usedLength keep their offsets), so a damaged slot is never taken for a newer format.
 */
function checksumProblem(bytes: Uint8Array, dv: DataView): string | null {
  const used = dv.getUint32(24, true)
  if (used < 32 || used > SLOT_SIZE) return `has impossible length ${used}`
  const stored = dv.getUint32(12, true)
  const copy = bytes.slice(0, used)
  copy.fill(0, 12, 16)
  const actual = crc32c(copy)
  return stored === actual ? null : `fails its checksum (stored ${hex(stored)}, computed ${hex(actual)}): torn or damaged`
}

function headerProblem(bytes: Uint8Array, dv: DataView, index: number, format: number): string | null {
  if (format !== FORMAT_VERSION) return `has unknown format version ${format}`
  const used = dv.getUint32(24, true)
  if (used < SLOT_HEADER + DESC_SIZE || (used - SLOT_HEADER) % DESC_SIZE !== 0) return `has impossible length ${used}`
  if (!bytes.subarray(40, SLOT_HEADER).every(b => b === 0)) return 'has non-zero reserved bytes'
  const version = getU64(dv, 16)
  if (version < 0) return 'has a version number beyond 2^53'
  if (version % 2 !== index) return `holds version ${version}, which belongs in slot ${version % 2}`
  if (!validChunkSize(dv.getUint32(28, true))) return `has invalid chunk size ${dv.getUint32(28, true)}`
  const keep = dv.getUint32(32, true)
  const count = dv.getUint32(36, true)
  if (keep < 1 || keep > MAX_KEEP) return `has invalid keepVersions ${keep}`
  if (count < 1 || count > keep || SLOT_HEADER + count * DESC_SIZE !== used) return `has invalid retained count ${count}`
  return null
}

function decodeBody(dv: DataView, index: number, version: number): SlotDecode {
  const chunkSize = dv.getUint32(28, true)
  const keepVersions = dv.getUint32(32, true)
  const count = dv.getUint32(36, true)
  const descs: VersionDesc[] = []
  for (let i = 0; i < count; i++) {
    const d = decodeDesc(dv, SLOT_HEADER + i * DESC_SIZE)
    const why = descProblem(d, dv, SLOT_HEADER + i * DESC_SIZE, version - i, chunkSize / 8)
    if (why !== null) return { ok: false, blank: false, magic: true, reason: `slot ${index} descriptor ${i}: ${why}` }
    descs.push(d)
  }
  return { ok: true, slot: { chunkSize, keepVersions, descs } }
}

function decodeDesc(dv: DataView, o: number): VersionDesc {
  return {
    version: getU64(dv, o),
    time: dv.getFloat64(o + 8, true),
    bytes: getU64(dv, o + 16),
    chunkCount: dv.getUint32(o + 24, true),
    root: dv.getUint32(o + 28, true),
    rootCrc: dv.getUint32(o + 32, true),
    metaPhys: dv.getUint32(o + 36, true),
    metaCrc: dv.getUint32(o + 40, true),
    metaLen: dv.getUint16(o + 44, true),
    depth: dv.getUint8(o + 46),
  }
}

function descProblem(d: VersionDesc, dv: DataView, o: number, expected: number, fanout: number): string | null {
  if (d.version !== expected || expected < 0) return `version ${d.version}, expected ${expected}`
  if (!Number.isFinite(d.time)) return 'time is not a finite number'
  if (d.bytes < 0) return 'byte count beyond 2^53'
  if (d.chunkCount > MAX_CHUNKS) return `chunk count ${d.chunkCount} is too large`
  if (d.depth !== depthFor(d.chunkCount, fanout)) return `depth ${d.depth} does not fit ${d.chunkCount} chunks`
  if (d.chunkCount === 0 && d.root !== NONE) return 'an empty version has a map root'
  if (d.root === NONE && d.rootCrc !== 0) return 'a missing root has a checksum'
  if (d.metaLen > META_MAX) return `meta length ${d.metaLen} exceeds ${META_MAX}`
  if ((d.metaLen === 0) !== (d.metaPhys === NONE)) return 'meta length and meta chunk disagree'
  if (d.metaPhys === NONE && d.metaCrc !== 0) return 'a missing meta chunk has a checksum'
  if (dv.getUint8(o + 47) !== 0) return 'non-zero reserved byte'
  return null
}

function bad(blank: boolean, magic: boolean, reason: string): SlotDecode {
  return { ok: false, blank, magic, reason }
}

/** Writes a non-negative safe integer as u64 little-endian. */
function setU64(dv: DataView, o: number, n: number): void {
  dv.setUint32(o, n % TWO32, true)
  dv.setUint32(o + 4, Math.floor(n / TWO32), true)
}

/** Reads a u64 little-endian; -1 when it is not below 2^53. */
function getU64(dv: DataView, o: number): number {
  const hi = dv.getUint32(o + 4, true)
  return hi >= 2 ** 21 ? -1 : hi * TWO32 + dv.getUint32(o, true)
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0')
}
