/**
 * StagedPages: a transaction's view of the pages it wrote, for its own reads (read-your-writes,
 * tx.ts). Reads in a transaction with many staged writes would otherwise scan the whole redo
 * record (record.ts) for each read; here a page read once is kept with the staged writes
 * applied, so reads cost O(1), not O(writes).
 *
 * State (memory only, one per transaction, made at its first read that needs it):
 *   - `pages`: at most MAX_CACHED_PAGES pages (1 MiB), each the committed bytes (mapping or
 *     overlay) with every staged entry that touches it applied, in staging order;
 *   - `byPage`: null until the cache has been full once; then the record's entry positions by
 *     the pages they touch, in staging order;
 *   - `len`: the record length both are valid for.
 * Transitions:
 *   - a write is staged (`staged`, with the record length before it): applied to its cached
 *     pages and listed in `byPage`; a length other than `len` means a sub-transaction rolled
 *     back (nested.ts, eng. 7): both are dropped;
 *   - a read needs a page not cached (`page`): built from the committed bytes and the entries
 *     that touch it: all entries scanned while `byPage` is null, else that page's list only;
 *     with the cache full, the page cached first is dropped (and `byPage` made, once).
 *
 * Inv. SP1: a cached page equals the committed page with every entry of the record, as it is
 * now, applied in order (so a read from it is what the commit would write there).
 * Before session 15 a full cache sent every later read to the whole-record scan: a
 * transaction that touched more than 1 MiB of pages (`pmem serve` applying a batch of 2,000
 * pipelined sets to a 10,000-key hash map) cost O(writes) per read, quadratic in its size
 * (20 ms per set).
 */
import { RECORD_HEADER, type RecordBuilder } from './record.js'
import { PAGE, PAGE_SHIFT } from './overlay.js'
import type { TxHost } from './tx.js'

/** Pages a transaction caches with its own writes applied (1 MiB); past that the page cached first is dropped. */
const MAX_CACHED_PAGES = 256

export class StagedPages {
  readonly #b: RecordBuilder
  readonly #host: TxHost
  #pages = new Map<number, Uint8Array>()
  #byPage: Map<number, number[]> | null = null
  #len: number

  constructor(b: RecordBuilder, host: TxHost) {
    this.#b = b
    this.#host = host
    this.#len = b.length
  }

  /**
   * Keeps the cache in step with a write just staged at `[offset, offset + len)`: its data at
   * record position `pos` (-1: a zero fill); `prev` is the record length before it (the entry's
   * own position).
   */
  staged(offset: number, len: number, pos: number, prev: number): void {
    const pages = this.#pages, b = this.#b
    if (prev !== this.#len) { pages.clear(); this.#byPage = null }
    else {
      const byPage = this.#byPage
      for (let at = offset, end = offset + len; at < end;) {
        const page = at >>> PAGE_SHIFT, inPage = at & (PAGE - 1), n = Math.min(end - at, PAGE - inPage)
        const p = pages.get(page)
        if (p !== undefined) {
          if (pos < 0) p.fill(0, inPage, inPage + n)
          else p.set(b.buf.subarray(pos + at - offset, pos + at - offset + n), inPage)
        }
        if (byPage !== null) { const list = byPage.get(page); if (list === undefined) byPage.set(page, [prev]); else list.push(prev) }
        at += n
      }
    }
    this.#len = b.length
  }

  /** Copies `[offset, offset + len)` as the transaction sees it into `out`; false when a page cannot be cached (then nothing is promised about `out`). */
  read(offset: number, len: number, out: Uint8Array): boolean {
    for (let done = 0; done < len;) {
      const at = offset + done, inPage = at & (PAGE - 1), n = Math.min(len - done, PAGE - inPage)
      const p = this.#page(at >>> PAGE_SHIFT)
      if (p === null) return false
      if (n <= 8) for (let i = 0; i < n; i++) out[done + i] = p[inPage + i]!
      else out.set(p.subarray(inPage, inPage + n), done)
      done += n
    }
    return true
  }

  /** The page `page` as the transaction sees it (inv. SP1); null only for the last page of a region that is not page-sized. */
  #page(page: number): Uint8Array | null {
    const b = this.#b, h = this.#host, pages = this.#pages
    if (b.length !== this.#len) { pages.clear(); this.#byPage = null; this.#len = b.length }
    let p = pages.get(page)
    if (p !== undefined) return p
    const base = page << PAGE_SHIFT
    const src = h.top?.pages.get(page) ?? h.sealed?.pages.get(page)
    p = src !== undefined ? src.slice() : h.mem.slice(base, base + PAGE)
    if (p.length < PAGE) return null
    if (pages.size >= MAX_CACHED_PAGES) {
      pages.delete(pages.keys().next().value!)
      this.#byPage ??= this.#index()
    }
    const byPage = this.#byPage
    if (byPage === null) {
      for (let e = RECORD_HEADER; e < b.length; e = b.next(e)) this.#apply(e, base, p)
    } else {
      const list = byPage.get(page)
      if (list !== undefined) for (let i = 0; i < list.length; i++) this.#apply(list[i]!, base, p)
    }
    pages.set(page, p)
    return p
  }

  /** The record's entry positions by the pages they touch, in staging order (one pass over the record). */
  #index(): Map<number, number[]> {
    const b = this.#b, byPage = new Map<number, number[]>()
    for (let e = RECORD_HEADER; e < b.length; e = b.next(e)) {
      const t = b.target(e), last = (t + b.len(e) - 1) >>> PAGE_SHIFT
      for (let page = t >>> PAGE_SHIFT; page <= last; page++) {
        const list = byPage.get(page)
        if (list === undefined) byPage.set(page, [e]); else list.push(e)
      }
    }
    return byPage
  }

  /** Applies the part of entry `e` that lies in the page at `base` to `p` (that page's bytes). */
  #apply(e: number, base: number, p: Uint8Array): void {
    const b = this.#b, t = b.target(e), l = b.len(e)
    const from = Math.max(t, base), to = Math.min(t + l, base + PAGE)
    if (from >= to) return
    const d = b.data(e)
    if (d < 0) p.fill(0, from - base, to - base)
    else p.set(b.buf.subarray(d + from - t, d + to - t), from - base)
  }
}
