/**
 * ByteWriter: a growable byte buffer with the primitive writes of the record format
 * (format.ts): bytes, u32, varint, float64 and strings.
 *
 * Output is a list of buffers: `boundary()` (called between records) starts a new buffer
 * when the current one is nearly full, so a large point never copies what it wrote
 * (doubling a single buffer to 36 MB allocated 127 MB and forced full GCs).
 *
 * Invariant: `pos` is the number of valid bytes of `buf`; every write first makes room for
 * itself (`ensure`), so a write never lands past the end; a record never spans two buffers.
 */
import { KIND_CLASS, KIND_STATEFUL, KIND_VIEW, TAG_FLOAT64, TAG_INT32, TAG_LATIN1, TAG_SHORT_STR, TAG_UTF16 } from './format.js'
import { SHARED_MIN, sharedF64, sharedU32 } from './by-id.js'

/** Node's internal Buffer methods used for speed (present on every Buffer since Node 0.x). */
export interface FastBuffer extends Buffer {
  latin1Write(s: string, offset: number, length: number): number
  ucs2Write(s: string, offset: number, length: number): number
  latin1Slice(start: number, end: number): string
  ucs2Slice(start: number, end: number): string
}

/**
 * The records of a point as a list of buffers (a writer's `parts`); `records`: the id and
 * offset of each record, as the writers listed them (log-offsets.ts builds the point's
 * INDEX record from them), or absent (the INDEX record is then built by a scan).
 */
export interface Batch { parts: Buffer[]; length: number; records?: ReadonlyArray<{ list: RecordList; shift: number }> }

/**
 * The records a writer wrote, as it wrote them (`ByteWriter.track`): ids, offsets in the
 * writer's output, and the ids of CLASS, STATEFUL and VIEW records (their kind is read at
 * `endRecord`, once the body is final). `broken` if records were ever nested (never, today:
 * the INDEX record is then built by a scan).
 */
export class RecordList {
  ids = sharedU32(1 << 10)     // by-id.ts: shared memory, not counted as V8's external memory
  offs = sharedF64(1 << 10)
  n = 0
  readonly notable: number[] = []
  broken = false
  #openId = -1
  #openLenAt = -1

  begin(id: number, off: number, lenAt: number): void {
    if (this.#openId !== -1) this.broken = true
    if (this.n === this.ids.length) {
      const ids = sharedU32(this.n * 2), offs = sharedF64(this.n * 2)
      ids.set(this.ids); offs.set(this.offs)
      this.ids = ids; this.offs = offs
    }
    this.ids[this.n] = id
    this.offs[this.n++] = off
    this.#openId = id
    this.#openLenAt = lenAt
  }

  end(lenAt: number, kind: number): void {
    if (lenAt !== this.#openLenAt) this.broken = true
    else if (kind === KIND_CLASS || kind === KIND_STATEFUL || kind === KIND_VIEW) this.notable.push(this.#openId)
    this.#openId = -1
  }
}

/** One buffer holding a whole batch (compaction and tests). */
export function joinBatch(b: Batch): Buffer { return b.parts.length === 1 ? b.parts[0] : Buffer.concat(b.parts, b.length) }

const NOT_LATIN1 = /[^\x00-\xff]/
const f64 = new Float64Array(1)
const f64b = new Uint8Array(f64.buffer)

/**
 * A buffer for records: from SHARED_MIN on over shared memory (by-id.ts: V8 does not count
 * it as external memory, so the 4 MiB buffers of a large point start no full collection;
 * zeroed, unlike `Buffer.allocUnsafe`, but a large allocation is fresh pages either way).
 * A sealed buffer over shared memory is shared, not transferred, with the flush thread that
 * streams it (stream.ts): nothing writes to it once it is sealed.
 */
function newBuffer(size: number): FastBuffer {
  return (size >= SHARED_MIN ? Buffer.from(new SharedArrayBuffer(size)) : Buffer.allocUnsafe(size)) as FastBuffer
}

/** Size of the buffers a writer fills after its first one. */
const CHUNK = 1 << 22
/** Free space below which `boundary` starts a new buffer. */
const MIN_FREE = 1 << 16

export class ByteWriter {
  buf: FastBuffer
  pos = 0
  /** Buffers already filled (views of their written bytes). */
  readonly sealed: Buffer[] = []
  #sealedBytes = 0
  /** When set, every record begun is listed (id, offset in this writer's output). */
  track: RecordList | null = null
  /** Called with each buffer sealed and the bytes sealed so far (a large point is under way). */
  onSeal: ((sealed: Buffer, bytes: number) => void) | null = null

  constructor(initial = 1 << 16) { this.buf = newBuffer(initial) }

  /**
   * Between records: when this buffer is nearly full, moves on. Below CHUNK (a point's first
   * buffer, 64 KiB) it grows in place, doubling, once less than a quarter of it is free; at
   * CHUNK it is sealed (less than MIN_FREE free) and a new one begins. A point of a few
   * records therefore no longer seals its first buffer after one record and allocates 4 MiB
   * for the rest (an incremental point of 65 KB did, at every point: 4 MiB of external
   * memory each time, which brought V8's external-memory GCs), while a large point's
   * sealed buffers, and the moment a full point decides to stream (stream.ts), are as
   * before: whole allocations of about 4 MiB.
   */
  boundary(): void {
    const len = this.buf.length, free = len - this.pos
    if (free >= MIN_FREE || (len < CHUNK && free >= len >>> 2)) return
    if (len < CHUNK) {
      const next = newBuffer(Math.min(CHUNK, len * 2))
      this.buf.copy(next, 0, 0, this.pos)
      this.buf = next
      return
    }
    const full = this.pos > 0 ? this.buf.subarray(0, this.pos) : null
    if (full !== null) { this.sealed.push(full); this.#sealedBytes += this.pos }
    this.buf = newBuffer(Math.max(CHUNK, len))
    this.pos = 0
    if (full !== null) this.onSeal?.(full, this.#sealedBytes)
  }

  /** Bytes written in all buffers. */
  get length(): number { return this.#sealedBytes + this.pos }

  /** Everything written, as a list of buffers (views; valid until the next write). */
  parts(): Buffer[] { return this.pos > 0 ? [...this.sealed, this.buf.subarray(0, this.pos)] : [...this.sealed] }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = newBuffer(size)
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  u8(v: number): void {
    if (this.pos >= this.buf.length) this.ensure(1)
    this.buf[this.pos++] = v
  }

  u32(v: number): void {
    this.ensure(4)
    this.u32At(this.pos, v)
    this.pos += 4
  }

  /** Starts a record: writes its id and reserves one byte for its length; returns where that byte is. */
  beginRecord(id: number): number {
    this.boundary()
    this.ensure(16)
    const at = this.pos
    this.varint(id)
    if (this.track !== null) this.track.begin(id, this.#sealedBytes + at, this.pos)
    return this.pos++
  }

  /** Ends the record begun at `lenAt`: stores the body length, moving the body if it needs more than one byte. */
  endRecord(lenAt: number): void {
    if (this.track !== null) this.track.end(lenAt, this.buf[lenAt + 1])
    const n = this.pos - lenAt - 1
    if (n < 0x80) { this.buf[lenAt] = n; return }
    let k = 1
    for (let v = n; v >= 0x80; v = Math.floor(v / 0x80)) k++
    this.ensure(k - 1)
    this.buf.copyWithin(lenAt + k, lenAt + 1, this.pos)
    this.pos += k - 1
    const end = this.pos
    this.pos = lenAt
    this.varint(n)
    this.pos = end
  }

  /** Overwrites the u32 at `at` (a position already written). */
  u32At(at: number, v: number): void {
    const b = this.buf
    b[at] = v & 0xff; b[at + 1] = (v >>> 8) & 0xff; b[at + 2] = (v >>> 16) & 0xff; b[at + 3] = v >>> 24
  }

  varint(v: number): void {
    if (this.pos + 10 > this.buf.length) this.ensure(10)
    const b = this.buf
    let p = this.pos
    if (v < 0x8000_0000) {            // ids, lengths, counts: 32-bit shifts (about twice as fast as / and %)
      while (v >= 0x80) { b[p++] = (v & 0x7f) | 0x80; v >>>= 7 }
    } else {
      while (v >= 0x80) { b[p++] = (v % 0x80) | 0x80; v = Math.floor(v / 0x80) }
    }
    b[p++] = v
    this.pos = p
  }

  /** TAG byte then a little-endian u32 (one room check). */
  tagU32(tag: number, v: number): void {
    if (this.pos + 5 > this.buf.length) this.ensure(5)
    const b = this.buf
    const p = this.pos
    b[p] = tag
    b[p + 1] = v & 0xff; b[p + 2] = (v >>> 8) & 0xff; b[p + 3] = (v >>> 16) & 0xff; b[p + 4] = v >>> 24
    this.pos = p + 5
  }

  f64(v: number): void {
    this.ensure(8)
    f64[0] = v
    const b = this.buf
    const p = this.pos
    b[p] = f64b[0]; b[p + 1] = f64b[1]; b[p + 2] = f64b[2]; b[p + 3] = f64b[3]
    b[p + 4] = f64b[4]; b[p + 5] = f64b[5]; b[p + 6] = f64b[6]; b[p + 7] = f64b[7]
    this.pos = p + 8
  }

  /**
   * Writes a number as a tagged value (format.ts): a small integer 0..127 as itself, another
   * int32 (not -0) as INT32, anything else as FLOAT64; one room check for all three.
   */
  num(v: number): void {
    if (this.pos + 9 > this.buf.length) this.ensure(9)
    const b = this.buf
    const p = this.pos
    if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
      if (v >= 0 && v < 0x80) { b[p] = v; this.pos = p + 1; return }
      const u = v >>> 0
      b[p] = TAG_INT32
      b[p + 1] = u & 0xff; b[p + 2] = (u >>> 8) & 0xff; b[p + 3] = (u >>> 16) & 0xff; b[p + 4] = u >>> 24
      this.pos = p + 5
      return
    }
    f64[0] = v
    b[p] = TAG_FLOAT64
    b[p + 1] = f64b[0]; b[p + 2] = f64b[1]; b[p + 3] = f64b[2]; b[p + 4] = f64b[3]
    b[p + 5] = f64b[4]; b[p + 6] = f64b[5]; b[p + 7] = f64b[6]; b[p + 8] = f64b[7]
    this.pos = p + 9
  }

  bytes(src: Uint8Array): void {
    this.ensure(src.length)
    this.buf.set(src, this.pos)
    this.pos += src.length
  }

  /** Writes a string as a tagged value (short latin-1, latin-1, or UTF-16LE). */
  str(s: string): void {
    const n = s.length
    if (n < 32) {
      this.ensure(1 + n * 2 + 10)
      const b = this.buf
      const start = this.pos
      let p = start + 1
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c > 0xff) { this.pos = start; this.utf16(s); return }
        b[p++] = c
      }
      b[start] = TAG_SHORT_STR + n
      this.pos = p
      return
    }
    if (NOT_LATIN1.test(s)) { this.utf16(s); return }
    this.u8(TAG_LATIN1)
    this.varint(n)
    this.ensure(n)
    this.buf.latin1Write(s, this.pos, n)
    this.pos += n
  }

  private utf16(s: string): void {
    this.u8(TAG_UTF16)
    this.varint(s.length)
    this.ensure(s.length * 2)
    this.buf.ucs2Write(s, this.pos, s.length * 2)
    this.pos += s.length * 2
  }

  /** The bytes written so far (a view, valid until the next write). */
  view(): Buffer { return this.buf.subarray(0, this.pos) }

  reset(): void { this.pos = 0 }
}
