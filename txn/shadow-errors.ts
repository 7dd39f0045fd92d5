/**
 * Shadow paging, errors of its own (the common ones live in regions/errors.ts).
 *
 * Invariant: like every PmemError, throwing one of these has changed nothing on disk.
 */
import { PmemError } from '../regions/index.js'

/**
 * A synchronous `commit()` was called while a `commitAsync()` of the same store was still
 * running. Await the pending promise (or use `commitAsync` again, which waits for it).
 */
export class CommitInProgressError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_COMMIT_IN_PROGRESS', message) }
}
