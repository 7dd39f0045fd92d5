/**
 * PATCH records of chunked buffers (format version 4; byte layouts in format.ts): a large
 * ArrayBuffer or Buffer whose changes are spread thin (1% of the elements of a Float64Array
 * of a million, at random, change nearly every 4 KiB chunk) is stored as its CHUNK records
 * (its base) plus PATCH parts, each holding the byte ranges one point found changed, at
 * BLOCK-byte granularity. The buffer's own record is a PATCH record: its CHUNKED fields and
 * the ids of its parts in order. binary.ts decides when (inv. BIN4); this file finds the
 * changed blocks of a chunk, writes a part and applies parts on restore.
 *
 * Finding the blocks: binary.ts compares each chunk's 128-bit fingerprint (fingerprint.ts),
 * which decides whether a chunk changed, exactly as before (inv. F1, F2). For a chunk that
 * changed, the hashes of its BLOCK-byte blocks (`blockHashes`, 64 bits per block, two
 * 32-bit lanes of different constants in one pass: 1/8 of the buffer, kept only for buffers that have changed once,
 * made at that point) say which blocks differ; if none does, the whole chunk is the range.
 * A changed block whose hash stays the same while another block of its chunk differs is
 * missed (BP3): with 32 bits per block that was once in 2^32 changed blocks at random (1% of
 * a Float64Array of a million changed at random: about 10,000 changed blocks a point), and two
 * adjacent words changed together could keep a lane's hash deterministically; with 64 bits it
 * is once in 2^64.
 *
 * Invariants (restore relies on them; damage that breaks one is CorruptionError):
 *   BP1. A part's ranges are ascending, do not overlap, and lie inside the buffer, whose
 *        length the part repeats; applied in order after the chunks, parts rebuild the
 *        bytes the buffer had at the point of the last one.
 *   BP2. A part id belongs to one buffer (a BinaryPart descriptor, bound on restore like
 *        chunks), is listed by that buffer's PATCH record only, and is never reused before
 *        compaction (identity.ts inv. 2).
 *   BP3. A block's hash is 64 bits (`hashes[2b]`, `hashes[2b + 1]`: two lanes of different
 *        constants): a changed block is taken as unchanged only if both lanes stay equal.
 */
import { KIND_PATCH, PROTO_BUILTIN } from './format.js'
import { PartRef } from './segments.js'
import type { ByteWriter } from './writer.js'

/** Bytes per block: the granularity of a part's ranges. */
export const BLOCK = 64

/** In-memory descriptor of a buffer's PATCH part (kept in the object table under its id, inv. BP2). */
export class BinaryPart extends PartRef {}

/** First body byte of a PATCH part (patch-record.ts `PART_MARK`). */
const PART_MARK = 0

/** Block `b`'s 64-bit hash (inv. BP3) into `scratch[0]`, `scratch[1]`: two lanes of different constants in one pass over its BLOCK / 4 words (the last block may be shorter: `u8` gives its tail bytes). */
function blockHash(u8: Uint8Array, words: Int32Array, b: number): void {
  const from = b * (BLOCK >>> 2), to = Math.min(words.length, from + (BLOCK >>> 2))
  let h = 0x2545f491 ^ b, g = 0x6a09e667 ^ Math.imul(b, 0x27d4eb2f)
  for (let i = from; i < to; i++) {
    const w = words[i]
    h = Math.imul(h ^ w, 0x9e3779b1); h ^= h >>> 15
    g = Math.imul(g ^ w, 0x85ebca6b); g ^= g >>> 13
  }
  for (let i = to * 4, end = Math.min(u8.length, (b + 1) * BLOCK); i < end; i++) {
    h = Math.imul(h ^ u8[i], 0x9e3779b1); h ^= h >>> 15
    g = Math.imul(g ^ u8[i], 0x85ebca6b); g ^= g >>> 13
  }
  scratch[0] = h
  scratch[1] = g
}
const scratch = new Int32Array(2)

/** The block hashes of a whole buffer (its bytes and an Int32Array over them: 4-aligned), two lanes a block (inv. BP3). */
export function blockHashes(u8: Uint8Array, words: Int32Array): Int32Array {
  const out = new Int32Array(2 * Math.ceil(u8.length / BLOCK))
  rehash(u8, words, out, 0, u8.length)
  return out
}

/** Sets the block hashes of bytes [from, to) (from a multiple of BLOCK) to those of their current bytes. */
export function rehash(u8: Uint8Array, words: Int32Array, hashes: Int32Array, from: number, to: number): void {
  for (let b = from / BLOCK, end = Math.ceil(to / BLOCK); b < end; b++) { blockHash(u8, words, b); hashes[2 * b] = scratch[0]; hashes[2 * b + 1] = scratch[1] }
}

/**
 * Appends to `ranges` ([from, to, ...], ascending, merged when adjacent) the blocks of bytes
 * [from, to) whose hash differs from `hashes`, updating `hashes`; the whole range if none
 * differs (the fingerprint said it changed). Returns the bytes added.
 */
export function changedBlocks(u8: Uint8Array, words: Int32Array | null, hashes: Int32Array | null, from: number, to: number, ranges: number[]): number {
  if (words === null || hashes === null) return addRange(ranges, from, to)
  let added = 0
  for (let b = from / BLOCK, end = Math.ceil(to / BLOCK); b < end; b++) {
    blockHash(u8, words, b)
    const h = scratch[0], h2 = scratch[1]
    if (h === hashes[2 * b] && h2 === hashes[2 * b + 1]) continue      // inv. BP3: both lanes
    hashes[2 * b] = h
    hashes[2 * b + 1] = h2
    added += addRange(ranges, b * BLOCK, Math.min(u8.length, (b + 1) * BLOCK))
  }
  return added === 0 ? addRange(ranges, from, to) : added
}

function addRange(ranges: number[], from: number, to: number): number {
  const k = ranges.length
  if (k > 0 && ranges[k - 1] === from) ranges[k - 1] = to
  else ranges.push(from, to)
  return to - from
}

/** A PATCH part of a buffer: PATCH, proto 0, the part mark, its base kind, the buffer's length, then the ranges with their bytes (inv. BP1). */
export function writeBinaryPart(w: ByteWriter, id: number, base: number, bytes: Uint8Array, ranges: readonly number[]): void {
  const lenAt = w.beginRecord(id)
  w.u8(KIND_PATCH); w.varint(PROTO_BUILTIN); w.u8(PART_MARK); w.u8(base)
  w.varint(bytes.length); w.varint(ranges.length / 2)
  for (let i = 0; i < ranges.length; i += 2) {
    w.varint(ranges[i]); w.varint(ranges[i + 1] - ranges[i])
    w.bytes(bytes.subarray(ranges[i], ranges[i + 1]))
  }
  w.endRecord(lenAt)
}

/** What the restorer offers (patch-record.ts's reader adds values). */
export interface PartReader {
  readonly buf: Uint8Array
  pos: number
  end: number
  u8(): number
  varint(): number
  count(minBytes: number): number
  need(n: number): void
  fail(what: string): never
  enter(id: number): number
}

/**
 * Applies buffer `id`'s PATCH parts to its bytes `target` (filled from its chunks), in order
 * (inv. BP1); returns the chunks (of `size` bytes) the parts touched, and the bytes they hold.
 */
export function applyBinaryParts(r: PartReader, id: number, target: Uint8Array, base: number, size: number, parts: readonly number[]): { touched: Uint8Array; patched: number } {
  const n = target.length
  const touched = new Uint8Array(Math.ceil(n / size))
  let patched = 0
  for (const pid of parts) {
    if (r.enter(pid) !== KIND_PATCH) r.fail(`patched buffer ${id} lists a record ${pid} that is not a patch part`)
    r.varint()
    if (r.u8() !== PART_MARK || r.u8() !== base) r.fail(`patched buffer ${id} lists record ${pid}, not a part of its kind`)
    if (r.varint() !== n) r.fail(`patch part ${pid} is for a buffer of another length than ${n}`)
    const k = r.count(2)
    let last = 0
    for (let i = 0; i < k; i++) {
      const from = r.varint(), len = r.varint()
      if (from < last || len === 0 || from + len > n) r.fail(`patch part ${pid} has the range [${from}, ${from + len}) in a buffer of ${n} bytes after ${last}`)
      r.need(len)
      target.set(r.buf.subarray(r.pos, r.pos + len), from)
      r.pos += len
      for (let c = Math.floor(from / size), e = Math.floor((from + len - 1) / size); c <= e; c++) touched[c] = 1
      patched += len
      last = from + len
    }
    if (r.pos !== r.end) r.fail(`patch part ${pid} has trailing bytes`)
  }
  return { touched, patched }
}
