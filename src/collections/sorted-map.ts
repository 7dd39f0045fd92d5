/**
 * SortedMap: a persistent map ordered by key, a B+tree whose leaves are linked both ways for
 * range scans. Nodes split when full and, after deletes, borrow from a sibling or merge with
 * it below half full, so every operation touches O(log n) nodes.
 *
 * Header (the named variable's data, 48 bytes):
 *
 * | offset | size | description                                                          |
 * | -----: | ---: | -------------------------------------------------------------------- |
 * |      0 |    4 | magic 0x52544250 ("PBTR")                                            |
 * |      4 |    4 | format version (1)                                                   |
 * |      8 |    8 | count: entries in the map                                            |
 * |     16 |    8 | root node (0 = empty map)                                            |
 * |     24 |    4 | height: 0 when empty, 1 when the root is a leaf                      |
 * |     28 |    4 | capacity C: keys per node, even, 4..128 (fixed when created)         |
 * |     32 |    8 | first leaf (0 = empty)                                               |
 * |     40 |    8 | last leaf (0 = empty)                                                |
 *
 * Nodes: see btree-node.ts.
 *
 * Invariants (what `checkSortedMap` validates; every change is one transaction, so these are
 * all that crash recovery relies on; cited as "btree inv. N"):
 *   1. Every node is an allocated block; all leaves are at depth `height`; internal nodes have
 *      n keys and n + 1 children; no node is reached twice.
 *   2. Keys increase strictly within a node; every key of child i of an internal node is
 *      >= its key i-1 and < its key i (separators are copies, owned by their node).
 *   3. Every node but the root holds at least C/2 keys and at most C; the root at least one.
 *   4. The leaves, linked by next/previous from `first` to `last`, are exactly the leaves in
 *      key order; `count` is the number of leaf entries; unused slots are zero.
 *   5. Strings and blobs in keys and values obey varlen inv. 1-2.
 */
import { CorruptionError, InvalidArgumentError, describe } from '../../regions/index.js'
import type { Durability, Tx } from '../../txn/index.js'
import type { PersistentMemory, PmTx } from '../pm.js'
import { checkType, type InputOf, type PlainOf, type TypeDesc, type ValueOf } from '../types.js'
import { encodeVar, freeValue, inlineWords, ownBytes } from '../varlen.js'
import { ownValue, writeOwned } from '../view.js'
import { INTERNAL, LEAF, NODE_HEADER, NodeLayout, rd, wr, type NodeImage } from './btree-node.js'
import { decoderOf, scratchImage, type Image } from './decode.js'
import { clearTree, fixLeaf, type Tree } from './btree-delete.js'
import { Collection, checkCollectionOptions, readNow, type CollectionOptions, type WriteOptions } from './collection.js'
import type { VarEntry } from '../vars.js'
import { checkKeyType, compareImage, compareStored, encodeKey, lookupKey, storedKey, writeKey, type Key, type KeyType } from './keys.js'

export const SMAP_MAGIC = 0x52544250
export const SMAP_HEADER = 48
const BATCH = 128

/** Options of `getRange`: keys in [start, end), ascending (or descending with `reverse`), skipping `offset`, at most `limit`. */
export interface RangeOptions<K> { start?: K | number | bigint; end?: K | number | bigint; reverse?: boolean; limit?: number; offset?: number }

/** A persistent ordered map; see the file comment. */
export class SortedMap<K extends KeyType, V extends TypeDesc> extends Collection implements Iterable<[ValueOf<K>, PlainOf<V>]> {
  readonly keyType: K
  readonly valueType: V
  /** Error prefixes of get and has, made once (not per lookup). */
  readonly #whereGet: string
  readonly #whereHas: string
  readonly #L: NodeLayout
  readonly #min: number
  /** This map as the delete functions see it (btree-delete.ts). */
  readonly #tree: Tree
  /** Where #batch copies a leaf (batches never nest), and `get` a value. */
  readonly #img: Image
  readonly #valImg: Image

  private constructor(pm: PersistentMemory, name: string, entry: VarEntry, key: K, value: V, d: Durability, cap: number) {
    super(pm, name, entry, d)
    this.keyType = key
    this.valueType = value
    this.#whereGet = `Cannot get from sortedMap "${name}"`
    this.#whereHas = `Cannot look up in sortedMap "${name}"`
    this.#L = new NodeLayout(key, value, cap)
    this.#min = cap >>> 1
    this.#tree = { offset: entry.offset, keyType: key, valueType: value, L: this.#L, min: this.#min }
    this.#img = scratchImage(this.#L.leafSize)
    this.#valImg = scratchImage(Math.max(1, this.#L.vs))
  }

  /** @internal `pm.sortedMap(name, key, value, opts)`. */
  static open<K extends KeyType, V extends TypeDesc>(pm: PersistentMemory, name: string, key: K, value: V, opts?: CollectionOptions): SortedMap<K, V> {
    const action = `Cannot open sortedMap ${describe(name)}`
    checkType(key, action)
    checkKeyType(key, action)
    checkType(value, action)
    const d = checkCollectionOptions(opts, action)
    const e = pm.collectionVar('sortedMap', name, `sortedMap(${key.sig},${value.sig})`, SMAP_HEADER, (tx, h) => {
      tx.writeU32(h, SMAP_MAGIC)
      tx.writeU32(h + 4, 1)
      tx.writeU32(h + 28, NodeLayout.capacityFor(key, value))
    })
    const cap = readNow(pm, tx => {
      const c = tx.readU32(e.offset + 28)
      if (tx.readU32(e.offset) !== SMAP_MAGIC || tx.readU32(e.offset + 4) !== 1 || c < 4 || c > 128 || c % 2 !== 0) {
        throw new CorruptionError(`sortedMap "${name}" in "${pm.path}" is damaged: its header has a bad magic number, version or capacity; run check() and restore the file from a backup`)
      }
      return c
    })
    return new SortedMap(pm, name, e, key, value, d, cap)
  }

  /** The value stored under `key` (a plain value), or undefined. */
  get(key: ValueOf<K>): PlainOf<V> | undefined {
    const k = lookupKey(this.keyType, key, this.#whereGet)
    return this.read(tx => {
      const at = this.#locate(tx, k)
      if (at < 0) return undefined
      tx.readInto(at, this.#valImg.u8)
      return decoderOf(this.valueType)(tx, this.#valImg, 0) as PlainOf<V>
    })
  }

  /** True when `key` is in the map. */
  has(key: ValueOf<K>): boolean {
    const k = lookupKey(this.keyType, key, this.#whereHas)
    return this.read(tx => this.#locate(tx, k) >= 0)
  }

  /** Stores `value` under `key`, replacing any value there (see HashMap.put). */
  put(key: ValueOf<K>, value: InputOf<V>, opts: { durability: 'group' }): Promise<void>
  put(key: ValueOf<K>, value: InputOf<V>, opts?: WriteOptions): void | Promise<void>
  put(key: ValueOf<K>, value: InputOf<V>, opts?: WriteOptions): void | Promise<void> {
    const action = `Cannot put into sortedMap "${this.name}"`
    const k = encodeKey(this.keyType, key, action)
    return this.write(action, opts, tx => { this.#put(tx, k, ownValue(this.valueType, value)) }) // V3: the value's getters run before the tree is read
  }

  /** Removes `key`; true if it was there. */
  delete(key: ValueOf<K>, opts: { durability: 'group' }): Promise<boolean>
  delete(key: ValueOf<K>, opts?: WriteOptions): boolean | Promise<boolean>
  delete(key: ValueOf<K>, opts?: WriteOptions): boolean | Promise<boolean> {
    const action = `Cannot delete from sortedMap "${this.name}"`
    const k = encodeKey(this.keyType, key, action)
    return this.write(action, opts, tx => this.#delete(tx, k))
  }

  /** Removes every entry in one transaction (bounded by the redo log, like HashMap.clear). */
  clear(opts?: WriteOptions): void | Promise<void> {
    return this.write(`Cannot clear sortedMap "${this.name}"`, opts, tx => { clearTree(this.#tree, tx) })
  }

  /** Number of entries. */
  get size(): number { return this.read(tx => rd(tx, this.offset + 8)) }

  keys(): IterableIterator<ValueOf<K>> { return map(this.getRange(), e => e[0]) }
  values(): IterableIterator<PlainOf<V>> { return map(this.getRange(), e => e[1]) }
  entries(): IterableIterator<[ValueOf<K>, PlainOf<V>]> { return this.getRange() }
  [Symbol.iterator](): IterableIterator<[ValueOf<K>, PlainOf<V>]> { return this.getRange() }

  /**
   * Entries with keys in [start, end) in key order (numbers and bigints numerically, strings
   * and blobs by their bytes), descending with `reverse` (still [start, end)), after skipping
   * `offset`, at most `limit`. Bounds of numeric maps may be any number (±Infinity included)
   * or bigint. Read lazily in batches of 128, each from the latest commit (or the running
   * transaction): an entry present throughout is seen exactly once.
   * @example
   * for (const [k, v] of events.getRange({ start: 0, end: Infinity, limit: 100 })) {}
   */
  getRange(opts: RangeOptions<ValueOf<K>> = {}): IterableIterator<[ValueOf<K>, PlainOf<V>]> {
    const action = `Cannot read a range of sortedMap "${this.name}"`
    const o = checkRange(opts, action)
    const lo = o.start === undefined ? null : this.#bound(o.start, action, 'start')
    const hi = o.end === undefined ? null : this.#bound(o.end, action, 'end')
    return this.#range(lo, hi, o.reverse ?? false, o.limit ?? Infinity, o.offset ?? 0)
  }

  *#range(lo: Key | null, hi: Key | null, reverse: boolean, limit: number, skip: number): Generator<[ValueOf<K>, PlainOf<V>]> {
    let cursor: Key | null = null
    while (limit > 0) {
      const want = Math.min(BATCH * 8, Math.max(BATCH, limit + skip))
      const batch = this.read(tx => this.#batch(tx, lo, hi, reverse, cursor, want))
      for (const e of batch.entries) {
        if (skip > 0) { skip--; continue }
        if (limit-- <= 0) return
        yield e as [ValueOf<K>, PlainOf<V>]
      }
      if (batch.cursor === null) return
      cursor = batch.cursor
    }
  }

  /** A range bound: a key of the map's type, or for numeric maps any number or bigint. */
  #bound(v: unknown, action: string, what: string): Key {
    const kind = this.keyType.kind
    if (kind === 'string' || kind === 'blob') {
      let bytes = encodeVar(kind, v, `${action}: ${what}`)
      if (kind === 'blob') bytes = ownBytes(bytes) // keys inv. K1: the range reads it batch by batch, while the caller runs
      return { num: 0, bytes, inline: inlineWords(bytes), hash: 0 }
    }
    if ((typeof v === 'number' && !Number.isNaN(v)) || typeof v === 'bigint') return { num: v, bytes: null, inline: null, hash: 0 }
    throw new InvalidArgumentError(`${action}: ${what} must be a number (not NaN) or a bigint for keys of ${this.keyType.sig}, got ${describe(v)}`)
  }

  /**
   * Up to `max` entries after `cursor` (or from the range's start), each leaf copied with one
   * read and decoded locally (decode.ts); `cursor` is the last key when there may be more.
   */
  #batch(tx: Tx, lo: Key | null, hi: Key | null, reverse: boolean, cursor: Key | null, max: number): { entries: Array<[unknown, unknown]>; cursor: Key | null } {
    const entries: Array<[unknown, unknown]> = []
    const done = { entries, cursor: null }
    if (rd(tx, this.offset + 16) === 0) return done
    const L = this.#L, kt = this.keyType
    const keyOf = decoderOf(kt), valueOf = decoderOf(this.valueType)
    const from = cursor ?? (reverse ? hi : lo)
    let node: number, i: number
    if (from === null) {
      node = rd(tx, this.offset + (reverse ? 40 : 32))
      i = reverse ? Number.MAX_SAFE_INTEGER : 0
    } else {
      node = this.#descend(tx, from, null)
      const n = tx.readU32(node + 4)
      i = reverse ? this.#lowerBound(tx, node, n, from) - 1 : cursor !== null ? this.#upperBound(tx, node, n, from) : this.#lowerBound(tx, node, n, from)
    }
    for (let steps = 0; node !== 0; steps++) {
      if (steps > 1 << 24) throw this.#damaged('its leaf chain does not end')
      const img = this.#img
      tx.readInto(node, img.u8)
      const n = img.dv.getUint32(4, true)
      if (img.dv.getUint32(0, true) !== LEAF || n > L.cap) throw this.#damaged(`leaf ${node} has a bad kind or key count`)
      if (reverse && i >= n) i = n - 1
      for (; reverse ? i >= 0 : i < n; reverse ? i-- : i++) {
        const ko = NODE_HEADER + i * L.ks
        if (!reverse && hi !== null && compareImage(tx, kt, img, ko, hi) >= 0) return done
        if (reverse && lo !== null && compareImage(tx, kt, img, ko, lo) < 0) return done
        entries.push([keyOf(tx, img, ko), valueOf(tx, img, L.base + i * L.vs)])
        if (entries.length === max) return { entries, cursor: storedKey(tx, kt, L.key(node, i)) }
      }
      node = img.dv.getUint32(reverse ? 16 : 8, true) + img.dv.getUint32(reverse ? 20 : 12, true) * 4294967296
      i = reverse ? Number.MAX_SAFE_INTEGER : 0
    }
    return done
  }

  #damaged(what: string): CorruptionError {
    return new CorruptionError(`sortedMap "${this.name}" in "${this.pm.path}" is damaged: ${what}; run check() and restore the file from a backup`)
  }

  /** The leaf where `k` belongs; `path` (if given) gets [internal node, child index] from the root down. */
  #descend(tx: Tx, k: Key, path: Array<[number, number]> | null): number {
    let node = rd(tx, this.offset + 16)
    const height = tx.readU32(this.offset + 24)
    if (height > 64) throw this.#damaged(`its height ${height} is impossible`)
    for (let d = height; d > 1; d--) {
      if (tx.readU32(node) !== INTERNAL) throw this.#damaged(`node ${node} should be an internal node`)
      const i = this.#upperBound(tx, node, tx.readU32(node + 4), k)
      path?.push([node, i])
      node = rd(tx, this.#L.child(node, i))
    }
    if (tx.readU32(node) !== LEAF) throw this.#damaged(`node ${node} should be a leaf`)
    return node
  }

  /** First index whose key is >= k. */
  #lowerBound(tx: Tx, node: number, n: number, k: Key): number {
    let lo = 0, hi = n
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (compareStored(tx, this.keyType, this.#L.key(node, mid), k) < 0) lo = mid + 1; else hi = mid }
    return lo
  }

  /** First index whose key is > k. */
  #upperBound(tx: Tx, node: number, n: number, k: Key): number {
    let lo = 0, hi = n
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (compareStored(tx, this.keyType, this.#L.key(node, mid), k) <= 0) lo = mid + 1; else hi = mid }
    return lo
  }

  /** Offset of the value stored under `k`, or -1. */
  #locate(tx: Tx, k: Key): number {
    if (rd(tx, this.offset + 16) === 0) return -1
    const leaf = this.#descend(tx, k, null)
    const n = tx.readU32(leaf + 4), i = this.#lowerBound(tx, leaf, n, k)
    return i < n && compareStored(tx, this.keyType, this.#L.key(leaf, i), k) === 0 ? this.#L.val(leaf, i) : -1
  }

  #put(tx: PmTx, k: Key, value: unknown): void {
    const h = this.offset, L = this.#L
    if (rd(tx, h + 16) === 0) {
      const leaf = tx.alloc(L.leafSize)
      tx.writeU32(leaf, LEAF)
      tx.writeU32(leaf + 4, 1)
      writeOwned(tx, this.valueType, L.val(leaf, 0), value)
      writeKey(tx, this.keyType, L.key(leaf, 0), k)
      for (const at of [16, 32, 40]) wr(tx, h + at, leaf)
      tx.writeU32(h + 24, 1)
      wr(tx, h + 8, 1)
      return
    }
    const path: Array<[number, number]> = []
    const leaf = this.#descend(tx, k, path)
    const n = tx.readU32(leaf + 4), pos = this.#lowerBound(tx, leaf, n, k)
    if (pos < n && compareStored(tx, this.keyType, L.key(leaf, pos), k) === 0) {
      const at = L.val(leaf, pos)
      freeValue(tx, this.valueType, at)
      tx.zero(at, this.valueType.size)
      writeOwned(tx, this.valueType, at, value)
      return
    }
    wr(tx, h + 8, rd(tx, h + 8) + 1)
    const img = L.load(tx, leaf)
    img.keys.splice(pos, 0, new Uint8Array(L.ks))
    img.vals.splice(pos, 0, new Uint8Array(L.vs))
    if (img.keys.length <= L.cap) {
      L.store(tx, leaf, img)
      this.#writeEntry(tx, leaf, pos, k, value)
      return
    }
    const right = tx.alloc(L.leafSize), half = (img.keys.length + 1) >>> 1
    const R: NodeImage = { kind: LEAF, keys: img.keys.splice(half), vals: img.vals.splice(half), children: [], next: img.next, prev: leaf }
    img.next = right
    if (R.next !== 0) wr(tx, R.next + 16, right)
    else wr(tx, h + 40, right)
    L.store(tx, leaf, img)
    L.store(tx, right, R)
    if (pos < half) this.#writeEntry(tx, leaf, pos, k, value)
    else this.#writeEntry(tx, right, pos - half, k, value)
    this.#insertUp(tx, path, storedKey(tx, this.keyType, L.key(right, 0)), right)
  }

  #writeEntry(tx: PmTx, node: number, i: number, k: Key, value: unknown): void {
    writeOwned(tx, this.valueType, this.#L.val(node, i), value)
    writeKey(tx, this.keyType, this.#L.key(node, i), k)
  }

  /** Inserts separator `sep` (a key to copy, or a raw slot moving up) and child `right` into the parents, splitting them as needed. */
  #insertUp(tx: PmTx, path: Array<[number, number]>, sep: Key | Uint8Array, right: number): void {
    const L = this.#L, h = this.offset
    for (;;) {
      const top = path.pop()
      if (top === undefined) {
        const root = tx.alloc(L.internalSize)
        this.#storeInternal(tx, root, { kind: INTERNAL, keys: [cell(sep)], vals: [], children: [rd(tx, h + 16), right], next: 0, prev: 0 })
        wr(tx, h + 16, root)
        tx.writeU32(h + 24, tx.readU32(h + 24) + 1)
        return
      }
      const [p, i] = top
      const img = L.load(tx, p)
      img.keys.splice(i, 0, cell(sep))
      img.children.splice(i + 1, 0, right)
      if (img.keys.length <= L.cap) { this.#storeInternal(tx, p, img); return }
      const mid = img.keys.length >>> 1
      const up = img.keys[mid]!
      const nr = tx.alloc(L.internalSize)
      const R: NodeImage = { kind: INTERNAL, keys: img.keys.slice(mid + 1), vals: [], children: img.children.slice(mid + 1), next: 0, prev: 0 }
      img.keys = img.keys.slice(0, mid)
      img.children = img.children.slice(0, mid + 1)
      this.#storeInternal(tx, p, img)
      this.#storeInternal(tx, nr, R)
      sep = up instanceof Uint8Array ? up : (up as { pending: Key }).pending
      right = nr
    }
  }

  /** Stores an internal node, then writes the copies of its pending separators. */
  #storeInternal(tx: PmTx, off: number, img: NodeImage): void {
    for (const i of this.#L.store(tx, off, img)) writeKey(tx, this.keyType, this.#L.key(off, i), (img.keys[i] as { pending: Key }).pending)
  }

  #delete(tx: PmTx, k: Key): boolean {
    const h = this.offset, L = this.#L
    if (rd(tx, h + 16) === 0) return false
    const path: Array<[number, number]> = []
    const leaf = this.#descend(tx, k, path)
    const n = tx.readU32(leaf + 4), pos = this.#lowerBound(tx, leaf, n, k)
    if (pos >= n || compareStored(tx, this.keyType, L.key(leaf, pos), k) !== 0) return false
    freeValue(tx, this.keyType, L.key(leaf, pos))
    freeValue(tx, this.valueType, L.val(leaf, pos))
    wr(tx, h + 8, rd(tx, h + 8) - 1)
    const img = L.load(tx, leaf)
    img.keys.splice(pos, 1)
    img.vals.splice(pos, 1)
    if (path.length === 0) {
      if (img.keys.length > 0) L.store(tx, leaf, img)
      else { tx.free(leaf); for (const at of [16, 32, 40]) wr(tx, h + at, 0); tx.writeU32(h + 24, 0) }
    } else if (img.keys.length >= this.#min) L.store(tx, leaf, img)
    else fixLeaf(this.#tree, tx, leaf, img, path)
    return true
  }

}

function cell(k: Key | Uint8Array): Uint8Array | { pending: Key } { return k instanceof Uint8Array ? k : { pending: k } }

function* map<A, B>(it: Iterator<A>, f: (a: A) => B): Generator<B> {
  for (let r = it.next(); !r.done; r = it.next()) yield f(r.value)
}

const RANGE_KEYS = new Set(['start', 'end', 'reverse', 'limit', 'offset'])
function checkRange(opts: unknown, action: string): RangeOptions<unknown> {
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new InvalidArgumentError(`${action}: options must be an object { start, end, reverse, limit, offset }, got ${describe(opts)}`)
  for (const k of Object.keys(opts)) if (!RANGE_KEYS.has(k)) throw new InvalidArgumentError(`${action}: unknown option ${JSON.stringify(k)}; known options are start, end, reverse, limit, offset`)
  const o = opts as RangeOptions<unknown>
  if (o.reverse !== undefined && typeof o.reverse !== 'boolean') throw new InvalidArgumentError(`${action}: reverse must be true or false, got ${describe(o.reverse)}`)
  for (const k of ['limit', 'offset'] as const) {
    const v = o[k]
    if (v !== undefined && (typeof v !== 'number' || !(Number.isSafeInteger(v) || v === Infinity) || v < 0)) throw new InvalidArgumentError(`${action}: ${k} must be a non-negative integer, got ${describe(v)}`)
  }
  return o
}
