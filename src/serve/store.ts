/**
 * Where `pmem serve` keeps its items: the `ItemStore` interface the command handlers use
 * (so that the same server runs over other engines, as the benchmark does with lmdb-js and
 * better-sqlite3), and `PmItemStore`, the store over a persistent hash map.
 *
 * Invariants (cited as "store inv. N"):
 *   1. Every change the handlers make to the store happens inside `batch(fn)`, which is one
 *      atomic transaction: after a crash either all of a batch's changes are there or none.
 *   2. `batch` returns once the transaction is durable (`sync`), or returns a promise that
 *      resolves once it is (`group`); with `none` it returns once committed, durable at a
 *      later flush. A reply that acknowledges a change is sent only after that (server.ts).
 *   3. Reads inside `batch` see the batch's own earlier writes (a pipelined `set` then `get`).
 *   4. Server metadata (the cas counter's high-water mark, a delayed flush_all's time) lives
 *      in the same map under keys that contain a space, which no memcached key can.
 *   5. `sweep` only runs inside `batch` (it deletes, store inv. 1) and never offers `dead` a
 *      metadata key (store inv. 4): those are not items and never expire. It offers an item's
 *      fixed fields only (`SWEPT`), never its data: deciding that a 1 MiB item is alive copies
 *      none of it.
 *
 * Value layout in the pool (`t.struct`, the hash map's value type, keyed by the item's key
 * as a `t.string` whose characters are the key's bytes):
 *
 * | field   | type   | meaning                                                        |
 * | ------- | ------ | -------------------------------------------------------------- |
 * | flags   | u32    | the client's flags                                             |
 * | exptime | u32    | absolute expiry, unix seconds (0 = never)                      |
 * | time    | u32    | last update, unix seconds (for a delayed flush_all)            |
 * | cas     | u64    | the item's cas unique                                          |
 * | data    | blob   | the value's bytes                                              |
 */
import { open, t } from '../index.js'
import type { HashMap } from '../collections/index.js'
import type { PersistentMemory } from '../pm.js'
import type { Durability } from '../../txn/index.js'

/** One item as the handlers see it. */
export interface Item {
  flags: number
  /** Absolute expiry in unix seconds; 0 = never. */
  exptime: number
  /** Last update in unix seconds. */
  time: number
  cas: bigint
  data: Uint8Array
}

/** What the command handlers need from a store (see the file comment). */
/** The fields `sweep` reads of each item: what liveness depends on (cmd inv. 3). */
const SWEPT = ['flags', 'exptime', 'time', 'cas'] as const

export interface ItemStore {
  /** A short name for `stats` and logs, e.g. "pmem (group)". */
  readonly name: string
  /** True when a reply sent after `batch` means the change survives a power loss. */
  readonly durablePerOp: boolean
  get(key: string): Item | undefined
  put(key: string, item: Item): void
  delete(key: string): boolean
  /** Removes every item (and the metadata). */
  clear(): void
  /** Items stored (expired ones that were not yet removed included). */
  count(): number
  /**
   * Optional incremental reclamation: visits the items of the next part of the store from
   * `cursor` (at most about `budget` of them) and deletes those `dead(key, item)` names; returns
   * where to go on from, 0 after the end (a pass is over). Only inside `batch` (store inv. 5).
   */
  sweep?(cursor: number, budget: number, dead: (key: string, item: Item) => boolean): number
  /** Runs `fn` as one atomic transaction (store inv. 1-3). */
  batch<T>(fn: () => T): T | Promise<T>
  close(): void | Promise<void>
}

/** The item struct stored in the pool (see the layout table). */
export const ItemType = t.struct({ flags: t.u32, exptime: t.u32, time: t.u32, cas: t.u64, data: t.blob })

/** Options of {@link openPmStore}. */
export interface PmStoreOptions {
  durability: Durability
  /** Initial size of a new pool file (default 64 MiB). */
  size?: number
  /** Largest size the file may grow to (default: the largest region, about 2 GiB). */
  maxSize?: number
  /** Redo log of a new pool (default: a quarter of `size`, at most 32 MiB; 4 MiB holds a 1 MiB item's batch). */
  logSize?: number
}

/** Opens (creating if missing) the pool at `path` and its `memcached` hash map. */
export function openPmStore(path: string, opts: PmStoreOptions): PmItemStore {
  const size = opts.size ?? 64 << 20
  const pm = open(path, {
    size,
    maxSize: Math.max(size, opts.maxSize ?? 2 ** 31 - 4096),
    logSize: opts.logSize ?? Math.min(32 << 20, Math.floor(size / 4 / 4096) * 4096),
  })
  try {
    return new PmItemStore(pm, opts.durability)
  } catch (err) {
    pm.close()
    throw err
  }
}

/** An ItemStore over a persistent hash map `memcached` (string -> ItemType). */
export class PmItemStore implements ItemStore {
  readonly name: string
  readonly durablePerOp: boolean
  readonly pm: PersistentMemory
  readonly map: HashMap<typeof t.string, typeof ItemType>
  readonly #durability: Durability

  constructor(pm: PersistentMemory, durability: Durability) {
    this.pm = pm
    this.#durability = durability
    this.name = `pmem (${durability})`
    this.durablePerOp = durability !== 'none'
    // writes only happen inside batch(), whose transaction decides the durability: the map's
    // own 'none' keeps a nested write from raising it (a nested sync would make a group batch sync)
    this.map = pm.hashMap('memcached', t.string, ItemType, { durability: 'none' })
  }

  get(key: string): Item | undefined { return this.map.get(key) }
  put(key: string, item: Item): void { this.map.put(key, item) }
  delete(key: string): boolean { return this.map.delete(key) as boolean }
  clear(): void { this.map.clear() }
  sweep(cursor: number, budget: number, dead: (key: string, item: Item) => boolean): number {
    // store inv. 4-5; only the fixed fields: the liveness check never copies an item's data
    return this.map.sweep(cursor, budget, (key, item) => !key.includes(' ') && dead(key, item as Item), { fields: SWEPT }) as number
  }
  count(): number { return this.map.size }

  batch<T>(fn: () => T): T | Promise<T> {
    return this.#durability === 'group'
      ? this.pm.transaction(fn, { durability: 'group' })
      : this.pm.transaction(fn, { durability: this.#durability })
  }

  close(): void { this.pm.close() }
}
