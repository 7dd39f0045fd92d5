/**
 * Typed errors of remote chunk-store back-ends (PostgreSQL, src/postgres): the
 * single-writer lease and the database being out of reach. Like every class in errors.ts,
 * each is a PmemError with a stable `code`, and an operation that throws one has changed
 * nothing any open can see.
 */
import { PmemError } from './errors.js'

/**
 * Another writer holds the container's lease (on this machine or another): `holder` names
 * it and `expires` says until when its lease runs unless renewed.
 */
export class ContainerLockedError extends PmemError {
  readonly holder: string | undefined
  readonly expires: Date | undefined
  constructor(message: string, holder?: string, expires?: Date) {
    super('ERR_PMEM_CONTAINER_LOCKED', message)
    this.holder = holder
    this.expires = expires
  }
}

/**
 * This writer lost its lease (another writer took it over after it expired: a network
 * partition, a paused process): it can never commit again; its commit was refused by the
 * fencing check and the store keeps the other writer's versions.
 */
export class LeaseLostError extends PmemError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_PMEM_LEASE_LOST', message, options) }
}

/**
 * The store's database could not be reached or refused the operation (server stopped or
 * killed, connection dropped, statement timeout). Nothing was half-committed: the previous
 * version is intact, and the operation can be retried once the server is back.
 * `sqlState` is the server's SQLSTATE when it answered, `errno` the socket error otherwise.
 */
export class StoreUnavailableError extends PmemError {
  readonly sqlState: string | undefined
  readonly errno: string | undefined
  constructor(message: string, options?: { cause?: unknown; sqlState?: string; errno?: string }) {
    super('ERR_PMEM_STORE_UNAVAILABLE', message, options)
    this.sqlState = options?.sqlState
    this.errno = options?.errno
  }
}
