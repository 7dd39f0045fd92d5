/**
 * ByteReader: bounds-checked reads of the record format (format.ts) from a byte range.
 *
 * Invariant: no read goes past `end`; any attempt throws CorruptionError naming the file
 * and the position, so damaged bytes give a typed error, never garbage or a crash. Every
 * length read from the data is checked against the bytes that remain before it is used to
 * allocate or loop, so a damaged length cannot make the decoder hang or exhaust memory.
 */
import { CorruptionError } from '../../regions/index.js'
import type { FastBuffer } from './writer.js'

const SHORT_MASK = 4095
const shortKeys = new Float64Array(SHORT_MASK + 1)
const shortStrings: string[] = new Array<string>(SHORT_MASK + 1).fill('')

/** Latin-1 strings up to this length are made by `fromCodes` (longer ones by `latin1Slice`). */
const FROM_CODES_MAX = 12
const fromCharCode = String.fromCharCode

/**
 * The latin-1 string of `b[p, p + n)` for 1 <= n <= FROM_CODES_MAX: `String.fromCharCode`
 * of the bytes (every byte is a char code below 256, so the string is the same one-byte
 * string `latin1Slice` makes), 2-4x faster than `latin1Slice`, a call into C++ per string
 * (200,000 strings of 6-12 chars: 4-7 ms against 14-18 ms, warm).
 */
function fromCodes(b: Uint8Array, p: number, n: number): string {
  switch (n) {
    case 1: return fromCharCode(b[p])
    case 2: return fromCharCode(b[p], b[p + 1])
    case 3: return fromCharCode(b[p], b[p + 1], b[p + 2])
    case 4: return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3])
    case 5: return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4])
    case 6: return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5])
    case 7: return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6])
    case 8: return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6], b[p + 7])
    case 9: return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6], b[p + 7], b[p + 8])
    case 10: return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6], b[p + 7], b[p + 8], b[p + 9])
    case 11: return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6], b[p + 7], b[p + 8], b[p + 9], b[p + 10])
    default: return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6], b[p + 7], b[p + 8], b[p + 9], b[p + 10], b[p + 11])
  }
}

export class ByteReader {
  buf: FastBuffer
  /** The same bytes as `buf`, for float64 and int32 reads (DataView reads compile to plain loads). */
  readonly dv: DataView
  pos: number
  end: number
  /** Names the file in error messages. */
  readonly where: string
  /** Names what is being read in error messages ('' or ending in ': '): set by a reader of a record's parts, patch-apply.ts. */
  context = ''

  constructor(buf: Uint8Array, pos: number, end: number, where: string) {
    this.buf = (Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)) as FastBuffer
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength)
    this.pos = pos
    this.end = end
    this.where = where
  }

  fail(what: string): never {
    throw new CorruptionError(`Cannot restore container "${this.where}": ${this.context}${what} at byte ${this.pos}; the file is damaged (restore an earlier version or delete it)`)
  }

  need(n: number): void { if (this.pos + n > this.end) this.fail(`record truncated (needs ${n} more bytes)`) }

  u8(): number {
    if (this.pos >= this.end) this.fail('record truncated')
    return this.buf[this.pos++]
  }

  u32(): number {
    this.need(4)
    const v = this.buf.readUInt32LE(this.pos)
    this.pos += 4
    return v
  }

  varint(): number {
    let v = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      const b = this.u8()
      v += (b & 0x7f) * scale
      if (b < 0x80) return v
      scale *= 0x80
    }
    return this.fail('varint too long')
  }

  /** A varint that counts items of at least `minBytes` bytes each that must fit before `end`. */
  count(minBytes: number): number {
    const n = this.varint()
    if (n * minBytes > this.end - this.pos) this.fail(`count ${n} larger than the record`)
    return n
  }

  f64(): number {
    this.need(8)
    const v = this.dv.getFloat64(this.pos, true)
    this.pos += 8
    return v
  }

  i32(): number {
    this.need(4)
    const v = this.dv.getInt32(this.pos, true)
    this.pos += 4
    return v
  }

  latin1(n: number): string {
    this.need(n)
    const p = this.pos
    this.pos = p + n
    const b = this.buf
    if (n > 6) return n <= FROM_CODES_MAX ? fromCodes(b, p, n) : b.latin1Slice(p, p + n)
    if (n === 0) return ''
    // Short strings repeat (tags, codes, keys): a small cache returns the same string
    // instead of allocating a new one each time, which saves young-generation GC work.
    let key = n
    for (let i = 0; i < n; i++) key = key * 256 + b[p + i]
    const slot = (key ^ (key / 0x10000)) & SHORT_MASK
    if (shortKeys[slot] === key) return shortStrings[slot]
    const s = fromCodes(b, p, n)
    shortKeys[slot] = key
    shortStrings[slot] = s
    return s
  }

  utf16(n: number): string {
    this.need(n * 2)
    const p = this.pos
    this.pos = p + n * 2
    return this.buf.ucs2Slice(p, p + n * 2)
  }

  bytes(n: number): Uint8Array {
    this.need(n)
    const out = new Uint8Array(n)
    out.set(this.buf.subarray(this.pos, this.pos + n))
    this.pos += n
    return out
  }
}
