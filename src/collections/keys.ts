/**
 * Keys of persistent collections: which types may be keys, how a JavaScript key is checked and
 * encoded once per call, how it is hashed (hash map) and ordered (sorted map), and how a
 * stored key is compared with it.
 *
 * | key type                 | JavaScript key                | order (sorted map)   |
 * | ------------------------ | ----------------------------- | -------------------- |
 * | t.u8, t.u32, t.i32       | integer in the type's range   | numeric              |
 * | t.f64                    | number, not NaN (-0 is 0)      | numeric              |
 * | t.u64                    | bigint in [0, 2^64)           | numeric              |
 * | t.string                 | string, well formed (UTF-8)   | bytes of the UTF-8   |
 * | t.blob                   | Uint8Array                    | bytes                |
 *
 * Stored keys use the type's own layout (varlen.ts for strings and blobs). A string key with a
 * lone surrogate is InvalidArgumentError (varlen inv. 4): as U+FFFD, '\uD800' and '\uDBFF'
 * would be one key. A blob key is copied into the pool: changing the caller's bytes after
 * `put` changes nothing stored. Integer and f64 keys store -0 as 0.
 *
 * Keys inv. K1: a Key that outlives user code owns its bytes. `encodeKey` copies a blob key
 * (a write's Key is hashed, or the tree descended with it, before the value is read, whose
 * getters are user code; a range's bounds are used lazily, batch by batch, while the caller
 * runs), so the bytes a key was hashed or compared by are the bytes stored and compared with
 * later. Only `lookupKey`, over before any user code runs, borrows the caller's bytes. Before
 * session 13 a blob key changed by a value's getter was stored under the hash of its old
 * bytes (a map `check()` calls damaged, the key found by neither), and a `getRange` bound
 * Buffer the caller reused before iterating moved the range's end.
 */
import { InvalidArgumentError, describe } from '../../regions/index.js'
import type { Tx } from '../../txn/index.js'
import type { TypeDesc } from '../types.js'
import { decoderOf, slotBytes, slotIs, type Image } from './decode.js'
import { asciiFnv, encodeVar, inlineAscii, inlineAsciiInto, inlineWords, ownBytes, readString, readVar, varEquals, type HeapTx, writeVar } from '../varlen.js'

/** Types a collection accepts as keys. */
export type KeyType = TypeDesc & { readonly kind: 'u8' | 'u32' | 'i32' | 'f64' | 'u64' | 'string' | 'blob' }
const NO_BYTES = new Uint8Array(0)
/** Where compareStored copies a stored key's slot (16 bytes, varlen.ts). */
const SLOT = new Uint8Array(16)
const KEY_KINDS = new Set(['u8', 'u32', 'i32', 'f64', 'u64', 'string', 'blob'])

/** A key checked and encoded for one call. */
export interface Key {
  /** The number or bigint (scalar keys), or the bytes (string and blob keys). */
  readonly num: number | bigint
  readonly bytes: Uint8Array | null
  readonly inline: Uint32Array | null
  readonly hash: number
}

/** Throws InvalidArgumentError unless `type` may be a key. */
export function checkKeyType(type: TypeDesc, where: string): asserts type is KeyType {
  if (!KEY_KINDS.has(type.kind)) throw new InvalidArgumentError(`${where}: a key must be t.u8, t.u32, t.i32, t.f64, t.u64, t.string or t.blob, got ${type.sig}`)
}

const RANGES: Record<string, [number, number]> = { u8: [0, 0xff], u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff] }
const U64_MAX = (1n << 64n) - 1n

/**
 * Checks and encodes a JavaScript key of `type` (see the table above). The Key owns its bytes
 * (a blob key is copied, inv. K1) unless `borrow` (lookupKey: no user code runs while it is used).
 */
export function encodeKey(type: KeyType, key: unknown, where: string, borrow = false): Key {
  switch (type.kind) {
    case 'string': case 'blob': {
      if (typeof key === 'string' && type.kind === 'string') {
        const words = inlineAscii(key) // no encoding for short ASCII keys
        if (words !== null) return { num: 0, bytes: null, inline: words, hash: fmix(asciiFnv) }
      }
      let bytes = encodeVar(type.kind, key, `${where}: the key`)
      if (type.kind === 'blob' && !borrow) bytes = ownBytes(bytes) // inv. K1 (a string's bytes are fresh already)
      return { num: 0, bytes, inline: inlineWords(bytes), hash: hashBytes(bytes) }
    }
    case 'f64':
      if (typeof key !== 'number' || Number.isNaN(key)) throw new InvalidArgumentError(`${where}: the key must be a number other than NaN, got ${describe(key)}`)
      return { num: key === 0 ? 0 : key, bytes: null, inline: null, hash: hashF64(key === 0 ? 0 : key) }
    case 'u64':
      if (typeof key !== 'bigint' || key < 0n || key > U64_MAX) throw new InvalidArgumentError(`${where}: the key must be a bigint in [0, 2^64), got ${describe(key)}`)
      return { num: key, bytes: null, inline: null, hash: fmix(Number(key & 0xffffffffn) ^ Math.imul(Number(key >> 32n), 0x9e3779b1)) }
    default: {
      const [lo, hi] = RANGES[type.kind]!
      if (typeof key !== 'number' || !Number.isInteger(key) || key < lo || key > hi) throw new InvalidArgumentError(`${where}: the key must be an integer in [${lo}, ${hi}] for ${type.sig}, got ${describe(key)}`)
      return { num: key, bytes: null, inline: null, hash: fmix(key | 0) }
    }
  }
}

const LOOKUP_WORDS = new Uint32Array(4)
const LOOKUP: { num: number; bytes: null; inline: Uint32Array; hash: number } = { num: 0, bytes: null, inline: LOOKUP_WORDS, hash: 0 }

/**
 * `encodeKey` for a lookup that is over before any other key is encoded (get, has: no user
 * code runs between): a short ASCII string key is encoded into one reused Key, without
 * allocating; valid until the next call. Writes keep `encodeKey` (their Key outlives user code).
 */
export function lookupKey(type: KeyType, key: unknown, where: string): Key {
  if (type.kind === 'string' && typeof key === 'string' && inlineAsciiInto(key, LOOKUP_WORDS)) {
    LOOKUP.hash = fmix(asciiFnv)
    return LOOKUP
  }
  return encodeKey(type, key, where, true)
}

/** True when the key stored at `off` equals `k`. */
export function keyEquals(tx: Tx, type: KeyType, off: number, k: Key): boolean {
  switch (type.kind) {
    case 'string': case 'blob': return varEquals(tx, off, k.inline !== null ? NO_BYTES : k.bytes!, k.inline)
    case 'f64': return tx.readF64(off) === k.num
    case 'u64': return tx.readBigU64(off) === k.num
    case 'u8': return tx.readU8(off) === k.num
    case 'u32': return tx.readU32(off) === k.num
    default: return tx.readI32(off) === k.num
  }
}

/** The bytes of a string or blob key (short ASCII keys are encoded only as slot words). */
export function keyBytes(k: Key): Uint8Array {
  if (k.bytes !== null) return k.bytes
  const b = new Uint8Array(k.inline!.buffer, k.inline!.byteOffset, 16)
  return b.subarray(0, b[15]! & 0x7f)
}

/** Negative, zero or positive as the key stored at `off` sorts before, with or after `k`. */
export function compareStored(tx: Tx, type: KeyType, off: number, k: Key): number {
  if (type.kind === 'string' || type.kind === 'blob') {
    // One read of the slot into a reused buffer; an inline stored key compares in place, with
    // no allocation (a B+tree descent makes a few dozen of these per lookup).
    const slot = tx.readInto(off, SLOT), tag = slot[15]!
    if ((tag & 0x80) === 0 || (tag & 0x7f) > 15) return compareBytes(readVar(tx, off), keyBytes(k))
    const n = tag & 0x7f
    if (k.inline !== null) {
      const w = k.inline, m = w[3]! >>> 24 & 0x7f, len = n < m ? n : m
      for (let i = 0; i < len; i++) {
        const a = slot[i]!, b = (w[i >>> 2]! >>> ((i & 3) << 3)) & 0xff
        if (a !== b) return a - b
      }
      return n - m
    }
    const b = k.bytes!, len = n < b.length ? n : b.length
    for (let i = 0; i < len; i++) if (slot[i] !== b[i]) return slot[i]! - b[i]!
    return n - b.length
  }
  const v = readScalarKey(tx, type, off)
  return v < k.num ? -1 : v > k.num ? 1 : 0
}

/** The stored key at `off` as a Key (to compare or copy it). */
export function storedKey(tx: Tx, type: KeyType, off: number): Key {
  if (type.kind === 'string' || type.kind === 'blob') {
    const bytes = readVar(tx, off)
    return { num: 0, bytes, inline: inlineWords(bytes), hash: hashBytes(bytes) }
  }
  return { num: readScalarKey(tx, type, off), bytes: null, inline: null, hash: 0 }
}

/** Negative, zero or positive as `a` sorts before, with or after `b`. */
export function compareKeys(a: Key, b: Key): number {
  if (a.bytes !== null || a.inline !== null) return compareBytes(keyBytes(a), keyBytes(b))
  return a.num < b.num ? -1 : a.num > b.num ? 1 : 0
}

function readScalarKey(tx: Tx, type: KeyType, off: number): number | bigint {
  switch (type.kind) {
    case 'f64': return tx.readF64(off)
    case 'u64': return tx.readBigU64(off)
    case 'u8': return tx.readU8(off)
    case 'u32': return tx.readU32(off)
    default: return tx.readI32(off)
  }
}

/** Writes `k` as a stored key at `off` (a fresh, zeroed place: for string keys a new copy). */
export function writeKey(tx: HeapTx, type: KeyType, off: number, k: Key): void {
  switch (type.kind) {
    case 'string': case 'blob': return writeVar(tx, off, k.bytes ?? k.inline!)
    case 'f64': return tx.writeF64(off, k.num as number)
    case 'u64': return tx.writeBigU64(off, k.num as bigint)
    case 'u8': return tx.writeU8(off, k.num as number)
    case 'u32': return tx.writeU32(off, k.num as number)
    default: return tx.writeI32(off, k.num as number)
  }
}

/** The JavaScript key stored at `off`. */
export function readKey(tx: Tx, type: KeyType, off: number): unknown {
  if (type.kind === 'string') return readString(tx, off)
  if (type.kind === 'blob') return readVar(tx, off)
  return readScalarKey(tx, type, off)
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/** Hash of the bytes of a string or blob key: FNV-1a, then a final mix (the low bits address buckets). */
export function hashBytes(b: Uint8Array): number {
  let h = 0x811c9dc5
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
  return fmix(h)
}

const f64buf = new Float64Array(1)
const f64words = new Uint32Array(f64buf.buffer)
function hashF64(x: number): number {
  f64buf[0] = x
  return fmix(f64words[0]! ^ Math.imul(f64words[1]!, 0x9e3779b1))
}

/** MurmurHash3's finaliser: every input bit reaches every output bit. */
function fmix(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** True when the key at `at` of an image (decode.ts) equals `k`. */
export function imageKeyEquals(tx: Tx, type: KeyType, img: Image, at: number, k: Key): boolean {
  if (type.kind === 'string' || type.kind === 'blob') {
    if (k.inline !== null) return slotIs(img, at, k.inline)
    if (img.u8[at + 15] !== 0 || img.dv.getUint32(at + 8, true) !== k.bytes!.length) return false
    return compareBytes(slotBytes(tx, img, at), k.bytes!) === 0
  }
  return decoderOf(type)(tx, img, at) === k.num
}

/** Negative, zero or positive as the key at `at` of an image sorts before, with or after `k`. */
export function compareImage(tx: Tx, type: KeyType, img: Image, at: number, k: Key): number {
  if (type.kind === 'string' || type.kind === 'blob') return compareBytes(slotBytes(tx, img, at), keyBytes(k))
  const v = decoderOf(type)(tx, img, at) as number | bigint
  return v < k.num ? -1 : v > k.num ? 1 : 0
}
