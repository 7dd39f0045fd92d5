/**
 * Loading a container's versions from PostgreSQL (schema.ts): the retained version rows, and
 * one version's chunks into memory with one query (chunk k of version v is the row (k, w)
 * with the largest w <= v, pg inv. 2), every chunk checked against its CRC.
 */
import { CorruptionError } from '../../regions/index.js'
import type { StoreVersion } from '../../txn/index.js'
import { chunkCrc, type View } from './chunks.js'
import type { Queryable } from './pg.js'
import type { Tables } from './schema.js'

/** The retained version rows of a container, oldest first. */
export async function loadVersions(db: Queryable, t: Tables, id: number): Promise<StoreVersion[]> {
  const r = await db.query({
    text: `SELECT version::float8 AS version, chunk_count, meta, bytes::float8 AS bytes, (extract(epoch FROM committed_at) * 1000)::float8 AS time
           FROM ${t.versions} WHERE container_id = $1 ORDER BY version`,
    values: [id],
  })
  return r.rows.map(row => ({ version: row.version, time: Math.round(row.time), chunkCount: row.chunk_count, bytes: row.bytes, meta: new Uint8Array(row.meta) }))
}

/**
 * Loads the chunks of `v` (a retained version row) into one buffer, chunk views into it.
 * With `base` (a view of an older version `base.version` that is still retained), only the
 * rows written after it are fetched and the rest is taken from it (a reader's refresh: every
 * chunk that changed or grew back since has such a row, pg inv. 2).
 * CorruptionError if a chunk fails its CRC, is longer than a chunk, or is missing.
 */
export async function loadView(db: Queryable, t: Tables, id: number, v: StoreVersion, chunkSize: number, where: string, base: View | null = null): Promise<View> {
  const r = await db.query({
    text: `SELECT DISTINCT ON (idx) idx, crc, data FROM ${t.chunks}
           WHERE container_id = $1 AND idx < $2 AND version <= $3 AND version > $4 ORDER BY idx DESC, version DESC`,
    values: [id, v.chunkCount, v.version, base === null ? -1 : base.version],
  })   // text results: pg's binary result mode decodes bytea as UTF-8 and garbles it
  let total = 0
  for (const row of r.rows) total += (row.data as Buffer).length
  const arena = Buffer.allocUnsafe(total)
  const chunks: (Uint8Array | null | undefined)[] = base === null ? new Array(v.chunkCount).fill(undefined) : base.chunks.slice(0, v.chunkCount)
  while (chunks.length < v.chunkCount) chunks.push(undefined)
  let at = 0
  for (const row of r.rows) {
    const k = row.idx as number
    const data = row.data as Buffer
    if (data.length > chunkSize) throw new CorruptionError(`Cannot load container "${where}": chunk ${k} of version ${v.version} holds ${data.length} bytes, more than its ${chunkSize}-byte chunk`)
    if (chunkCrc(data.length === 0 ? null : data) !== row.crc) {
      throw new CorruptionError(`Cannot load container "${where}": chunk ${k} of version ${v.version} fails its checksum (stored ${row.crc >>> 0}, computed ${chunkCrc(data) >>> 0}); the row was changed outside persistent-memory`)
    }
    if (data.length === 0) { chunks[k] = null; continue }
    data.copy(arena, at)
    chunks[k] = arena.subarray(at, at + data.length)
    at += data.length
  }
  const missing = chunks.findIndex(c => c === undefined)
  if (missing >= 0) throw new CorruptionError(`Cannot load container "${where}": chunk ${missing} of version ${v.version} has no row (rows were deleted outside persistent-memory)`)
  return { version: v.version, count: v.chunkCount, chunks: chunks as (Uint8Array | null)[], meta: v.meta }
}

/**
 * Loads the newest intact version of `versions` (newest first), falling back past damaged
 * ones (chunk-store inv. 5): the view, and the versions skipped with why.
 */
export async function loadNewestIntact(db: Queryable, t: Tables, id: number, versions: StoreVersion[], chunkSize: number, where: string): Promise<{ view: View; skipped: { version: number; reason: string }[] }> {
  const skipped: { version: number; reason: string }[] = []
  for (let i = versions.length - 1; i >= 0; i--) {
    try {
      return { view: await loadView(db, t, id, versions[i], chunkSize, where), skipped }
    } catch (e) {
      if (!(e instanceof CorruptionError)) throw e
      skipped.push({ version: versions[i].version, reason: e.message })
    }
  }
  throw new CorruptionError(`Cannot load container "${where}": no retained version is intact (${skipped.map(s => `version ${s.version}: ${s.reason}`).join('; ')})`)
}

/** An empty view (a container never persisted). */
export function emptyView(): View { return { version: 0, count: 0, chunks: [], meta: new Uint8Array(0) } }
