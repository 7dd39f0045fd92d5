/**
 * Vector: a persistent growable array of one element type. Its elements live in segments of
 * doubling size that are never moved, so a push costs O(1) writes (plus one allocation when
 * a segment fills) and no element is ever copied.
 *
 * Header (the named variable's data, 272 bytes):
 *
 * | offset | size | description                                                          |
 * | -----: | ---: | -------------------------------------------------------------------- |
 * |      0 |    4 | magic 0x43455650 ("PVEC")                                            |
 * |      4 |    4 | format version (1)                                                   |
 * |      8 |    8 | length                                                               |
 * |     16 | 8*32 | segments: segment 0 holds elements 0..15, segment k >= 1 elements    |
 * |        |      | 16 * 2^(k-1) .. 16 * 2^k - 1 (0 = not allocated)                     |
 *
 * Element i lies at segment + (i - first element of the segment) * element size.
 *
 * Invariants (what `checkVector` validates; cited as "vec inv. N"):
 *   1. Exactly the segments holding elements 0 .. length-1 are allocated, each a block of its
 *      full size; elements at and past `length` in the last segment are zero.
 *   2. Strings and blobs in the elements obey varlen inv. 1-2.
 */
import { CorruptionError, InvalidArgumentError, OutOfRangeError, describe } from '../../regions/index.js'
import type { Durability, Tx } from '../../txn/index.js'
import type { PersistentMemory, PmTx } from '../pm.js'
import { checkType, type InputOf, type PlainOf, type TypeDesc } from '../types.js'
import { freeValue } from '../varlen.js'
import { ownValue, readPlain, writeOwned } from '../view.js'
import { rd, wr } from './btree-node.js'
import { decoderOf, scratchImage, type Image } from './decode.js'
import { Collection, checkCollectionOptions, readNow, type CollectionOptions, type WriteOptions } from './collection.js'
import type { VarEntry } from '../vars.js'

export const VEC_MAGIC = 0x43455650
export const VEC_HEADER = 16 + 8 * 32
export const VEC_SEG0 = 16
const BATCH = 256

export function vecSegmentOf(i: number): number { return i < VEC_SEG0 ? 0 : 32 - Math.clz32(Math.floor(i / VEC_SEG0)) }
export function vecSegmentStart(k: number): number { return k === 0 ? 0 : VEC_SEG0 * 2 ** (k - 1) }
export function vecSegmentLength(k: number): number { return k === 0 ? VEC_SEG0 : VEC_SEG0 * 2 ** (k - 1) }

/** A persistent growable array; see the file comment. */
export class Vector<V extends TypeDesc> extends Collection implements Iterable<PlainOf<V>> {
  readonly elementType: V
  readonly #stride: number
  readonly #img: Image

  private constructor(pm: PersistentMemory, name: string, entry: VarEntry, elem: V, d: Durability) {
    super(pm, name, entry, d)
    this.elementType = elem
    this.#stride = Math.max(1, elem.size)
    this.#img = scratchImage(this.#stride)
  }

  /** @internal `pm.vector(name, elem, opts)`. */
  static open<V extends TypeDesc>(pm: PersistentMemory, name: string, elem: V, opts?: CollectionOptions): Vector<V> {
    const action = `Cannot open vector ${describe(name)}`
    checkType(elem, action)
    const d = checkCollectionOptions(opts, action)
    const e = pm.collectionVar('vector', name, `vector(${elem.sig})`, VEC_HEADER, (tx, h) => {
      tx.writeU32(h, VEC_MAGIC)
      tx.writeU32(h + 4, 1)
    })
    readNow(pm, tx => {
      if (tx.readU32(e.offset) !== VEC_MAGIC || tx.readU32(e.offset + 4) !== 1) throw new CorruptionError(`vector "${name}" in "${pm.path}" is damaged: its header has a bad magic number or version; run check() and restore the file from a backup`)
    })
    return new Vector(pm, name, e, elem, d)
  }

  /** Number of elements. */
  get length(): number { return this.read(tx => rd(tx, this.offset + 8)) }

  /** Element `i` as a plain value, or undefined when i is past the end (as for arrays). */
  get(i: number): PlainOf<V> | undefined {
    checkIndex(i, `Cannot get from vector "${this.name}"`)
    return this.read(tx => i < rd(tx, this.offset + 8) ? this.#decode(tx, this.#at(tx, i)) : undefined)
  }

  /** Replaces element `i` (0 <= i < length; OutOfRangeError otherwise). */
  set(i: number, value: InputOf<V>, opts?: WriteOptions): void | Promise<void> {
    const action = `Cannot set element of vector "${this.name}"`
    checkIndex(i, action)
    return this.write(action, opts, tx => {
      const v = ownValue(this.elementType, value) // V3: its getters run before the vector is read
      const n = rd(tx, this.offset + 8)
      if (i >= n) throw new OutOfRangeError(`${action}: index ${i} is past the end (length ${n}); use push to append`)
      const at = this.#at(tx, i)
      freeValue(tx, this.elementType, at)
      tx.zero(at, this.elementType.size)
      writeOwned(tx, this.elementType, at, v)
    })
  }

  /** Appends `value`; returns the new length (a promise of it with `group`). */
  push(value: InputOf<V>, opts: { durability: 'group' }): Promise<number>
  push(value: InputOf<V>, opts?: WriteOptions): number | Promise<number>
  push(value: InputOf<V>, opts?: WriteOptions): number | Promise<number> {
    return this.write(`Cannot push onto vector "${this.name}"`, opts, tx => {
      const v = ownValue(this.elementType, value) // V3: its getters run before the vector is read
      const n = rd(tx, this.offset + 8), k = vecSegmentOf(n)
      if (n === vecSegmentStart(k) && rd(tx, this.offset + 16 + 8 * k) === 0) {
        wr(tx, this.offset + 16 + 8 * k, tx.alloc(this.#stride * vecSegmentLength(k), Math.max(8, this.elementType.align)))
      }
      writeOwned(tx, this.elementType, this.#at(tx, n), v)
      wr(tx, this.offset + 8, n + 1)
      return n + 1
    })
  }

  /** Removes and returns the last element (undefined when empty); frees its strings, and its segment once empty. */
  pop(opts: { durability: 'group' }): Promise<PlainOf<V> | undefined>
  pop(opts?: WriteOptions): PlainOf<V> | undefined | Promise<PlainOf<V> | undefined>
  pop(opts?: WriteOptions): PlainOf<V> | undefined | Promise<PlainOf<V> | undefined> {
    return this.write(`Cannot pop from vector "${this.name}"`, opts, tx => {
      const n = rd(tx, this.offset + 8)
      if (n === 0) return undefined
      const at = this.#at(tx, n - 1)
      const value = readPlain(tx, this.elementType, at) as PlainOf<V>
      this.#drop(tx, n - 1)
      wr(tx, this.offset + 8, n - 1)
      return value
    })
  }

  /** Removes every element in one transaction (bounded by the redo log). */
  clear(opts?: WriteOptions): void | Promise<void> {
    return this.write(`Cannot clear vector "${this.name}"`, opts, tx => {
      for (let i = rd(tx, this.offset + 8) - 1; i >= 0; i--) this.#drop(tx, i)
      wr(tx, this.offset + 8, 0)
    })
  }

  /** The elements, read lazily in batches (each from the latest commit). */
  *[Symbol.iterator](): Generator<PlainOf<V>> {
    for (let i = 0; ; i += BATCH) {
      const batch = this.read(tx => {
        const out: Array<PlainOf<V>> = []
        const n = rd(tx, this.offset + 8)
        for (let j = i; j < n && j < i + BATCH; j++) out.push(this.#decode(tx, this.#at(tx, j)))
        return out
      })
      yield* batch
      if (batch.length < BATCH) return
    }
  }

  /** Frees the strings of element `i` and zeroes it; frees its segment when `i` was the segment's first (vec inv. 1). */
  #drop(tx: PmTx, i: number): void {
    const at = this.#at(tx, i)
    freeValue(tx, this.elementType, at)
    tx.zero(at, this.elementType.size)
    const k = vecSegmentOf(i)
    if (i === vecSegmentStart(k)) {
      tx.free(rd(tx, this.offset + 16 + 8 * k))
      wr(tx, this.offset + 16 + 8 * k, 0)
    }
  }

  /** The element at `at` as a plain value: one copy, decoded locally (decode.ts). */
  #decode(tx: Tx, at: number): PlainOf<V> {
    tx.readInto(at, this.#img.u8)
    return decoderOf(this.elementType)(tx, this.#img, 0) as PlainOf<V>
  }

  /** Offset of element `i` (which must exist). */
  #at(tx: Tx, i: number): number {
    const k = vecSegmentOf(i)
    const seg = rd(tx, this.offset + 16 + 8 * k)
    if (seg === 0) throw new CorruptionError(`vector "${this.name}" in "${this.pm.path}" is damaged: segment ${k} of element ${i} is missing; run check() and restore the file from a backup`)
    return seg + (i - vecSegmentStart(k)) * this.#stride
  }
}

function checkIndex(i: unknown, action: string): asserts i is number {
  if (typeof i !== 'number' || !Number.isSafeInteger(i) || i < 0) throw new InvalidArgumentError(`${action}: index must be a non-negative integer, got ${describe(i)}`)
}
