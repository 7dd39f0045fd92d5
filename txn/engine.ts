/**
 * TxEngine: durable transactions on a region, built on the redo log (redo-log.ts) and the
 * overlay (overlay.ts). Recovery runs on open. This file is the transaction lifecycle: open
 * and recovery, running a transaction, the order of a commit's steps (append, flush, apply),
 * checkpoint, grow and close. The writes in place, the dirty data pages, the truncation and
 * the reader windows around them: engine-apply.ts. The open, broken and closed states and
 * the checks every call makes first: engine-life.ts.
 *
 * Commit protocol (Mnemosyne's redo logging with lazy, batched truncation):
 *   1. The transaction function stages its writes in a redo record in JS memory (tx.ts);
 *      nothing shared changes before commit, so an exception aborts with nothing applied.
 *   2. Commit seals the record (seq + checksum) and appends it to the log.
 *   3. `sync`: one flush makes the log durable up to this record (log inv. 2), then the
 *      writes are applied in place in the mapping. One flush per transaction.
 *      `group`: the writes go to the overlay; a flush shared by every group commit of the
 *      same turn of the event loop runs off the main thread; when it completes, the overlay
 *      is applied in place and the promises resolve (the scheduling: group-commit.ts; the
 *      apply: engine-apply.ts).
 *      `none`: like group, but nothing waits; the log is flushed at the next sync commit,
 *      `flush()`, checkpoint or close.
 *   4. Checkpoint (when the log is full, and on close): flush the log, apply all overlays,
 *      flush every data page written since the last checkpoint, then truncate the log
 *      (log inv. 3).
 *   5. Readers (publish.ts, reader.ts): every commit publishes its record's end in the reader
 *      control block before `transaction` returns (sync: after its flush, with its in-place
 *      writes; group/none: right after the append). Every change in place (sync writes, a
 *      durable overlay, recovery) and every truncation runs in an odd window of the block's
 *      sequence lock (pub. 2); the first write of a writable open claims the block (pub. 3).
 *      The writer never waits for a reader.
 * Recovery (eng. 4, 5): scan the live records, checking every one (log inv. 5, 6) and every
 * entry's target, into an overlay; nothing is written while anything can still fail. Then
 * (writable opens only) apply the overlay in place, flush the data pages, and truncate the
 * log, which starts a new epoch, even when nothing was replayed. `open(..., { deferRecovery })`
 * keeps the overlay unapplied until `finishRecovery()` (or the first write), so that the layer
 * above can check its own structures first and fail with the file unchanged.
 *
 * Nested transactions (a `transaction` call made while one runs) are sub-transactions of the
 * running one, with savepoints and `onAbort` hooks: nested.ts.
 *
 * Invariants (cited as "eng. N"):
 *   1. Data pages in the mapping only ever hold effects of records that are durable (ov. 1),
 *      so any page the kernel writes back is consistent with the durable log.
 *   2. The log is truncated only after the data pages its records touched are durable.
 *   3. Transactions are serialised: records are appended, and their seqs assigned, in commit
 *      order, so replaying a prefix of the log gives a prefix of the history.
 *   4. A failing open changes nothing: recovery writes nothing before the whole log has been
 *      scanned and checked and every entry found inside the data area.
 *   5. No record is appended into an epoch found at open: a writable open whose scan
 *      replayed records (or stopped at `upToSeq`) truncates the log at once (a new epoch, log
 *      inv. 4), and one that found no live record leaves the log as found and truncates before
 *      its first commit appends (before session 17 it truncated at open too: a control block
 *      msync per open, ~2 ms, even when the life committed nothing). So bytes past the
 *      recovered tail, stale or torn, can never be replayed by a later life: they are either
 *      behind a new epoch, or left exactly as this open found them (the next open scans the
 *      same log). A crash during recovery leaves the old control block (the log replays
 *      again, idempotently: records hold absolute values) or the new one (data durable first).
 *   6. Nothing is written after `close()` or while the region is closed: `close()` inside a
 *      running transaction is refused (TransactionActiveError) and a commit finding the pool
 *      or the region closed throws RegionClosedError before appending anything. `close()`
 *      inside a running `read(fn)` is refused too: its reader would go on reading a file
 *      that is no longer locked, so another writer could change it under the snapshot.
 *   7. Sub-transactions roll back to their savepoint: kept under this name in nested.ts.
   8. Nothing is reported durable in a file the path no longer names (deleted, renamed away,
      replaced) for longer than `pathTiming.writerMs`: sync commits, group flushes, `flush`,
      `checkpoint` and `close` (with commits not yet durable) look and refuse with
      FileSystemError, the engine then broken (engine-path.ts says where each looks and
      what becomes of the commit in flight).
   9. A read-only engine's reads look at most every `pathTiming.readerMs`, and refuse once
      the path names another file, or none (engine-path.ts).
  10. At the looks of eng. 8 a writer also reads its writer record back (regions/lock.ts
      inv. L10): once another writer's record replaced it, the look refuses with
      RegionLockedError and the engine turns broken (engine-path.ts). Since inv. L11 (the
      claim word) only a writer of an earlier version, which does not swap the word, can
      still replace it: kept as a defence in depth.
  11. A checkpoint (close's included) that finds nothing appended since this life's last
      truncation and no page written in place since does nothing: no control block write,
      no msync (before session 17 every writer close paid one, ~2 ms, for an open that
      committed nothing). Eng. 5 still holds: the open truncated, and no byte of the new
      epoch exists, so the next life finds the log as this one left it.
 * Eng. 1, 2 and pub. 2-5 at each write in place, flush of data pages and truncation: engine-apply.ts.
 * An I/O error during commit or checkpoint leaves the engine broken (every call throws
 * BrokenError) until the file is reopened and recovered, like LMDB's MDB_PANIC (engine-life.ts).
 */
import { BrokenError, InvalidArgumentError, RegionClosedError, describe } from '../regions/index.js'
import { TransactionActiveError } from './tx-errors.js'
import type { RegionLike } from '../regions/index.js'
import { wordsOf } from './hash.js'
import { RecordBuilder } from './record.js'
import { scanIntoOverlay } from './recovery.js'
import { RedoLog } from './redo-log.js'
import { Overlay } from './overlay.js'
import { readSuperblock, formatPool, isBlank, isFormattable, type PoolLayout } from './pool.js'
import { Tx, type TxHost } from './tx.js'
import { SnapshotReader } from './reader.js'
import { GroupCommit } from './group-commit.js'
import { EngineReads } from './engine-read.js'
import { InPlace } from './engine-apply.js'
import { Nested } from './nested.js'
import { EngineLife } from './engine-life.js'
import { EnginePath, undurable } from './engine-path.js'
import { checkDurability, refusePromise, type Durability, type TransactionOptions } from './tx-options.js'

export type { Durability, TransactionOptions } from './tx-options.js'
export { defaultLogSize } from './pool.js'

/** Overlay pages beyond which a `none` commit forces a log flush. */
const MAX_OVERLAY_PAGES = 1024

/** Durable transactions over one region. See the file comment for the protocol. */
export class TxEngine implements TxHost {
  readonly region: RegionLike
  readonly layout: PoolLayout
  readonly log: RedoLog
  /** Records replayed by the recovery that ran on open. */
  readonly recovered: number
  mem!: Uint8Array
  memF64!: Float64Array
  mem32!: Uint32Array
  top: Overlay | null = null
  sealed: Overlay | null = null
  /** Makes the handle a transaction function receives; layer 3 installs a subclass of Tx. */
  makeTx: (host: TxHost, builder: RecordBuilder | null) => Tx = (h, b) => new Tx(h, b)
  /**
   * Runs on the outermost transaction's Tx after its function returned and before anything is
   * committed, when it staged writes; if it throws, the transaction aborts as if its function
   * had thrown (nothing applied, abort hooks run). Layer 3 installs the heap's check of what
   * a commit leaves above the heap's top (src/heap-guard.ts).
   */
  beforeCommit: ((tx: Tx) => void) | null = null
  #builder: RecordBuilder
  #current: Tx | null = null
  /** Sub-transactions, the durability asked so far, and the abort hooks (nested.ts, eng. 7). */
  readonly #nested: Nested
  /** Durable seq, waiters and the shared group-commit flush (group-commit.ts). */
  readonly #group: GroupCommit
  /** Open, broken or closed, and the checks every call makes first (engine-life.ts). */
  readonly #life: EngineLife
  /** Whether the path still names the file (eng. 8, 9; engine-path.ts). */
  readonly #path: EnginePath
  /** Recovery scanned and checked the log into `top` but has not written it yet (eng. 4). */
  #recoveryPending = false
  /**
   * Eng. 5: the open's scan found no live record and no `upToSeq` cut it short, so the open
   * leaves the log as found instead of truncating it; true until this life's first truncation.
   * No record is appended while it is true (`#commit` truncates first).
   */
  #truncationOwed = false
  /** Writable engines: writes in place, dirty pages, truncation, publication to readers (engine-apply.ts). */
  readonly #inPlace: InPlace | null
  /** Read-only engines: consistent snapshots beside a live writer (reader.ts). */
  readonly #snapshots: SnapshotReader | null
  /** `reader`, `read`, `readReused` (engine-read.ts). */
  readonly #reads: EngineReads

  private constructor(region: RegionLike, layout: PoolLayout, log: RedoLog, upToSeq = Infinity, defer = false) {
    this.region = region
    this.layout = layout
    this.log = log
    this.#life = new EngineLife(region, err => this.#group.rejectAll(() => new BrokenError(`Commit to "${this.path}" failed: ${(err as Error)?.message ?? String(err)}`, { cause: err })))
    this.#path = new EnginePath(region, log.nextSeq - 1)
    this.#refresh()
    this.#builder = new RecordBuilder(log.capacity)
    this.#inPlace = region.readOnly ? null : new InPlace(this)
    // A read-only engine reads snapshots (reader.ts), unless a tool asked for a point in time.
    this.#snapshots = region.readOnly && upToSeq === Infinity ? new SnapshotReader(region, layout, log.logId) : null
    this.recovered = this.#snapshots === null ? this.#recover(upToSeq) : this.#snapshots.open()
    this.#reads = new EngineReads(this, this.#snapshots, this.#snapshots === null ? () => this.#life.usable('read') : () => this.#readerUsable())
    this.#group = new GroupCommit({
      log,
      closed: () => this.#life.closed,
      seal: () => this.#seal(),
      applyDurable: d => this.#inPlace?.applyDurable(d),
      fail: err => this.#life.fail(err),
      moved: () => this.#path.moved(this.lastSeq, false, () => `the group commits up to seq ${this.lastSeq} are not durable in the file at the path (their promises reject)`), // eng. 8
    }, log.nextSeq - 1)
    this.#nested = new Nested(seq => this.#group.whenDurable(seq))
    if (!defer) this.finishRecovery()
  }

  /** Formats `region` as a pool with a redo log of `logSize` bytes and returns its engine. */
  static create(region: RegionLike, opts: { logSize?: number } = {}): TxEngine {
    const { layout, log } = formatPool(region, opts.logSize) // pool.ts: checks, log, then superblock
    const engine = new TxEngine(region, layout, log)
    engine.#truncationOwed = false // eng. 5: a log just formatted holds no byte of its epoch
    return engine
  }

  /**
   * Opens a formatted pool and recovers it (replay committed records, drop the rest).
   * `upToSeq` stops replay after that transaction (for tools that inspect a point in time).
   * `deferRecovery`: check everything but write nothing until `finishRecovery()` (eng. 4).
   * A region that holds no pool is NotAPoolError (or CorruptionError when a pool's
   * superblock was damaged); nothing is written then.
   */
  static open(region: RegionLike, opts: { upToSeq?: number; deferRecovery?: boolean } = {}): TxEngine {
    const layout = readSuperblock(region)
    const log = region.readOnly ? SnapshotReader.openLog(region, layout) : RedoLog.open(region, layout.logOffset, layout.logSize)
    return new TxEngine(region, layout, log, opts.upToSeq, opts.deferRecovery === true)
  }

  /** True when the first 32 bytes (where the superblock goes) are all zero. */
  static isBlank(region: RegionLike): boolean { return isBlank(region) }

  /**
   * True when `create` may format `region`: it holds no superblock and nothing a format
   * could destroy (created by this open, or all zero but for an interrupted format). See pool.ts.
   */
  static isFormattable(region: RegionLike): boolean { return isFormattable(region) }

  /** True while a transaction function of this engine runs. */
  get inTransaction(): boolean { return this.#current !== null }

  get path(): string { return this.region.path }
  get dataOffset(): number { return this.layout.dataOffset }
  /** Size of the user area (read-only engines: as of the newest snapshot taken). */
  get size(): number { return this.#snapshots?.size ?? this.region.size }
  get closed(): boolean { return this.#life.closed }
  /** Seq of the last committed transaction (read-only engines: in the newest snapshot taken). */
  get lastSeq(): number { return this.#snapshots?.lastSeq ?? this.log.nextSeq - 1 }
  /** Read-only engines: whether snapshots follow a live writer ('live') or read the file as recovery would ('static'). */
  get readerMode(): 'live' | 'static' | null { return this.#snapshots?.mode ?? null }
  /** Seq of the last transaction known durable. */
  get durableSeq(): number { return this.#group.durableSeq }

  /**
   * Runs `fn` as one transaction. With `sync` (default) and `none` it returns fn's result;
   * with `group` a promise that resolves with it once the commit is durable, and every
   * failure (fn throws, the pool is closed, the commit fails) rejects that promise instead of
   * throwing. A call made while a transaction runs is a sub-transaction (eng. 7): if its
   * function throws, its writes are dropped and the outer may catch the exception and go on.
   * A function that returns a promise is refused (the promise is handled, so a rejection it
   * gets later, typically TransactionEndedError after an await, is not left unhandled).
   */
  transaction<T>(fn: (tx: Tx) => T, opts: { durability: 'group' }): Promise<T>
  transaction<T>(fn: (tx: Tx) => T, opts?: TransactionOptions): T
  transaction<T>(fn: (tx: Tx) => T, opts?: TransactionOptions): T | Promise<T> {
    const durability = checkDurability(opts)
    if (durability !== 'group') return this.#run(fn, durability) as T
    try { return this.#run(fn, durability) } catch (err) { return Promise.reject(err) }
  }

  /**
   * Registers `undo` to run if the innermost running (sub-)transaction aborts, or any
   * transaction enclosing it. Dropped when the outermost one commits.
   */
  onAbort(undo: () => void): void {
    this.#nested.onAbort(this.#current !== null, undo)
  }

  #run<T>(fn: (tx: Tx) => T, durability: Durability): T | Promise<T> {
    this.#life.usable('run a transaction')
    this.finishRecovery()
    if (typeof fn !== 'function') throw new InvalidArgumentError(`Cannot run transaction: expected a function, got ${describe(fn)}`)
    if (this.#current !== null) return this.#nested.sub(fn, this.#current, this.#builder, durability)
    const b = this.#builder
    b.reset()
    const tx = this.makeTx(this, b)
    this.#current = tx
    this.#nested.want = durability
    let result: T
    try {
      result = fn(tx)
      if (typeof result === 'object' || typeof result === 'function') refusePromise(result, 'commit')
      if (this.beforeCommit !== null && b.entryCount > 0) this.beforeCommit(tx)
    } catch (err) {
      this.#end(tx)
      if (this.#nested.hooked) this.#nested.unwind(0, err)
      throw err
    }
    tx.end()
    this.#current = null
    const want = this.#nested.want
    if (b.entryCount > 0) {
      try { this.#commit(want) } catch (err) { if (this.#nested.hooked) this.#nested.unwind(0, err); throw err }
    }
    if (this.#nested.hooked) this.#nested.committed(this.lastSeq)
    if (want === 'group' || durability === 'group') this.#group.schedule() // a group caller waits for lastSeq even when nothing of its own was written
    if (durability !== 'group') return result
    return this.#group.whenDurable(this.lastSeq).then(() => result)
  }

  #end(tx: Tx): void {
    tx.end()
    this.#current = null
  }

  /**
   * A read-only view of the committed state, for reads outside a transaction. On a
   * read-only engine it is the newest snapshot, and once the writer changes what it shows
   * its reads throw SnapshotConflictError: prefer `read(fn)`, which retries. (engine-read.ts)
   */
  reader(): Tx { return this.#reads.reader() }

  /**
   * Runs `fn` with a reader and ends the reader when fn returns; a function that returns a
   * promise is refused (and its promise handled), since the reader ends before it settles.
   * On a read-only engine `fn` sees one consistent snapshot, the newest committed state,
   * and runs again if the writer changed that state while it ran (reader.ts).
   */
  read<T>(fn: (tx: Tx) => T): T { return this.#reads.read(fn) }

  /**
   * @internal `read(fn)` for library code whose fn never keeps the Tx past its return (the
   * collections' lookups): on a writable engine the reader Tx is reused across calls (a
   * nested call makes its own) instead of made per read. Same reads, same checks per load;
   * outside fn the Tx is ended, as `read`'s is.
   */
  readReused<T>(fn: (tx: Tx) => T): T { return this.#reads.readReused(fn) }

  /** Makes every committed transaction durable (including `none` ones). */
  flush(): void {
    this.#life.usable('flush')
    if (this.region.readOnly) return
    this.finishRecovery()
    this.#refuseIfMoved(true, () => 'the flush was refused') // eng. 8
    this.#life.guard(() => this.#flushLog())
  }

  /** Flushes the log and the data it covers, then truncates the log (eng. 2). */
  checkpoint(): void {
    this.#life.usable('checkpoint')
    if (this.region.readOnly) return
    this.#refuseIfMoved(true, () => 'the checkpoint was refused') // eng. 8
    this.#life.guard(() => this.#checkpoint())
  }

  /** Grows the region (and so the data area) to at least `newSize` bytes. */
  grow(newSize: number): void {
    this.#life.usable('grow')
    this.finishRecovery()
    this.region.grow(newSize)
    this.#refresh()
    this.log.refresh()
    this.#inPlace!.grown() // pub. 5: before any record that writes past the old size
  }

  /**
   * Checkpoints and detaches from the region (the region's owner closes it). Idempotent.
   * Inside a running transaction or read function it throws TransactionActiveError and
   * changes nothing (eng. 6).
   */
  close(): void {
    if (this.#life.closed) return
    this.assertNotInUse('close')
    const writes = !this.#life.broken && !this.region.closed && !this.region.readOnly
    // eng. 8: commits not yet durable would go to a file no path names; the close still closes, then says so
    const moved = writes && this.lastSeq > this.durableSeq ? this.#path.moved(this.lastSeq, true, () => undurable('close', this.durableSeq, this.lastSeq), true) : null
    if (writes && moved === null) this.#life.guard(() => this.#checkpoint())
    this.#life.close()
    this.#group.rejectAll(() => new RegionClosedError(`Pool "${this.path}" was closed before the commit became durable`))
    if (moved !== null) throw moved
  }

  /** Throws TransactionActiveError inside a running transaction (eng. 6). */
  assertNotInTransaction(action: string): void {
    if (this.#current === null) return
    throw new TransactionActiveError(`Cannot ${action} pool "${this.path}" inside a running transaction; return from the transaction function first (close after it)`)
  }

  /** Throws TransactionActiveError inside a running transaction or read function (eng. 6). */
  assertNotInUse(action: string): void {
    this.assertNotInTransaction(action)
    if (this.#reads.running) throw new TransactionActiveError(`Cannot ${action} pool "${this.path}" inside a running read function; return from it first (${action} after it)`)
  }

  /**
   * Writes what a deferred recovery found (eng. 4, 5): applies the replayed records in
   * place, flushes them and truncates the log. No-op when nothing is pending or read-only.
   */
  finishRecovery(): void {
    if (!this.#recoveryPending) return
    this.#recoveryPending = false
    if (this.region.closed) throw new RegionClosedError(`Cannot recover pool "${this.path}": region is closed`)
    const inPlace = this.#inPlace!
    inPlace.recover() // pub. 3: claims the block before the first change to the file
    if (this.#truncationOwed) return // eng. 5: nothing replayed; the first commit truncates
    this.#life.guard(() => this.#truncate())
  }

  #commit(durability: Durability): void {
    if (this.#life.closed || this.region.closed) {
      throw new RegionClosedError(`Cannot commit: pool "${this.path}" was closed while the transaction ran; nothing of it was written`)
    }
    const b = this.#builder
    // eng. 8: before anything of this record is written (a checkpoint for room flushes the earlier ones)
    if (durability === 'sync' || !this.log.fits(b.length)) this.#refuseIfMoved(false, () => undurable('commit', this.durableSeq, this.lastSeq))
    try {
      const log = this.log
      if (this.#truncationOwed) this.#truncate() // eng. 5: never append into an epoch found at open
      if (!log.fits(b.length)) this.#checkpoint()
      const seq = log.nextSeq
      log.append(b.seal(seq, log.seed, log.durableTail), b.words)
      if (durability === 'sync') {
        this.#flushLog()
        this.#inPlace!.syncCommit(b, seq) // eng. 1: after the flush; pub. 2
        return
      }
      const top = this.top ?? (this.top = new Overlay())
      this.#inPlace!.stage(top, b)
      top.lastSeq = seq
      top.lastPos = log.tail
      this.#inPlace!.committed(log.tail) // pub. 4: after the record's bytes
      if (durability === 'none' && top.pages.size > MAX_OVERLAY_PAGES) {
        this.#refuseIfMoved(false, () => `the 'none' commits from seq ${this.durableSeq + 1} were not made durable`)
        this.#flushLog()
      }
    } catch (err) {
      this.#life.failed(err)
    }
  }

  /** Eng. 8: the engine turns broken and throws the FileSystemError when the path no longer names the file. */
  #refuseIfMoved(force: boolean, what: () => string): void {
    const err = this.#path.moved(this.lastSeq, force, what)
    if (err !== null) this.#life.failed(err)
  }

  /** Eng. 9: a read-only engine's reads refuse (and the engine turns broken) once its path names another file, or none. */
  #readerUsable(): void {
    this.#life.usable('read')
    const err = this.#path.readerMoved()
    if (err !== null) this.#life.failed(err)
  }

  /** Flushes the whole log synchronously and applies every overlay (eng. 1). */
  #flushLog(): void {
    this.log.flush()
    this.#group.markDurable(this.log.nextSeq - 1)
  }

  #checkpoint(): void {
    this.finishRecovery()
    this.#flushLog()
    // eng. 11: nothing appended since this life's last truncation, or since an open that
    // found no live record (eng. 5), and nothing written in place: a truncation (a control
    // block write and its msync) would protect nothing
    if (this.log.nextSeq === this.log.startSeq && this.#inPlace!.clean) return
    this.#truncate()
  }

  /** Flushes the data pages written in place, then truncates the log (eng. 2): a new epoch. */
  #truncate(): void {
    this.#inPlace!.checkpoint()
    this.#truncationOwed = false
  }

  /** Group commit (group-commit.ts): seals `top` for a shared flush; null when none may start. */
  #seal(): number | null {
    if (this.#life.closed || this.#life.broken || this.top === null) return null
    this.sealed = this.top
    this.top = null
    return this.sealed.lastSeq
  }

  /** Scans the live records into an overlay (recovery.ts); writes nothing (eng. 4). */
  #recover(upToSeq: number): number {
    const { overlay, replayed } = scanIntoOverlay(this.log, this.dataOffset, this.size, this.mem, upToSeq)
    overlay.lastPos = this.log.tail
    if (overlay.pages.size > 0) this.top = overlay
    this.#recoveryPending = !this.region.readOnly
    this.#truncationOwed = !this.region.readOnly && replayed === 0 && upToSeq === Infinity // eng. 5
    return replayed
  }

  #refresh(): void {
    const b = this.region.unsafeBytes()
    this.mem = b
    this.memF64 = new Float64Array(b.buffer, b.byteOffset, b.byteLength >>> 3)
    this.mem32 = wordsOf(b)
  }
}
