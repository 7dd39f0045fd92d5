/**
 * Redo-log records: the byte layout, a builder that stages one transaction's writes in
 * JavaScript memory, and the decoder that validates a record. A record is described here as
 * one contiguous run of bytes (its "logical" form, as the builder holds it); the log lays it
 * out around the per-sector stamps (redo-log.ts) and gathers it back before decoding.
 *
 * Record layout, format 2 (all integers little-endian; a record starts 8-byte aligned):
 *
 * | offset | size | description                                                        |
 * | -----: | ---: | ------------------------------------------------------------------ |
 * |      0 |    4 | magic 0x4F444552 ("REDO")                                          |
 * |      4 |    4 | byteLength: whole record, header included, multiple of 8, >= 32   |
 * |      8 |    4 | seq low 32 bits: sequence number of the transaction               |
 * |     12 |    4 | seq high 21 bits (seq < 2^53)                                     |
 * |     16 |    4 | durableMark: log position (from the log area's start) up to which  |
 * |        |      | the log was known durable when this record was appended            |
 * |     20 |    4 | bodyChecksum: hash32 of words [8, byteLength/4) seeded with `seed` |
 * |     24 |    4 | headerChecksum: hash32 of words [0, 6) seeded with `seed`          |
 * |     28 |    4 | reserved, zero                                                     |
 * |     32 |    * | entries, back to back, filling the record exactly                 |
 *
 * `seed` is the log's `recordSeed(logId, epoch)`: a record validates only in the log and the
 * epoch it was written in. Format 1 (a 24-byte header with one checksum over the whole
 * record) is no longer read: a format-1 log is refused (redo-log.ts).
 *
 * Entry layout (8-byte aligned):
 *
 * | offset | size | description                                                        |
 * | -----: | ---: | ------------------------------------------------------------------ |
 * |      0 |    4 | target: byte offset in the region's user area                     |
 * |      4 |    4 | length in bytes; bit 31 set means "fill with zeros", no data      |
 * |      8 |    * | data (length bytes), padded with zeros to a multiple of 8         |
 *
 * Invariants recovery relies on (cited as "rec. N"):
 *   1. A record is valid only if its magic, header checksum, length, seq, body checksum and
 *      entry structure all match; a torn record (some sectors from an older write) fails a
 *      checksum. The header checksum alone makes `byteLength` and `seq` trustworthy, so the
 *      log can tell which sectors a record spans even when its body is damaged.
 *   2. A record is the whole transaction: it carries every write and doubles as the commit
 *      record, so a transaction is replayed entirely or not at all.
 *   3. Entries are applied in order; a later write to the same bytes wins.
 *   4. A valid header's durableMark vouches that every record before that position was
 *      durable; a record there that fails validation was damaged after it was written
 *      (outside the crash model), so recovery reports it instead of truncating silently.
 *   5. A builder never holds a record longer than its limit (the log's capacity: what an
 *      empty log holds), whatever its buffer's length: a longer one is TransactionTooLargeError
 *      when staged, so every sealed record fits the log after a checkpoint and is never
 *      appended past the log's end (over the data area).
 */
import { TransactionTooLargeError } from '../regions/index.js'
import { hash32, wordsOf } from './hash.js'

export const RECORD_MAGIC = 0x4f444552
export const RECORD_HEADER = 32
export const ZERO_FILL = 0x80000000

/** The builder's state at some point, to truncate back to (see `RecordBuilder.savepoint`). */
export interface Savepoint { readonly length: number; readonly entryCount: number; readonly lo: number; readonly hi: number }

/** Stages one transaction's writes, already in the on-disk record format. */
export class RecordBuilder {
  buf: Uint8Array
  words: Uint32Array
  f64: Float64Array
  dv: DataView
  /** Bytes used so far (the record's length when sealed). */
  length = RECORD_HEADER
  /** Entries staged so far. Walk them with `for (let p = RECORD_HEADER; p < b.length; p = b.next(p))`. */
  entryCount = 0
  /** Lowest and highest byte written, for a quick "no overlap" answer. */
  lo = Infinity
  hi = -1
  #limit: number

  constructor(limit: number, initial = 4096) {
    this.#limit = limit
    this.buf = new Uint8Array(initial)
    this.words = wordsOf(this.buf)
    this.f64 = new Float64Array(this.buf.buffer)
    this.dv = new DataView(this.buf.buffer)
  }

  /** Forgets all staged entries. */
  reset(): void {
    this.length = RECORD_HEADER
    this.entryCount = 0
    this.lo = Infinity
    this.hi = -1
  }

  /**
   * A savepoint: what `rollback` needs to forget every entry staged after this call (a nested
   * transaction takes one when it starts; eng. 7). Four numbers, no copy.
   */
  savepoint(): Savepoint { return { length: this.length, entryCount: this.entryCount, lo: this.lo, hi: this.hi } }

  /**
   * Bytes the record may still grow by before staging is TransactionTooLargeError (rec. 5).
   * An entry takes 8 bytes plus its data rounded up to 8 (a zero fill: 8).
   */
  get room(): number { return this.#limit - this.length }

  /** Forgets the entries staged since `sp` was taken; the ones before it are untouched. */
  rollback(sp: Savepoint): void {
    this.length = sp.length
    this.entryCount = sp.entryCount
    this.lo = sp.lo
    this.hi = sp.hi
  }

  /** Target offset of the entry at byte position `p`. */
  target(p: number): number { return this.words[p >>> 2]! }
  /** Length in bytes of the entry at `p`. */
  len(p: number): number { return this.words[(p >>> 2) + 1]! & 0x7fffffff }
  /** Byte position of the entry's data, or -1 for a zero fill. */
  data(p: number): number { return (this.words[(p >>> 2) + 1]! & ZERO_FILL) !== 0 ? -1 : p + 8 }
  /**
   * Writes the part of the entry at `p` that falls inside target bytes `[lo, hi)` into `out`,
   * target byte x at `out[x - outBase]` (a zero fill writes zeros): how a reader of the
   * transaction's own writes lays one entry over committed bytes (tx.ts, own-writes.ts).
   */
  applyTo(p: number, lo: number, hi: number, out: Uint8Array, outBase: number): void {
    const t = this.target(p), from = Math.max(t, lo), to = Math.min(t + this.len(p), hi)
    if (from >= to) return
    const d = this.data(p)
    if (d < 0) out.fill(0, from - outBase, to - outBase)
    else out.set(this.buf.subarray(d + from - t, d + to - t), from - outBase)
  }
  /** Position of the entry after the one at `p`. */
  next(p: number): number {
    const raw = this.words[(p >>> 2) + 1]!
    return p + 8 + ((raw & ZERO_FILL) !== 0 ? 0 : ((raw & 0x7fffffff) + 7) & ~7)
  }

  /** Reserves an entry for `len` bytes at `target`; returns the position of its data. */
  entry(target: number, len: number, zeroFill = false): number {
    const dataLen = zeroFill ? 0 : (len + 7) & ~7
    const need = this.length + 8 + dataLen
    // rec. 5: the limit, not the buffer, bounds a record (the buffer starts at 4096 bytes and
    // grows to the limit + 8, both more than an empty log may hold)
    if (need > this.buf.length || need > this.#limit) this.#grow(need)
    const pos = this.length
    const w = pos >>> 2
    this.words[w] = target
    this.words[w + 1] = zeroFill ? (len | ZERO_FILL) >>> 0 : len
    if (dataLen > 0) { // zero the last data words so padding bytes are deterministic
      this.words[w + (dataLen >>> 2)] = 0
      this.words[w + 1 + (dataLen >>> 2)] = 0
    }
    this.length = need
    this.entryCount++
    if (target < this.lo) this.lo = target
    if (target + len - 1 > this.hi) this.hi = target + len - 1
    return pos + 8
  }

  /** Writes the header (seq, durable mark, checksums) and returns the record bytes. */
  seal(seq: number, seed: number, durableMark = 0): Uint8Array {
    const w = this.words
    w[0] = RECORD_MAGIC
    w[1] = this.length
    w[2] = seq >>> 0
    w[3] = Math.floor(seq / 4294967296)
    w[4] = durableMark
    w[5] = hash32(w, 8, this.length >>> 2, seed)
    w[6] = hash32(w, 0, 6, seed)
    w[7] = 0
    return this.buf.subarray(0, this.length)
  }

  #grow(need: number): void {
    if (need > this.#limit) {
      throw new TransactionTooLargeError(
        `Cannot stage write: the transaction needs ${need} bytes of redo log but the log holds at most ${this.#limit}; ` +
        'split it into smaller transactions or open the file with a larger logSize')
    }
    let n = this.buf.length * 2
    while (n < need) n *= 2
    const b = new Uint8Array(Math.min(n, Math.max(need, this.#limit + 8)))
    b.set(this.buf.subarray(0, this.length))
    this.buf = b
    this.words = wordsOf(b)
    this.f64 = new Float64Array(b.buffer)
    this.dv = new DataView(b.buffer)
  }
}

/** A record header whose own checksum holds (rec. 1): its length and seq can be trusted. */
export interface RecordHeader {
  readonly byteLength: number
  readonly seq: number
  /** Log position the writer knew durable (rec. 4). */
  readonly durableMark: number
}

/**
 * The header at word index `w0` if its magic, checksum and length are right (rec. 1), or
 * null. It says nothing of the body. Never throws on any bytes.
 */
export function decodeHeader(words: Uint32Array, w0: number, seed: number): RecordHeader | null {
  if (w0 < 0 || w0 + 8 > words.length || words[w0] !== RECORD_MAGIC) return null
  if (hash32(words, w0, w0 + 6, seed) !== words[w0 + 6] || words[w0 + 7] !== 0) return null
  const byteLength = words[w0 + 1]!
  if (byteLength < RECORD_HEADER || byteLength % 8 !== 0) return null
  return { byteLength, seq: words[w0 + 2]! + (words[w0 + 3]! & 0x1fffff) * 4294967296, durableMark: words[w0 + 4]! }
}

/** Result of decoding the bytes at one log position. */
export interface DecodedRecord {
  /** Word index of the record's start in the words array. */
  readonly w0: number
  readonly byteLength: number
  readonly seq: number
  readonly entryCount: number
  /** Log position the writer knew durable (rec. 4). */
  readonly durableMark: number
}

/**
 * Returns the record at word index `w0` if it is valid for sequence `seq` (rec. 1), or null.
 * `limitWords` is the first word index past the log. Never throws on any bytes.
 */
export function decodeRecord(words: Uint32Array, w0: number, limitWords: number, seq: number, seed: number): DecodedRecord | null {
  const rec = decodeAnyRecord(words, w0, limitWords, seed)
  return rec !== null && rec.seq === seq ? rec : null
}

/** The valid record at word index `w0` whatever its seq (rec. 1), or null. Never throws. */
export function decodeAnyRecord(words: Uint32Array, w0: number, limitWords: number, seed: number): DecodedRecord | null {
  if (w0 + 8 > limitWords) return null
  const h = decodeHeader(words, w0, seed)
  if (h === null || w0 + h.byteLength / 4 > limitWords || h.seq !== words[w0 + 2]! + words[w0 + 3]! * 4294967296) return null
  if (hash32(words, w0 + 8, w0 + h.byteLength / 4, seed) !== words[w0 + 5]) return null
  const entryCount = countEntries(words, w0, h.byteLength)
  if (entryCount < 0) return null
  return { w0, byteLength: h.byteLength, seq: h.seq, entryCount, durableMark: h.durableMark }
}

/** Number of entries that exactly fill the record, or -1 if they do not (so none can overrun). */
function countEntries(words: Uint32Array, w0: number, byteLength: number): number {
  let pos = RECORD_HEADER, n = 0
  while (pos < byteLength) {
    if (pos + 8 > byteLength) return -1
    const raw = words[w0 + (pos >>> 2) + 1]!
    pos += 8 + ((raw & ZERO_FILL) !== 0 ? 0 : ((raw & 0x7fffffff) + 7) & ~7)
    n++
  }
  return pos === byteLength ? n : -1
}

/** Calls `visit(target, length, dataByteOffset | -1 for zero fill)` for each entry of a valid record. */
export function forEachEntry(words: Uint32Array, rec: DecodedRecord,
  visit: (target: number, length: number, dataByte: number) => void): void {
  let pos = RECORD_HEADER
  const base = rec.w0 * 4
  for (let i = 0; i < rec.entryCount; i++) {
    const w = rec.w0 + (pos >>> 2)
    const target = words[w]!
    const raw = words[w + 1]!
    const zero = (raw & ZERO_FILL) !== 0
    const len = raw & ~ZERO_FILL
    visit(target, len >>> 0, zero ? -1 : base + pos + 8)
    pos += 8 + (zero ? 0 : (len + 7) & ~7)
  }
}
