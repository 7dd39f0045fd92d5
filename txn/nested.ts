/**
 * Nested: the engine's nested transactions (engine.ts `transaction` called while one runs),
 * their savepoints, and the `onAbort` hooks of a transaction and its sub-transactions.
 * The engine owns one and calls it from `transaction`; it keeps the hooks and the durability
 * the outermost commit will use.
 *
 * Nested transactions are sub-transactions of the running one: they stage into the same
 * record, after a savepoint taken when they start.
 *
 *   | event in a sub-transaction | effect                                                     |
 *   | -------------------------- | ---------------------------------------------------------- |
 *   | its function returns       | its writes stay staged; they commit or abort with the outer |
 *   | its function throws        | record truncated to the savepoint, its abort hooks run     |
 *   |                            | (newest first), the exception propagates to the caller     |
 *   | `group` durability         | returns a promise, settled when the outer commit is durable |
 *   |                            | (rejected, pre-handled, if the outer aborts)               |
 *
 * The outermost commit uses the strongest durability asked for by it or by any sub-transaction
 * that committed into it (sync > group > none). Non-nested transactions take no savepoint.
 * Layer 3 keeps JavaScript state that mirrors staged writes (the variable directory cache)
 * consistent through `onAbort` hooks.
 *
 * Invariant, eng. 7 (an engine invariant, kept under its name): a sub-transaction whose
 * function throws leaves no entry in the record and no hook behind: the record is truncated
 * to the savepoint taken when it started.
 */
import { InvalidArgumentError, describe } from '../regions/index.js'
import type { RecordBuilder } from './record.js'
import type { Tx } from './tx.js'
import { STRENGTH, refusePromise, type Durability } from './tx-options.js'

/** Something to undo (abort) or complete (commit, with the committed seq) when the transaction ends; see `onAbort`. */
interface Hook { abort: (err: unknown) => void; commit?: (seq: number) => void }

export class Nested {
  /** Durability the running transaction will commit with: the strongest asked so far (eng. 7). */
  want: Durability = 'sync'
  /** Hooks of the running transaction and its sub-transactions, oldest first (eng. 7). */
  readonly #hooks: Hook[] = []
  /** Resolves once the commit with that seq is durable (group-commit.ts). */
  readonly #whenDurable: (seq: number) => Promise<void>

  constructor(whenDurable: (seq: number) => Promise<void>) {
    this.#whenDurable = whenDurable
  }

  /** True when hooks are registered (so an end of the outermost transaction has work here). */
  get hooked(): boolean { return this.#hooks.length > 0 }

  /** See TxEngine.onAbort; `running`: a transaction of the engine runs. */
  onAbort(running: boolean, undo: () => void): void {
    if (!running) throw new InvalidArgumentError('Cannot register an abort hook: no transaction is running')
    if (typeof undo !== 'function') throw new InvalidArgumentError(`Cannot register an abort hook: expected a function, got ${describe(undo)}`)
    this.#hooks.push({ abort: undo })
  }

  /** A nested transaction: stages after a savepoint in `b`, rolls back to it on throw (eng. 7). */
  sub<T>(fn: (tx: Tx) => T, tx: Tx, b: RecordBuilder, durability: Durability): T | Promise<T> {
    const sp = b.savepoint(), hooks = this.#hooks.length
    let result: T
    try {
      result = fn(tx)
      refusePromise(result, 'commit')
    } catch (err) {
      b.rollback(sp)
      this.unwind(hooks, err)
      throw err
    }
    if (STRENGTH[durability] > STRENGTH[this.want]) this.want = durability
    if (durability !== 'group') return result
    const done = new Promise<T>((resolve, reject) => {
      this.#hooks.push({ abort: reject, commit: seq => { this.#whenDurable(seq).then(() => resolve(result), reject) } })
    })
    done.catch(() => {}) // the outer's own failure is reported by the outer: ignoring this promise must not crash
    return done
  }

  /** Runs, newest first, and forgets the hooks registered since index `from` (an abort). */
  unwind(from: number, err: unknown): void {
    const undo = this.#hooks.splice(from)
    for (let i = undo.length - 1; i >= 0; i--) undo[i]!.abort(err)
  }

  /** The outermost transaction committed as `seq`: completes and forgets every hook. */
  committed(seq: number): void {
    for (const h of this.#hooks.splice(0)) h.commit?.(seq)
  }
}
