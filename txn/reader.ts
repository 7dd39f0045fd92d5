/**
 * SnapshotReader: consistent snapshots of a pool for a read-only open, beside a live writer
 * in another process or thread, or beside none (LMDB's readers: no locks, and the writer
 * never waits for them). The protocol is publish.ts; this is its reader side.
 *
 * A snapshot (a `SnapshotView`, the TxHost a reader's Tx reads through) is the data area in
 * place, the state after transaction `appliedSeq`, with the published records after it
 * replayed into a private overlay: the state after the newest published commit. Reads check,
 * after every load, that the sequence lock still holds the value the snapshot was built
 * under (tx.ts `validate`): a change means the writer may have changed the data in place, and
 * the read throws instead of returning a value of another state.
 *
 * How the reader trusts the reader control block (RCB), by state:
 *
 *   | state  | entered when (decide)                               | snapshot                              | left when                          |
 *   | ------ | --------------------------------------------------- | ------------------------------------- | ---------------------------------- |
 *   | live   | the RCB is claimed by the id of the lock's live     | in place + published records          | the RCB's writer id changes; the   |
 *   |        | holder (pub. 3)                                     | (appliedPos..committed)               | seq stays odd and that writer died |
 *   | static | any other case: no live writer, or one that has not | in place + every valid record in the  | the seq word changes (a writer     |
 *   |        | claimed the RCB yet (it will before writing)        | log, as recovery reads it (no write)  | claimed it): decide again          |
 *
 * Invariants (cited as "rd. N"):
 *   1. A view never changes once built: extending a snapshot to newer commits builds a new
 *      view (sharing the overlay pages it does not change), so a Tx keeps reading the one
 *      state it started on.
 *   2. A value reaches the caller only if the seq word still held the view's seq after the
 *      value was loaded (tx.ts `validate`; publish.ts memory ordering). In live mode that
 *      means no odd window opened since the view's RCB words were read, so the data area
 *      was the state after `appliedSeq` (pub. 1) and the overlay, private, holds the rest.
 *      In static mode it means no writer claimed the file, so it did not change at all.
 *   3. `read(fn)` returns fn's result (or rethrows its error) only if none of its loads
 *      failed rd. 2; otherwise fn runs again on a newer snapshot. So fn never sees two
 *      states, and a load that would have shown torn data throws at once (fn cannot loop on
 *      it, unless it swallows SnapshotConflictError and loops by itself). It gives up with
 *      SnapshotConflictError after `readerTiming.retryMs`; after `copyAfter` failed attempts
 *      it runs fn on a private copy of the data area instead (snapshot-copy.ts), which
 *      nothing can change, when that copy is at most `copyMaxBytes`.
 *   4. Live mode is entered only under pub. 3 (the RCB names the lock's live holder); an
 *      RCB left by a writer that died with an even seq stays exact (a process crash keeps
 *      every store), one that died inside an odd window is left for static mode, whose
 *      replay of the whole log repairs the torn in-place state as recovery would.
 *   5. A reader writes nothing: not the file (its mapping is PROT_READ), not the lock
 *      (it only reads the lock's record), so a reader killed at any moment leaves nothing
 *      behind, and the writer never waits for readers (no reader table exists).
 *   6. Errors met while the snapshot changed are not reported (they may come from a state
 *      that never existed): building a view, or running fn, is simply retried.
 *   7. A view is reused while the seq word still holds its seq and, in live mode, `committed`
 *      still holds the position it was built to (two loads: `#acquire`'s fast path). The
 *      same seq means no odd window opened and no writer claimed the block since it was built
 *      (pub. 2, 3), so its words are still the RCB's; the same `committed` means nothing was
 *      published since (pub. 4). Anything else takes the slow path (`#acquireSlow`).
 *
 * Bounds (what blocks whom): the writer never waits for a reader (rd. 5). A reader waits
 * only while an odd window is open (spinning 64 times, then sleeping 50 us, then 1 ms), at
 * most `readerTiming.busyMs`, probing every `probeMs` whether the writer still lives (a dead
 * one's window is read around in static mode, rd. 4); a read function reruns on newer
 * snapshots for at most `retryMs`, on a private copy after `copyAfter` reruns (rd. 3).
 */
import { CorruptionError, UnsupportedVersionError, type RegionLike } from '../regions/index.js'
import { SnapshotConflictError } from './tx-errors.js'
import { refusePromise } from './tx-options.js'
import { Overlay } from './overlay.js'
import { RedoLog, recordSeed } from './redo-log.js'
import { scanIntoOverlay } from './recovery.js'
import { LogCursor, replayInto } from './log-cursor.js'
import { controlWords, fence, readControl, writerIdOf, RCB_VERSION, W_COMMITTED, W_MAGIC, W_SEQ, W_VERSION, W_WRITER, type Control } from './publish.js'
import { copySnapshot } from './snapshot-copy.js'
import type { Tx, TxHost, SnapshotGuard } from './tx.js'
import type { PoolLayout } from './pool.js'

/** Reader timing in milliseconds (tests may lower them). See rd. 3 and `#acquire`. */
export const readerTiming = {
  /** A read whose snapshot keeps changing gives up after this long (SnapshotConflictError). */
  retryMs: 2000,
  /** A writer that keeps an odd window open this long (and is alive) makes readers give up. */
  busyMs: 5000,
  /** While the seq stays odd, the reader asks every this often whether the writer still lives. */
  probeMs: 20,
  /** After this many failed attempts, `read(fn)` runs fn on a private copy of the data area... */
  copyAfter: 4,
  /** ...if the data area is at most this many bytes. */
  copyMaxBytes: 64 << 20,
}

/** Makes the Tx a read function receives (layer 3 installs PmTx). */
export type MakeTx = (host: TxHost) => Tx

/** One snapshot: the TxHost of a reader's Tx, and its guard (rd. 1, 2). */
export class SnapshotView implements TxHost, SnapshotGuard {
  readonly memF64: Float64Array
  readonly mem32: Uint32Array
  readonly sealed = null
  readonly guard: SnapshotGuard | null
  failed = false

  constructor(
    readonly path: string,
    readonly dataOffset: number,
    /** User-area size of this snapshot. */
    readonly size: number,
    readonly mem: Uint8Array,
    readonly top: Overlay | null,
    /** The RCB words and the seq this view was built under; a null `ctl` means a private copy nothing can change. */
    readonly ctl: Int32Array,
    readonly at: number,
    readonly seq: number,
    /** Seq of the newest transaction this snapshot shows. */
    readonly lastSeq: number,
    /** Records replayed from the log into the overlay. */
    readonly replayed: number,
    isCopy = false,
  ) {
    this.memF64 = new Float64Array(mem.buffer, mem.byteOffset, mem.byteLength >>> 3)
    this.mem32 = new Uint32Array(mem.buffer, mem.byteOffset, mem.byteLength >>> 2)
    this.guard = isCopy ? null : this
  }

  conflict(): never {
    this.failed = true
    throw new SnapshotConflictError(`Cannot read pool "${this.path}": its writer changed the snapshot this read was using (transaction ${this.lastSeq}); read(fn) runs fn again on a newer one, a reader() taken outside read(fn) must be taken again`)
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4))
function sleep(ms: number): void { Atomics.wait(sleepCell, 0, 0, ms) }

/** Consistent snapshots of one read-only pool; see the file comment. */
export class SnapshotReader {
  readonly #region: RegionLike
  readonly #layout: PoolLayout
  readonly #logId: number
  #bytes: Uint8Array
  #ctl: Int32Array
  #cursor: LogCursor
  #mode: 'live' | 'static' | null = null
  /** Live mode: the writer id the RCB must keep naming. */
  #liveId = 0
  /** The newest view (live or static); reused while the RCB says nothing changed. */
  #view: SnapshotView | null = null
  /** Live mode: log position up to which `#view` replays records. */
  #builtTo = 0
  #depth = 0
  #current: SnapshotView | null = null

  constructor(region: RegionLike, layout: PoolLayout, logId: number) {
    this.#region = region
    this.#layout = layout
    this.#logId = logId
    this.#bytes = region.unsafeBytes()
    this.#ctl = controlWords(this.#bytes)
    this.#cursor = new LogCursor(this.#bytes, layout.logOffset, layout.logSize)
  }

  /**
   * The log of a read-only open, for its id and size. Its control block may be caught half
   * rewritten by a live writer's truncation: a checksum failure is read again for a while
   * before it counts as damage.
   */
  static openLog(region: RegionLike, layout: PoolLayout): RedoLog {
    const until = performance.now() + 200
    for (;;) {
      try { return RedoLog.open(region, layout.logOffset, layout.logSize) } catch (e) {
        if (!(e instanceof CorruptionError) || performance.now() > until || region.liveWriter?.() == null) throw e
        sleep(1)
      }
    }
  }

  /** Takes the first snapshot (throws what a damaged file gives); returns the records it replays. */
  open(): number { return this.#acquire().replayed }

  get mode(): 'live' | 'static' | null { return this.#mode }
  get size(): number { return this.#view?.size ?? this.#region.size }
  get lastSeq(): number { return this.#view?.lastSeq ?? 0 }

  /** Runs fn on one consistent snapshot, the newest, again if it changed meanwhile (rd. 3). */
  read<T>(fn: (tx: Tx) => T, make: MakeTx): T {
    if (this.#depth > 0) return this.#run(fn, make, this.#current!).result as T // nested: the outer's snapshot
    // The first attempt inline (no allocation, no clock): almost every read ends here.
    const view = this.#acquire()
    const tx = make(view)
    this.#depth = 1
    this.#current = view
    let result: T | undefined
    try {
      result = fn(tx)
    } catch (error) {
      if (!view.failed) throw error // rd. 6: an error of a changed snapshot is not reported
    } finally {
      tx.end()
      this.#depth = 0
      this.#current = null
    }
    if (view.failed) return this.#retry(fn, make)
    refusePromise(result, 'read')
    return result as T
  }

  /** Rd. 3: fn's first run met a changed snapshot; runs it again on newer ones, for a while. */
  #retry<T>(fn: (tx: Tx) => T, make: MakeTx): T {
    const start = performance.now()
    for (let attempt = 2; ; attempt++) {
      const view = attempt > readerTiming.copyAfter && this.size <= readerTiming.copyMaxBytes ? this.#copy() : this.#acquire()
      const out = this.#run(fn, make, view)
      if (!view.failed) {
        if (out.threw) throw out.error
        return out.result as T
      }
      if (performance.now() - start > readerTiming.retryMs) {
        throw new SnapshotConflictError(`Cannot read pool "${this.#region.path}": its writer changed the data this read function was using ${attempt} times in ${Math.round(performance.now() - start)} ms; make the function shorter (read in several calls), or raise readerTiming.retryMs`)
      }
    }
  }

  /** A Tx on the newest snapshot, for reads outside `read`; its loads throw SnapshotConflictError once it is stale. */
  reader(make: MakeTx): Tx { return make(this.#acquire()) }

  #run<T>(fn: (tx: Tx) => T, make: MakeTx, view: SnapshotView): { result?: T; threw: boolean; error?: unknown } {
    const tx = make(view)
    const outer = this.#current
    this.#depth++
    this.#current = view
    try {
      const result = fn(tx)
      refusePromise(result, 'read')
      return { result, threw: false }
    } catch (error) {
      if (this.#depth > 1) throw error
      return { threw: true, error }
    } finally {
      tx.end()
      this.#depth--
      this.#current = outer
    }
  }

  /** The newest snapshot: the cached view while nothing changed, else a new one (may wait, see readerTiming). */
  #acquire(): SnapshotView {
    this.#refreshBytes()
    const v = this.#view
    // Fast path: the seq word still holds the view's (so no window opened and no writer
    // claimed the block since it was built: pub. 2, 3) and nothing was published after it.
    if (v !== null && !v.failed && Atomics.load(this.#ctl, W_SEQ) === v.seq &&
      (this.#mode === 'static' || Atomics.load(this.#ctl, W_COMMITTED) === this.#builtTo)) return v
    return this.#acquireSlow()
  }

  #acquireSlow(): SnapshotView {
    const start = performance.now()
    let probed = start
    for (let spin = 0; ; spin++) {
      this.#refreshBytes()
      if (this.#mode === null) { this.#decide(); continue }
      if (this.#mode === 'static') {
        const v = this.#view!
        if (!v.failed && Atomics.load(this.#ctl, W_SEQ) === v.seq) return v
        this.#decide()
        continue
      }
      const c = readControl(this.#ctl)
      if (c === 'changed') continue
      if (c === 'unclaimed' || (c !== 'busy' && c.writer !== this.#liveId)) { this.#decide(); continue }
      if (c === 'busy') {
        const now = performance.now()
        if (now - probed >= readerTiming.probeMs) {
          probed = now
          if (!this.#writerAlive()) { this.#decide(); continue }
        }
        if (now - start > readerTiming.busyMs) {
          throw new SnapshotConflictError(`Cannot read pool "${this.#region.path}": its writer has been in the middle of a change for ${Math.round(now - start)} ms (it may be recovering a large log, or be stopped); try again`)
        }
        if (spin > 64) sleep(spin > 1000 ? 1 : 0.05)
        continue
      }
      const v = this.#view
      if (v !== null && !v.failed && v.seq === c.seq) {
        if (c.committed === this.#builtTo) return v
        const next = this.#build(c, v)
        if (next !== null) return (this.#view = next)
        continue
      }
      const next = this.#build(c, null)
      if (next !== null) return (this.#view = next)
    }
  }

  /** The region's bytes may have moved (a SimRegion grows into a new array; a Region remapped by followGrowth). */
  #refreshBytes(): void {
    const b = this.#region.unsafeBytes()
    if (b === this.#bytes) return
    this.#bytes = b
    this.#ctl = controlWords(b)
    this.#cursor = new LogCursor(b, this.#layout.logOffset, this.#layout.logSize)
  }

  /** Maps at least `size` bytes (pub. 5): the writer grew the file before publishing it. */
  #follow(size: number): boolean {
    if (size <= this.#bytes.length) return true
    this.#region.followGrowth?.()
    this.#refreshBytes()
    return size <= this.#bytes.length
  }

  /** Chooses live or static mode (rd. 4; pub. 3) and takes that mode's first snapshot. */
  #decide(): void {
    this.#view = null
    this.#mode = null
    for (;;) {
      this.#refreshBytes()
      const c = this.#ctl
      const seq = Atomics.load(c, W_SEQ), writer = Atomics.load(c, W_WRITER)
      const claimed = Atomics.load(c, W_MAGIC) === 0x44524d50
      if (claimed && Atomics.load(c, W_VERSION) > RCB_VERSION) {
        throw new UnsupportedVersionError(`Cannot read pool "${this.#region.path}": its writer publishes snapshots in format ${Atomics.load(c, W_VERSION)}, newer than this library's ${RCB_VERSION}; upgrade persistent-memory`)
      }
      let token: string | null | undefined
      try { token = this.#region.liveWriter?.() ?? null } catch { token = undefined }
      // An unreadable lock record: trust a claimed block (only a power loss could have left it stale).
      const live = claimed && writer !== 0 && (token === undefined || (token !== null && token !== '' && writerIdOf(token) === writer))
      if (live) { this.#mode = 'live'; this.#liveId = writer; return }
      const view = this.#scanStatic(seq)
      if (view !== null) { this.#mode = 'static'; this.#view = view; return }
    }
  }

  /** True while the writer this reader follows still holds the lock. */
  #writerAlive(): boolean {
    let token: string | null
    try { token = this.#region.liveWriter?.() ?? null } catch { return true }
    return token !== null && token !== '' && writerIdOf(token) === this.#liveId
  }

  /** Static mode: the file read as recovery reads it, without writing (rd. 4, 6); null if a writer claimed it meanwhile. */
  #scanStatic(seq: number): SnapshotView | null {
    const region = this.#region, { logOffset, logSize, dataOffset } = this.#layout
    try {
      region.followGrowth?.()
      this.#refreshBytes()
      const log = RedoLog.open(region, logOffset, logSize)
      const { overlay, replayed } = scanIntoOverlay(log, dataOffset, region.size, this.#bytes, Infinity)
      fence()
      if (Atomics.load(this.#ctl, W_SEQ) !== seq) return null
      return new SnapshotView(region.path, dataOffset, region.size, this.#bytes, overlay.pages.size > 0 ? overlay : null, this.#ctl, W_SEQ, seq, log.nextSeq - 1, replayed)
    } catch (e) {
      if (Atomics.load(this.#ctl, W_SEQ) !== seq) return null // rd. 6
      throw e
    }
  }

  /**
   * Live mode: the snapshot of `c`, extending `below` (a view of the same seq, rd. 1) or built
   * from `appliedPos`; null when the seq changed meanwhile (rd. 6). A published record that
   * does not validate while the seq holds is damage.
   */
  #build(c: Control, below: SnapshotView | null): SnapshotView | null {
    if (!this.#follow(c.size)) {
      if (Atomics.load(this.#ctl, W_SEQ) !== c.seq) return null
      throw new CorruptionError(`Cannot read pool "${this.#region.path}": its writer published a size of ${c.size} bytes, but the file's header announces only ${this.#bytes.length}; the file was changed outside the library`)
    }
    const { dataOffset } = this.#layout
    const mem = this.#bytes
    const from = below !== null ? this.#builtTo : c.appliedPos
    const firstSeq = below !== null ? below.lastSeq + 1 : c.appliedSeq + 1
    const prev = below?.top ?? null
    const overlay = new Overlay()
    let bad: string | null = null
    const n = this.#cursor.walk(from, c.committed, firstSeq, recordSeed(this.#logId, c.epoch), (words, rec) => {
      bad ??= replayInto(overlay, prev, mem, words, rec, dataOffset, c.size)
    })
    fence()
    if (Atomics.load(this.#ctl, W_SEQ) !== c.seq) return null
    if (typeof n !== 'number' || bad !== null) {
      const why = typeof n !== 'number' ? `the record of transaction ${n.seq} at log offset ${n.pos}: ${n.why}` : `a record: ${bad}`
      throw new CorruptionError(`Cannot read pool "${this.#region.path}": its writer published ${why}; the log was changed outside the library. Restore the file from a backup once its writer has closed it`)
    }
    if (prev !== null) {
      for (const [p, bytes] of prev.pages) {
        if (!overlay.pages.has(p)) { overlay.pages.set(p, bytes); overlay.words.set(p, prev.words.get(p)!) }
      }
    }
    this.#builtTo = c.committed
    const replayed = (below?.replayed ?? 0) + n
    return new SnapshotView(this.#region.path, dataOffset, c.size, mem, overlay.pages.size > 0 ? overlay : null, this.#ctl, W_SEQ, c.seq, firstSeq + n - 1, replayed)
  }

  /** Rd. 3: a private copy of the newest committed state (snapshot-copy.ts). */
  #copy(): SnapshotView {
    this.#acquire() // settles the mode (and waits out an odd window)
    if (this.#mode === 'static') return this.#view!
    const got = copySnapshot({
      region: this.#region, layout: this.#layout, logId: this.#logId,
      bytes: () => { this.#refreshBytes(); return this.#bytes },
      follow: size => this.#follow(size),
      ctl: () => this.#ctl, liveId: this.#liveId,
    })
    if (got === null) return this.#acquire()
    return new SnapshotView(this.#region.path, this.#layout.dataOffset, got.size, got.mem, null, this.#ctl, W_SEQ, 0, got.lastSeq, got.replayed, true)
  }
}
