/**
 * Durable transactions, errors of their own (the common ones live in regions/errors.ts).
 *
 * Invariant: like every PmemError, throwing one of these has changed nothing on disk.
 */
import { PmemError } from '../regions/index.js'

/**
 * The pool was asked to close (or to do something else that must wait) while one of its
 * transaction functions was still running. Return from the transaction function first;
 * the pool is left open and the transaction goes on.
 */
export class TransactionActiveError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_TX_ACTIVE', message) }
}
