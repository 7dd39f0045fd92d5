/**
 * The PostgreSQL table layout of container stores (schema version 1), created by the store
 * on first use. Four tables, in the schema the store was given (default `public`):
 *
 * pmem_schema: one row, the layout version.
 *
 * | column | type | meaning |
 * | --- | --- | --- |
 * | one | boolean PK, always true | makes the table a single row |
 * | version | int | layout version (1); a newer one is refused with UnsupportedVersionError |
 *
 * pmem_containers: one row per container, with its writer lease.
 *
 * | column | type | meaning |
 * | --- | --- | --- |
 * | id | bigint identity PK | the key of the container's versions and chunks |
 * | name | text UNIQUE | the name given to `Container.openStore` |
 * | chunk_size | int | bytes per logical chunk, fixed at creation |
 * | keep_versions | int | versions kept restorable, fixed at creation |
 * | created_at | timestamptz | |
 * | lease_holder | text, null when free | the writer holding the lease: "host pid N store X" |
 * | lease_generation | bigint | incremented by every acquisition: the fencing token |
 * | lease_expires | timestamptz, null when free | the lease runs until then (database clock) unless renewed |
 *
 * pmem_versions: one row per retained committed version: the metadata row, written last.
 *
 * | column | type | meaning |
 * | --- | --- | --- |
 * | container_id, version | bigint, bigint: PK | versions are consecutive from 1 |
 * | chunk_count | int | logical chunks in this version |
 * | meta | bytea | the container's metadata blob (src/container/meta.ts: log end, root id, ...) |
 * | written | int[] | logical chunks whose rows this version inserted (what it superseded) |
 * | bytes | bigint | bytes of chunk data this commit inserted |
 * | generation | bigint | lease generation of the writer that committed it |
 * | committed_at | timestamptz | |
 *
 * pmem_chunks: chunk contents, keyed by (container, logical index, version that wrote it).
 *
 * | column | type | meaning |
 * | --- | --- | --- |
 * | container_id, idx, version | bigint, int, bigint: PK | chunk `idx` as written by commit `version` |
 * | crc | int | CRC-32 of `data` (as a signed int), checked when loaded |
 * | data | bytea, storage EXTERNAL | the chunk without its trailing zero bytes (empty: all zeros) |
 *
 * Reading: chunk k of version v is the row (k, w) with the largest w <= v, for k below
 * v's chunk_count (one DISTINCT ON query over the primary key).
 *
 * What one commit of version N writes, in one transaction (commit.ts):
 *   1. UPDATE pmem_containers: renew the lease, WHERE lease_generation = the writer's; no row
 *      means the lease was taken over: ROLLBACK, LeaseLostError (fencing). The row lock it
 *      takes orders this commit against any takeover.
 *   2. INSERT pmem_chunks rows (k, N) for the chunks the point changed only (the tail chunk
 *      of the log and the new ones for an append), plus empty rows for chunks that grew
 *      into existence without being written (inv. 3).
 *   3. INSERT pmem_versions row N (its primary key refuses a second commit of N).
 *   4. Retention: DELETE version rows <= N - keep_versions; with o = N - keep_versions + 1
 *      the oldest retained version, DELETE chunk rows (k, w) with w < o that o supersedes
 *      (k in o's `written`) or that lie past o's chunk_count.
 *   5. COMMIT: the atomic switch. Before it, no open sees any row of N.
 *
 * Invariants recovery relies on (cited as "pg inv. N"):
 *   1. A chunk row is never updated: rows are inserted by the commit that wrote them and
 *      deleted only by retention (step 4), in the commit that makes them unreachable.
 *   2. Every version row N has, for each k < chunk_count, a chunk row (k, w <= N) that is
 *      its content, and no chunk row (k, w) with w <= N of a later-deleted chunk shows
 *      through: a chunk that grows back after a shrink is written again (step 2).
 *   3. After a commit, the table holds exactly the chunk rows some retained version reads
 *      (by induction over step 4: each version becomes the oldest once, in one commit).
 *   4. Only the lease holder with the current generation commits; the generation check and
 *      the row lock are in the commit's own transaction, so a writer that lost its lease
 *      can never commit afterwards, whatever its clock or pauses.
 *   5. Recovery needs nothing: the database's own recovery leaves each commit whole or
 *      absent, and the newest version row is the newest committed version.
 *   6. A commit's transaction is ended by the server once it sits idle longer than the
 *      lease, or 1 s if that is longer (idle_in_transaction_session_timeout, set for that
 *      transaction, commit.ts IDLE_FLOOR_MS): a writer
 *      paused inside its commit holds the row lock of step 1 at most about a lease, so a
 *      takeover waits that long, never for ever; the paused writer then finds its session
 *      gone, and at its next commit its generation fenced (inv. 4).
 *   7. A commit that rewrites every chunk (after a failed commit, a fall-back, or chunk rows
 *      found above the newest version row at open) first deletes the chunk rows above the
 *      newest version row: no version reads them, and none may show through the new one.
 *      A duplicate key in a commit is CorruptionError (rows written by hand), not a second
 *      writer: the row lock of step 1 orders writers.
 * Loading checks each chosen row against the version rows (`written`), so a row deleted,
 * moved or copied by hand is CorruptionError, never another version's bytes (load.ts inv.
 * L1-L3); a table or column altered or dropped is CorruptionError at connect (ensureSchema).
 */
import { CorruptionError, PmemError, RegionNotFoundError, UnsupportedVersionError } from '../../regions/index.js'
import type { Pool, Queryable } from './pg.js'

/** The layout version this library writes and reads. */
export const SCHEMA_VERSION = 1

/** Quoted table names in a schema. */
export interface Tables {
  /** The schema's name as given (unquoted). */
  name: string
  /** The schema's name quoted for SQL; the tables' names below are quoted too. */
  schema: string
  meta: string
  containers: string
  versions: string
  chunks: string
}

/** Quotes an identifier for SQL (doubles embedded quotes). */
export function ident(s: string): string { return '"' + s.replace(/"/g, '""') + '"' }

export function tablesIn(schema: string): Tables {
  const q = (t: string) => `${ident(schema)}.${ident(t)}`
  return { name: schema, schema: ident(schema), meta: q('pmem_schema'), containers: q('pmem_containers'), versions: q('pmem_versions'), chunks: q('pmem_chunks') }
}

function ddl(t: Tables): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${t.schema}`,
    `CREATE TABLE IF NOT EXISTS ${t.meta} (one boolean PRIMARY KEY DEFAULT true CHECK (one), version int NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${t.containers} (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      name text NOT NULL UNIQUE,
      chunk_size int NOT NULL,
      keep_versions int NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      lease_holder text,
      lease_generation bigint NOT NULL DEFAULT 0,
      lease_expires timestamptz)`,
    `CREATE TABLE IF NOT EXISTS ${t.versions} (
      container_id bigint NOT NULL REFERENCES ${t.containers} (id) ON DELETE CASCADE,
      version bigint NOT NULL,
      chunk_count int NOT NULL,
      meta bytea NOT NULL,
      written int[] NOT NULL,
      bytes bigint NOT NULL,
      generation bigint NOT NULL,
      committed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (container_id, version))`,
    `CREATE TABLE IF NOT EXISTS ${t.chunks} (
      container_id bigint NOT NULL,
      idx int NOT NULL,
      version bigint NOT NULL,
      crc int NOT NULL,
      data bytea NOT NULL,
      PRIMARY KEY (container_id, idx, version))`,
    // Chunks are checksummed here and mostly incompressible or small: no TOAST compression.
    `ALTER TABLE ${t.chunks} ALTER COLUMN data SET STORAGE EXTERNAL`,
  ]
}

/** The columns each table must have, with their types (format_type): checked at every connect. */
const COLUMNS: Record<string, Record<string, string>> = {
  pmem_schema: { one: 'boolean', version: 'integer' },
  pmem_containers: {
    id: 'bigint', name: 'text', chunk_size: 'integer', keep_versions: 'integer', created_at: 'timestamp with time zone',
    lease_holder: 'text', lease_generation: 'bigint', lease_expires: 'timestamp with time zone',
  },
  pmem_versions: {
    container_id: 'bigint', version: 'bigint', chunk_count: 'integer', meta: 'bytea', written: 'integer[]', bytes: 'bigint', generation: 'bigint',
    committed_at: 'timestamp with time zone',
  },
  pmem_chunks: { container_id: 'bigint', idx: 'integer', version: 'bigint', crc: 'integer', data: 'bytea' },
}

/**
 * Creates the tables if missing (under an advisory lock, so concurrent first uses do not
 * race) and checks the layout version (UnsupportedVersionError for a newer one) and that
 * every table has its columns with their types (CorruptionError naming what differs: tables
 * altered or dropped by hand are never written into, nor recreated empty over lost data).
 * One transaction on one connection of the pool.
 */
export async function ensureSchema(pool: Pool, t: Tables, where: string): Promise<void> {
  const db = await pool.connect()
  let failed: unknown
  try {
    await db.query('BEGIN')
    await db.query(`SELECT pg_advisory_xact_lock(hashtext('persistent-memory schema ' || $1::text))`, [t.schema])
    const v = await layoutVersion(db, t, where)
    if (v !== SCHEMA_VERSION) {
      for (const stmt of ddl(t)) await db.query(stmt)
      await db.query(`INSERT INTO ${t.meta} (one, version) VALUES (true, $1) ON CONFLICT (one) DO NOTHING`, [SCHEMA_VERSION])
    }
    await checkColumns(db, t, where)
    await db.query('COMMIT')
  } catch (e) {
    failed = e
    await db.query('ROLLBACK').catch(() => undefined)
    throw e
  } finally {
    db.release(failed instanceof Error && !(failed instanceof PmemError) ? failed : undefined)
  }
}

/**
 * The read-only counterpart of `ensureSchema` (`PostgresStore.connect(conn, { readOnly: true })`,
 * `pmem check`): the same checks, and nothing created or written, not even the advisory lock's
 * transaction. RegionNotFoundError when the schema holds no container store (no `pmem_schema`
 * table); a store whose tables exist at an older layout is read as it is.
 */
export async function readSchema(pool: Pool, t: Tables, where: string): Promise<void> {
  const db = await pool.connect()
  let failed: unknown
  try {
    if (await layoutVersion(db, t, where) === null) {
      throw new RegionNotFoundError(`Cannot use container store ${where}: schema ${t.schema} holds no container store (no table ${t.meta}); a read-only connect never creates one`)
    }
    await checkColumns(db, t, where)
  } catch (e) {
    failed = e
    throw e
  } finally {
    db.release(failed instanceof Error && !(failed instanceof PmemError) ? failed : undefined)
  }
}

/** The layout version in the `pmem_schema` table, undefined if it has no row, null if there is no such table; UnsupportedVersionError for a newer one. */
async function layoutVersion(db: Queryable, t: Tables, where: string): Promise<number | undefined | null> {
  const exists = await db.query(`SELECT to_regclass($1) AS t`, [t.meta])
  if (exists.rows[0].t === null) return null
  const r = await db.query(`SELECT version FROM ${t.meta}`)
  const v = r.rows[0]?.version as number | undefined
  if (v !== undefined && v > SCHEMA_VERSION) {
    throw new UnsupportedVersionError(`Cannot use container store ${where}: its tables have layout version ${v}, this library reads ${SCHEMA_VERSION}; upgrade persistent-memory`)
  }
  return v
}

/** CorruptionError unless every table of COLUMNS exists with those columns and types (extra columns are let be). */
async function checkColumns(db: Queryable, t: Tables, where: string): Promise<void> {
  const r = await db.query(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = ANY ($2::text[]) AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
    [t.name, Object.keys(COLUMNS)])
  const have = new Map<string, string>(r.rows.map(x => [`${x.table}.${x.column}`, x.type as string]))
  const wrong: string[] = []
  for (const [table, cols] of Object.entries(COLUMNS)) {
    if (![...have.keys()].some(k => k.startsWith(`${table}.`))) { wrong.push(`table ${table} is missing`); continue }
    for (const [col, type] of Object.entries(cols)) {
      const got = have.get(`${table}.${col}`)
      if (got !== type) wrong.push(got === undefined ? `${table}.${col} is missing` : `${table}.${col} is ${got}, not ${type}`)
    }
  }
  if (wrong.length > 0) throw new CorruptionError(`Cannot use container store ${where}: its tables in schema ${t.schema} were altered or dropped outside persistent-memory (${wrong.join('; ')}); nothing was changed, restore them from a backup`)
}
