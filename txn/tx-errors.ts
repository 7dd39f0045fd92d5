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

/**
 * A reader could not get a consistent snapshot: the pool's writer changed the state a read
 * was using (inside `read(fn)` the function runs again, and this is thrown only when the
 * writer kept changing it for `readerTiming.retryMs`, or kept the pool in the middle of a
 * change for `readerTiming.busyMs`), or a snapshot taken with `reader()` outside `read` went
 * stale. Nothing was changed: read again, with `read(fn)` and a shorter function.
 */
export class SnapshotConflictError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_SNAPSHOT_CONFLICT', message) }
}
