/**
 * Shared setup of the PostgreSQL tests: one private cluster per test file (cluster.ts),
 * stores connected to it and closed at the end, an admin pool for inspecting and breaking
 * the tables, and the skip rule (skipped with the reason when PostgreSQL is not installed,
 * a failure under CI, where .ci/run installs it).
 */
import { after, before } from 'node:test'
import pg from 'pg'
import { PostgresStore, type PostgresStoreOptions } from '../../../src/postgres/index.js'
import { startCluster, unavailable, type Cluster } from './cluster.js'

/** Why these tests are skipped here, or false. Under CI a missing PostgreSQL is a failure, not a skip. */
export const skip: string | false = (() => {
  const why = unavailable()
  if (why === null) return false
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.PMEM_PG_OPTIONAL === undefined) {
    throw new Error(`CI must run the PostgreSQL tests: ${why}`)
  }
  process.stdout.write(`# PostgreSQL tests skipped: ${why}\n`)
  return why
})()

export interface Kit {
  cluster: Cluster
  admin: pg.Pool
  connect(options?: PostgresStoreOptions): Promise<PostgresStore>
  /** Rows of a container's tables, by name. */
  rows(name: string): Promise<{ versions: number[]; chunks: { idx: number; version: number; len: number }[] }>
}

/** The one cluster of the test file (started by `useCluster` before its tests). */
export const kit = {} as Kit

/** Starts the cluster before the file's tests and stops it after; the kit is filled in `before`. */
export function useCluster(): Kit {
  const stores: PostgresStore[] = []
  before(async () => {
    if (skip !== false) return
    kit.cluster = await startCluster()
    kit.admin = new pg.Pool({ connectionString: kit.cluster.url, max: 3 })
    kit.admin.on('error', () => {})
    kit.connect = async options => {
      const s = await PostgresStore.connect(kit.cluster.url, options)
      stores.push(s)
      return s
    }
    kit.rows = async name => {
      const id = (await kit.admin.query('SELECT id FROM pmem_containers WHERE name = $1', [name])).rows[0]?.id
      const v = await kit.admin.query('SELECT version::int AS v FROM pmem_versions WHERE container_id = $1 ORDER BY version', [id])
      const c = await kit.admin.query('SELECT idx, version::int AS version, length(data) AS len FROM pmem_chunks WHERE container_id = $1 ORDER BY idx, version', [id])
      return { versions: v.rows.map(r => r.v), chunks: c.rows }
    }
  })
  after(async () => {
    if (skip !== false) return
    for (const s of stores) await s.close().catch(() => {})
    await kit.admin?.end().catch(() => {})
    await kit.cluster?.destroy()
  })
  return kit
}

/** Resolves once some session of the database waits on a lock (a commit blocked by the test). */
export async function waitForLockWait(admin: pg.Pool, timeoutMs = 20_000): Promise<void> {
  const start = Date.now()
  for (;;) {
    const r = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()`)
    if (r.rows[0].n > 0) return
    if (Date.now() - start > timeoutMs) throw new Error('no session waited on a lock')
    await new Promise(r => setTimeout(r, 5))
  }
}
