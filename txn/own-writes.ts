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
 * - `#cache`: up to MAX_CACHED_PAGES pages with their entries applied; the oldest is evicted
 *   when full (rebuilding a page costs a 4 KiB copy and the entries on that page).
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
 */
import type { RecordBuilder } from './record.js'
import { RECORD_HEADER } from './record.js'
import { PAGE, PAGE_SHIFT } from './overlay.js'

/** Pages kept with the transaction's writes applied (4 MiB); past that the oldest is rebuilt when read again. */
const MAX_CACHED_PAGES = 1024

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
    if (this.#cache.size >= MAX_CACHED_PAGES) this.#cache.delete(this.#cache.keys().next().value!)
    this.#cache.set(page, p)
    return p
  }

  /** Applies the staged entries on `page` to `out`, which holds `[page start + from, ...)` (a short last page). */
  applyTo(b: RecordBuilder, page: number, out: Uint8Array): void {
    for (const e of this.#byPage.get(page) ?? []) apply(b, e, page, out)
  }
}

/** Applies the part of entry `e` on page `page` to `p`, which holds that page from its start. */
function apply(b: RecordBuilder, e: number, page: number, p: Uint8Array): void {
  const base = page << PAGE_SHIFT, t = b.target(e), l = b.len(e)
  const from = Math.max(t, base), to = Math.min(t + l, base + PAGE, base + p.length)
  if (from >= to) return
  const d = b.data(e)
  if (d < 0) p.fill(0, from - base, to - base)
  else p.set(b.buf.subarray(d + from - t, d + to - t), from - base)
}
