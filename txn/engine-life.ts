/**
 * EngineLife: the states of a TxEngine (engine.ts) and the checks its calls make first. An
 * I/O error in a commit, flush, checkpoint or recovery leaves the engine broken, refusing
 * every call with BrokenError until the file is reopened and recovered (LMDB's MDB_PANIC):
 * the log and the data pages may disagree in memory, and only recovery from the durable log
 * (eng. 4, 5) makes them agree again.
 *
 *   | state  | entered by                                   | calls                                        |
 *   | ------ | -------------------------------------------- | -------------------------------------------- |
 *   | open   | create, open                                 | all (read-only engines refuse transactions)  |
 *   | broken | `guard`, `failed`, `fail`: an I/O error, or the path moved (eng. 8, 9) | RegionClosedError once closed, else BrokenError; close only detaches |
 *   | closed | `close` (engine.ts)                          | RegionClosedError; `close` is a no-op        |
 *
 * A closed region makes every check act as closed, whatever the state. Entering broken
 * rejects every waiting group commit (`onFail`): none of them can become durable in this
 * life. The engine owns one and delegates to it.
 */
import { BrokenError, ReadOnlyError, RegionClosedError, PmemError, type RegionLike } from '../regions/index.js'

export class EngineLife {
  readonly #region: RegionLike
  /** Told the error when the engine becomes broken (rejects the group-commit waiters). */
  readonly #onFail: (err: unknown) => void
  #broken: unknown = null
  #closed = false

  constructor(region: RegionLike, onFail: (err: unknown) => void) {
    this.#region = region
    this.#onFail = onFail
  }

  /** `close` ran (the region may still be open). */
  get closed(): boolean { return this.#closed }
  /** An I/O error made the engine broken. */
  get broken(): boolean { return this.#broken !== null }

  /** open -> closed. */
  close(): void { this.#closed = true }

  /** Throws unless `action` may run now: RegionClosedError, BrokenError, or ReadOnlyError for a transaction on a read-only engine. */
  usable(action: string): void {
    const path = this.#region.path
    if (this.#closed || this.#region.closed) throw new RegionClosedError(`Cannot ${action}: pool "${path}" is closed`)
    if (this.#broken !== null) {
      const why = this.#broken instanceof PmemError ? `failed earlier (${this.#broken.message})` : 'hit an I/O error earlier and must be reopened to recover'
      throw new BrokenError(`Cannot ${action}: pool "${path}" ${why}`, { cause: this.#broken })
    }
    if (this.#region.readOnly && action === 'run a transaction') throw new ReadOnlyError(`Cannot ${action}: pool "${path}" was opened read-only`)
  }

  /** Runs an I/O step; any failure makes the engine broken (`failed`). */
  guard(step: () => void): void {
    try { step() } catch (err) { this.failed(err) }
  }

  /** open -> broken, and throws the error (wrapped in BrokenError unless it is already typed). */
  failed(err: unknown): never {
    this.fail(err)
    if (err instanceof PmemError) throw err
    throw new BrokenError(`Commit to "${this.#region.path}" failed: ${(err as Error)?.message ?? String(err)}; reopen the file to recover`, { cause: err })
  }

  /** open -> broken (a group flush failed off the main thread: nothing to throw to). */
  fail(err: unknown): void {
    this.#broken = err
    this.#onFail(err)
  }
}
