/**
 * Restore of CHUNKED records (format.ts, binary.ts): the buffer's shell from the record's
 * header, then its bytes from its CHUNK records. Every length read from the data is checked
 * before it allocates (decode.ts inv. 1): a buffer's bytes all lie in CHUNK records of the
 * log, so its length cannot exceed the log's; every CHUNK must have exactly the length its
 * index gives.
 */
import { KIND_BUFFER, KIND_BYTES, KIND_CHUNK } from './format.js'
import type { LogIndex } from './log-index.js'

/** The reader a chunked record is read with (the restorer). */
type Reader = LogIndex

/** Kinds a CHUNKED record may hold. */
export function isChunkedBase(base: number): boolean { return base === KIND_BYTES || base === KIND_BUFFER }

/** The empty buffer a CHUNKED record describes (the reader is after its base kind byte). */
export function chunkedShell(r: Reader, base: number): object {
  const n = r.varint(), max = r.varint()
  if (n > r.buf.length) r.fail(`chunked buffer of ${n} bytes in a log of ${r.buf.length} bytes`)
  if (base === KIND_BUFFER) {
    if (max !== 0) r.fail('resizable Buffer record')
    return Buffer.alloc(n)
  }
  if (max === 0) return new ArrayBuffer(n)
  if (max - 1 < n) r.fail(`resizable buffer of ${n} bytes with maximum ${max - 1}`)
  return new ResizableArrayBuffer(n, { maxByteLength: max - 1 })
}

/** The ArrayBuffer constructor with its options argument (resizable buffers; not in this TypeScript lib). */
const ResizableArrayBuffer = ArrayBuffer as unknown as new (n: number, options: { maxByteLength: number }) => ArrayBuffer

/** What a CHUNKED record says after its base kind: length, chunk size, CHUNK ids. */
export interface ChunkedHeader { n: number; size: number; ids: Int32Array }

/** Reads a CHUNKED record's body after its base kind byte, up to the end of its chunk ids. */
export function readChunked(r: Reader, id: number): ChunkedHeader {
  const n = r.varint()
  r.varint()   // maximum length: applied by the shell
  const size = r.varint()
  const count = r.count(1)
  if (size === 0 || count !== Math.ceil(n / size)) r.fail(`chunked buffer ${id} of ${n} bytes lists ${count} chunks of ${size}`)
  const ids = new Int32Array(count)
  for (let i = 0; i < count; i++) ids[i] = r.varint()
  return { n, size, ids }
}

/** Fills buffer `o` (record `id`) from the CHUNK records `c` lists (moves the reader to each). */
export function fillChunks(r: Reader, id: number, o: object, base: number, c: ChunkedHeader): void {
  const { n, size, ids } = c
  const count = ids.length
  const target = base === KIND_BYTES ? new Uint8Array(o as ArrayBuffer) : o as Uint8Array
  if (target.length !== n) r.fail('buffer length changed between reads')
  for (let i = 0; i < count; i++) {
    if (r.enter(ids[i]) !== KIND_CHUNK) r.fail(`chunked buffer ${id} lists a non-chunk record ${ids[i]}`)
    r.varint()
    const want = Math.min(size, n - i * size)
    if (r.end - r.pos !== want) r.fail(`chunk ${ids[i]} of buffer ${id} holds ${r.end - r.pos} bytes, not ${want}`)
    target.set(r.buf.subarray(r.pos, r.end), i * size)
    r.pos = r.end
  }
}
