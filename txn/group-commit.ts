/**
 * GroupCommit: when the engine's commits become durable (engine.ts, commit protocol step 3).
 * Keeps the seq known durable and the callers waiting for a later one, and runs the shared,
 * off-thread log flush of `group` commits: every group commit of one turn of the event loop
 * waits for the same flush. What a flush makes durable is applied in place by the engine
 * (`GroupCommitHost.applyDurable`, eng. 1); this file only decides when and wakes the waiters.
 *
 * States of the shared flush (`#flushScheduled`, `#flushing`; never both):
 *
 *   | state     | event                                   | next                           |
 *   | --------- | --------------------------------------- | ------------------------------ |
 *   | idle      | `schedule()`                            | scheduled (a microtask queued) |
 *   | scheduled | `schedule()`                            | scheduled (nothing more)       |
 *   | scheduled | the microtask runs: host can seal       | flushing (host sealed top)     |
 *   | scheduled | the microtask runs: closed, broken, or  | idle                           |
 *   |           | nothing staged (`seal()` is null)       |                                |
 *   | flushing  | `schedule()`                            | flushing (nothing more)        |
 *   | flushing  | the flush completes, host closed        | idle (waiters already rejected)|
 *   | flushing  | the flush completes, the path moved     | idle, `host.fail(err)` (eng. 8)|
 *   | flushing  | the flush completes                     | idle, `markDurable(upTo)`; then|
 *   |           |                                         | a new flush if anyone waits    |
 *   | flushing  | the flush fails                         | idle, `host.fail(err)`         |
 *
 * Waiters are kept in seq order (commits are serialised, eng. 3): `markDurable(d)` resolves
 * the prefix with seq <= d; `rejectAll` (close, an I/O failure) rejects every one.
 */
import type { RedoLog } from './redo-log.js'

/** What the shared flush needs from its engine. */
export interface GroupCommitHost {
  readonly log: RedoLog
  /**
   * Moves the overlay of commits not yet flushed aside (top to sealed) and returns its last
   * seq; null when no flush may start (closed, broken, or nothing staged).
   */
  seal(): number | null
  /** True once the engine was closed. */
  closed(): boolean
  /** Applies in place the overlays of records durable up to `d` (eng. 1). */
  applyDurable(d: number): void
  /** The flush failed: the engine becomes broken (and rejects the waiters through `rejectAll`). */
  fail(err: unknown): void
  /** After a flush: null while the path still names the file flushed, else the error to fail with (engine.ts eng. 8). */
  moved(): unknown
}

interface Waiter { seq: number; resolve: () => void; reject: (e: unknown) => void }

/** Durable seq, waiters and the shared group-commit flush of one engine. See the file comment. */
export class GroupCommit {
  readonly #host: GroupCommitHost
  #durableSeq: number
  #waiters: Waiter[] = []
  #flushing = false
  #flushScheduled = false

  constructor(host: GroupCommitHost, durableSeq: number) {
    this.#host = host
    this.#durableSeq = durableSeq
  }

  /** Seq of the last transaction known durable. */
  get durableSeq(): number { return this.#durableSeq }

  /** Records are durable up to `seq`: apply the overlays they cover (host), wake waiters. */
  markDurable(seq: number): void {
    if (seq > this.#durableSeq) this.#durableSeq = seq
    const d = this.#durableSeq
    this.#host.applyDurable(d)
    let i = 0
    while (i < this.#waiters.length && this.#waiters[i]!.seq <= d) i++
    for (const w of this.#waiters.splice(0, i)) w.resolve()
  }

  whenDurable(seq: number): Promise<void> {
    if (seq <= this.#durableSeq) return Promise.resolve()
    return new Promise((resolve, reject) => { this.#waiters.push({ seq, resolve, reject }) })
  }

  /** Rejects and forgets every waiter, each with the error `make` returns. */
  rejectAll(make: () => unknown): void {
    for (const w of this.#waiters.splice(0)) w.reject(make())
  }

  /** Starts one shared flush after the current synchronous work (group commit). */
  schedule(): void {
    if (this.#flushScheduled || this.#flushing) return
    this.#flushScheduled = true
    queueMicrotask(() => {
      this.#flushScheduled = false
      this.#start()
    })
  }

  #start(): void {
    if (this.#flushing) return
    const upTo = this.#host.seal()
    if (upTo === null) return
    this.#flushing = true
    this.#host.log.flushAsync().then(() => {
      this.#flushing = false
      if (this.#host.closed()) return
      const moved = this.#host.moved() // eng. 8: durable, but in a file the path no longer names
      if (moved !== null) { this.#host.fail(moved); return }
      this.markDurable(upTo)
      if (this.#waiters.length > 0) this.#start()
    }, (err: unknown) => {
      this.#flushing = false
      this.#host.fail(err)
    })
  }
}
