/**
 * Decoding plain values from a local copy of persistent bytes: the read paths of the
 * collections copy a whole entry or leaf with one `tx.readBytes` and decode it here, instead of
 * one checked transactional read per field. Out-of-line strings and blobs (varlen.ts) are still
 * read through the transaction. Same results as `readPlain` (view.ts) on the same bytes.
 */
import { InvalidArgumentError, describe } from '../../regions/index.js'
import type { Tx } from '../../txn/index.js'
import type { TypeDesc } from '../types.js'
import { decodeString } from '../varlen.js'

/** A copy of persistent bytes: the bytes, a DataView on them, and where they came from. */
export interface Image { readonly u8: Uint8Array; readonly dv: DataView }

export type Decoder = (tx: Tx, img: Image, at: number) => unknown
const decoders = new WeakMap<TypeDesc, Decoder>()
/** Where out-of-line strings are read before decoding (decoding copies them into the string). */
const STRING_SCRATCH = new Uint8Array(4096)

export function image(u8: Uint8Array): Image { return { u8, dv: new DataView(u8.buffer, u8.byteOffset, u8.byteLength) } }

/** A reusable image of `size` bytes: filled by `tx.readInto(offset, img.u8)` (no allocation per read). */
export function scratchImage(size: number): Image { return image(new Uint8Array(size)) }

/** The decoder of plain values of `type` (built once per type). */
export function decoderOf(type: TypeDesc): Decoder {
  let d = decoders.get(type)
  if (d === undefined) { d = build(type); decoders.set(type, d) }
  return d
}

/** Decoders of struct projections, by struct type and field list (`fieldsDecoder`). */
const projections = new WeakMap<TypeDesc, Map<string, Decoder>>()

/**
 * A decoder of only `fields` of the struct type `type` (at their offsets in the full value):
 * `HashMap.sweep({ fields })`. InvalidArgumentError (prefixed by `action`) unless `type` is a
 * struct and `fields` a non-empty array of its field names.
 */
export function fieldsDecoder(type: TypeDesc, fields: unknown, action: string): Decoder {
  if (type.kind !== 'struct') throw new InvalidArgumentError(`${action}: the fields option needs a struct value type, not ${type.sig}`)
  if (!Array.isArray(fields) || fields.length === 0 || fields.some(f => typeof f !== 'string')) throw new InvalidArgumentError(`${action}: fields must be a non-empty array of field names, got ${describe(fields)}`)
  const byKey = projections.get(type) ?? new Map<string, Decoder>()
  projections.set(type, byKey)
  const k = JSON.stringify(fields)
  let d = byKey.get(k)
  if (d === undefined) {
    const picked = (fields as string[]).map(name => {
      const f = type.fields.find(x => x.name === name)
      if (f === undefined) throw new InvalidArgumentError(`${action}: the value type ${type.sig} has no field ${JSON.stringify(name)}`)
      return f
    })
    const decode = picked.map(f => decoderOf(f.type))
    d = (tx, img, at) => {
      const o: Record<string, unknown> = {}
      for (let i = 0; i < picked.length; i++) o[picked[i]!.name] = decode[i]!(tx, img, at + picked[i]!.offset)
      return o
    }
    byKey.set(k, d)
  }
  return d
}

function build(type: TypeDesc): Decoder {
  switch (type.kind) {
    case 'u8': return (_tx, img, at) => img.u8[at]
    case 'u32': return (_tx, img, at) => img.dv.getUint32(at, true)
    case 'i32': return (_tx, img, at) => img.dv.getInt32(at, true)
    case 'f64': return (_tx, img, at) => img.dv.getFloat64(at, true)
    case 'u64': return (_tx, img, at) => img.dv.getBigUint64(at, true)
    case 'ptr': return (_tx, img, at) => img.dv.getUint32(at, true) + img.dv.getUint32(at + 4, true) * 4294967296
    case 'bytes': { const n = type.length; return (_tx, img, at) => img.u8.slice(at, at + n) }
    case 'string': return (tx, img, at) => {
      const tag = img.u8[at + 15]!
      if (tag & 0x80) return (tag & 0x7f) <= 15 ? inlineString(img.u8, at, tag & 0x7f) : decodeString(img.u8.subarray(at, at + (tag & 0x7f)))
      const ptr = img.dv.getUint32(at, true) + img.dv.getUint32(at + 4, true) * 4294967296
      if (ptr === 0) return ''
      const len = img.dv.getUint32(at + 8, true)
      return decodeString(tx.readInto(ptr, len <= STRING_SCRATCH.length ? STRING_SCRATCH.subarray(0, len) : new Uint8Array(len)))
    }
    case 'blob': return (tx, img, at) => slotBytes(tx, img, at).slice()
    case 'array': {
      const elem = decoderOf(type.elem), size = type.elem.size, n = type.length
      return (tx, img, at) => { const a = new Array<unknown>(n); for (let i = 0; i < n; i++) a[i] = elem(tx, img, at + i * size); return a }
    }
    case 'struct': {
      // An object literal with the fields in order gives every value one fast shape; names are
      // JSON-quoted and offsets are numbers, so the generated code holds no user text unquoted.
      const decode = type.fields.map(f => decoderOf(f.type))
      const body = type.fields.map((f, i) => `${JSON.stringify(f.name)}: d[${i}](tx, img, at + ${f.offset})`).join(', ')
      const make = new Function('d', `return (tx, img, at) => ({ ${body} })`) as (d: Decoder[]) => Decoder
      return make(decode)
    }
  }
}

/**
 * The string of `n` <= 15 inline bytes at `at`: an ASCII one made by one String.fromCharCode
 * call with the codes as arguments (several times faster than appending a character at a
 * time, and no subarray per field); any other through decodeString.
 */
function inlineString(u8: Uint8Array, at: number, n: number): string {
  let or = 0
  for (let i = 0; i < n; i++) or |= u8[at + i]!
  if (or >= 0x80) return decodeString(u8.subarray(at, at + n))
  const f = String.fromCharCode
  switch (n) {
    case 1: return f(u8[at]!)
    case 2: return f(u8[at]!, u8[at + 1]!)
    case 3: return f(u8[at]!, u8[at + 1]!, u8[at + 2]!)
    case 4: return f(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!)
    case 5: return f(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!)
    case 6: return f(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!, u8[at + 5]!)
    case 7: return f(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!, u8[at + 5]!, u8[at + 6]!)
    case 8: return f(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!, u8[at + 5]!, u8[at + 6]!, u8[at + 7]!)
    case 9: return f(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!, u8[at + 5]!, u8[at + 6]!, u8[at + 7]!, u8[at + 8]!)
    case 10: return f(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!, u8[at + 5]!, u8[at + 6]!, u8[at + 7]!, u8[at + 8]!, u8[at + 9]!)
    case 11: return f(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!, u8[at + 5]!, u8[at + 6]!, u8[at + 7]!, u8[at + 8]!, u8[at + 9]!, u8[at + 10]!)
    case 12: return f(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!, u8[at + 5]!, u8[at + 6]!, u8[at + 7]!, u8[at + 8]!, u8[at + 9]!, u8[at + 10]!, u8[at + 11]!)
    case 13: return f(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!, u8[at + 5]!, u8[at + 6]!, u8[at + 7]!, u8[at + 8]!, u8[at + 9]!, u8[at + 10]!, u8[at + 11]!, u8[at + 12]!)
    case 14: return f(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!, u8[at + 5]!, u8[at + 6]!, u8[at + 7]!, u8[at + 8]!, u8[at + 9]!, u8[at + 10]!, u8[at + 11]!, u8[at + 12]!, u8[at + 13]!)
    case 15: return f(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!, u8[at + 5]!, u8[at + 6]!, u8[at + 7]!, u8[at + 8]!, u8[at + 9]!, u8[at + 10]!, u8[at + 11]!, u8[at + 12]!, u8[at + 13]!, u8[at + 14]!)
    default: return ''
  }
}

/** The bytes of the string or blob slot at `at` of the image (inline, or read through `tx`). */
export function slotBytes(tx: Tx, img: Image, at: number): Uint8Array {
  const tag = img.u8[at + 15]!
  if (tag & 0x80) return img.u8.subarray(at, at + (tag & 0x7f))
  const ptr = img.dv.getUint32(at, true) + img.dv.getUint32(at + 4, true) * 4294967296
  return ptr === 0 ? new Uint8Array(0) : tx.readBytes(ptr, img.dv.getUint32(at + 8, true))
}

/** True when the slot at `at` of the image holds the inline words `w` (varlen.ts inlineWords). */
export function slotIs(img: Image, at: number, w: Uint32Array): boolean {
  const dv = img.dv
  return dv.getUint32(at + 12, true) === w[3] && dv.getUint32(at, true) === w[0] && dv.getUint32(at + 4, true) === w[1] && dv.getUint32(at + 8, true) === w[2]
}
