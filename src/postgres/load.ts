/**
 * Loading a container's versions from PostgreSQL (schema.ts): the retained version rows, and
 * the chunk rows into memory with one query; any retained version's view is then built from
 * them without the database (chunk k of version v is the row (k, w) with the largest
 * w <= v, pg inv. 2), every chunk checked against its CRC and against the version rows.
 *
 * Row checks (cited as "pg-load inv. L1-L3"; what a checksum of the bytes alone cannot see:
 * a row deleted, moved to another index, copied under another version, or a version row
 * gone):
 *   L1. The row chosen for chunk k of version v, (k, w), with w a retained version, is one
 *       that version wrote: k is in w's `written`. A row of a version that is not retained
 *       is older than every retained version (retention keeps exactly those, pg inv. 3);
 *       one inside or above the window belongs to no version: damage.
 *   L2. If a retained version w <= v wrote k (k in its `written`), the row chosen for k is
 *       at least w's: a smaller one means w's row is missing.
 *   L3. Every chunk below v's count has a row (or, for a refresh, the reader's view has it).
 * Any of them failing is a CorruptionError naming the chunk, the version and the row; the
 * open then falls back to an older intact version (chunk-store inv. 5) and nothing stored
 * is changed by reading.
 */
import { CorruptionError } from '../../regions/index.js'
import type { StoreVersion } from '../../txn/index.js'
import { chunkCrc, type View } from './chunks.js'
import type { Queryable } from './pg.js'
import type { Tables } from './schema.js'

/** A retained version row, with the chunk indexes its commit inserted. */
export interface VersionRow extends StoreVersion {
  written: number[]
}

/** One chunk row in memory. */
export interface ChunkRow {
  idx: number
  version: number
  crc: number
  data: Uint8Array
}

const VERSION_COLUMNS = `v.version::float8 AS version, v.chunk_count, v.meta, v.bytes::float8 AS bytes, (extract(epoch FROM v.committed_at) * 1000)::float8 AS time, v.written`

type Raw = { version: number; time: number; chunk_count: number; bytes: number; meta: Buffer; written: number[] }
const versionRow = (row: Raw): VersionRow => ({ version: row.version, time: Math.round(row.time), chunkCount: row.chunk_count, bytes: row.bytes, meta: new Uint8Array(row.meta), written: row.written })

/** The retained version rows of a container, oldest first. */
export async function loadVersions(db: Queryable, t: Tables, id: number): Promise<VersionRow[]> {
  const r = await db.query({ text: `SELECT ${VERSION_COLUMNS} FROM ${t.versions} v WHERE v.container_id = $1 ORDER BY v.version`, values: [id] })
  return r.rows.map(versionRow)
}

/**
 * The retained version rows of container `id`, and whether the name still names that row
 * in the caller's snapshot: 'deleted' if no row has the name, 'replaced' if another row has
 * it (deleted and created again: ids are never reused). What a read-only store asks before
 * trusting "no new version" (pg-hosted inv. P1), as a file's reader asks `pathHolds`
 * (region-file.ts inv. C7). One statement (the lookup rides on each version row) unless
 * there is no version row, then a second one.
 */
export async function loadVersionsHeld(db: Queryable, t: Tables, id: number, name: string): Promise<{ holds: 'same' | 'deleted' | 'replaced'; versions: VersionRow[] }> {
  const r = await db.query({
    text: `SELECT (SELECT id::float8 FROM ${t.containers} WHERE name = $2) AS now_id, ${VERSION_COLUMNS} FROM ${t.versions} v WHERE v.container_id = $1 ORDER BY v.version`,
    values: [id, name],
  })
  const row = r.rows.length > 0 ? r.rows[0] : (await db.query(`SELECT id::float8 AS now_id FROM ${t.containers} WHERE name = $1`, [name])).rows[0]
  const now = row?.now_id as number | null | undefined
  const holds = now === null || now === undefined ? 'deleted' : now === id ? 'same' : 'replaced'
  return { holds, versions: r.rows.map(versionRow) }
}

/** The version rows as the chunk store lists them (without `written`). */
export function storeVersions(rows: VersionRow[]): StoreVersion[] {
  return rows.map(({ written: _, ...v }) => v)
}

/**
 * The chunk rows of a container with a version above `after`, by index then version.
 * Text results: pg's binary result mode decodes bytea as UTF-8 and garbles it.
 */
export async function loadRows(db: Queryable, t: Tables, id: number, after = -1): Promise<ChunkRow[]> {
  const r = await db.query({
    text: `SELECT idx, version::float8 AS version, crc, data FROM ${t.chunks} WHERE container_id = $1 AND version > $2 ORDER BY idx, version`,
    values: [id, after],
  })
  return r.rows as ChunkRow[]
}

/**
 * The view of version `v` built from `rows` (sorted by index then version; for a refresh,
 * only the rows above `base.version`, the rest taken from `base`), checked (pg-load inv.
 * L1-L3). `retained` are all the retained version rows. CorruptionError if anything fails.
 */
export function viewOf(rows: ChunkRow[], v: VersionRow, retained: VersionRow[], chunkSize: number, where: string, base: View | null = null): View {
  const wroteBy = new Map<number, Set<number>>()      // filled for the versions rows are chosen from
  const wrote = (w: number): Set<number> | undefined => {
    let set = wroteBy.get(w)
    if (set === undefined) {
      const x = retained.find(r => r.version === w)
      if (x === undefined) return undefined
      wroteBy.set(w, set = new Set(x.written))
    }
    return set
  }
  const oldest = retained.length === 0 ? Infinity : retained[0].version
  const floor = base === null ? -Infinity : base.version
  /** L2: for each chunk, the newest retained version <= v (above the floor) that wrote it. */
  const required = new Map<number, number>()
  for (const x of retained) {
    if (x.version > v.version || x.version <= floor) continue
    for (const k of x.written) if (k < v.chunkCount && (required.get(k) ?? -1) < x.version) required.set(k, x.version)
  }
  const chosen: (ChunkRow | undefined)[] = new Array(v.chunkCount)
  for (const row of rows) if (row.idx < v.chunkCount && row.version <= v.version) chosen[row.idx] = row     // sorted: the last is the newest
  const fail = (k: number, why: string): never => { throw new CorruptionError(`Cannot load container "${where}": chunk ${k} of version ${v.version} ${why}`) }
  let total = 0
  for (let k = 0; k < v.chunkCount; k++) {
    const row = chosen[k]
    const need = required.get(k)
    if (row === undefined) {
      if (need !== undefined) fail(k, `has no row of version ${need}, which wrote it (rows were deleted outside persistent-memory)`)
      if (base === null || k >= base.count) fail(k, 'has no row (rows were deleted outside persistent-memory)')
      continue
    }
    const w = row.version
    const set = wrote(w)
    if (set !== undefined ? !set.has(k) : w >= oldest) {                      // L1
      fail(k, `reads row (${k}, ${w}), which ${set !== undefined ? `version ${w} did not write` : `belongs to no retained version (retained: ${retained.map(x => x.version).join(', ')})`}: a row was moved, copied or its version row deleted outside persistent-memory`)
    }
    if (need !== undefined && w < need) fail(k, `has no row of version ${need}, which wrote it; only the older row of version ${w} (rows were deleted outside persistent-memory)`)    // L2
    if (row.data.length > chunkSize) fail(k, `holds ${row.data.length} bytes in row (${k}, ${w}), more than its ${chunkSize}-byte chunk`)
    const crc = chunkCrc(row.data.length === 0 ? null : row.data)
    if (crc !== row.crc) fail(k, `fails its checksum in row (${k}, ${w}) (stored ${row.crc >>> 0}, computed ${crc >>> 0}); the row was changed outside persistent-memory`)
    total += row.data.length
  }
  const arena = Buffer.allocUnsafe(total)
  const chunks: (Uint8Array | null)[] = new Array(v.chunkCount)
  let at = 0
  for (let k = 0; k < v.chunkCount; k++) {
    const row = chosen[k]
    if (row === undefined) { chunks[k] = base!.chunks[k]; continue }
    if (row.data.length === 0) { chunks[k] = null; continue }
    arena.set(row.data, at)
    chunks[k] = arena.subarray(at, at + row.data.length)
    at += row.data.length
  }
  return { version: v.version, count: v.chunkCount, chunks, meta: v.meta }
}

/**
 * The newest intact version of `versions` (newest first), falling back past damaged ones
 * (chunk-store inv. 5): the view, and the versions skipped with why.
 */
export function newestIntact(rows: ChunkRow[], versions: VersionRow[], chunkSize: number, where: string): { view: View; skipped: { version: number; reason: string }[] } {
  const skipped: { version: number; reason: string }[] = []
  for (let i = versions.length - 1; i >= 0; i--) {
    try {
      return { view: viewOf(rows, versions[i], versions, chunkSize, where), skipped }
    } catch (e) {
      if (!(e instanceof CorruptionError)) throw e
      skipped.push({ version: versions[i].version, reason: e.message })
    }
  }
  throw new CorruptionError(`Cannot load container "${where}": no retained version is intact (${skipped.map(s => `version ${s.version}: ${s.reason}`).join('; ')})`)
}

/**
 * The rows an open keeps for building older retained views later (a container's fall-back
 * or `check`): those the loaded view does not hold, plus, for the ones it does, its arena's
 * bytes (so the buffers pg returned are freed). Memory: the rows of the retention window.
 */
export function keptRows(rows: ChunkRow[], view: View): ChunkRow[] {
  const out: ChunkRow[] = []
  let i = 0
  while (i < rows.length) {
    let j = i
    while (j < rows.length && rows[j].idx === rows[i].idx) j++
    const k = rows[i].idx
    let pick = -1
    if (k < view.count) for (let x = i; x < j; x++) if (rows[x].version <= view.version) pick = x
    for (let x = i; x < j; x++) {
      const c = x === pick ? view.chunks[k] : null
      out.push(x === pick ? { ...rows[x], data: c ?? EMPTY } : rows[x])
    }
    i = j
  }
  return out
}

const EMPTY = new Uint8Array(0)

/** An empty view (a container never persisted). */
export function emptyView(): View { return { version: 0, count: 0, chunks: [], meta: new Uint8Array(0) } }
