/**
 * hash32: the checksum of redo-log records and pool metadata.
 *
 * A 32-bit multiply-rotate hash over aligned 32-bit words (the structure of MurmurHash3's
 * body and finalizer). It is not cryptographic; it detects torn and stale records: a record
 * whose sectors come from two different writes hashes to its stored value with probability
 * about 2^-32. It runs over 4-byte words so that a commit of a small transaction costs tens
 * of nanoseconds, not the microsecond a byte-at-a-time CRC costs in JavaScript.
 */

/** Hash of `words[start, end)` with `seed`. */
export function hash32(words: Uint32Array, start: number, end: number, seed: number): number {
  let h = seed | 0
  for (let i = start; i < end; i++) {
    let k = Math.imul(words[i]!, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, 0x1b873593)
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  h ^= (end - start) << 2
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** A Uint32Array over the same memory as `bytes` (whose byteOffset must be 4-aligned). */
export function wordsOf(bytes: Uint8Array): Uint32Array {
  return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2)
}
