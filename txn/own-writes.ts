/**
 * OwnWrites: a running transaction's staged writes found by page, so that reading bytes the
 * transaction itself wrote costs the entries on that page, never a walk of the whole record.
 *
 * Before session 15 a Tx cached at most 256 pages with its writes applied and, once a
 * transaction had touched more, composed every read of its own writes by walking the whole
 * record: each read O(record), a transaction O(writes^2). A hash map transaction of 2,500 puts
 * into a map of 17,500 u32 keys (buckets spread over more than 256 pages) took 83 s instead of
 * 0.4 s, and larger ones never finished.
 *
 * State (one per Tx, made on the first read that needs it, tx.ts):
 * - `#byPage`: page -> record positions (ascending) of the staged entries touching that page.
 * - `#pos` / `#pg`: the same (position, page) pairs in staging order (an entry over k pages
 *   gives k pairs), so a rollback is undone by popping from the end.
 * - `#cache`: up to MAX_CACHED_PAGES pages with their entries applied, only pages with more
 *   than CHEAP_ENTRIES entries (ow. 3); the oldest is evicted when full, unless it has more
 *   than HOT_ENTRIES entries: then it goes to the back, up to EVICT_TRIES times per eviction.
 * - `#len`: the record length the index covers.
 *
 * Transitions: `sync(b)` indexes the entries staged since `#len` (and applies them to cached
 * pages); `truncate(n)` forgets the entries at positions >= n (a sub-transaction rolled back,
 * txn/nested.ts) and drops their pages from the cache.
 *
 * Invariants (cited as "ow. N"):
 *   1. After `sync(b)`, `#byPage.get(p)` lists exactly the entries of `b` touching page `p`,
 *      in record order, and a cached page is the committed page with those entries applied
 *      in order (rec. 3: a later write wins).
 *   2. A rollback is seen before any entry staged after it: the Tx calls `truncate(prev)`
 *      whenever a write starts below `length` (tx.ts #staged), so indexed positions always
 *      name entries of the current record, never bytes a rolled-back entry left in the buffer.
 *   3. A read of a page with few entries (at most CHEAP_ENTRIES) copies the bytes read and
 *      applies those entries to them (`readInto`), never a whole page: a transaction touching
 *      more pages than the cache holds paid a 4 KiB copy per read, and a page written by every
 *      operation (the heap's header, a map's header: thousands of entries) was rebuilt after
 *      each of its evictions, every 1,024 pages cached. A hash map transaction of 25,000 puts
 *      into a map of 300,000 keys applied 3.5 million entries to rebuild one page (130 us of
 *      CPU per put, against 23 in transactions of 1,000 puts). Such a page now stays cached.
 */
import type { RecordBuilder } from './record.js'
import { RECORD_HEADER } from './record.js'
import { PAGE, PAGE_SHIFT } from './overlay.js'

/** Pages kept with the transaction's writes applied (4 MiB); past that the oldest is rebuilt when read again. */
const MAX_CACHED_PAGES = 1024
/** Pages with at most this many entries are read through, never cached (ow. 3). */
export const CHEAP_ENTRIES = 4
/** A cached page with more entries than this is kept when it comes up for eviction (ow. 3). */
const HOT_ENTRIES = 256
/** Pages an eviction may send to the back before it evicts one anyway. */
const EVICT_TRIES = 8

/** See the file comment. */
export class OwnWrites {
  #byPage = new Map<number, number[]>()
  #pos: number[] = []
  #pg: number[] = []
  #cache = new Map<number, Uint8Array>()
  #len = RECORD_HEADER

  /** The record length the index covers. */
  get length(): number { return this.#len }

  /** True when some staged entry (as of the last `sync`) touches `page`. */
  touches(page: number): boolean { return this.#byPage.has(page) }

  /** Entries (as of the last `sync`) touching `page`: reads of a page with at most CHEAP_ENTRIES use `readInto` (ow. 3). */
  entriesOn(page: number): number { return this.#byPage.get(page)?.length ?? 0 }

  /** Ow. 2: forgets the entries at record positions >= `n`. */
  truncate(n: number): void {
    const pos = this.#pos, pg = this.#pg
    while (pos.length > 0 && pos[pos.length - 1]! >= n) {
      pos.pop()
      const page = pg.pop()!, list = this.#byPage.get(page)!
      list.pop()
      if (list.length === 0) this.#byPage.delete(page)
      this.#cache.delete(page)
    }
    if (n < this.#len) this.#len = n
  }

  /** Ow. 1: indexes the entries `b` staged since the last call. */
  sync(b: RecordBuilder): void {
    if (b.length < this.#len) this.truncate(b.length)
    for (let e = this.#len; e < b.length; e = b.next(e)) {
      const t = b.target(e), l = b.len(e)
      for (let page = t >>> PAGE_SHIFT, last = (t + l - 1) >>> PAGE_SHIFT; page <= last; page++) {
        let list = this.#byPage.get(page)
        if (list === undefined) this.#byPage.set(page, list = [])
        list.push(e)
        this.#pos.push(e)
        this.#pg.push(page)
        const c = this.#cache.get(page)
        if (c !== undefined) apply(b, e, page, c)
      }
    }
    this.#len = b.length
  }

  /** The cached page `page` with the staged entries applied, if it is cached. */
  cached(page: number): Uint8Array | undefined { return this.#cache.get(page) }

  /**
   * Page `page` as the transaction sees it, built from `base`, its committed bytes (PAGE long,
   * overlay or mapping), and cached (ow. 1). Call after `sync`, when `cached` gave nothing.
   */
  page(b: RecordBuilder, page: number, base: Uint8Array): Uint8Array {
    const p = base.slice()
    this.applyTo(b, page, p)
    for (let tries = 0; this.#cache.size >= MAX_CACHED_PAGES; tries++) {
      const [old, img] = this.#cache.entries().next().value!
      this.#cache.delete(old)
      if (tries < EVICT_TRIES && this.entriesOn(old) > HOT_ENTRIES) this.#cache.set(old, img) // ow. 3: a hot page stays
    }
    this.#cache.set(page, p)
    return p
  }

  /**
   * Ow. 3: the `n` bytes at `at` (inside page `page`) as the transaction sees them, into `out`
   * at `to`: copied from `base` (the committed page, from its start), then the entries applied.
   */
  readInto(b: RecordBuilder, page: number, base: Uint8Array, at: number, n: number, out: Uint8Array, to: number): void {
    const inPage = at - (page << PAGE_SHIFT)
    if (n <= 8) for (let k = 0; k < n; k++) out[to + k] = base[inPage + k]!
    else out.set(base.subarray(inPage, inPage + n), to)
    for (const e of this.#byPage.get(page) ?? []) b.applyTo(e, at, at + n, out, at - to)
  }

  /** Applies the staged entries on `page` to `out`, which holds `[page start + from, ...)` (a short last page). */
  applyTo(b: RecordBuilder, page: number, out: Uint8Array): void {
    for (const e of this.#byPage.get(page) ?? []) apply(b, e, page, out)
  }
}

/** Applies the part of entry `e` on page `page` to `p`, which holds that page from its start. */
function apply(b: RecordBuilder, e: number, page: number, p: Uint8Array): void {
  const base = page << PAGE_SHIFT
  b.applyTo(e, base, base + Math.min(PAGE, p.length), p, base)
}
