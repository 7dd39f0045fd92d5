/**
 * InPlace: the engine's changes to the file other than appends (engine.ts, commit protocol
 * steps 3-5, recovery). Where a committed record's writes go: into the mapping at once
 * (`sync`, after the log flush) or into the overlay (`group`, `none`) until the records are
 * durable, then into the mapping; the data pages written in place since the last checkpoint,
 * and their flush; the log truncation. Each change in place and each truncation runs inside
 * an odd window of the reader control block (publish.ts), and the commits are published to
 * readers from here. The engine (engine.ts) owns one on writable engines and decides when
 * each step runs; nothing here flushes the log.
 *
 * State kept: the dirty pages (`#dirty`: data pages written in place and not yet flushed)
 *
 *   | event                                  | dirty pages                                   |
 *   | -------------------------------------- | --------------------------------------------- |
 *   | `syncCommit`, `applyDurable`, `recover`| grow by the pages written in place            |
 *   | `checkpoint`                           | flushed (coalesced into runs), then emptied;  |
 *   |                                        | then the log is truncated                     |
 * The overlays themselves are the engine's (`top`, `sealed`, read by transactions).
 *
 * Invariants kept (numbers shared with engine.ts; pub. N: publish.ts):
 *   eng. 1  The mapping gets only effects of durable records: `syncCommit` is called after
 *           the log flush, `applyDurable(d)` applies only overlays whose records are all
 *           durable up to d, `recover` only what recovery checked.
 *   eng. 2  `checkpoint` truncates the log only after flushing every page written in place.
 *   pub. 2  Every change in place and every truncation happens in an odd window, and the
 *           applied seq/position and the epoch change only there.
 *   pub. 3  `recover` claims the block before the first change to the file.
 *   pub. 4  `committed` is published after the record's bytes are appended.
 *   pub. 5  `grown` publishes the size after the region grew.
 */
import type { RegionLike } from '../regions/index.js'
import { RecordBuilder, RECORD_HEADER } from './record.js'
import type { RedoLog } from './redo-log.js'
import { PAGE_SHIFT, type Overlay } from './overlay.js'
import { Publisher } from './publish.js'

/** What the in-place writes need from their engine (the engine itself). */
export interface InPlaceHost {
  readonly region: RegionLike
  readonly log: RedoLog
  readonly mem: Uint8Array
  readonly mem32: Uint32Array
  /** Overlay of commits not yet flushed (group, none). */
  top: Overlay | null
  /** Overlay of commits whose shared flush runs (group-commit.ts). */
  sealed: Overlay | null
}

/** The engine's writes in place, dirty pages, truncation and publication. See the file comment. */
export class InPlace {
  readonly #e: InPlaceHost
  /** The reader control block's writer (publish.ts). */
  readonly #pub: Publisher
  /** Data pages written in place since the last checkpoint. */
  readonly #dirty = new Set<number>()

  constructor(engine: InPlaceHost) {
    this.#e = engine
    this.#pub = new Publisher(engine.region)
  }

  /**
   * Recovery's writes (eng. 4, 5): claims the block (pub. 3), applies the overlay recovery
   * checked (`top`) in place and publishes the log's state, in one odd window. The engine
   * then runs `checkpoint`.
   */
  recover(): void {
    const e = this.#e, pub = this.#pub, log = e.log
    pub.claim() // pub. 3: before the first change to the file; opens an odd window
    if (e.top !== null) { e.top.applyTo(e.mem, this.#dirty); e.top = null }
    pub.epoch(log.epoch)
    pub.applied(log.nextSeq - 1, log.tail)
    pub.committed(log.tail)
    pub.size(e.region.size)
    pub.end()
  }

  /** A `sync` commit whose record `b` (seq `seq`) is durable: its writes in place, in an odd window (pub. 2, eng. 1). */
  syncCommit(b: RecordBuilder, seq: number): void {
    const pub = this.#pub, log = this.#e.log
    pub.begin() // pub. 2
    this.#applyBuilder(b)
    pub.applied(seq, log.tail)
    pub.committed(log.tail)
    pub.end()
  }

  /** A `group` or `none` commit: the writes of its record `b` go to the overlay `top` (in place once durable: `applyDurable`). */
  stage(top: Overlay, b: RecordBuilder): void {
    const e = this.#e, sealed = e.sealed, mem = e.mem
    for (let p = RECORD_HEADER; p < b.length; p = b.next(p)) {
      const pos = b.data(p), t = b.target(p), len = b.len(p)
      if (len === 8 && (t & 7) === 0 && pos >= 0) top.write8(t, b.words, pos >>> 2, sealed, mem)
      else top.write(t, pos < 0 ? null : b.buf, pos, len, sealed, mem)
    }
  }

  /** Publishes the commits whose records end before log position `pos` (pub. 4: after the record's bytes). */
  committed(pos: number): void { this.#pub.committed(pos) }

  /** Applies the overlays covered by records durable up to `d`, in an odd window (pub. 2, eng. 1). */
  applyDurable(d: number): void {
    const e = this.#e
    const s = e.sealed !== null && e.sealed.lastSeq <= d ? e.sealed : null
    const t = e.top !== null && e.top.lastSeq <= d ? e.top : null
    if (s !== null || t !== null) {
      const pub = this.#pub
      pub.begin()
      if (s !== null) { s.applyTo(e.mem, this.#dirty); e.sealed = null }
      if (t !== null) { t.applyTo(e.mem, this.#dirty); e.top = null }
      const last = t ?? s!
      pub.applied(last.lastSeq, last.lastPos)
      pub.end()
    }
  }

  /** True when no page was written in place since the last checkpoint (engine.ts eng. 11). */
  get clean(): boolean { return this.#dirty.size === 0 }

  /** Flushes the pages written in place, then truncates the log (eng. 2). The log must be durable and applied. */
  checkpoint(): void {
    this.#flushDirtyPages()
    this.#truncate()
  }

  /** Truncates the log (every record is applied in place) and tells readers, in an odd window (pub. 2, 4). */
  #truncate(): void {
    const log = this.#e.log, pub = this.#pub
    log.truncate()
    pub.begin()
    pub.epoch(log.epoch)
    pub.applied(log.nextSeq - 1, log.tail)
    pub.committed(log.tail)
    pub.end()
  }

  /** The region grew: picks up the new mapping and publishes the size (pub. 5: before any record that writes past the old size). */
  grown(): void {
    this.#pub.refresh()
    this.#pub.size(this.#e.region.size)
  }

  #applyBuilder(b: RecordBuilder): void {
    const mem = this.#e.mem, m32 = this.#e.mem32, w = b.words
    for (let p = RECORD_HEADER; p < b.length; p = b.next(p)) {
      const t = b.target(p), len = b.len(p), pos = b.data(p)
      if (pos < 0) mem.fill(0, t, t + len)
      else if (len === 8 && (t & 3) === 0) { m32[t >>> 2] = w[pos >>> 2]!; m32[(t >>> 2) + 1] = w[(pos >>> 2) + 1]! }
      else if (len === 4 && (t & 3) === 0) m32[t >>> 2] = w[pos >>> 2]!
      else mem.set(b.buf.subarray(pos, pos + len), t)
      this.#markDirty(t, len)
    }
  }

  /** Records the data pages covering `[t, t + len)` (at least the page of `t`) for the next checkpoint. */
  #markDirty(t: number, len: number): void {
    for (let p = t >>> PAGE_SHIFT, last = (t + Math.max(len, 1) - 1) >>> PAGE_SHIFT; p <= last; p++) this.#dirty.add(p)
  }

  /** Flushes the data pages written since the last checkpoint, coalesced into runs. */
  #flushDirtyPages(): void {
    if (this.#dirty.size === 0) return
    const pages = [...this.#dirty].sort((a, b) => a - b)
    this.#dirty.clear()
    const region = this.#e.region
    let start = pages[0]!, prev = start
    for (let i = 1; i <= pages.length; i++) {
      const p = pages[i]
      if (p === prev + 1) { prev = p; continue }
      region.flush(start << PAGE_SHIFT, (prev - start + 1) << PAGE_SHIFT)
      if (p !== undefined) start = prev = p
    }
  }
}
