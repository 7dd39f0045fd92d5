/**
 * A Map from objects to ids that holds more than one V8 Map can: V8 refuses a Map's
 * 2^24th entry (16,777,216: `RangeError: Map maximum size exceeded`), and a container of
 * more plain objects than that gives each a loose id (identity.ts inv. 3). Before session
 * 15 the 2^24th loose id failed the point with that RangeError, and every point after it.
 *
 * State: `#maps`, one or more Maps (shards), each of at most `limit` entries; a key is in at
 * most one shard (inv. BM1: `set` of a key already present replaces its value in the shard
 * that holds it; a new key goes to the last shard, or to a new one when that is full).
 * Lookups try the shards newest first; with one shard (every graph below `limit` loose
 * objects) each call is the one Map call it always was.
 */
export const SHARD_LIMIT = 1 << 23

export class BigMap<K, V> {
  #maps: Map<K, V>[] = [new Map()]
  readonly #limit: number

  /** `limit`: entries per shard (below V8's 2^24; tests pass a small one). */
  constructor(limit = SHARD_LIMIT) { this.#limit = limit }

  get size(): number {
    const ms = this.#maps
    if (ms.length === 1) return ms[0]!.size
    let n = 0
    for (const m of ms) n += m.size
    return n
  }

  /** Shards (tests). */
  get shards(): number { return this.#maps.length }

  get(k: K): V | undefined {
    const ms = this.#maps
    if (ms.length === 1) return ms[0]!.get(k)
    for (let i = ms.length - 1; i >= 0; i--) { const v = ms[i]!.get(k); if (v !== undefined) return v }
    return undefined
  }

  /** Sets `k` (inv. BM1: in the shard that holds it, else the last, or a new shard when that is full). */
  set(k: K, v: V): void {
    const ms = this.#maps
    const last = ms[ms.length - 1]!
    if (ms.length > 1) for (let i = 0; i < ms.length - 1; i++) if (ms[i]!.has(k)) { ms[i]!.set(k, v); return }
    if (last.size < this.#limit || last.has(k)) { last.set(k, v); return }
    ms.push(new Map([[k, v]]))
  }

  delete(k: K): boolean {
    const ms = this.#maps
    if (ms.length === 1) return ms[0]!.delete(k)
    for (let i = ms.length - 1; i >= 0; i--) {
      if (ms[i]!.delete(k)) {
        if (ms[i]!.size === 0) ms.splice(i, 1)     // an emptied shard goes (there were two or more: one stays)
        return true
      }
    }
    return false
  }

  has(k: K): boolean {
    const ms = this.#maps
    if (ms.length === 1) return ms[0]!.has(k)
    for (let i = ms.length - 1; i >= 0; i--) if (ms[i]!.has(k)) return true
    return false
  }

  clear(): void { this.#maps = [new Map()] }

  /** The entries, shard by shard (in the order they were set within each shard). */
  *[Symbol.iterator](): IterableIterator<[K, V]> {
    for (const m of this.#maps) yield* m
  }

  /** The keys, shard by shard. */
  *keys(): IterableIterator<K> {
    for (const m of this.#maps) yield* m.keys()
  }
}

/**
 * A Set that holds more than one V8 Set can (V8 refuses a Set's 2^24th entry: `RangeError:
 * Set maximum size exceeded`), for values that are not ids (ids: id-set.ts). Before session
 * 16, `c.dropped` over an array of more than 2^24 objects failed with it (paths.ts
 * `membersOf`, probe: bench/scale-tables.mjs dropped).
 *
 * State: `#sets`, one or more Sets (shards) of at most `limit` values each. Inv. BM2: a
 * value is in at most one shard (`add` of a value already present changes nothing; a new
 * value goes to the last shard, or to a new one when that is full), so `size` is the sum.
 */
export class BigSet<T> {
  #sets: Set<T>[] = [new Set()]
  readonly #limit: number

  /** `limit`: values per shard (below V8's 2^24; tests pass a small one). */
  constructor(limit = SHARD_LIMIT) { this.#limit = limit }

  get size(): number {
    let n = 0
    for (const s of this.#sets) n += s.size
    return n
  }

  /** Shards (tests). */
  get shards(): number { return this.#sets.length }

  has(v: T): boolean {
    const ss = this.#sets
    if (ss.length === 1) return ss[0]!.has(v)
    for (let i = ss.length - 1; i >= 0; i--) if (ss[i]!.has(v)) return true
    return false
  }

  /** Adds `v` (inv. BM2: to the last shard, or a new one when that is full, unless some shard holds it). */
  add(v: T): void {
    const ss = this.#sets
    const last = ss[ss.length - 1]!
    if (last.size < this.#limit) {
      if (ss.length > 1 && this.has(v)) return
      last.add(v)
      return
    }
    if (this.has(v)) return
    ss.push(new Set([v]))
  }
}
