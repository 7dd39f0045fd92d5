/**
 * HashMap: a persistent hash map with linear hashing, so it grows one bucket at a time: a put
 * that takes the map over one entry per bucket splits exactly one bucket (moving about one
 * chain), and no operation ever costs time proportional to the map's size (`clear` aside).
 *
 * Header (the named variable's data, 248 bytes):
 *
 * | offset | size | description                                                          |
 * | -----: | ---: | -------------------------------------------------------------------- |
 * |      0 |    4 | magic 0x504d4850 ("PHMP")                                            |
 * |      4 |    4 | format version (1)                                                   |
 * |      8 |    8 | count: entries in the map                                            |
 * |     16 |    4 | level L: the round's table has 64 * 2^L buckets                      |
 * |     20 |    4 | split: buckets below it are already split in this round              |
 * |     24 |    8 | retired tables left by clear(), freed a few entries per write        |
 * |        |      | (0 = none; hash-garbage.ts)                                          |
 * |     32 | 8*27 | segments: heap blocks of buckets; segment 0 holds buckets 0..63,     |
 * |        |      | segment k >= 1 buckets 64 * 2^(k-1) .. 64 * 2^k - 1 (0 = not yet)    |
 *
 * A bucket is an 8-byte offset of the first entry of its chain (0 = empty). A key of hash h
 * is in bucket h mod (64 * 2^L), or h mod (64 * 2^(L+1)) when that is below `split`.
 *
 * Entry (one heap block each):
 *
 * | offset | size | description                                                          |
 * | -----: | ---: | -------------------------------------------------------------------- |
 * |      0 |    8 | next entry in the chain (0 = end)                                    |
 * |      8 |    4 | hash of the key (keys.ts)                                            |
 * |     12 |    4 | reserved (0)                                                         |
 * |     16 |    K | key, in the key type's layout (strings and blobs: a varlen.ts slot)  |
 * |      V |    * | value, in the value type's layout, at the next offset aligned for it |
 *
 * Invariants (what `checkHashMap` validates; every change is one transaction, so these are
 * all that crash recovery relies on; cited as "hmap inv. N"):
 *   1. The buckets 0 .. 64 * 2^L + split - 1 exist: their segments are allocated blocks of the
 *      right size, and no later segment is allocated.
 *   2. Every entry is an allocated block, reached from exactly one bucket: the one its stored
 *      hash addresses, and the stored hash is the hash of its key. Chains end (no cycle).
 *   3. `count` is the number of entries; the map splits so that count <= bucket count.
 *   4. No two entries hold equal keys. Strings and blobs inside keys and values obey varlen
 *      inv. 1-2 (each out-of-line block owned by one slot).
 *   5. An entry only ever moves to a higher bucket: a split moves entries of bucket `split`
 *      into the new bucket 64 * 2^L + split, the last one (no merges; deletes move nothing).
 *      So `sweep`'s cursor, which only rises until it wraps to 0, misses no entry in a pass.
 */
import { CorruptionError, InvalidArgumentError, describe } from '../../regions/index.js'
import type { Durability, Tx } from '../../txn/index.js'
import type { PersistentMemory, PmTx } from '../pm.js'
import { checkType, type InputOf, type PlainOf, type TypeDesc, type ValueOf } from '../types.js'
import { freeValue } from '../varlen.js'
import { ownValue, writeOwned } from '../view.js'
import { Collection, checkCollectionOptions, type CollectionOptions, type WriteOptions } from './collection.js'

/** Options of `HashMap.sweep`: `{ durability }` as for `put`, and `fields`, the value fields `dead` is given (a struct value type). */
export interface SweepOptions extends WriteOptions { fields?: readonly string[] }
import type { VarEntry } from '../vars.js'
import { checkKeyType, encodeKey, lookupKey, imageKeyEquals, keyEquals, writeKey, type Key, type KeyType } from './keys.js'
import { decoderOf, fieldsDecoder, scratchImage, type Decoder, type Image } from './decode.js'
import { collect, retire } from './hash-garbage.js'

export const HMAP_MAGIC = 0x504d4850
export const HMAP_HEADER = 32 + 8 * 27
export const N0 = 64
export const NSEG = 27
/** Retired entries a put or delete frees (hash-garbage.ts). */
const COLLECT_PER_WRITE = 4
const rd = (tx: Tx, off: number): number => tx.readU32(off) + tx.readU32(off + 4) * 4294967296
const wr = (tx: Tx, off: number, v: number): void => tx.writeBigU64(off, BigInt(v))

/** Where entries keep their key and value. */
export interface EntryLayout { readonly keyOff: number; readonly valOff: number; readonly size: number }
export function entryLayout(key: TypeDesc, value: TypeDesc): EntryLayout {
  const valOff = Math.ceil((16 + key.size) / value.align) * value.align
  return { keyOff: 16, valOff, size: Math.max(8, Math.ceil((valOff + value.size) / 8) * 8) }
}

/** N0 * 2^L for every level L (the table size of a round). */
const ROUND = Array.from({ length: NSEG }, (_, l) => N0 * 2 ** l)
const SEG_START = Array.from({ length: NSEG }, (_, k) => (k === 0 ? 0 : N0 * 2 ** (k - 1)))

/** Segment holding bucket `b`, and the first bucket of that segment. */
export function segmentOf(b: number): number { return b < N0 ? 0 : 32 - Math.clz32(Math.floor(b / N0)) }
export function segmentStart(k: number): number { return SEG_START[k] ?? N0 * 2 ** (k - 1) }
export function segmentBuckets(k: number): number { return k === 0 ? N0 : N0 * 2 ** (k - 1) }

/** A persistent map from keys of one type to values of another; see the file comment. */
export class HashMap<K extends KeyType, V extends TypeDesc> extends Collection implements Iterable<[ValueOf<K>, PlainOf<V>]> {
  readonly keyType: K
  readonly valueType: V
  /** Error prefixes of get and has, made once (not per lookup). */
  readonly #whereGet: string
  readonly #whereHas: string
  /** The key of the running get (lookups never nest: no user code runs inside one) and its read function, made once. */
  #k: Key | null = null
  readonly #getFn = (tx: Tx): unknown => this.#lookup(tx, this.#k!)
  readonly #e: EntryLayout
  /** Where #lookup copies an entry (one per map: lookups never nest). */
  readonly #img: Image

  private constructor(pm: PersistentMemory, name: string, entry: VarEntry, key: K, value: V, d: Durability) {
    super(pm, name, entry, d)
    this.keyType = key
    this.valueType = value
    this.#whereGet = `Cannot get from hashMap "${name}"`
    this.#whereHas = `Cannot look up in hashMap "${name}"`
    this.#e = entryLayout(key, value)
    this.#img = scratchImage(this.#e.size)
  }

  /** @internal `pm.hashMap(name, key, value, opts)`. */
  static open<K extends KeyType, V extends TypeDesc>(pm: PersistentMemory, name: string, key: K, value: V, opts?: CollectionOptions): HashMap<K, V> {
    const action = `Cannot open hashMap ${describe(name)}`
    checkType(key, action)
    checkKeyType(key, action)
    checkType(value, action)
    const d = checkCollectionOptions(opts, action)
    const e = pm.collectionVar('hashMap', name, `hashMap(${key.sig},${value.sig})`, HMAP_HEADER, (tx, h) => {
      tx.writeU32(h, HMAP_MAGIC)
      tx.writeU32(h + 4, 1)
      wr(tx, h + 32, tx.alloc(8 * N0))
    })
    const map = new HashMap(pm, name, e, key, value, d)
    map.read(tx => map.#header(tx))
    return map
  }

  /** The value stored under `key` (a plain value), or undefined. */
  get(key: ValueOf<K>): PlainOf<V> | undefined {
    this.#k = lookupKey(this.keyType, key, this.#whereGet)
    return this.read(this.#getFn) as PlainOf<V> | undefined
  }

  /** True when `key` is in the map. */
  has(key: ValueOf<K>): boolean {
    const k = lookupKey(this.keyType, key, this.#whereHas)
    return this.read(tx => this.#lookup(tx, k, false) !== undefined)
  }

  /**
   * Stores `value` under `key`, replacing (and freeing the strings of) any value there. A struct
   * value is a plain object; fields it lacks are zero. Outside a transaction this is one durable
   * transaction (`{ durability }`, default the map's); inside one it joins it.
   */
  put(key: ValueOf<K>, value: InputOf<V>, opts: { durability: 'group' }): Promise<void>
  put(key: ValueOf<K>, value: InputOf<V>, opts?: WriteOptions): void | Promise<void>
  put(key: ValueOf<K>, value: InputOf<V>, opts?: WriteOptions): void | Promise<void> {
    const action = `Cannot put into hashMap "${this.name}"`
    const k = encodeKey(this.keyType, key, action)
    return this.write(action, opts, tx => { this.#put(tx, k, ownValue(this.valueType, value)) }) // V3: the value's getters run before the map is read
  }

  /** Removes `key`; true if it was there. Its key's and value's strings are freed. */
  delete(key: ValueOf<K>, opts: { durability: 'group' }): Promise<boolean>
  delete(key: ValueOf<K>, opts?: WriteOptions): boolean | Promise<boolean>
  delete(key: ValueOf<K>, opts?: WriteOptions): boolean | Promise<boolean> {
    const action = `Cannot delete from hashMap "${this.name}"`
    const k = encodeKey(this.keyType, key, action)
    return this.write(action, opts, tx => this.#delete(tx, k))
  }

  /**
   * Removes every entry, atomically and in O(1) writes: the old table is retired and its entries
   * are freed a few per later put or delete (hash-garbage.ts), so a clear never pauses for the
   * map's size nor needs log space for it; their heap space comes back as the map is written.
   */
  clear(opts?: WriteOptions): void | Promise<void> {
    return this.write(`Cannot clear hashMap "${this.name}"`, opts, tx => { this.#clear(tx) })
  }

  /**
   * Incremental removal: visits the entries of the buckets from `cursor` on, in bucket order,
   * until `budget` entries (or 4 * `budget` buckets) were visited, and deletes each one for
   * which `dead(key, value)` is true (its strings freed, as `delete`). Returns the bucket to go
   * on from next time, 0 once the last bucket was visited (a pass is over). A pass from 0 to 0
   * sees every entry that stayed in the map all along it: a split only moves entries into the
   * new last bucket, which no cursor has passed yet (hmap inv. 5). `dead` must not use the map.
   * Outside a transaction this is one (`{ durability }` as `put`); inside one it joins it.
   * `{ fields }` (a struct value type): `dead` gets only those fields of each value, so a
   * sweep that decides by small fields never copies a large string or blob it leaves alone.
   */
  sweep(cursor: number, budget: number, dead: (key: ValueOf<K>, value: PlainOf<V>) => boolean, opts: SweepOptions & { durability: 'group' }): Promise<number>
  sweep(cursor: number, budget: number, dead: (key: ValueOf<K>, value: PlainOf<V>) => boolean, opts?: SweepOptions): number | Promise<number>
  sweep(cursor: number, budget: number, dead: (key: ValueOf<K>, value: PlainOf<V>) => boolean, opts?: SweepOptions): number | Promise<number> {
    const action = `Cannot sweep hashMap "${this.name}"`
    if (!Number.isSafeInteger(cursor) || cursor < 0) throw new InvalidArgumentError(`${action}: cursor must be an integer >= 0, got ${describe(cursor)}`)
    if (!Number.isSafeInteger(budget) || budget < 1) throw new InvalidArgumentError(`${action}: budget must be an integer >= 1, got ${describe(budget)}`)
    if (typeof dead !== 'function') throw new InvalidArgumentError(`${action}: dead must be a function, got ${describe(dead)}`)
    let write: WriteOptions | undefined = opts
    let decode = decoderOf(this.valueType)
    if (opts !== null && typeof opts === 'object' && 'fields' in opts) {
      const { fields, ...rest } = opts
      decode = fieldsDecoder(this.valueType, fields, action)
      write = rest
    }
    return this.write(action, write, tx => this.#sweep(tx, cursor, budget, dead, decode))
  }

  /** Number of entries. */
  get size(): number { return this.read(tx => rd(tx, this.offset + 8)) }

  /** The keys, as of the moment iteration starts (a snapshot read in one go). */
  keys(): IterableIterator<ValueOf<K>> { return this.#snapshot(true, false).map(([k]) => k as ValueOf<K>)[Symbol.iterator]() }
  /** The values, as of the moment iteration starts. */
  values(): IterableIterator<PlainOf<V>> { return this.#snapshot(false, true).map(([, v]) => v as PlainOf<V>)[Symbol.iterator]() }
  /** The entries, as of the moment iteration starts. */
  entries(): IterableIterator<[ValueOf<K>, PlainOf<V>]> { return (this.#snapshot(true, true) as Array<[ValueOf<K>, PlainOf<V>]>)[Symbol.iterator]() }
  [Symbol.iterator](): IterableIterator<[ValueOf<K>, PlainOf<V>]> { return this.entries() }

  #snapshot(keys: boolean, values: boolean): Array<[unknown, unknown]> {
    return this.read(tx => {
      const out: Array<[unknown, unknown]> = []
      const img = this.#img, key = decoderOf(this.keyType), value = decoderOf(this.valueType)
      this.#forEach(tx, e => {
        tx.readInto(e, img.u8)
        out.push([keys ? key(tx, img, 16) : undefined, values ? value(tx, img, this.#e.valOff) : undefined])
      })
      return out
    })
  }

  /** Calls `fn` with every entry's offset, bucket by bucket. */
  #forEach(tx: Tx, fn: (entry: number) => void): void {
    const h = this.offset
    const n = N0 * 2 ** tx.readU32(h + 16) + tx.readU32(h + 20)
    const count = rd(tx, h + 8)
    let seen = 0
    for (let k = 0; segmentStart(k) < n; k++) {
      const seg = rd(tx, h + 32 + 8 * k)
      for (let i = 0; i < segmentBuckets(k) && segmentStart(k) + i < n; i++) {
        for (let e = rd(tx, seg + 8 * i); e !== 0; e = rd(tx, e)) {
          if (++seen > count) throw this.#damaged('its chains hold more entries than its count (a cycle?)')
          fn(e)
        }
      }
    }
  }

  /** Checks the header's magic and version. */
  #header(tx: Tx): void {
    if (tx.readU32(this.offset) !== HMAP_MAGIC || tx.readU32(this.offset + 4) !== 1) throw this.#damaged('its header has a bad magic number or version')
  }

  #damaged(what: string): CorruptionError {
    return new CorruptionError(`hashMap "${this.name}" in "${this.pm.path}" is damaged: ${what}; run check() and restore the file from a backup`)
  }

  /** Offset of the word that holds bucket `b`. */
  #bucket(tx: Tx, b: number): number {
    const k = segmentOf(b)
    return rd(tx, this.offset + 32 + 8 * k) + 8 * (b - segmentStart(k))
  }

  /** The bucket a hash lives in (hmap inv. 2). */
  #address(tx: Tx, hash: number): number {
    const m = ROUND[tx.readU32(this.offset + 16)] ?? N0 * 2 ** tx.readU32(this.offset + 16)
    const b = hash % m
    return b < tx.readU32(this.offset + 20) ? hash % (2 * m) : b
  }

  /** The entry holding `k` (or with `link`, the offset of the word pointing to it), or 0. */
  #find(tx: Tx, k: Key, link: true): [number, number]
  #find(tx: Tx, k: Key, link: false): number
  #find(tx: Tx, k: Key, link: boolean): number | [number, number] {
    let at = this.#bucket(tx, this.#address(tx, k.hash)), steps = 0
    for (let e = rd(tx, at); e !== 0; at = e, e = rd(tx, e)) {
      if (tx.readU32(e + 8) === k.hash && keyEquals(tx, this.keyType, e + 16, k)) return link ? [at, e] : e
      if (++steps > 64 && steps > rd(tx, this.offset + 8)) throw this.#damaged('a bucket chain is longer than the map (a cycle?)')
    }
    return link ? [at, 0] : 0
  }

  /** The plain value under `k` (true when not `decode`), or undefined: each chain entry copied with one read and decoded locally (decode.ts). */
  #lookup(tx: Tx, k: Key, decode = true): unknown {
    const kt = this.keyType
    let steps = 0
    for (let e = rd(tx, this.#bucket(tx, this.#address(tx, k.hash))); e !== 0;) {
      const img = this.#img
      tx.readInto(e, img.u8)
      if (img.dv.getUint32(8, true) === k.hash && imageKeyEquals(tx, kt, img, 16, k)) return decode ? decoderOf(this.valueType)(tx, img, this.#e.valOff) : true
      e = img.dv.getUint32(0, true) + img.dv.getUint32(4, true) * 4294967296
      if (++steps > 64 && steps > rd(tx, this.offset + 8)) throw this.#damaged('a bucket chain is longer than the map (a cycle?)')
    }
    return undefined
  }

  #put(tx: PmTx, k: Key, value: unknown): void {
    const e = this.#find(tx, k, false)
    const valOff = this.#e.valOff
    if (e !== 0) {
      freeValue(tx, this.valueType, e + valOff)
      tx.zero(e + valOff, this.valueType.size)
      writeOwned(tx, this.valueType, e + valOff, value)
      this.#collect(tx)
      return
    }
    const at = this.#bucket(tx, this.#address(tx, k.hash))
    const n = tx.alloc(this.#e.size)
    writeOwned(tx, this.valueType, n + valOff, value) // first: a write that fails leaves nothing linked
    wr(tx, n, rd(tx, at))
    tx.writeU32(n + 8, k.hash)
    writeKey(tx, this.keyType, n + 16, k)
    wr(tx, at, n)
    const count = rd(tx, this.offset + 8) + 1
    wr(tx, this.offset + 8, count)
    this.#split(tx, count)
    this.#collect(tx)
  }

  /** Frees a few entries of tables retired by clear() (hgarb inv. 2): the cost of a clear spread over later writes. */
  #collect(tx: PmTx): void {
    if (rd(tx, this.offset + 24) !== 0) collect(tx, this.offset, COLLECT_PER_WRITE, e => this.#freeEntry(tx, e))
  }

  #delete(tx: PmTx, k: Key): boolean {
    const [at, e] = this.#find(tx, k, true)
    if (e === 0) return false
    wr(tx, at, rd(tx, e))
    this.#freeEntry(tx, e)
    wr(tx, this.offset + 8, rd(tx, this.offset + 8) - 1)
    this.#collect(tx)
    return true
  }

  /** See `sweep`: unlinks and frees the dead entries of the next buckets; the next cursor. */
  #sweep(tx: PmTx, cursor: number, budget: number, dead: (key: ValueOf<K>, value: PlainOf<V>) => boolean, value: Decoder): number {
    const h = this.offset
    const n = N0 * 2 ** tx.readU32(h + 16) + tx.readU32(h + 20)
    const img = scratchImage(this.#e.size)   // not #img: a lookup may run while `dead` holds this one
    const key = decoderOf(this.keyType), valOff = this.#e.valOff
    const count = rd(tx, h + 8)
    let b = cursor < n ? cursor : 0   // a clear() since the last call shrank the table
    let visited = 0, removed = 0
    for (let buckets = 0; visited < budget && buckets < 4 * budget; buckets++) {
      let at = this.#bucket(tx, b), steps = 0
      for (let e = rd(tx, at); e !== 0;) {
        tx.readInto(e, img.u8)
        const next = img.dv.getUint32(0, true) + img.dv.getUint32(4, true) * 4294967296
        if (++steps > 64 && steps > count) throw this.#damaged('a bucket chain is longer than the map (a cycle?)')
        visited++
        if (dead(key(tx, img, 16) as ValueOf<K>, value(tx, img, valOff) as PlainOf<V>)) {
          wr(tx, at, next)
          this.#freeEntry(tx, e)
          removed++
        } else at = e
        e = next
      }
      if (++b >= n) { b = 0; break }
    }
    if (removed > 0) {
      wr(tx, h + 8, count - removed)
      this.#collect(tx)
    }
    return b
  }

  /** Splits one bucket when the map holds more entries than buckets (hmap inv. 1, 3). */
  #split(tx: PmTx, count: number): void {
    const h = this.offset
    const level = tx.readU32(h + 16), split = tx.readU32(h + 20)
    const m = N0 * 2 ** level
    if (count <= m + split) return
    const nb = m + split, k = segmentOf(nb)
    if (nb === segmentStart(k)) wr(tx, h + 32 + 8 * k, tx.alloc(8 * segmentBuckets(k)))
    let at = this.#bucket(tx, split), moved = 0
    for (let e = rd(tx, at); e !== 0;) {
      const next = rd(tx, e)
      if (tx.readU32(e + 8) % (2 * m) !== split) {
        wr(tx, at, next)
        wr(tx, e, moved)
        moved = e
      } else at = e
      e = next
    }
    if (moved !== 0) wr(tx, this.#bucket(tx, nb), moved)
    if (split + 1 === m) { tx.writeU32(h + 16, level + 1); tx.writeU32(h + 20, 0) }
    else tx.writeU32(h + 20, split + 1)
  }

  /** Retires the table (O(1) writes; hash-garbage.ts frees it during later writes) and starts an empty one. */
  #clear(tx: PmTx): void {
    const h = this.offset
    if (rd(tx, h + 8) === 0 && tx.readU32(h + 16) === 0 && tx.readU32(h + 20) === 0) return // already empty
    retire(tx, h)
    tx.zero(h + 32 + 8, 8 * (NSEG - 1))
    wr(tx, h + 32, tx.alloc(8 * N0))
    wr(tx, h + 8, 0)
    tx.writeU32(h + 16, 0)
    tx.writeU32(h + 20, 0)
  }

  /** Frees an unlinked entry and its key's and value's strings. */
  #freeEntry(tx: PmTx, e: number): void {
    freeValue(tx, this.keyType, e + 16)
    freeValue(tx, this.valueType, e + this.#e.valOff)
    tx.free(e)
  }
}
