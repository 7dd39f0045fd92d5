/**
 * The `pg` client, loaded when a store connects (an optional peer dependency: programs that
 * use only file containers do not need it), and the errors of the database mapped to the
 * library's typed errors.
 */
import type { Pool, PoolClient, PoolConfig, QueryResult } from 'pg'
import { CorruptionError, PmemError, StoreUnavailableError } from '../../regions/index.js'

/** What statements run on: a pooled client (inside a transaction) or the pool. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<QueryResult>
  query(config: { text: string; values?: unknown[]; binary?: boolean }): Promise<QueryResult>
}

export type { Pool, PoolClient, PoolConfig }

/** What a store's parts use of its pool: the gate below. */
export interface PoolLike extends Queryable {
  connect(): Promise<PoolClient>
}

/**
 * The store's pool behind a gate (pg-hosted inv. P3): every connect and query is counted
 * until it settles, and `end` first waits for them. pg-pool's own end() leaves a connect
 * that waits for a client (queued while one was idle, or while all were in use) pending for
 * ever, so an operation racing `PostgresStore.close()` (a reader's refresh, `versions`,
 * `delete`) hung, and with it the container's close queued behind it.
 *
 * | state | what holds | entered by |
 * | --- | --- | --- |
 * | open | calls go to the pool, each counted until it settles | construction |
 * | ending | calls still go through (the operations begun finish theirs); end waits for the count to reach zero | `end` |
 * | ended | the pool ended: a call rejects as pg-pool rejects it (StoreUnavailableError once mapped) | the count reached zero |
 */
export class GatedPool implements PoolLike {
  readonly #pool: Pool
  readonly #pending = new Set<Promise<unknown>>()
  #ended: Promise<void> | null = null

  constructor(pool: Pool) { this.#pool = pool }

  connect(): Promise<PoolClient> { return this.#track(this.#pool.connect()) }

  query(text: string, values?: unknown[]): Promise<QueryResult>
  query(config: { text: string; values?: unknown[]; binary?: boolean }): Promise<QueryResult>
  query(a: string | { text: string; values?: unknown[] }, values?: unknown[]): Promise<QueryResult> {
    return this.#track(typeof a === 'string' ? this.#pool.query(a, values) : this.#pool.query(a))
  }

  /** Waits for every call begun (and those they begin meanwhile), then ends the pool. */
  end(): Promise<void> {
    this.#ended ??= (async () => {
      while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
      await this.#pool.end()
    })()
    return this.#ended
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#pending.add(p)
    const done = () => { this.#pending.delete(p) }
    p.then(done, done)
    return p
  }
}

/** Loads pg, or says how to install it. */
export async function loadPg(): Promise<{ Pool: typeof Pool }> {
  try {
    const m = await import('pg') as unknown as { default?: { Pool: typeof Pool }; Pool: typeof Pool }
    return m.default ?? m
  } catch (e) {
    throw new StoreUnavailableError('Cannot connect to PostgreSQL: the "pg" package is not installed; run `npm install pg` (persistent-memory/postgres uses it as an optional peer dependency)', { cause: e, errno: 'MODULE_NOT_FOUND' })
  }
}

/** Socket error codes that mean the server is out of reach. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOENT'])

/**
 * Maps an error of the pg client or the server to a typed error: PmemErrors pass through,
 * tables altered by hand are CorruptionError (ALTERED), everything else becomes StoreUnavailableError naming the action, with the SQLSTATE (e.g.
 * 57014 statement timeout, 57P01 server shut down, 08006 connection failure) or socket code.
 * Either way the transaction did not commit (or, for an error during COMMIT itself, may
 * have: the store then re-reads the newest version before its next commit).
 */
export function storeError(e: unknown, action: string): PmemError {
  if (e instanceof PmemError) return e
  if (!fromDatabase(e)) throw e       // a bug, not the database: never reported as "retry"
  const err = e as { code?: unknown; message?: unknown }
  const code = typeof err?.code === 'string' ? err.code : undefined
  const message = typeof err?.message === 'string' ? err.message : String(e)
  const sqlState = code !== undefined && /^[0-9A-Z]{5}$/.test(code) && !SOCKET_CODES.has(code) ? code : undefined
  const errno = sqlState === undefined ? code : undefined
  if (sqlState !== undefined && ALTERED.has(sqlState)) {
    return new CorruptionError(`${action}: ${message} (SQLSTATE ${sqlState}): the tables were altered or dropped outside persistent-memory (their layout: persistent-memory/postgres schema.ts); nothing was changed, restore them from a backup`)
  }
  const why = sqlState !== undefined ? `${message} (SQLSTATE ${sqlState}${sqlState === '57014' ? ': statement timeout or cancel' : ''})` : errno !== undefined ? `${message} (${errno})` : message
  return new StoreUnavailableError(`${action}: ${why}; nothing was half-committed, the previous version is intact; retry once the database is back`, { cause: e, sqlState, errno })
}

/**
 * SQLSTATEs that mean the tables are not as schema.ts made them (a table, column or type
 * gone or changed by hand): no retry helps, so CorruptionError rather than "unavailable".
 * 42P01 undefined table, 42703 undefined column, 42804 datatype mismatch, 42883 undefined
 * function or operator (a column's type changed), 23502 a NOT NULL column added.
 */
const ALTERED = new Set(['42P01', '42703', '42804', '42883', '23502'])

/** Client messages of a connection that broke or a pool that cannot give one. */
const CLIENT_FAILURES = /Connection terminated|Connection ended|not queryable|timeout exceeded when trying to connect|Cannot use a pool after calling end|Client was closed|Query read timeout|connect ECONN/i

/** Whether `e` comes from the server (a DatabaseError carries a severity) or the connection to it. */
function fromDatabase(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false
  const err = e as { severity?: unknown; code?: unknown; message?: unknown; errors?: unknown }
  if (typeof err.severity === 'string') return true
  if (typeof err.code === 'string' && SOCKET_CODES.has(err.code)) return true
  if (Array.isArray(err.errors)) return true      // AggregateError of connection attempts (ECONNREFUSED on every address)
  return typeof err.message === 'string' && CLIENT_FAILURES.test(err.message)
}
