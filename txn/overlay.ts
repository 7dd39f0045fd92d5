/**
 * Overlay: committed writes whose redo records are not durable yet, held as private copies
 * of whole 4 KiB pages in JavaScript memory.
 *
 * Why: a page of a shared mapping may be written back by the kernel at any moment (and by
 * every fdatasync of the file). If a transaction's writes reached the mapping before its
 * redo record was durable, a power loss could keep half of them with no record to finish
 * or undo them. So writes of `group` and `none` commits go to an overlay, reads look through
 * it, and the overlay is copied into the mapping only once the log covering it is durable.
 *
 * Invariant (cited as "ov. 1"): the mapping never holds the effect of a transaction whose
 * record is not durable; the overlay pages hold exactly the mapping's content plus the
 * effects of committed records up to `lastSeq`, applied in order.
 */

export const PAGE = 4096
export const PAGE_SHIFT = 12

/** One generation of overlay pages. */
export class Overlay {
  readonly pages = new Map<number, Uint8Array>()
  /** The same pages as 32-bit words, for the aligned-word fast path. */
  readonly words = new Map<number, Uint32Array>()
  /** Seq of the newest record applied to this overlay. */
  lastSeq = 0
  /** Log position just after that record (where the next one starts): published once applied in place (publish.ts). */
  lastPos = 0

  /** The overlay copy of `page`, made from `below` (an older overlay) or the mapping. */
  pageFor(page: number, below: Overlay | null, mem: Uint8Array): Uint8Array {
    let p = this.pages.get(page)
    if (p === undefined) {
      const src = below?.pages.get(page)
      p = src !== undefined ? src.slice() : mem.slice(page << PAGE_SHIFT, (page + 1) << PAGE_SHIFT)
      this.pages.set(page, p)
      this.words.set(page, new Uint32Array(p.buffer, p.byteOffset, PAGE >>> 2))
    }
    return p
  }

  /** Writes the aligned 8-byte word `srcWords[w], srcWords[w + 1]` at byte `target` (8-aligned). */
  write8(target: number, srcWords: Uint32Array, w: number, below: Overlay | null, mem: Uint8Array): void {
    const page = target >>> PAGE_SHIFT
    let pw = this.words.get(page)
    if (pw === undefined) { this.pageFor(page, below, mem); pw = this.words.get(page)! }
    const i = (target & (PAGE - 1)) >>> 2
    pw[i] = srcWords[w]!
    pw[i + 1] = srcWords[w + 1]!
  }

  /** Writes `src[from, from + len)` at byte `target`, page by page (zero fill when src is null). */
  write(target: number, src: Uint8Array | null, from: number, len: number, below: Overlay | null, mem: Uint8Array): void {
    const inFirst = target & (PAGE - 1)
    if (src !== null && len <= 16 && inFirst + len <= PAGE) { // the common small write
      const p = this.pages.get(target >>> PAGE_SHIFT) ?? this.pageFor(target >>> PAGE_SHIFT, below, mem)
      for (let i = 0; i < len; i++) p[inFirst + i] = src[from + i]!
      return
    }
    while (len > 0) {
      const page = target >>> PAGE_SHIFT
      const inPage = target & (PAGE - 1)
      const n = Math.min(len, PAGE - inPage)
      const p = this.pageFor(page, below, mem)
      if (src === null) p.fill(0, inPage, inPage + n)
      else p.set(src.subarray(from, from + n), inPage)
      target += n; from += n; len -= n
    }
  }

  /** Copies every page into the mapping and reports the pages written. */
  applyTo(mem: Uint8Array, dirty: Set<number>): void {
    for (const [page, bytes] of this.pages) {
      mem.set(bytes, page << PAGE_SHIFT)
      dirty.add(page)
    }
  }
}
