/**
 * Fingerprints of binary data: MurmurHash3 x86_128 (Austin Appleby's public-domain hash),
 * all 128 bits kept, computed over byte ranges of the program's ArrayBuffers. A point
 * compares each chunk's fingerprint with the one it had when it was last persisted
 * (binary.ts), instead of comparing the bytes with a private copy: a container keeps 16
 * bytes per 4 KiB chunk (0.4%) instead of a second copy of every buffer.
 *
 * Fingerprints never leave the process (nothing here is on disk), so the word order of
 * the platform is fine.
 *
 * Invariants (binary.ts inv. BIN2 relies on them):
 *   F1. Two ranges whose bytes differ only inside one aligned 16-byte block (one element of
 *       any typed array, up to a BigInt64 or Float64, any aligned 16 bytes) always have
 *       different fingerprints: the block step is injective in the block for a fixed state
 *       (each lane's word mix is a bijection, and h4 takes the new h1), the state steps of
 *       later blocks, the tail and the finalization are bijections of the 128-bit state, so
 *       two different states never meet again.
 *   F2. Any other change keeps the fingerprint only if a later block cancels exactly the
 *       state difference an earlier one made (one value in 2^128 of that block, given the
 *       rest); for data not crafted against MurmurHash3 this is taken as probability about
 *       2^-128 per changed chunk. Data crafted against it (MurmurHash3 is not a
 *       cryptographic hash: its block step can be inverted) can hide its own change.
 *   F3. The length is mixed into the finalization, and callers compare lengths first.
 */

const C1 = 0x239b961b, C2 = 0xab0e9789 | 0, C3 = 0x38b34ae5, C4 = 0xa1e38b93 | 0

/** Aligned copy of an unaligned range (a Node Buffer at an odd offset of its pool). */
let scratch = new Int32Array(1024)

/**
 * Writes the fingerprint of `u8[from, to)` into `out[at .. at + 4)`. `i32` is an Int32Array
 * over the same memory as `u8`, starting at the same byte (so `u8.byteOffset` is a multiple
 * of 4), or null when it is not aligned (the range is then copied first). `from` must be a
 * multiple of 16 when `i32` is given.
 */
export function fingerprint(u8: Uint8Array, i32: Int32Array | null, from: number, to: number, out: Int32Array, at: number): void {
  const len = to - from
  const blocks = len >>> 4
  let words: Int32Array, w0: number
  if (i32 !== null) { words = i32; w0 = from >>> 2 } else {
    if (scratch.length * 4 < len) scratch = new Int32Array((len + 3) >>> 2)
    new Uint8Array(scratch.buffer, 0, len).set(u8.subarray(from, to))
    words = scratch; w0 = 0
    u8 = new Uint8Array(scratch.buffer); from = 0
  }
  let h1 = 0x2545f491, h2 = 0x2545f491, h3 = 0x2545f491, h4 = 0x2545f491
  for (let i = w0, end = w0 + blocks * 4; i < end; i += 4) {
    let k1 = words[i], k2 = words[i + 1], k3 = words[i + 2], k4 = words[i + 3]
    k1 = Math.imul(k1, C1); k1 = (k1 << 15) | (k1 >>> 17); h1 ^= Math.imul(k1, C2)
    h1 = (h1 << 19) | (h1 >>> 13); h1 = (h1 + h2) | 0; h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0
    k2 = Math.imul(k2, C2); k2 = (k2 << 16) | (k2 >>> 16); h2 ^= Math.imul(k2, C3)
    h2 = (h2 << 17) | (h2 >>> 15); h2 = (h2 + h3) | 0; h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0
    k3 = Math.imul(k3, C3); k3 = (k3 << 17) | (k3 >>> 15); h3 ^= Math.imul(k3, C4)
    h3 = (h3 << 15) | (h3 >>> 17); h3 = (h3 + h4) | 0; h3 = (Math.imul(h3, 5) + 0x96cd1c35) | 0
    k4 = Math.imul(k4, C4); k4 = (k4 << 18) | (k4 >>> 14); h4 ^= Math.imul(k4, C1)
    h4 = (h4 << 13) | (h4 >>> 19); h4 = (h4 + h1) | 0; h4 = (Math.imul(h4, 5) + 0x32ac3b17) | 0
  }
  const t = from + blocks * 16, rest = len & 15
  if (rest > 0) {
    let k1 = 0, k2 = 0, k3 = 0, k4 = 0
    for (let j = rest - 1; j >= 0; j--) {
      const b = u8[t + j]
      if (j >= 12) k4 = (k4 << 8) | b
      else if (j >= 8) k3 = (k3 << 8) | b
      else if (j >= 4) k2 = (k2 << 8) | b
      else k1 = (k1 << 8) | b
    }
    if (rest > 12) { k4 = Math.imul(k4, C4); k4 = (k4 << 18) | (k4 >>> 14); h4 ^= Math.imul(k4, C1) }
    if (rest > 8) { k3 = Math.imul(k3, C3); k3 = (k3 << 17) | (k3 >>> 15); h3 ^= Math.imul(k3, C4) }
    if (rest > 4) { k2 = Math.imul(k2, C2); k2 = (k2 << 16) | (k2 >>> 16); h2 ^= Math.imul(k2, C3) }
    k1 = Math.imul(k1, C1); k1 = (k1 << 15) | (k1 >>> 17); h1 ^= Math.imul(k1, C2)
  }
  h1 ^= len; h2 ^= len; h3 ^= len; h4 ^= len
  h1 = (h1 + h2 + h3 + h4) | 0
  h2 = (h2 + h1) | 0; h3 = (h3 + h1) | 0; h4 = (h4 + h1) | 0
  h1 = fmix(h1); h2 = fmix(h2); h3 = fmix(h3); h4 = fmix(h4)
  h1 = (h1 + h2 + h3 + h4) | 0
  out[at] = h1; out[at + 1] = (h2 + h1) | 0; out[at + 2] = (h3 + h1) | 0; out[at + 3] = (h4 + h1) | 0
}

function fmix(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b | 0)
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35 | 0)
  return h ^ (h >>> 16)
}

/** An Int32Array over the same memory as `u8` when its start is 4-aligned, else null. */
export function wordsOf(u8: Uint8Array): Int32Array | null {
  return (u8.byteOffset & 3) === 0 ? new Int32Array(u8.buffer, u8.byteOffset, u8.length >>> 2) : null
}
