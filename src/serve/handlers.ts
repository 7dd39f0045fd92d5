/**
 * The memcached commands over an ItemStore: what each request does to the items and what it
 * answers, with memcached's replies (`doc/protocol.txt`).
 *
 * Invariants (cited as "cmd inv. N"):
 *   1. A request that changes items (`isMutation`) runs only inside the store's `batch`
 *      (store inv. 1); requests that only read may run outside one.
 *   2. Cas uniques are unique for the life of the file: the counter's high-water mark is kept
 *      in the store (meta key " cas") and raised, in the same batch, before any cas at or above
 *      it is handed out; a restart continues from the stored mark. A batch that aborts drops
 *      the in-memory mark so the next batch stores it again.
 *   3. An item is live when it has not expired (`exptime` 0 or in the future) and no delayed
 *      flush_all covering its last update has come due; anything else reads as missing.
 *   4. Expiry follows memcached: 0 never; negative already expired; up to 30 days relative to
 *      now; beyond that an absolute unix time. An item stored already expired is deleted instead.
 *   5. Dead items (expired, or covered by a delayed flush_all that came due: not live, inv. 3)
 *      give their space back, with bounded work per request, never a pause that grows with
 *      the store (memcached's lazy expiry plus its LRU crawler):
 *      a. a request that finds a dead item inside a batch (`batchOpen`) deletes it there;
 *      b. one that finds it outside a batch (reads run outside one, serve inv. 3, so that a read
 *         never waits for a flush) remembers its key in `#deadSeen` (at most DEAD_SEEN keys);
 *      c. `reclaim(budget)`, which the server runs at the start of every batch that changes
 *         items, first deletes up to `budget` remembered keys that are still dead (checked
 *         again: the key may have been written since), then sweeps the store from `#cursor`
 *         over about `budget` more items, deleting the dead ones (store inv. 5);
 *      d. all of it runs in the batch's transaction, so a crash keeps or drops a deletion
 *         with the rest of the batch; a batch that aborts puts `#cursor` back (`aborted`).
 *      e. the sweep runs only while something can die: `#mayDie` is true from the start, after
 *         a write or touch with an exptime, after a delayed flush_all, and after a pass that met
 *         an item with an exptime; a pass that met none (and no such write during it) clears it.
 *         A cache whose items never expire pays for one pass, then nothing.
 *      Only liveness decides what a request sees: a dead item not yet deleted reads as
 *      missing, so reclamation never changes an answer.
 *
 * State kept across calls: `#nextCas`/`#casMark` (inv. 2), `#oldestLive` (inv. 3), and for
 * inv. 5 `batchOpen` (true only while the server runs a batch's requests), `#deadSeen` (filled
 * by reads outside a batch, emptied by `reclaim`), `#mayDie`/`#passMet` (inv. 5e), `#cursor`
 * (0 at start, after a pass and after a flush; advanced by `reclaim`, restored by `aborted`).
 */
import type { Request } from './protocol.js'
import type { Item, ItemStore } from './store.js'

const MAX_U64 = 0xffffffffffffffffn
const RELATIVE_MAX = 60 * 60 * 24 * 30
const CAS_META = ' cas'
const FLUSH_META = ' flush'
const CAS_STEP = 1n << 16n
const EMPTY = new Uint8Array(0)
const CRLF = Buffer.from('\r\n')
const NUMERIC = /^\s*([0-9]+)\s*$/
/** Dead keys found outside a batch that are remembered for the next one (cmd inv. 5b). */
const DEAD_SEEN = 4096

/** The server's counters (reset by `stats reset`), and what `stats` reports about it. */
export interface ServerInfo {
  version: string
  startedAt: number
  connections: () => { current: number; total: number }
  itemSizeMax: number
}

/** Runs requests against a store and writes memcached's replies (see the file comment). */
export class Handlers {
  readonly store: ItemStore
  readonly #info: ServerInfo
  /** Next cas unique, and the stored high-water mark (cmd inv. 2). */
  #nextCas: bigint
  #casMark: bigint
  /** Time a delayed flush_all invalidates items updated until (0 = none; cmd inv. 3). */
  #oldestLive: number
  readonly stats = newStats()
  /** True while the server runs a batch's requests: a dead item found is deleted at once (cmd inv. 5a). */
  batchOpen = false
  /** Dead keys found by reads outside a batch (cmd inv. 5b). */
  readonly #deadSeen = new Set<string>()
  /** Where the next sweep goes on (cmd inv. 5c), and where it was when the running batch began. */
  #cursor = 0
  #cursorAtBatch = 0
  /** Whether the sweep runs, and whether the running pass met (or saw written) an item that can die (cmd inv. 5e). */
  #mayDie = true
  #passMet = false

  constructor(store: ItemStore, info: ServerInfo) {
    this.store = store
    this.#info = info
    const mark = store.get(CAS_META)
    this.#nextCas = mark === undefined ? 1n : mark.cas
    this.#casMark = this.#nextCas
    this.#oldestLive = store.get(FLUSH_META)?.exptime ?? 0
  }

  /** The version the server reports. */
  get version(): string { return this.#info.version }

  /** True for requests that change items and so must run in a batch (cmd inv. 1). */
  static isMutation(req: Request): boolean {
    switch (req.kind) {
      case 'store': case 'delete': case 'arith': case 'touch': case 'flush_all': return true
      case 'get': return req.exptime !== 0 || req.cmd === 'gat' || req.cmd === 'gats'
      case 'error': return req.unlink !== undefined
      default: return false
    }
  }

  /** After a batch aborted: the stored cas mark is what the file holds (cmd inv. 2), the sweep goes over its part again (cmd inv. 5d). */
  aborted(): void { this.#casMark = this.#nextCas; this.#cursor = this.#cursorAtBatch }

  /**
   * Deletes dead items, inside a batch (cmd inv. 5c): up to `budget` keys reads found dead
   * outside a batch, then a sweep over about `budget` items of the store. Returns how many it deleted.
   */
  reclaim(budget: number): number {
    const now = Math.floor(Date.now() / 1000)
    let n = 0, looked = 0
    this.#cursorAtBatch = this.#cursor
    for (const key of this.#deadSeen) {
      if (looked++ >= budget) break
      this.#deadSeen.delete(key)
      const it = this.store.get(key)
      if (it !== undefined && this.#dead(it, now)) { this.store.delete(key); n++ }
    }
    if (this.store.sweep !== undefined && this.#mayDie) {
      this.#cursor = this.store.sweep(this.#cursor, budget, (_key, it) => {
        if (it.exptime === 0 && !(this.#oldestLive !== 0 && it.time <= this.#oldestLive)) return false   // can never die
        this.#passMet = true
        const d = this.#dead(it, now)
        if (d) n++
        return d
      })
      if (this.#cursor === 0) { this.#mayDie = this.#passMet; this.#passMet = false }   // a pass is over (cmd inv. 5e)
    }
    this.stats.reclaimed += n
    return n
  }

  /** Runs one request; appends its reply (nothing for noreply) to `out`. */
  run(req: Request, out: Buffer[]): void {
    const reply = this.#dispatch(req, out)
    if (reply !== null && !req.noreply) out.push(Buffer.from(reply + '\r\n', 'latin1'))
  }

  #dispatch(req: Request, out: Buffer[]): string | null {
    const now = Math.floor(Date.now() / 1000)
    switch (req.kind) {
      case 'store': return this.#storeCmd(req, now)
      case 'get': this.#get(req, now, out); return 'END'
      case 'delete': return this.#delete(req.key, now)
      case 'arith': return this.#arith(req, now)
      case 'touch': return this.#touch(req.key, req.exptime, now)
      case 'flush_all': this.#flushAll(req.delay, now); return 'OK'
      case 'stats': return this.#stats(req.args, now, out)
      case 'version': return `VERSION ${this.#info.version}`
      case 'verbosity': return 'OK'
      case 'quit': return null
      case 'error':
        if (req.unlink !== undefined && this.#live(req.unlink, now) !== undefined) this.store.delete(req.unlink)
        return req.reply
    }
  }

  /** The item under `key` if it is live (cmd inv. 3); a dead one is deleted or remembered (cmd inv. 5a-b). */
  #live(key: string, now: number): Item | undefined {
    const it = this.store.get(key)
    if (it === undefined) return undefined
    if (!this.#dead(it, now)) return it
    if (this.batchOpen) { this.store.delete(key); this.stats.reclaimed++ }
    else if (this.#deadSeen.size < DEAD_SEEN) this.#deadSeen.add(key)
    return undefined
  }

  /** An item that can die was written: the sweep runs, and this pass does not clear that (cmd inv. 5e). */
  #canDie(): void { this.#mayDie = true; this.#passMet = true }

  /** True when `it` expired or a delayed flush_all that came due covers it (cmd inv. 3). */
  #dead(it: Item, now: number): boolean {
    if (it.exptime !== 0 && it.exptime <= now) return true
    const ol = this.#oldestLive
    return ol !== 0 && ol <= now && it.time <= ol
  }

  /** Stores `item` under `key` with a new cas, or deletes the key if it is already expired (cmd inv. 4). */
  #write(key: string, item: Item, now: number): void {
    if (item.exptime !== 0 && item.exptime <= now) { this.store.delete(key); return }
    if (item.exptime !== 0) this.#canDie()
    item.cas = this.#takeCas()
    item.time = now
    this.store.put(key, item)
  }

  /** A fresh cas unique, raising the stored mark first when needed (cmd inv. 2). */
  #takeCas(): bigint {
    const cas = this.#nextCas++
    if (this.#nextCas > this.#casMark) this.#storeCasMark(this.#nextCas + CAS_STEP)
    return cas
  }

  #storeCasMark(mark: bigint): void {
    this.store.put(CAS_META, { flags: 0, exptime: 0, time: 0, cas: mark, data: EMPTY })
    this.#casMark = mark
  }

  #storeCmd(req: Extract<Request, { kind: 'store' }>, now: number): string {
    const old = this.#live(req.key, now)
    const exptime = absoluteExptime(req.exptime, now)
    const fresh = (): Item => ({ flags: req.flags, exptime, time: now, cas: 0n, data: req.data })
    this.stats.cmd_set++
    switch (req.cmd) {
      case 'set': this.#write(req.key, fresh(), now); return 'STORED'
      case 'add':
        if (old !== undefined) return 'NOT_STORED'
        this.#write(req.key, fresh(), now); return 'STORED'
      case 'replace':
        if (old === undefined) return 'NOT_STORED'
        this.#write(req.key, fresh(), now); return 'STORED'
      case 'append': case 'prepend': {
        if (old === undefined) return 'NOT_STORED'
        // As memcached 1.6 (do_store_item: the joined item cannot be allocated): NOT_STORED, the
        // old item kept. Only data too large by itself is SERVER_ERROR (proto inv. 3, protocol.ts).
        if (old.data.length + req.data.length > this.#info.itemSizeMax) return 'NOT_STORED'
        const data = req.cmd === 'append' ? Buffer.concat([old.data, req.data]) : Buffer.concat([req.data, old.data])
        this.#write(req.key, { ...old, data }, now); return 'STORED'
      }
      case 'cas':
        if (old === undefined) { this.stats.cas_misses++; return 'NOT_FOUND' }
        if (old.cas !== req.cas) { this.stats.cas_badval++; return 'EXISTS' }
        this.stats.cas_hits++
        this.#write(req.key, fresh(), now); return 'STORED'
    }
  }

  /** get, gets, gat, gats: one VALUE block per live key, then END (written by the caller). */
  #get(req: Extract<Request, { kind: 'get' }>, now: number, out: Buffer[]): void {
    const touch = req.cmd === 'gat' || req.cmd === 'gats'
    const withCas = req.cmd === 'gets' || req.cmd === 'gats'
    const exptime = touch ? absoluteExptime(req.exptime, now) : null
    for (const key of req.keys) {
      const it = this.#fetch(key, exptime, now)
      if (it === undefined) continue
      const head = `VALUE ${key} ${it.flags} ${it.data.length}${withCas ? ` ${it.cas}` : ''}\r\n`
      out.push(Buffer.from(head, 'latin1'), Buffer.from(it.data.buffer, it.data.byteOffset, it.data.length), CRLF)
    }
  }

  /**
   * The live item under `key` for a retrieval, counted in the stats; with `exptime` (memcached's
   * form), touched first as `gat` does, which is a change (cmd inv. 1). For the binary protocol.
   */
  fetch(key: string, exptime: number | null): Item | undefined {
    const now = Math.floor(Date.now() / 1000)
    return this.#fetch(key, exptime === null ? null : absoluteExptime(exptime, now), now)
  }

  #fetch(key: string, absExptime: number | null, now: number): Item | undefined {
    const it = this.#live(key, now)
    if (absExptime === null) {
      this.stats.cmd_get++
      if (it === undefined) this.stats.get_misses++; else this.stats.get_hits++
      return it
    }
    this.stats.cmd_touch++
    if (it === undefined) { this.stats.touch_misses++; return undefined }
    this.stats.touch_hits++
    return this.#retime(key, it, absExptime, now)
  }

  /** Gives a live item a new expiry, keeping its cas (touch, gat); undefined if that expires it. */
  #retime(key: string, it: Item, exptime: number, now: number): Item | undefined {
    if (exptime !== 0) this.#canDie()
    if (exptime !== 0 && exptime <= now) { this.store.delete(key); return undefined }
    const next = { ...it, exptime }
    this.store.put(key, next)
    return next
  }

  #delete(key: string, now: number): string {
    if (this.#live(key, now) === undefined) { this.stats.delete_misses++; return 'NOT_FOUND' }
    this.store.delete(key)
    this.stats.delete_hits++
    return 'DELETED'
  }

  /** incr wraps at 2^64; decr stops at 0; the item keeps its flags and expiry. */
  #arith(req: Extract<Request, { kind: 'arith' }>, now: number): string {
    const it = this.#live(req.key, now)
    const name = req.cmd
    if (it === undefined) { this.stats[`${name}_misses`]++; return 'NOT_FOUND' }
    const m = NUMERIC.exec(Buffer.from(it.data.buffer, it.data.byteOffset, it.data.length).toString('latin1'))
    const digits = m?.[1]
    if (digits === undefined || digits.length > 20 || BigInt(digits) > MAX_U64) {
      return 'CLIENT_ERROR cannot increment or decrement non-numeric value'
    }
    const v = BigInt(digits)
    const next = name === 'incr' ? (v + req.delta) & MAX_U64 : (v < req.delta ? 0n : v - req.delta)
    const text = next.toString()
    this.stats[`${name}_hits`]++
    this.#write(req.key, { ...it, data: Buffer.from(text, 'latin1') }, now)
    return text
  }

  #touch(key: string, exptime: number, now: number): string {
    const it = this.#live(key, now)
    this.stats.cmd_touch++
    if (it === undefined) { this.stats.touch_misses++; return 'NOT_FOUND' }
    this.stats.touch_hits++
    this.#retime(key, it, absoluteExptime(exptime, now), now)
    return 'TOUCHED'
  }

  /** Now: clears the map (O(1)) and stores the metadata again; delayed: stores the due time. */
  #flushAll(delay: number, now: number): void {
    this.stats.cmd_flush++
    if (delay <= 0) {
      this.store.clear()
      this.#oldestLive = 0
      this.#cursor = 0
      this.#deadSeen.clear()
      this.#storeCasMark(this.#nextCas + CAS_STEP)
      return
    }
    this.#oldestLive = absoluteExptime(delay, now) - 1
    this.#canDie()
    this.store.put(FLUSH_META, { flags: 0, exptime: this.#oldestLive, time: 0, cas: 0n, data: EMPTY })
  }

  #stats(args: string[], now: number, out: Buffer[]): string {
    if (args.length === 1 && args[0] === 'reset') { Object.assign(this.stats, newStats()); return 'RESET' }
    if (args.length > 0) return ['items', 'slabs', 'sizes', 'conns', 'settings'].includes(args[0] as string) ? 'END' : 'ERROR'
    const c = this.#info.connections()
    const rows: Array<[string, string | number | bigint]> = [
      ['pid', process.pid], ['uptime', now - this.#info.startedAt], ['time', now], ['version', this.#info.version],
      ['pointer_size', 64], ['curr_connections', c.current], ['total_connections', c.total],
      ...Object.entries(this.stats), ['curr_items', itemCount(this.store)], ['limit_maxbytes', 0],
      ['item_size_max', this.#info.itemSizeMax], ['threads', 1], ['store', this.store.name],
      ['durable_per_op', this.store.durablePerOp ? 1 : 0],
    ]
    out.push(Buffer.from(rows.map(([k, v]) => `STAT ${k} ${v}\r\n`).join(''), 'latin1'))
    return 'END'
  }
}

/** The items in `store`, without its meta entries (cmd inv. 2-3): `stats` curr_items, and the count `pmem serve` prints when it starts. */
export function itemCount(store: ItemStore): number {
  return store.count() - (store.get(CAS_META) ? 1 : 0) - (store.get(FLUSH_META) ? 1 : 0)
}

/** memcached's exptime to absolute unix seconds (cmd inv. 4); 1 means "already expired". */
export function absoluteExptime(exptime: number, now: number): number {
  if (exptime === 0) return 0
  if (exptime < 0) return 1
  return exptime > RELATIVE_MAX ? exptime : now + exptime
}

function newStats() {
  return {
    cmd_get: 0, cmd_set: 0, cmd_flush: 0, cmd_touch: 0, get_hits: 0, get_misses: 0,
    delete_misses: 0, delete_hits: 0, incr_misses: 0, incr_hits: 0, decr_misses: 0, decr_hits: 0,
    cas_misses: 0, cas_hits: 0, cas_badval: 0, touch_hits: 0, touch_misses: 0,
    /** Dead items deleted (cmd inv. 5). */
    reclaimed: 0,
  }
}
