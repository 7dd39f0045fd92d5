/**
 * PostgresStore: containers in a PostgreSQL database (the table layout and its invariants:
 * schema.ts). It implements `ChunkStoreHost` (txn/chunk-store.ts), so `Container.openStore`
 * opens containers in it; it also lists, describes and deletes them.
 *
 * | state | what holds | entered by |
 * | --- | --- | --- |
 * | open | the pool is connected and the tables exist (schema version checked); with `readOnly`, nothing is ever written | `connect` |
 * | closed | every writer's lease released (best effort), the pool ended; every call rejects with RegionClosedError | `close` |
 *
 * Each open container (a HostedStore, hosted.ts) holds its chunks in memory; a writer holds
 * the container's lease (lease.ts), renewed every third of `leaseMs` while it is open and at
 * every commit, and released at close.
 */
import os from 'node:os'
import { randomBytes } from 'node:crypto'
import {
  ContainerLockedError, InvalidArgumentError, PmemError, ReadOnlyError, RegionClosedError, RegionNotFoundError, StoreUnavailableError, describe,
} from '../../regions/index.js'
import type { ChunkStoreHost, HostedStore, HostOpenOptions } from '../../txn/index.js'
import { checkHosted, listVersions, type ContainerCheck, type VersionInfo } from '../container/index.js'
import { GatedPool, loadPg, storeError, type Pool, type PoolConfig } from './pg.js'
import { ensureSchema, readSchema, tablesIn, type Tables } from './schema.js'
import { loadVersions } from './load.js'
import { openHostedPg, type HostContext, type HostedPg } from './hosted.js'

/** Options of {@link PostgresStore.connect}. */
export interface PostgresStoreOptions {
  /** How long a writer's lease runs without renewal, in ms (default 30,000; at least 100). A writer that stops renewing (a crash, a partition) blocks others this long. */
  leaseMs?: number
  /** The PostgreSQL schema holding the tables (default "public"); created if missing. */
  schema?: string
  /**
   * Only read (default false): the tables are checked but never created or changed (a schema
   * without a container store is RegionNotFoundError), containers open read-only only
   * (`openStore` without `readOnly: true` and `delete` are ReadOnlyError), and nothing is
   * ever written: what `pmem check` uses, and what a database user granted only SELECT can do.
   */
  readOnly?: boolean
}

const OPTION_NAMES = new Set(['leaseMs', 'schema', 'readOnly'])

/**
 * Containers in PostgreSQL.
 *
 * @example
 * const store = await PostgresStore.connect('postgres://app@db.internal/app')
 * const c = await Container.openStore(store, 'sessions', { init: () => ({ users: new Map() }) })
 * await store.versions('sessions'); await store.close()
 */
export class PostgresStore implements ChunkStoreHost {
  /** The database, for messages (no password): `postgres://host:port/database`. */
  readonly where: string
  /** Lease length of the writers this store opens (ms). */
  readonly leaseMs: number
  /** How this store's writers are named in leases: "host pid N store X". */
  readonly holder: string
  /** Connected with `{ readOnly: true }`: nothing is ever written through this store. */
  readonly readOnly: boolean
  /** The pg pool (for `pool`); everything here goes through the gate (pg-hosted inv. P3). */
  readonly #raw: Pool
  readonly #pool: GatedPool
  readonly #tables: Tables
  /** What every open through this store is given (openHostedPg); fixed at construction. */
  readonly #host: HostContext
  /** Containers this store has open for writing (a second writer open here is refused at once). */
  readonly #writers = new Map<string, HostedPg | null>()
  readonly #open = new Set<HostedPg>()
  /** Opens in flight: a close waits for them, then closes what they opened (pg-hosted inv. P3). */
  readonly #opening = new Set<Promise<HostedPg>>()
  #closed: Promise<void> | null = null

  private constructor(pool: Pool, where: string, tables: Tables, leaseMs: number, readOnly: boolean) {
    this.#raw = pool
    this.#pool = new GatedPool(pool)
    this.where = where
    this.#tables = tables
    this.leaseMs = leaseMs
    this.readOnly = readOnly
    this.holder = `${os.hostname()} pid ${process.pid} store ${randomBytes(4).toString('hex')}`
    this.#host = { pool: this.#pool, tables, where, holder: this.holder, leaseMs }
  }

  /**
   * Connects to the database (any pg connection string, or pg.Pool options) and creates the
   * tables on first use. InvalidArgumentError for bad options (checked before connecting),
   * StoreUnavailableError if the server cannot be reached, UnsupportedVersionError if the
   * tables have a newer layout, CorruptionError if they were altered or dropped by hand.
   */
  static async connect(connection: string | PoolConfig, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    if (typeof connection !== 'string' && (connection === null || typeof connection !== 'object' || Array.isArray(connection))) {
      throw new InvalidArgumentError(`Cannot connect a PostgresStore: expected a connection string or pg.Pool options, got ${describe(connection)}`)
    }
    if (typeof connection === 'string' && connection === '') throw new InvalidArgumentError('Cannot connect a PostgresStore: the connection string is empty')
    const { leaseMs, schema, readOnly } = checkOptions(options)
    const config: PoolConfig = typeof connection === 'string' ? { connectionString: connection } : { ...connection }
    checkConfig(config)
    const pg = await loadPg()
    const where = describeTarget(config)
    const pool = new pg.Pool({ max: 4, ...config })
    pool.on('error', () => { /* an idle client lost its connection: the next query reports it */ })
    const tables = tablesIn(schema)
    try {
      await (readOnly ? readSchema : ensureSchema)(pool, tables, where)
    } catch (e) {
      await pool.end().catch(() => undefined)
      throw connectError(e, `Cannot connect to ${where}`)
    }
    return new PostgresStore(pool, where, tables, leaseMs, readOnly)
  }

  /** Opens a container's chunk store (what `Container.openStore` calls; see txn/chunk-store.ts). */
  async openStore(name: string, options: HostOpenOptions): Promise<HostedStore> {
    this.#ready('open a container in')
    checkName(name, this.where)
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`Cannot open container "${name}" in ${this.where}: options must be an object, got ${describe(options)}`)
    if (!options.readOnly) {
      if (this.readOnly) throw new ReadOnlyError(`Cannot open container "${this.where}#${name}" for writing: the PostgresStore was connected with { readOnly: true }; open it with { readOnly: true }, or connect without it`)
      if (this.#writers.has(name)) throw new ContainerLockedError(`Cannot open container "${this.where}#${name}" for writing: this store (${this.holder}) already has it open for writing; close that container first, or open with { readOnly: true }`, this.holder)
      this.#writers.set(name, null)
    }
    const opening = this.#opened(name, options)
    this.#opening.add(opening)
    try { return await opening } finally { this.#opening.delete(opening) }
  }

  async #opened(name: string, options: HostOpenOptions): Promise<HostedPg> {
    try {
      let opened: HostedPg | null = null
      const h = await openHostedPg(this.#host, name, options, () => this.#forget(opened, name, options.readOnly))
      opened = h
      this.#open.add(h)
      if (!options.readOnly) this.#writers.set(name, h)
      return h
    } catch (e) {
      if (!options.readOnly) this.#writers.delete(name)
      throw storeError(e, `Cannot open container "${this.where}#${name}"`)
    }
  }

  /** The retained versions of container `name`, oldest first (as `Container.versions` lists a file's). */
  async versions(name: string): Promise<VersionInfo[]> {
    this.#ready('list the versions of a container in')
    checkName(name, this.where)
    const path = `${this.where}#${name}`
    try {
      const id = await this.#idOf(name)
      if (id === null) throw new RegionNotFoundError(`Cannot list the versions of container "${path}": there is no such container`)
      const list = await loadVersions(this.#pool, this.#tables, id)
      return listVersions({ versions: () => list }, path)
    } catch (e) { throw storeError(e, `Cannot list the versions of container "${path}"`) }
  }

  /**
   * Validates container `name` without changing it (a read-only open: no lease, so it works
   * beside a live writer), as `Container.check(path)` validates a file: the store, and every
   * record of every retained version, all read in one REPEATABLE READ snapshot and decoded
   * without the program's classes. A fall-back or a retained version dropped as damaged makes
   * `ok` false. RegionNotFoundError if there is no such container; CorruptionError if no
   * retained version is intact.
   */
  async check(name: string): Promise<ContainerCheck> {
    this.#ready('check a container in')
    checkName(name, this.where)
    const path = `${this.where}#${name}`
    let opened: HostedPg | null = null
    let h: HostedPg
    try {
      h = await openHostedPg(this.#host, name, { readOnly: true, create: null }, () => this.#forget(opened, name, true), true)
    } catch (e) { throw storeError(e, `Cannot check container "${path}"`) }
    opened = h
    this.#open.add(h)
    try {
      if (h.store === null) throw new RegionNotFoundError(`Cannot check container "${path}": there is no such container`)
      return checkHosted(h)
    } finally { await h.close() }
  }

  /** The names of the containers in the database, sorted. */
  async list(): Promise<string[]> {
    this.#ready('list the containers of')
    try {
      const r = await this.#pool.query(`SELECT name FROM ${this.#tables.containers} ORDER BY name`)
      return r.rows.map(row => row.name as string)
    } catch (e) { throw storeError(e, `Cannot list the containers of ${this.where}`) }
  }

  /**
   * Deletes container `name` with all its versions (pCDelete), in one transaction. A
   * container whose writer's lease is live is ContainerLockedError, unchanged;
   * RegionNotFoundError if there is none.
   */
  async delete(name: string): Promise<void> {
    this.#ready('delete a container in')
    checkName(name, this.where)
    const path = `${this.where}#${name}`
    if (this.readOnly) throw new ReadOnlyError(`Cannot delete container "${path}": the PostgresStore was connected with { readOnly: true }`)
    if (this.#writers.has(name)) throw new ContainerLockedError(`Cannot delete container "${path}": this store has it open for writing; close it first`, this.holder)
    const t = this.#tables
    let client
    try { client = await this.#pool.connect() } catch (e) { throw storeError(e, `Cannot delete container "${path}"`) }
    let failed: unknown
    try {
      await client.query('BEGIN')
      const r = await client.query(`SELECT id::float8 AS id, lease_holder, lease_expires, lease_expires > now() AS live FROM ${t.containers} WHERE name = $1 FOR UPDATE`, [name])
      const row = r.rows[0]
      if (row === undefined) throw new RegionNotFoundError(`Cannot delete container "${path}": there is no such container`)
      if (row.lease_holder !== null && row.live === true) {
        throw new ContainerLockedError(`Cannot delete container "${path}": it is held by "${row.lease_holder}" until ${(row.lease_expires as Date).toISOString()}; close that writer first`, row.lease_holder, row.lease_expires)
      }
      await client.query(`DELETE FROM ${t.chunks} WHERE container_id = $1`, [row.id])
      await client.query(`DELETE FROM ${t.containers} WHERE id = $1`, [row.id])
      await client.query('COMMIT')
    } catch (e) {
      failed = e
      await client.query('ROLLBACK').catch(() => undefined)
      throw storeError(e, `Cannot delete container "${path}"`)
    } finally {
      client.release(failed instanceof Error && !(failed instanceof RegionNotFoundError || failed instanceof ContainerLockedError) ? failed : undefined)
    }
  }

  /**
   * Closes the store: the opens in flight end, every container opened through it is closed
   * (the commit it began ends first, pg-hosted inv. P2; its writer's lease released, best
   * effort: an unreachable server lets it expire), then the pool ends once every call begun
   * on it settled (inv. P3). Every later call rejects with RegionClosedError; close again
   * returns the same promise.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.allSettled([...this.#opening])
      await Promise.all([...this.#open].map(h => h.close()))
      await this.#pool.end().catch(() => undefined)
    })()
    return this.#closed
  }

  /** The pool (for tests and tools that inspect the tables). */
  get pool(): Pool { return this.#raw }

  async #idOf(name: string): Promise<number | null> {
    const r = await this.#pool.query(`SELECT id::float8 AS id FROM ${this.#tables.containers} WHERE name = $1`, [name])
    return r.rows[0]?.id ?? null
  }

  #forget(h: HostedPg | null, name: string, readOnly: boolean): void {
    if (h !== null) this.#open.delete(h)
    if (!readOnly && (h === null || this.#writers.get(name) === h)) this.#writers.delete(name)
  }

  #ready(action: string): void {
    if (this.#closed !== null) throw new RegionClosedError(`Cannot ${action} ${this.where}: the PostgresStore is closed; connect again`)
  }
}

function checkOptions(o: PostgresStoreOptions): { leaseMs: number; schema: string; readOnly: boolean } {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new InvalidArgumentError(`PostgresStore options must be an object, got ${describe(o)}`)
  for (const k of Object.keys(o)) if (!OPTION_NAMES.has(k)) throw new InvalidArgumentError(`Unknown PostgresStore option ${JSON.stringify(k)}; the options are ${[...OPTION_NAMES].join(', ')} (pg.Pool options go in the first argument)`)
  const leaseMs = o.leaseMs ?? 30_000
  if (!Number.isSafeInteger(leaseMs) || leaseMs < 100 || leaseMs > 86_400_000) throw new InvalidArgumentError(`PostgresStore option leaseMs must be an integer from 100 to 86400000 (ms), got ${describe(o.leaseMs)}`)
  const schema = o.schema ?? 'public'
  // PostgreSQL cuts longer identifiers to 63 bytes: two names alike in those would share tables.
  if (typeof schema !== 'string' || schema === '' || Buffer.byteLength(schema) > 63 || /\u0000/.test(schema)) throw new InvalidArgumentError(`PostgresStore option schema must be a PostgreSQL schema name (1 to 63 bytes of UTF-8), got ${describe(o.schema)}`)
  if (o.readOnly !== undefined && typeof o.readOnly !== 'boolean') throw new InvalidArgumentError(`PostgresStore option readOnly must be a boolean, got ${describe(o.readOnly)}`)
  return { leaseMs, schema, readOnly: o.readOnly === true }
}

/** Numeric pg.Pool / client options: [name, lowest, highest]. */
const NUMERIC_CONFIG: [string, number, number][] = [
  ['max', 1, 10_000], ['min', 0, 10_000], ['port', 1, 65_535], ['connectionTimeoutMillis', 0, 2 ** 31 - 1], ['idleTimeoutMillis', 0, 2 ** 31 - 1],
  ['statement_timeout', 0, 2 ** 31 - 1], ['query_timeout', 0, 2 ** 31 - 1], ['lock_timeout', 0, 2 ** 31 - 1], ['idle_in_transaction_session_timeout', 0, 2 ** 31 - 1],
  ['connect_timeout', 0, 2 ** 31 - 1], ['maxUses', 1, 2 ** 31 - 1], ['maxLifetimeSeconds', 0, 2 ** 31 - 1],
]

/**
 * The pool options pg takes without complaint but then misbehaves on (max -1: every connect
 * waits for ever; a port of 99999 or a non-number: a TypeError from deep inside): refused
 * here, typed, before anything connects. The connection string's port is checked too.
 */
function checkConfig(c: PoolConfig): void {
  const bad = (what: string, got: unknown, want: string): never => { throw new InvalidArgumentError(`Cannot connect a PostgresStore: ${what} must be ${want}, got ${describe(got)}`) }
  for (const [k, lo, hi] of NUMERIC_CONFIG) {
    const v = (c as Record<string, unknown>)[k]
    if (v === undefined || (k === 'statement_timeout' && v === false) || (k === 'query_timeout' && v === false)) continue
    if (!Number.isSafeInteger(v) || (v as number) < lo || (v as number) > hi) bad(`pool option ${k}`, v, `an integer from ${lo} to ${hi}`)
  }
  if (c.min !== undefined && c.max !== undefined && c.min > c.max) bad('pool option min', c.min, `at most max (${c.max})`)
  if (c.connectionString !== undefined) {
    if (typeof c.connectionString !== 'string' || c.connectionString === '') bad('connectionString', c.connectionString, 'a non-empty string')
    const m = /^postgres(?:ql)?:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?/i.exec(c.connectionString)
    if (m !== null && m[1] !== undefined && m[1] !== '' && !(/^\d{1,5}$/.test(m[1]) && Number(m[1]) >= 1 && Number(m[1]) <= 65_535)) bad('the port of the connection string', m[1], 'an integer from 1 to 65535')
  }
}

/**
 * A failed connect: the database's errors as storeError maps them; anything else the pg
 * client throws there (the server refusing SSL, a connection string it cannot parse) is
 * about reaching the server too: StoreUnavailableError with the client's message.
 */
function connectError(e: unknown, action: string): PmemError {
  if (e instanceof PmemError) return e
  try { return storeError(e, action) } catch {
    return new StoreUnavailableError(`${action}: ${e instanceof Error ? e.message : String(e)}; check the connection string and options`, { cause: e })
  }
}

function checkName(name: unknown, where: string): asserts name is string {
  if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) > 200 || /[\u0000-\u001f]/.test(name)) {
    throw new InvalidArgumentError(`Cannot use a container in ${where}: its name must be a non-empty string of at most 200 bytes without control characters, got ${describe(name)}`)
  }
}

/** `postgres://user@host:port/database`, without the password, for messages. */
function describeTarget(c: PoolConfig): string {
  let host = c.host ?? 'localhost', port = c.port ?? 5432, db = c.database ?? c.user ?? '', user = c.user ?? ''
  if (c.connectionString !== undefined) {
    try {
      const u = new URL(c.connectionString)
      host = decodeURIComponent(u.hostname) || u.searchParams.get('host') || host
      port = u.port === '' ? port : Number(u.port)
      db = decodeURIComponent(u.pathname.slice(1)) || db
      user = decodeURIComponent(u.username) || user
    } catch { return 'postgres://(unparsed connection string)' }
  }
  return `postgres://${user === '' ? '' : `${user}@`}${host.startsWith('/') ? encodeURIComponent(host) : host}:${port}/${db}`
}
