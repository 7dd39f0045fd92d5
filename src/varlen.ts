/**
 * Variable-length values (`t.string`, `t.blob`): a 16-byte slot inside a struct, an array, a
 * variable or a collection entry, holding short values inline and longer ones in a heap block
 * of their own.
 *
 * Slot (16 bytes, 8-byte aligned):
 *
 * | offset | size | inline (tag bit 7 set)        | out of line (tag 0)                          |
 * | -----: | ---: | ----------------------------- | -------------------------------------------- |
 * |      0 |    8 | bytes 0..7 of the value       | payload offset of the heap block (0: empty)  |
 * |      8 |    4 | bytes 8..11                   | length in bytes (16 and up; 0 when empty)    |
 * |     12 |    3 | bytes 12..14                  | 0                                            |
 * |     15 |    1 | tag: 0x80 + length (1..15)    | tag: 0                                       |
 *
 * An all-zero slot is the empty value, so zeroed memory reads as '' (or an empty blob).
 * The out-of-line block is an ordinary allocation (heap.ts) of at least `length` bytes that
 * holds exactly the value's bytes; it belongs to the slot alone.
 *
 * Invariants (cited as "varlen inv. N"; `checkSlot` validates 1-2):
 *   1. A slot is zero, inline (tag 0x81..0x8f, unused inline bytes zero), or out of line (tag 0,
 *      length >= 16, the offset the payload of an allocated block holding `length` bytes).
 *   2. Every out-of-line block is owned by exactly one slot: writing a slot frees the block it
 *      held, in the same transaction; deleting a collection entry frees the blocks of its slots.
 *   3. The new value's block is allocated and written before the slot names it, in one
 *      transaction, so after a crash a slot names either its old block or its new one.
 *   4. A `t.string` is stored as the UTF-8 of a well-formed string: one with a lone surrogate
 *      (`'\uD800'`, half of an emoji cut by `slice`) is InvalidArgumentError naming its index,
 *      with nothing written, wherever a string becomes bytes (values, fields, keys, range
 *      bounds, lookups; `checkText`). UTF-8 cannot hold a lone surrogate: TextEncoder would
 *      store U+FFFD instead, so the value would read back different and two keys (`'\uD800'`,
 *      `'\uDBFF'`) would be one. Short ASCII strings (`ascii`, `inlineAscii`) are well formed by
 *      construction and skip the check. (PostgreSQL and SQLite refuse invalid UTF-8 text too.)
 */
import { CorruptionError, InvalidArgumentError, describe } from '../regions/index.js'
import type { Tx } from '../txn/index.js'
import type { TypeDesc } from './types.js'

/** A transaction that can allocate (a PmTx). */
export interface HeapTx extends Tx { alloc(size: number, align?: number): number; free(offset: number): void }

export const SLOT = 16
const INLINE_MAX = 15
const enc = new TextEncoder()
const dec = new TextDecoder()
const slotImage = new Uint8Array(SLOT)
const slotView = new DataView(slotImage.buffer)

/** The tx as one that allocates, or InvalidArgumentError (a string needs heap storage). */
export function heapTx(tx: Tx, what: string): HeapTx {
  if (typeof (tx as Partial<HeapTx>).alloc !== 'function') throw new InvalidArgumentError(`Cannot write ${what}: it needs a transaction of a pool (pm.transaction), which allocates its storage`)
  return tx as HeapTx
}

declare global { interface String { isWellFormed(): boolean } } // ES2024, in Node 20 (lib is es2022)
/** Captured once: a program that patches String.prototype cannot turn the check off. */
const isWellFormed = String.prototype.isWellFormed

/** The bytes a value of a string or blob type stores; InvalidArgumentError for anything else (varlen inv. 4). */
export function encodeVar(kind: 'string' | 'blob', value: unknown, where: string): Uint8Array {
  if (kind === 'string') {
    if (typeof value !== 'string') throw new InvalidArgumentError(`${where}: expected a string, got ${describe(value)}`)
    const a = ascii(value)
    if (a !== null) return a
    checkText(value, where)
    return enc.encode(value)
  }
  if (!(value instanceof Uint8Array)) throw new InvalidArgumentError(`${where}: expected a Uint8Array, got ${describe(value)}`)
  return value
}

/**
 * InvalidArgumentError unless `s` is well formed, naming the first lone surrogate's index and
 * code unit (varlen inv. 4); `where` says what was being done.
 */
export function checkText(s: string, where: string): void {
  if (isWellFormed.call(s)) return
  const i = loneSurrogateAt(s)
  const unit = s.charCodeAt(i).toString(16).toUpperCase()
  throw new InvalidArgumentError(`${where}: the string has a lone surrogate (U+${unit}) at index ${i}, which UTF-8 cannot store (it would read back as U+FFFD); nothing was changed. A t.string holds well-formed Unicode text; keep arbitrary UTF-16 code units in a t.blob`)
}

/** Index of the first lone surrogate of `s`, or -1 when it is well formed. */
export function loneSurrogateAt(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0xd800 || c > 0xdfff) continue
    if (c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) { i++; continue }
    }
    return i
  }
  return -1
}

/** Bytes of an all-ASCII short string, or null (TextEncoder is slower for short strings). */
function ascii(s: string): Uint8Array | null {
  if (s.length > 64) return null
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) return null
    out[i] = c
  }
  return out
}

/**
 * A copy of `b` that nothing else holds (view inv. V3, keys inv. K1), as a plain Uint8Array.
 * Not `b.slice()`: a Buffer's `slice` is a view of the same memory (a Buffer of a short
 * string is a view of Node's shared pool, too).
 */
export function ownBytes(b: Uint8Array): Uint8Array { return new Uint8Array(b) }

/** Decodes UTF-8 bytes (short ASCII without TextDecoder). */
export function decodeString(b: Uint8Array): string {
  if (b.length <= 32) {
    let s = ''
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!
      if (c >= 0x80) return dec.decode(b)
      s += String.fromCharCode(c)
    }
    return s
  }
  return dec.decode(b)
}

/**
 * False when a `t.string` / `t.blob` value surely fits its slot inline (at most INLINE_MAX
 * bytes), so writing it allocates no heap block; true when it may not (view inv. V2). Checks
 * no type: anything but a string or a Uint8Array is false (it throws before it is written).
 * Without encoding: a string of at most INLINE_MAX / 3 characters always fits (3 UTF-8 bytes
 * per UTF-16 code unit at most), an all-ASCII one up to INLINE_MAX.
 */
export function mayNeedBlock(kind: 'string' | 'blob', value: unknown): boolean {
  if (kind === 'blob') return value instanceof Uint8Array && value.length > INLINE_MAX
  if (typeof value !== 'string' || value.length <= Math.floor(INLINE_MAX / 3)) return false
  if (value.length > INLINE_MAX) return true
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) >= 0x80) return true
  return false
}

/** The four 32-bit words of the slot that holds `bytes` inline, or null when they go out of line. */
export function inlineWords(bytes: Uint8Array): Uint32Array | null {
  if (bytes.length > INLINE_MAX) return null
  const w = new Uint32Array(4)
  const b = new Uint8Array(w.buffer)
  b.set(bytes)
  if (bytes.length > 0) b[15] = 0x80 | bytes.length
  return w
}

/** The bytes of the value in the slot at `off`. */
export function readVar(tx: Tx, off: number): Uint8Array {
  const w3 = tx.readU32(off + 12), tag = w3 >>> 24
  if (tag & 0x80) {
    const n = tag & 0x7f
    const out = new Uint8Array(16)
    const dv = new DataView(out.buffer)
    dv.setUint32(0, tx.readU32(off), true); dv.setUint32(4, tx.readU32(off + 4), true)
    dv.setUint32(8, tx.readU32(off + 8), true); dv.setUint32(12, w3, true)
    if (n > INLINE_MAX) throw new CorruptionError(`Cannot read the value at ${off}: its inline length ${n} is impossible (varlen inv. 1); run check()`)
    return out.subarray(0, n)
  }
  const ptr = tx.readU32(off) + tx.readU32(off + 4) * 4294967296
  if (ptr === 0) return new Uint8Array(0)
  return tx.readBytes(ptr, tx.readU32(off + 8))
}

/** The string in the slot at `off` (short ASCII strings decoded straight from the slot's words). */
export function readString(tx: Tx, off: number): string {
  const w3 = tx.readU32(off + 12), tag = w3 >>> 24
  if ((tag & 0x80) === 0 || (tag & 0x7f) > INLINE_MAX) return decodeString(readVar(tx, off))
  const n = tag & 0x7f
  let s = ''
  for (let i = 0; i < n; i += 4) {
    const w = i === 12 ? w3 : tx.readU32(off + i)
    for (let j = 0; j < 4 && i + j < n; j++) {
      const c = (w >>> (8 * j)) & 0xff
      if (c >= 0x80) return decodeString(readVar(tx, off))
      s += String.fromCharCode(c)
    }
  }
  return s
}

/**
 * The inline slot words of a string of at most 15 ASCII characters, computed from its char
 * codes without encoding it (its FNV-1a hash, which keys.ts mixes, is left in `asciiFnv`: no
 * result object per call on the lookup path); null for any other string.
 */
export function inlineAscii(s: string): Uint32Array | null {
  return inlineAsciiInto(s, ASCII_WORDS) ? ASCII_WORDS.slice() : null
}
const ASCII_WORDS = new Uint32Array(4)

/** `inlineAscii` into `out` (true), or false (out unchanged) for any other string: no allocation. */
export function inlineAsciiInto(s: string, out: Uint32Array): boolean {
  const n = s.length
  if (n === 0 || n > INLINE_MAX) return false
  let h = 0x811c9dc5, w0 = 0, w1 = 0, w2 = 0, w3 = 0
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) return false
    const v = c << (8 * (i & 3))
    if (i < 4) w0 |= v; else if (i < 8) w1 |= v; else if (i < 12) w2 |= v; else w3 |= v
    h = Math.imul(h ^ c, 0x01000193)
  }
  asciiFnv = h
  out[0] = w0; out[1] = w1; out[2] = w2; out[3] = w3 | ((0x80 | n) << 24)
  return true
}
/** The FNV-1a hash of the string of the last successful `inlineAscii` call. */
export let asciiFnv = 0

/** True when the slot at `off` holds exactly `bytes` (`inline` = inlineWords(bytes)). */
export function varEquals(tx: Tx, off: number, bytes: Uint8Array, inline: Uint32Array | null): boolean {
  if (inline !== null) {
    return tx.readU32(off + 12) === inline[3] && tx.readU32(off) === inline[0] && tx.readU32(off + 4) === inline[1] && tx.readU32(off + 8) === inline[2]
  }
  if (tx.readU32(off + 12) !== 0 || tx.readU32(off + 8) !== bytes.length) return false
  const ptr = tx.readU32(off) + tx.readU32(off + 4) * 4294967296
  const stored = tx.readBytes(ptr, bytes.length)
  for (let i = 0; i < bytes.length; i++) if (stored[i] !== bytes[i]) return false
  return true
}

/** Frees the out-of-line block of the slot at `off`, if any (varlen inv. 2); the slot is left as it was. */
export function freeVar(tx: HeapTx, off: number): void {
  if ((tx.readU32(off + 12) >>> 24) & 0x80) return
  const ptr = tx.readU32(off) + tx.readU32(off + 4) * 4294967296
  if (ptr !== 0) tx.free(ptr)
}

/** Writes `bytes` into the slot at `off`, freeing what it held (varlen inv. 2, 3). */
export function writeVar(tx: HeapTx, off: number, bytes: Uint8Array | Uint32Array): void {
  freeVar(tx, off)
  if (bytes instanceof Uint32Array) { // inline slot words (inlineAscii)
    tx.writeBytes(off, new Uint8Array(bytes.buffer, bytes.byteOffset, SLOT))
    return
  }
  slotImage.fill(0)
  if (bytes.length <= INLINE_MAX) {
    slotImage.set(bytes)
    if (bytes.length > 0) slotImage[15] = 0x80 | bytes.length
  } else {
    const p = tx.alloc(bytes.length, 8)
    tx.writeBytes(p, bytes)
    slotView.setUint32(0, p % 4294967296, true)
    slotView.setUint32(4, Math.floor(p / 4294967296), true)
    slotView.setUint32(8, bytes.length, true)
  }
  tx.writeBytes(off, slotImage)
}

const withVar = new WeakMap<TypeDesc, boolean>()
/** True when values of `type` hold a string or blob slot. */
export function hasVar(type: TypeDesc): boolean {
  let v = withVar.get(type)
  if (v === undefined) {
    v = type.kind === 'string' || type.kind === 'blob' || (type.kind === 'array' && type.length > 0 && hasVar(type.elem)) ||
      (type.kind === 'struct' && type.fields.some(f => hasVar(f.type)))
    withVar.set(type, v)
  }
  return v
}

/** Frees every out-of-line block inside a value of `type` at `off` (a deleted entry, varlen inv. 2). */
export function freeValue(tx: HeapTx, type: TypeDesc, off: number): void {
  if (!hasVar(type)) return
  if (type.kind === 'string' || type.kind === 'blob') freeVar(tx, off)
  else if (type.kind === 'struct') { for (const f of type.fields) freeValue(tx, f.type, off + f.offset) }
  else if (type.kind === 'array') { for (let i = 0; i < type.length; i++) freeValue(tx, type.elem, off + i * type.elem.size) }
}

/**
 * Why the slot at `off` breaks varlen inv. 1, or null; `blockOf(ptr)` gives the payload size of
 * the allocated block whose payload starts at `ptr`, or null when there is none.
 */
export function checkSlot(tx: Tx, off: number, blockOf: (ptr: number) => number | null): string | null {
  const w3 = tx.readU32(off + 12), tag = w3 >>> 24
  if (tag & 0x80) {
    const n = tag & 0x7f
    if (n === 0 || n > INLINE_MAX) return `inline length ${n} is impossible`
    const b = new Uint8Array(16)
    const dv = new DataView(b.buffer)
    for (let i = 0; i < 4; i++) dv.setUint32(4 * i, tx.readU32(off + 4 * i), true)
    return b.subarray(n, 15).some(x => x !== 0) ? `inline bytes past its length ${n} are not zero` : null
  }
  if (tag !== 0 || (w3 & 0xffffff) !== 0) return `tag word ${w3} is neither inline nor out of line`
  const ptr = tx.readU32(off) + tx.readU32(off + 4) * 4294967296, len = tx.readU32(off + 8)
  if (ptr === 0) return len === 0 ? null : `empty, but with length ${len}`
  if (len <= INLINE_MAX) return `out of line with length ${len}, which belongs inline`
  const room = blockOf(ptr)
  if (room === null) return `names ${ptr}, which is not the payload of an allocated block`
  if (room < len) return `holds ${len} bytes in a block of ${room}`
  return null
}
