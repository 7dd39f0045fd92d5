/**
 * The lifecycle of a Container (container.ts): its state, the transitions between states,
 * what each state allows (the guards each public method calls first), and the points queued:
 * their writes, chained one at a time in the order the points were taken, the points lost
 * (inv. 4a), `sync`, and `close` waiting for them.
 *
 * The state is kept in `#state`, the only field that says what the container may do;
 * `#pending` counts the points queued or being written, `#failure` keeps why the container
 * broke, `#lost` and `#lostCount` the points lost (a hosted store out of reach, or a full disk before the commit began: inv. 4a), and
 * `tables` is replaced as a whole by the refreshed transition. Container (container.ts) calls
 * the guards at the top of each method and the transitions below; nothing else changes them.
 *
 *   opening --opened--> idle --snapshotBegins--> snapshot --pointQueued--> writing
 *                        ^ ^                      |    ^                    |   |
 *                        | +----snapshotFailed----+    +--snapshotBegins----+   |
 *                        +-------------- writeEnded (no point left) ------------+
 *   writing --writeFailed--> broken            (snapshotFailed goes back to writing if points are queued)
 *   writing --pointLost--> writing | idle      (a hosted store out of reach, or a full disk before the commit, inv. 4a: the next point writes the lost one's records too, inv. 4c, or is full)
 *   idle | writing | broken --closeBegins--> closing --closeDone--> closed
 *   idle --refreshed--> idle                   (read-only: the tables are replaced by the newest version's)
 *
 * | state | what holds | entered by |
 * | --- | --- | --- |
 * | opening | the constructor and `load` (open.ts) run; no caller holds the container yet | `new` |
 * | idle | open, no point queued (`#pending` = 0); a read-only container is never in another state until closing | opened; writeEnded of the last point; snapshotFailed; refreshed |
 * | snapshot | `persist` is encoding, synchronously: only the program's getters and proxy traps, called by the encoder, can run and see this state | snapshotBegins (from idle or writing) |
 * | writing | one point or more queued or being written (`#pending` > 0), one at a time in order | pointQueued; snapshotFailed with points queued; pointLost |
 * | broken | a point's write failed (inv. 4): the file keeps its last committed version; points queued after it fail too | writeFailed (from writing; in closing the failure is only recorded) |
 * | closing | `close` waits for the points queued | closeBegins (from idle, writing or broken) |
 * | closed | the file is closed | closeDone |
 *
 * What each method allows (a method not allowed throws, changing nothing):
 *
 * | method | idle, writing | snapshot | broken | closing, closed |
 * | --- | --- | --- | --- | --- |
 * | `root`, `root =`, `register`, `check()` | yes | yes | BrokenError | RegionClosedError |
 * | `persist`, `exclude` | yes | TransactionActiveError (they would start a point inside a point, or free ids it encodes: inv. 1) | BrokenError | RegionClosedError |
 * | `close` | closeBegins | rejects with TransactionActiveError; the point goes on | closeBegins | the same promise as the first call |
 * | `sync` | waits for the points queued (rejects with the lost point's StoreUnavailableError or OutOfSpaceError after a lost point, inv. 4a, until a point commits) | waits for the point being taken too | rejects with BrokenError | waits; resolves, or rejects if a point failed |
 * | `refresh` | read-only, in idle: refreshed (follow.ts; a hosted store: after its fetch, if still idle); writable: resolves with `version` | resolves with `version` | BrokenError | RegionClosedError |
 * | `unwrap`, `dropped`, `version`, `lastPoint`, `pending`, `fellBack` | yes | yes | yes | yes |
 *
 * A read-only container (`{ readOnly: true }`) refuses `persist` and `root =` with
 * ReadOnlyError in every state, and its proxies refuse every mutation with ReadOnlyError
 * from the moment it opens (RegionClosedError once closing). Otherwise mutations through the
 * container's proxies are accepted in every state but closing and closed (barrier.ts inv. 3).
 * Invariants 1-3 are kept in snapshot.ts, 4, 4a and 5 in write.ts (the numbers of "inv. N"
 * of the container, as cited in code and tests).
 */
import { BrokenError, OutOfSpaceError, PmemError, RegionClosedError, StoreUnavailableError } from '../../regions/index.js'
import { spaceError } from './space-report.js'
import { TransactionActiveError } from '../../txn/index.js'
import type { Backing } from './backing.js'
import type { PointStats } from './options.js'
import type { Snapshot } from './snapshot.js'
import type { ContainerTables } from './tables.js'
import type { PointWriter } from './write.js'

/** The states of a container's lifecycle (the table above). */
export type ContainerState = 'opening' | 'idle' | 'snapshot' | 'writing' | 'broken' | 'closing' | 'closed'

const noop = (): void => {}

/** The lifecycle of one container (the table above); the Container delegates to it. */
export class Lifecycle {
  /** What the container knows of its graph. Replaced as a whole when a read-only container refreshes (refreshed). */
  tables: ContainerTables
  /** The lifecycle state (the table at the top of this file). */
  #state: ContainerState = 'opening'
  /** Points queued or being written. */
  #pending = 0
  /** Why the container broke (kept after close, for `sync`). */
  #failure: Error | null = null
  /** The writes, chained in the order the points were taken (never rejects). */
  #queue: Promise<unknown> = Promise.resolve()
  /** The promise of the first `close` that began closing. */
  #closing: Promise<void> | null = null
  /** Points lost so far (inv. 4a): a point queued before the last loss is lost too. */
  #lostCount = 0
  /** Why the last point was lost, until a point commits again (`sync` rejects meanwhile). */
  #lost: StoreUnavailableError | OutOfSpaceError | null = null

  constructor(readonly path: string, readonly backing: Backing, readonly writer: PointWriter, tables: ContainerTables) {
    this.tables = tables
  }

  get state(): ContainerState { return this.#state }

  /** Points started and not yet durable. */
  get pending(): number { return this.#pending }

  /**
   * A point: snapshotBegins, then `take` (the snapshot) and pointQueued (or snapshotFailed
   * if it throws, rethrowing); its write runs in its turn and ends with writeEnded, after
   * writeFailed or pointLost if it failed. Resolves with the point's stats.
   */
  point(take: () => Snapshot): Promise<PointStats> {
    this.#snapshotBegins()
    let snap: Snapshot
    try {
      snap = take()
    } catch (e) {
      this.#snapshotFailed()
      throw e
    }
    this.#pointQueued()
    this.writer.queued(snap)
    const lostBefore = this.#lostCount
    return this.inTurn(() => this.#write(snap, lostBefore))
  }

  /** Runs `f` after everything queued so far (points, a hosted refresh's fetch); `close` waits for it. */
  inTurn<R>(f: () => Promise<R>): Promise<R> {
    const p = this.#queue.then(f)
    this.#queue = p.then(noop, noop)
    return p
  }

  /** Waits for every point queued (the one being taken too, during a snapshot); see Container.sync. */
  async sync(): Promise<void> {
    if (this.#state === 'snapshot') await null   // the point being taken is queued when its snapshot returns
    await this.#queue
    if (this.#failure !== null) throw this.#brokenError('sync')
    if (this.#lost !== null) throw this.#lostError(`Cannot sync container "${this.path}": the last point was lost (${this.#lost.message}); ${this.#retry()}`)
  }

  /** closeBegins -> closing -> closeDone -> closed, once; see Container.close. */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing
    if (this.#state === 'snapshot') {
      return Promise.reject(new TransactionActiveError(`Cannot close container "${this.path}" during its own persistence point (a getter or proxy trap the snapshot called); close after persist() returns`))
    }
    this.#closing = this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.#closeBegins()
    await this.#queue
    this.tables.lazy?.release()     // a log read on demand is read whole before its store closes (lazy.ts inv. Z9)
    try { await this.backing.close() } finally { this.#closeDone() }
  }

  // ---- the write of a point, in its turn ----

  async #write(s: Snapshot, lostBefore: number): Promise<PointStats> {
    try {
      if (this.#failure !== null) throw this.#brokenError('persist')    // queued after a point that failed
      if (lostBefore !== this.#lostCount) {    // queued behind a lost point: its delta builds on it (inv. 4a)
        this.writer.abandon(s)
        throw this.#lostError(`Cannot persist container "${this.path}": an earlier point was lost (${this.#lost?.message}); this point's changes go into the next persist(), which rewrites the whole graph`)   // (a lost full point or compaction: an incremental one is kept, inv. 4c)
      }
      try {
        const stats = await this.writer.write(s)
        this.#lost = null
        return stats
      } catch (e) {
        if (e instanceof StoreUnavailableError || (e instanceof OutOfSpaceError && this.writer.retryable)) throw this.#pointLost(s, e)     // inv. 4a
        this.writer.abandon(s)
        this.#writeFailed(e as Error)
        throw e instanceof PmemError ? e : new BrokenError(`Cannot persist container "${this.path}": ${(e as Error).message}; the file keeps its last committed version, reopen the container`, { cause: e })
      }
    } finally {
      this.#writeEnded()
    }
  }

  // ---- transitions (the table at the top of this file) ----

  /** opening -> idle. */
  opened(): void { this.#state = 'idle' }

  /** idle | writing -> snapshot (persist checked the state). */
  #snapshotBegins(): void { this.#state = 'snapshot' }

  /** snapshot -> writing: the point is queued. */
  #pointQueued(): void {
    this.#pending++
    this.#state = 'writing'
  }

  /** snapshot -> idle, or writing if points are queued: the snapshot threw, nothing was queued. */
  #snapshotFailed(): void { this.#state = this.#pending > 0 ? 'writing' : 'idle' }

  /** A write ended (committed or failed): writing -> idle once no point is queued; other states stay. */
  #writeEnded(): void {
    this.#pending--
    if (this.#pending === 0 && this.#state === 'writing') this.#state = 'idle'
  }

  /**
   * writing stays writing (-> idle at writeEnded): a hosted store could not commit, or the
   * disk was full before the commit began, and the store kept its last version (inv. 4a).
   * An incremental point's records are kept and written by the next point, before its own,
   * and the points queued behind it are written as usual (inv. 4c); a lost full point or
   * compaction loses the points queued behind it too, and the next point is full. Returns
   * the error to give: for space, one that says what holds it (space-report.ts).
   */
  #pointLost(s: Snapshot, e: StoreUnavailableError | OutOfSpaceError): StoreUnavailableError | OutOfSpaceError {
    this.writer.abandon(s)
    if (!this.writer.lost.keep(s, this.writer.logEnd)) {     // inv. 4c: an incremental point's records go into the next point
      this.tables.needFull = true
      this.#lostCount++
    }
    try { this.writer.store?.abort() } catch { /* a store closed meanwhile: nothing staged survives it anyway */ }
    this.#lost = e instanceof OutOfSpaceError ? spaceError(e, this.writer.store, this.path, this.#retry()) : e     // after the abort: the store's space as its last version left it
    return this.#lost
  }

  /** What the next point writes after a lost one (inv. 4a, 4c). */
  #retry(): string {
    return this.tables.needFull ? 'the next persist() rewrites the whole graph'
      : `the next persist() writes the records of the ${this.writer.lost.points} point(s) lost (${this.writer.lost.length} bytes) before its own`
  }

  /** The error of a point or sync failing after a lost point (inv. 4a): of the lost point's class, so a full disk stays an OutOfSpaceError. */
  #lostError(message: string): StoreUnavailableError | OutOfSpaceError {
    return this.#lost instanceof OutOfSpaceError ? new OutOfSpaceError(message) : new StoreUnavailableError(message, { cause: this.#lost })
  }

  /** writing -> broken (inv. 4); in closing the failure is recorded and closing goes on. */
  #writeFailed(e: Error): void {
    this.#failure ??= e
    if (this.#state === 'writing') this.#state = 'broken'
  }

  /** idle | writing | broken -> closing: proxies refuse mutations from now on (barrier.ts inv. 3). */
  #closeBegins(): void {
    this.#state = 'closing'
    this.tables.stopStamping()      // its pending turn would hold the graph until the loop turns
    this.tables.barrier.closed = () => new RegionClosedError(`Cannot change an object of container "${this.path}": the container is closed (its proxies refuse writes); reopen it`)
  }

  /** idle -> idle (read-only): the tables of the newest version replace the old ones (the Container clears its fall-back report). */
  refreshed(tables: ContainerTables): void { this.tables.stopStamping(); this.tables = tables }

  /** closing -> closed. */
  #closeDone(): void { this.#state = 'closed' }

  // ---- what each state allows ----

  /** Throws in the states where the container cannot be used: closing, closed (RegionClosedError), broken (BrokenError). */
  usable(action: string): void {
    const s = this.#state
    if (s === 'closing' || s === 'closed') throw new RegionClosedError(`Cannot ${action} container "${this.path}": it is closed`)
    if (s === 'broken') throw this.#brokenError(action)
  }

  /** Throws TransactionActiveError in the snapshot state (a getter or proxy trap run by the encoder called us). */
  outsideSnapshot(action: string): void {
    if (this.#state === 'snapshot') throw new TransactionActiveError(`Cannot ${action} container "${this.path}" during its own persistence point (a getter or proxy trap the snapshot called); do it after persist() returns`)
  }

  #brokenError(action: string): BrokenError {
    return new BrokenError(`Cannot ${action} container "${this.path}": an earlier point failed (${this.#failure!.message}); reopen the container`, { cause: this.#failure })
  }
}
