/**
 * One container opened in PostgreSQL (a HostedStore, txn/chunk-store.ts): finds or creates
 * its row, takes the writer's lease, loads the version rows and every chunk row (one
 * REPEATABLE READ transaction, so retention running beside it never removes what it reads),
 * builds the chosen version's view from them (load.ts, checked: inv. L1-L3), keeps the rows
 * of the retention window until the next turn of the event loop so that `openVersion` serves
 * any version retained at open to the container's synchronous load (its fall-back, an older
 * version restored; held until closed for PostgresStore.check), and renews the lease until closed.
 *
 * | state | what holds | entered by |
 * | --- | --- | --- |
 * | opening | the row is found or created, the lease taken (writer), versions loaded | `openHostedPg` |
 * | open | the store serves the container; a writer's lease is renewed every leaseMs / 3 | the open completed |
 * | closing | new commits refused; the commits begun end (pg-hosted inv. P2) | `close`, `discard` |
 * | closed | the lease released (best effort), the store refuses every call | the commits begun ended |
 *
 * A failed open releases the lease it took and deletes the row it created (hosted inv. H1).
 *
 * Invariant (cited as "pg-hosted inv. P1"): a store follows the container row its open found
 * (its id), never just the name. The open's snapshot and every refresh's snapshot first look
 * the name up (load.ts loadVersionsHeld); a row deleted since (PostgresStore.delete, or by hand) or
 * replaced by another of the same name (deleted and created again: ids are never reused) is
 * RegionNotFoundError, and the store keeps the version it holds. Without it a reader's
 * refresh found no version rows of the old id and resolved "no change" for ever, showing a
 * container that no longer exists (as a file's reader does with region-file.ts inv. C7). A
 * writer needs no lookup: its commit's fence finds no row of its id (LeaseLostError, pg inv. 4).
 *
 * Invariant "pg-hosted inv. P2": a close (the container's, or PostgresStore.close under an
 * open container) refuses new commits at once, waits for the commits already begun to end,
 * and only then closes the store and releases the lease. Before, PostgresStore.close closed
 * the store under a committing point: the database committed it, the point rejected with
 * RegionClosedError (it could not read its stats) and the container broke; or the release
 * ran first and the commit was fenced as if its lease had been taken over.
 *
 * Invariant "pg-hosted inv. P3": PostgresStore.close waits for the opens in flight (then
 * closes what they opened) and ends the pool only once every call begun on it settled
 * (pg.ts GatedPool): pg-pool leaves a connect queued at its end() pending for ever, so a
 * refresh racing the close hung, and the container's close behind it.
 */
import { InvalidArgumentError, PmemError, RegionClosedError, RegionNotFoundError } from '../../regions/index.js'
import type { ChunkStore, HostedStore, HostOpenOptions, StoreVersion } from '../../txn/index.js'
import { PgChunkStore, type View } from './chunks.js'
import { commitVersion } from './commit.js'
import { acquireLease, releaseLease, renewLease } from './lease.js'
import { emptyView, keptRows, loadRows, loadVersionsHeld, newestIntact, storeVersions, viewOf, type ChunkRow, type VersionRow } from './load.js'
import { storeError, type PoolLike } from './pg.js'
import type { Tables } from './schema.js'

/** What an open needs from its PostgresStore. */
export interface HostContext {
  pool: PoolLike
  tables: Tables
  where: string
  holder: string
  leaseMs: number
}

interface Row { id: number; name: string; chunkSize: number; keepVersions: number; created: boolean }

export interface HostedPg extends HostedStore {
  readonly store: PgChunkStore | null
}

/**
 * Opens container `name` as `options` ask; `onClose` runs once it is closed. `keepRows`: hold
 * the rows of every retained version until closed (PostgresStore.check), not one turn.
 */
export async function openHostedPg(ctx: HostContext, name: string, options: HostOpenOptions, onClose: () => void, keepRows = false): Promise<HostedPg> {
  const path = `${ctx.where}#${name}`
  const row = await findOrCreate(ctx, name, options)
  if (row === null) return closedShell(path, onClose)
  let generation: number | null = null
  try {
    if (!options.readOnly) generation = await acquireLease(ctx.pool, ctx.tables, row.id, ctx.holder, ctx.leaseMs, path)
    const loaded = await loadAll(ctx, row, path, options)
    return new Hosted(ctx, path, row, generation, loaded, options.readOnly, onClose, keepRows)
  } catch (e) {
    if (generation !== null) await releaseLease(ctx.pool, ctx.tables, row.id, ctx.holder, generation).catch(() => undefined)
    if (row.created) await ctx.pool.query(`DELETE FROM ${ctx.tables.containers} WHERE id = $1`, [row.id]).catch(() => undefined)
    onClose()
    throw e
  }
}

/** The container's row; created for a writer with `create` (then `created`); null if missing. */
async function findOrCreate(ctx: HostContext, name: string, options: HostOpenOptions): Promise<Row | null> {
  const t = ctx.tables
  const select = async (): Promise<Row | null> => {
    const r = await ctx.pool.query(`SELECT id::float8 AS id, chunk_size, keep_versions FROM ${t.containers} WHERE name = $1`, [name])
    const x = r.rows[0]
    return x === undefined ? null : { id: x.id, name, chunkSize: x.chunk_size, keepVersions: x.keep_versions, created: false }
  }
  const found = await select()
  if (found !== null || options.create === null) return found
  const r = await ctx.pool.query(
    `INSERT INTO ${t.containers} (name, chunk_size, keep_versions) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING id::float8 AS id`,
    [name, options.create.chunkSize, options.create.keepVersions])
  if (r.rowCount === 1) return { id: r.rows[0].id, name, chunkSize: options.create.chunkSize, keepVersions: options.create.keepVersions, created: true }
  return select()    // another process created it meanwhile
}

interface Loaded {
  versions: VersionRow[]
  /** The newest intact version (or, read-only with `version`, that version). */
  view: View
  skipped: { version: number; reason: string }[]
  /** The chunk rows kept for older retained views (load.ts keptRows). */
  rows: ChunkRow[]
  /** Chunk rows above the newest version row exist (rows left by hand): the writer starts uncertain. */
  orphans: boolean
  /** The older version the open asked for (a writer's `version`), built at once. */
  target: number | undefined
}

/** Loads the version rows and every chunk row in one consistent snapshot. */
async function loadAll(ctx: HostContext, row: Row, path: string, options: HostOpenOptions): Promise<Loaded> {
  const client = await ctx.pool.connect()
  client.on('error', noop)
  let failed: unknown
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    const { holds, versions } = await loadVersionsHeld(client, ctx.tables, row.id, row.name)
    assertHolds(holds, path, 'open')     // pg-hosted inv. P1: deleted since it was found
    const rows = await loadRows(client, ctx.tables, row.id)
    await client.query('COMMIT')
    return pick(versions, rows, row, path, options)
  } catch (e) {
    failed = e
    await client.query('ROLLBACK').catch(() => undefined)
    throw e
  } finally {
    client.off('error', noop)
    client.release(failed instanceof Error && !(failed instanceof PmemError) ? failed : undefined)
  }
}

/** The view the open asks for, from the loaded rows (pg-load inv. L1-L3). */
function pick(versions: VersionRow[], rows: ChunkRow[], row: Row, path: string, options: HostOpenOptions): Loaded {
  const target = options.version
  if (target !== undefined && !versions.some(v => v.version === target)) {
    throw new InvalidArgumentError(`Cannot open container "${path}" at version ${target}: it is not retained (retained versions: ${versions.map(v => v.version).join(', ') || 'none'})`)
  }
  const newest = versions.length === 0 ? 0 : versions[versions.length - 1].version
  const orphans = rows.some(r => r.version > newest)
  if (versions.length === 0) return { versions, view: emptyView(), skipped: [], rows: [], orphans, target: undefined }
  const { view, skipped } = target !== undefined && options.readOnly
    ? { view: viewOf(rows, versions.find(x => x.version === target)!, versions, row.chunkSize, path), skipped: [] }
    : newestIntact(rows, versions, row.chunkSize, path)
  return { versions, view, skipped, rows: keptRows(rows, view), orphans, target: options.readOnly ? undefined : target }
}

const noop = (): void => {}

/**
 * pg-hosted inv. P1: RegionNotFoundError unless the snapshot still names the container the
 * open found (deleted, or deleted and created again since: load.ts loadVersionsHeld).
 */
function assertHolds(holds: 'same' | 'deleted' | 'replaced', path: string, action: 'open' | 'refresh', held?: number): void {
  if (holds === 'same') return
  const what = holds === 'deleted' ? 'deleted (PostgresStore.delete, or its rows deleted by hand)' : 'deleted and created again under its name (another container now)'
  throw new RegionNotFoundError(action === 'open'
    ? `Cannot open container "${path}": it was ${what} while this open loaded it; open it again`
    : `Cannot refresh container "${path}": it was ${what} since this read-only store opened it, so no writer's version can reach it any more; it still shows version ${held}: close it and open the container again`)
}

class Hosted implements HostedPg {
  readonly path: string
  readonly created: boolean
  readonly store: PgChunkStore
  readonly #ctx: HostContext
  readonly #row: Row
  readonly #generation: number | null
  readonly #older: Map<number, PgChunkStore>
  /**
   * The version rows and chunk rows loaded at open: any retained version's view is built
   * from them (openVersion, which a container calls only while it opens: its fall-back, an
   * older version restored, all synchronous once the host's open resolved). Dropped on the
   * next turn of the event loop: the superseded rows of the window are held only that long
   * (and the view a writer's `version` asked for, built at once, stays in #older); an open
   * with `keepRows` (PostgresStore.check, which opens every retained version) holds them
   * until closed.
   */
  #versions: VersionRow[]
  #rows: ChunkRow[]
  readonly #retained: ReturnType<typeof storeVersions>
  readonly #onClose: () => void
  #timer: NodeJS.Timeout | null = null
  #closing: Promise<void> | null = null

  constructor(ctx: HostContext, path: string, row: Row, generation: number | null, l: Loaded, readOnly: boolean, onClose: () => void, keepRows: boolean) {
    this.#ctx = ctx
    this.path = path
    this.created = row.created
    this.#row = row
    this.#generation = generation
    this.#onClose = onClose
    const newest = l.versions.length === 0 ? 0 : l.versions[l.versions.length - 1].version
    const fellBack = l.skipped.length === 0 ? null : { from: l.skipped[0].version, reason: l.skipped[0].reason }
    const retained = storeVersions(l.versions.filter(v => !l.skipped.some(s => s.version === v.version)))
    this.#versions = l.versions
    this.#rows = l.rows
    this.store = new PgChunkStore({
      path, chunkSize: row.chunkSize, keepVersions: row.keepVersions, view: l.view, versions: retained,
      readOnly: readOnly ? 'it is open read-only' : null,
      committer: generation === null ? null : b => commitVersion({
        pool: ctx.pool, tables: ctx.tables, id: row.id, holder: ctx.holder, generation, leaseMs: ctx.leaseMs, keepVersions: row.keepVersions, where: path,
      }, b),
      fellBack, droppedVersions: l.skipped.slice(1),
      uncertain: l.view.version !== newest || l.orphans,     // pg-store inv. 3: a fall-back rewrites every chunk
    })
    this.#retained = retained
    this.#older = new Map()
    if (l.target !== undefined && l.target !== l.view.version) this.openVersion(l.target)
    if (!keepRows) setImmediate(() => this.#dropRows()).unref()
    if (generation !== null) {
      this.#timer = setInterval(() => { void this.#renew() }, Math.max(50, Math.floor(ctx.leaseMs / 3)))
      this.#timer.unref()
    }
  }

  openVersion(version: number): ChunkStore {
    if (version === this.store.version) return this.store
    let s = this.#older.get(version)
    if (s !== undefined) return s
    const v = this.#versions.find(x => x.version === version)
    if (v === undefined || version > this.store.version) {
      throw new InvalidArgumentError(`Cannot open container "${this.path}" at version ${version}: older versions are served only while the container opens, from the versions retained then (${this.#versions.map(x => x.version).join(', ') || 'none now'}); open it again with { version: ${version} }`)
    }
    s = new PgChunkStore({
      path: this.path, chunkSize: this.#row.chunkSize, keepVersions: this.#row.keepVersions,
      view: viewOf(this.#rows, v, this.#versions, this.#row.chunkSize, this.path), versions: this.#retained,
      readOnly: `it shows version ${version}, an older retained version`, committer: null, fellBack: null,
    })
    this.#older.set(version, s)
    return s
  }

  /**
   * A reader moves on to the newest committed version: fetches only the chunk rows written
   * since its version (all of them if its version left the retention window meanwhile).
   * Resolves true if the version changed. The hook a container's refresh() builds on.
   */
  async refresh(): Promise<boolean> {
    if (this.#closing !== null) throw new RegionClosedError(`Cannot refresh container "${this.path}": it is closed`)
    if (this.#generation !== null) return false    // the writer makes the versions: nothing to fetch
    const ctx = this.#ctx
    const client = await ctx.pool.connect().catch((e: unknown) => { throw storeError(e, `Cannot refresh container "${this.path}"`) })
    client.on('error', noop)
    let failed: unknown
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      const old = this.store.durableView
      const { holds, versions } = await loadVersionsHeld(client, ctx.tables, this.#row.id, this.#row.name)
      assertHolds(holds, this.path, 'refresh', old.version)     // pg-hosted inv. P1
      const newest = versions[versions.length - 1]
      let changed = false
      if (newest !== undefined && newest.version !== old.version) {
        const base = versions.some(v => v.version === old.version) ? old : null     // still retained: only the rows written since
        const rows = await loadRows(client, ctx.tables, this.#row.id, base === null ? -1 : base.version)
        this.store.replaceView(viewOf(rows, newest, versions, this.#row.chunkSize, this.path, base), storeVersions(versions))
        changed = true
      }
      await client.query('COMMIT')
      return changed
    } catch (e) {
      failed = e
      await client.query('ROLLBACK').catch(() => undefined)
      throw storeError(e, `Cannot refresh container "${this.path}"`)
    } finally {
      client.off('error', noop)
      client.release(failed instanceof Error && !(failed instanceof PmemError) ? failed : undefined)
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#timer !== null) clearInterval(this.#timer)
      await this.store.drain('it is closed')     // pg-hosted inv. P2: a commit begun ends first, then the lease goes
      this.store.close('it is closed')
      for (const s of this.#older.values()) s.close('it is closed')
      if (this.#generation !== null) {
        await releaseLease(this.#ctx.pool, this.#ctx.tables, this.#row.id, this.#ctx.holder, this.#generation).catch(() => undefined)   // else it expires
      }
      this.#onClose()
    })()
    return this.#closing
  }

  #dropRows(): void { this.#rows = []; this.#versions = [] }

  async discard(): Promise<void> {
    await this.close()
    if (this.created) await this.#ctx.pool.query(`DELETE FROM ${this.#ctx.tables.containers} WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM ${this.#ctx.tables.versions} WHERE container_id = $1)`, [this.#row.id]).catch(() => undefined)
  }

  async #renew(): Promise<void> {
    if (this.#closing !== null) return
    try {
      await renewLease(this.#ctx.pool, this.#ctx.tables, this.#row.id, this.#ctx.holder, this.#generation!, this.#ctx.leaseMs)
    } catch { /* the server is out of reach: the next renewal or commit tries again */ }
  }
}

/** The HostedStore of a container that does not exist (and was not to be created). */
function closedShell(path: string, onClose: () => void): HostedPg {
  return {
    path, created: false, store: null,
    openVersion(v) { throw new RegionNotFoundError(`Cannot open container "${path}" at version ${v}: there is no such container`) },
    async close() { onClose() },
    async discard() { onClose() },
  }
}
