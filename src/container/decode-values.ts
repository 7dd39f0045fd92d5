/**
 * ValueReader: the restorer's reading of tagged values and of the bodies made of them alone
 * (DICT and STATEFUL keys and values, ARRAY and SPARSE elements and extras, MAP and SET
 * entries), with the loops a restore spends its time in. decode.ts's Restorer extends it
 * with the records (which record fills which object, segments, chunks, PATCH parts, props).
 *
 * Keeps decode.ts inv. 1 (every read bounded by the current record: ByteReader's `end`;
 * an unknown tag is CorruptionError) and inv. 2 (objects only through captured built-ins:
 * `mapPut`, `setPut`, `defineValue`, and the shells of shells.ts).
 */
import { ObjectProto, hasOwn, mapPut, setPut } from './builtins.js'
import {
  PROTO_BUILTIN, TAG_BIGINT, TAG_DROPPED, TAG_FALSE, TAG_FLOAT64, TAG_HOLE, TAG_INT32, TAG_LATIN1, TAG_NULL, TAG_REF, TAG_TRUE,
  TAG_UNDEFINED, TAG_UTF16,
} from './format.js'
import { LogIndex } from './log-index.js'
import { defineValue, shapeEpoch } from './shapes.js'
import type { ClassRegistry } from './classes.js'
import { IdList } from './refs.js'
import { packedArray } from './identity.js'
import { noteKeys } from './wide.js'
import { ARRAY_SHELL_MAX, GONE, Shells, type BindFn } from './shells.js'

export class ValueReader extends LogIndex {
  /** id -> restored object. */
  readonly objects: (object | undefined)[]
  /** Makes the object of each id from its record header (shells.ts). */
  readonly shells: Shells
  /** The references read since it was last emptied (TAG_REF values: the record's references). */
  protected readonly scratch = new IdList()

  /**
   * @param log the log bytes `[0, end)`
   * @param high one past the highest id the log may use (from the container metadata)
   */
  constructor(log: Uint8Array, end: number, high: number, where: string, registry: ClassRegistry, bind: BindFn, objects?: (object | undefined)[], unfilled = false) {
    super(log, end, high, where, unfilled)
    this.objects = objects ?? packedArray(high) as (object | undefined)[]
    this.shells = new Shells(this, this.objects, registry, bind)
  }

  /** Reads one tagged value. */
  value(): unknown {
    if (this.pos >= this.end) this.fail('record truncated')
    const t = this.buf[this.pos++]
    if (t < 0x80) return t
    if (t < 0xa0) return this.latin1(t - 0x80)
    switch (t) {
      case TAG_UNDEFINED: return undefined
      case TAG_NULL: case TAG_DROPPED: return null
      case TAG_FALSE: return false
      case TAG_TRUE: return true
      case TAG_INT32: return this.i32()
      case TAG_FLOAT64: return this.f64()
      case TAG_LATIN1: return this.latin1(this.count(1))
      case TAG_UTF16: return this.utf16(this.count(2))
      case TAG_REF: {
        const id = this.varint()
        this.scratch.push(id)
        const o = this.objects[id] ?? this.shells.ref(id)
        return o === GONE ? null : o
      }
      case TAG_BIGINT: return this.#bigint()
      default: return this.fail(`unknown value tag 0x${t.toString(16)}`)
    }
  }

  #bigint(): bigint {
    const sign = this.u8()
    if (sign > 1) this.fail('bigint with a bad sign byte')
    const n = this.count(1)
    let hex = ''
    for (let i = n - 1; i >= 0; i--) hex += (this.buf[this.pos + i] + 0x100).toString(16).slice(1)
    this.pos += n
    const mag = n === 0 ? 0n : BigInt('0x' + hex)
    return sign === 1 ? -mag : mag
  }

  #key(): string {
    const k = this.value()
    if (typeof k !== 'string') this.fail('property key is not a string')
    return k
  }

  protected fillDict(o: Record<string, unknown>, protoCode: number): void {
    const n = this.count(2)
    if (protoCode === PROTO_BUILTIN) noteKeys(o, n)       // the encoder lists its keys with Object.keys (wide.ts)
    this.dictEntries(o, n, protoCode, false)
  }

  /**
   * Reads `n` (string key, value) pairs into `o`, a DICT record's or a segmented
   * dictionary's segment (patch-record.ts inv. PR6: `unique`, a key met twice is damage, so
   * that the object has exactly the entries its record counts).
   */
  protected dictEntries(o: Record<string, unknown>, n: number, protoCode: number, unique: boolean): void {
    const protoKeys = this.shells.protoKeys
    const fresh = this.shells.protoEpoch === shapeEpoch.n     // else program code ran since protoKeys was taken (shapes.ts inv. 4)
    for (let i = 0; i < n; i++) {
      const k = this.#key()
      const v = this.value()
      if (unique && hasOwn(o, k)) this.fail(`dictionary segment repeats key ${JSON.stringify(k)}`)
      if (protoCode === PROTO_BUILTIN && !(fresh ? protoKeys.has(k) : hasOwn(ObjectProto, k))) o[k] = v    // a store would reach Object.prototype's accessor or read-only property of that name
      else defineValue(o, k, v)
    }
  }

  protected fillArray(a: unknown[]): void {
    const n = this.count(1)
    const b = this.buf
    if (a.length === 0 && n > ARRAY_SHELL_MAX) a.length = n     // an empty shell (shells.ts inv. 4): sized once, before its elements
    if (a.length === 0 && n > 0) {
      for (let i = 0; i < n; i++) {
        if (b[this.pos] === TAG_HOLE && this.pos < this.end) { this.pos++; a.length = i + 1; continue }
        a[i] = this.value()
      }
    } else {
      if (n !== a.length) this.fail('array length changed between reads')
      this.elements(a, 0, n)
    }
    this.#fillExtras(a)
  }

  /**
   * Reads `k` array elements into `a` from index `i` (a HOLE leaves one); returns the index
   * after them. Numbers are read here, without a call per element (`value` reads the rest):
   * with reader.ts's DataView reads, the numeric corpus restored in 533 instead of 754 ms of
   * CPU (medians of 4 interleaved fresh processes, load 6-8). A number whose bytes would
   * pass the record's end is left to `value`, which fails on it (decode.ts inv. 1).
   */
  protected elements(a: unknown[], i: number, k: number): number {
    const b = this.buf, dv = this.dv, end = this.end
    let p = this.pos
    for (let j = 0; j < k; j++, i++) {
      const t = p < end ? b[p] : -1
      if (t === TAG_FLOAT64 && p + 9 <= end) { a[i] = dv.getFloat64(p + 1, true); p += 9 }
      else if (t >= 0 && t < 0x80) { a[i] = t; p++ }
      else if (t === TAG_INT32 && p + 5 <= end) { a[i] = dv.getInt32(p + 1, true); p += 5 }
      else if (t === TAG_HOLE) p++
      else { this.pos = p; a[i] = this.value(); p = this.pos }
    }
    this.pos = p
    return i
  }

  /** Reads `k` entries (key, value) into Map `m`. (Maps, Sets and arrays each have their loop: one shared loop deoptimized at every collection of another kind.) */
  protected mapEntries(m: Map<unknown, unknown>, k: number): void {
    for (let j = 0; j < k; j++) { const key = this.value(); mapPut(m, key, this.value()) }
  }

  /** Reads `k` values into Set `s`. */
  protected setEntries(s: Set<unknown>, k: number): void {
    for (let j = 0; j < k; j++) setPut(s, this.value())
  }

  protected fillSparse(a: unknown[]): void {
    const len = this.varint()
    if (len > 0xffff_ffff) this.fail(`array length ${len}`)
    const n = this.count(2)
    a.length = len
    let last = -1
    for (let i = 0; i < n; i++) {
      const idx = this.varint()
      if (idx >= len || idx <= last) this.fail(`sparse array index ${idx} out of order or range`)
      last = idx
      a[idx] = this.value()
    }
    this.#fillExtras(a)
  }

  #fillExtras(a: unknown[]): void {
    const n = this.count(2)
    for (let i = 0; i < n; i++) {
      const k = this.#key()
      defineValue(a, k, this.value())
    }
  }
}
