/**
 * The commit of one version of a container, in one PostgreSQL transaction (the steps and
 * the invariants are in schema.ts: fencing by the lease generation, chunk rows inserted and
 * never updated, the version row, retention, COMMIT as the atomic switch).
 *
 * Chunk rows go in with one statement per 32 MiB: their bytes travel as one binary
 * parameter that the server cuts into rows (substring), their indexes and checksums as
 * integer arrays, so a commit costs a few round trips whatever its size.
 */
import { CorruptionError, LeaseLostError, StoreUnavailableError } from '../../regions/index.js'
import { chunkCrc, type SealedBatch } from './chunks.js'
import { storeError, type PoolClient, type PoolLike } from './pg.js'
import type { Tables } from './schema.js'

/** Bytes of chunk data sent per INSERT statement. */
const STATEMENT_BYTES = 32 << 20

const noop = (): void => {}

/**
 * The shortest idle time a commit's transaction is allowed (pg inv. 6): a lease of 100 ms
 * must not make a garbage-collection pause between two statements fail the point. Fencing
 * never depends on it (the generation does, inv. 4).
 */
const IDLE_FLOOR_MS = 1000

/** The container and lease a commit is made under. */
export interface CommitTarget {
  pool: PoolLike
  tables: Tables
  id: number
  holder: string
  generation: number
  leaseMs: number
  keepVersions: number
  where: string
}

/** Commits `b` as the next version; StoreUnavailableError or LeaseLostError if it cannot (nothing committed). */
export async function commitVersion(c: CommitTarget, b: SealedBatch): Promise<{ version: number; time: number; bytes: number }> {
  const action = `Cannot commit container "${c.where}"`
  let client: PoolClient
  try { client = await c.pool.connect() } catch (e) { throw storeError(e, action) }
  client.on('error', noop)     // a connection lost between statements: the next statement reports it
  let broken: unknown
  try {
    await client.query('BEGIN')
    // pg inv. 6: a writer paused inside its commit (SIGSTOP, a stalled machine) holds the
    // container row's lock; past its lease (at least IDLE_FLOOR_MS) the server ends its
    // session, so a takeover waits about that long, never for ever.
    await client.query(`SELECT set_config('idle_in_transaction_session_timeout', $1, true)`, [String(Math.max(c.leaseMs, IDLE_FLOOR_MS))])
    const { newest, time } = await fence(client, c)
    const full = b
    if (b.expected === null && b.delta != null && newest === b.delta.expected) b = { ...b, expected: b.delta.expected, idx: b.delta.idx, data: b.delta.data }     // pg-store inv. 3a: the failed commit did not happen
    if (b.expected !== null && newest !== b.expected) {
      throw new StoreUnavailableError(`${action}: the database's newest version is ${newest}, this writer built on ${b.expected} (an earlier commit's outcome was unknown); nothing was committed, the next point rewrites every chunk`)
    }
    const version = newest + 1
    // pg inv. 7: a commit sealed uncertain (expected null: after a failure, a fall-back, or
    // rows found above the newest version at open), whether it sends every chunk or, after a
    // failure, its delta (pg-store inv. 3a), first removes the chunk rows above the newest
    // version row, which no version reads (left by hand: a version row deleted), so none can
    // show through the new version.
    if (full.expected === null) await client.query(`DELETE FROM ${c.tables.chunks} WHERE container_id = $1 AND version > $2`, [c.id, newest])
    const bytes = await insertChunks(client, c, version, b)
    await client.query(`INSERT INTO ${c.tables.versions} (container_id, version, chunk_count, meta, written, bytes, generation) VALUES ($1, $2, $3, $4, $5::int4[], $6, $7)`,
      [c.id, version, b.count, Buffer.from(b.meta.buffer, b.meta.byteOffset, b.meta.length), b.idx, bytes, c.generation])
    await retain(client, c, version)
    await client.query('COMMIT')
    return { version, time, bytes }
  } catch (e) {
    broken = e
    await client.query('ROLLBACK').catch(() => undefined)
    // The fence's row lock orders writers (pg inv. 4), so a duplicate row was put there by hand.
    if ((e as { code?: string }).code === '23505') throw new CorruptionError(`${action}: a row of the version it was committing already exists (${(e as Error).message}); rows were written outside persistent-memory. Nothing was committed; the next point rewrites every chunk and removes the rows above the newest version (pg inv. 7)`)
    throw storeError(e, action)
  } finally {
    client.off('error', noop)
    client.release(broken !== undefined && !(broken instanceof LeaseLostError) ? (broken as Error) : undefined)
  }
}

/** Step 1: renews the lease only if this writer's generation still holds it (pg inv. 4); the newest version and the time. */
async function fence(client: PoolClient, c: CommitTarget): Promise<{ newest: number; time: number }> {
  const t = c.tables
  const r = await client.query(
    `UPDATE ${t.containers} SET lease_expires = now() + $4 * interval '1 millisecond'
     WHERE id = $1 AND lease_holder = $2 AND lease_generation = $3
     RETURNING (SELECT coalesce(max(version), 0) FROM ${t.versions} WHERE container_id = $1)::float8 AS newest,
               (extract(epoch FROM now()) * 1000)::float8 AS time`,
    [c.id, c.holder, c.generation, c.leaseMs])
  if (r.rowCount === 1) return { newest: r.rows[0].newest, time: Math.round(r.rows[0].time) }
  const h = await client.query(`SELECT lease_holder, lease_generation::float8 AS generation FROM ${t.containers} WHERE id = $1`, [c.id])
  const row = h.rows[0]
  throw new LeaseLostError(row === undefined
    ? `Cannot commit container "${c.where}": it was deleted while this writer held it; nothing was committed`
    : `Cannot commit container "${c.where}": this writer lost its lease (generation ${c.generation}); it is now ${row.lease_holder === null ? 'free' : `held by "${row.lease_holder}"`} at generation ${row.generation}, and this writer can never commit again; nothing was committed, reopen the container`)
}

/** Step 2: the chunk rows (k, version); returns the bytes inserted. */
async function insertChunks(client: PoolClient, c: CommitTarget, version: number, b: SealedBatch): Promise<number> {
  let bytes = 0
  for (let i = 0; i < b.idx.length;) {
    const idx: number[] = [], crc: number[] = [], off: number[] = [], len: number[] = []
    const parts: Uint8Array[] = []
    let size = 0
    for (; i < b.idx.length && (size === 0 || size + b.data[i].length <= STATEMENT_BYTES); i++) {
      const d = b.data[i]
      idx.push(b.idx[i]); crc.push(chunkCrc(d.length === 0 ? null : d)); off.push(size); len.push(d.length)
      parts.push(d)
      size += d.length
    }
    await client.query(
      `INSERT INTO ${c.tables.chunks} (container_id, idx, version, crc, data)
       SELECT $1, k.idx, $2, k.crc, substring($3::bytea FROM k.off + 1 FOR k.len)
       FROM unnest($4::int4[], $5::int4[], $6::int4[], $7::int4[]) AS k(idx, crc, off, len)`,
      [c.id, version, Buffer.concat(parts, size), idx, crc, off, len])
    bytes += size
  }
  return bytes
}

/** Step 4: versions past the window go, and the chunk rows only they read (pg inv. 3). */
async function retain(client: PoolClient, c: CommitTarget, version: number): Promise<void> {
  const oldest = version - c.keepVersions + 1
  if (oldest < 2) return
  const t = c.tables
  await client.query(`DELETE FROM ${t.versions} WHERE container_id = $1 AND version < $2`, [c.id, oldest])
  await client.query(
    `DELETE FROM ${t.chunks} WHERE container_id = $1 AND version < $2
     AND idx = ANY ((SELECT written FROM ${t.versions} WHERE container_id = $1 AND version = $2)::int4[])`, [c.id, oldest])
  await client.query(
    `DELETE FROM ${t.chunks} WHERE container_id = $1 AND version < $2
     AND idx >= (SELECT chunk_count FROM ${t.versions} WHERE container_id = $1 AND version = $2)`, [c.id, oldest])
}
