/**
 * The arguments of `TxEngine.transaction` and `read`: the durability option, its check, and
 * the refusal of transaction functions that return a promise.
 */
import { InvalidArgumentError, describe } from '../regions/index.js'

/** How durable a commit is when it returns. */
export type Durability = 'sync' | 'group' | 'none'

/** Options of a transaction. */
export interface TransactionOptions {
  durability?: Durability
}

/** Order of durabilities: an outer commit takes the strongest one asked (eng. 7). */
export const STRENGTH: Readonly<Record<Durability, number>> = { none: 0, group: 1, sync: 2 }

/** The durability of `opts` (undefined or `{ durability? }`); InvalidArgumentError for anything else. */
export function checkDurability(opts: unknown): Durability {
  if (opts === undefined) return 'sync'
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw new InvalidArgumentError(`Cannot run transaction: options must be an object such as { durability: 'group' }, got ${describe(opts)}`)
  }
  for (const key in opts) {
    if (key !== 'durability') throw new InvalidArgumentError(`Cannot run transaction: unknown option ${JSON.stringify(key)}; known options are durability`)
  }
  const d = (opts as TransactionOptions).durability
  if (d === undefined) return 'sync'
  if (d !== 'sync' && d !== 'group' && d !== 'none') {
    throw new InvalidArgumentError(`Cannot run transaction: durability must be "sync", "group" or "none", got ${describe(d)}`)
  }
  return d
}

/**
 * Throws InvalidArgumentError when a transaction or read function returned a promise (or any
 * thenable). The promise is given a rejection handler first: the function goes on running
 * after its transaction ended, and its next use of `tx` rejects the promise with
 * TransactionEndedError, which must not become an unhandled rejection that kills the process.
 */
export function refusePromise(result: unknown, action: 'commit' | 'read'): void {
  if (result === null || (typeof result !== 'object' && typeof result !== 'function')) return
  let then: unknown
  try { then = (result as { then?: unknown }).then } catch { return }
  if (typeof then !== 'function') return
  try { then.call(result, undefined, () => {}) } catch { /* a broken thenable: nothing to handle */ }
  throw new InvalidArgumentError(`Cannot ${action}: the ${action === 'read' ? 'read' : 'transaction'} function returned a promise; transaction and read functions must be synchronous (await outside, not inside); the promise was left to settle on its own`)
}
