/**
 * Restore of one stored version: reads the log, rebuilds the graph (decode.ts) and returns
 * everything the container needs to go on from it (ids, shapes, classes, segments,
 * references). Also lists the versions a store retains.
 */
import { CorruptionError } from '../../regions/index.js'
import { ObjectTable } from './identity.js'
import { Restorer, type ChunkedFound, type SegmentKey } from './decode.js'
import { LazyLog, readLog, viewLog } from './log.js'
import { decodeMeta, type ContainerMeta } from './meta.js'
import type { RefStore } from './refs.js'
import type { ClassRegistry } from './classes.js'
import type { ChunkStore } from './store.js'
import type { VersionInfo } from './options.js'
import { LazyGraph } from './lazy.js'
import { indexProblems } from './log-offsets.js'

const noop = (): void => {}

export interface Restored {
  root: object
  objects: unknown[]
  meta: ContainerMeta
  shapes: Map<number, readonly string[]>
  classes: Map<number, { name: string; proto: object }>
  segments: Map<number, [number, SegmentKey][]>
  /** The bases of the segmented collections (decode.ts `bases`): their change logs start from them. */
  bases?: Restorer['bases']
  refs: RefStore
  bytesIds: number[]
  /** Chunked buffer id -> its chunk size and CHUNK ids. */
  chunked: Map<number, ChunkedFound>
  views: number[]
  /** STATEFUL records: [id, state, ...] in log order (instances of classes with hooks, not revived yet). */
  stateful: unknown[]
  /** A lazy restore's graph (lazy.ts): `root` is a shell, the rest is found as it is filled; null for a full restore. */
  lazy: LazyGraph | null
  /** A full restore's `plain` and `ordinary` flags by id (decode.ts `flags`; dirty.ts inv. D2, D3); null for a lazy one. */
  flags: { plain: Uint8Array<ArrayBuffer>; ordinary: Uint8Array<ArrayBuffer> } | null
}

/**
 * Restores the graph of the store's current version; `lazy`: only indexes the log and
 * makes the root's shell (lazy.ts), unless instances of classes with hooks are current.
 * A lazy restore of a version with a persisted index (log-offsets.ts) reads the index
 * instead of scanning the log; `onDemand` (the writer's own newest version: its chunks
 * stay in the store while the container is open) also reads the rest of the log only as
 * records are decoded (log.ts LazyLog), each chunk verified on its first read.
 */
export function restoreFrom(store: ChunkStore, where: string, classes: ClassRegistry, lazy = false, onDemand = false): Restored {
  const meta = decodeMeta(store.getMeta(), where)
  if (Math.ceil(meta.logEnd / store.chunkSize) > store.chunkCount) {
    throw new CorruptionError(`Cannot restore container "${where}": its log of ${meta.logEnd} bytes exceeds the ${store.chunkCount} chunks stored`)
  }
  const indexed = lazy && meta.indexAt >= 0
  const lazyLog = indexed ? new LazyLog(store, meta.logEnd) : null
  if (lazyLog !== null && !onDemand) lazyLog.loadAll()
  // The writer's own newest version, restored whole now: decoded in place (log.ts inv. 5).
  // Never for a lazy restore: its graph decodes for as long as the container lives, and the
  // points after the open reuse the physical chunks under such a view for other data.
  const inPlace = lazyLog === null && onDemand && !lazy && !store.readOnly ? viewLog(store, meta.logEnd) : null
  const log = lazyLog?.buf ?? inPlace ?? readLog(store, meta.logEnd)
  const table = new ObjectTable()
  table.reset(meta.highWater)
  const r = new Restorer(log, meta.logEnd, meta.highWater, where, classes, noop, table.objects as (object | undefined)[], lazyLog !== null)
  const g = lazy ? LazyGraph.open(r, meta.rootId, lazyLog === null ? null : { log: lazyLog, at: meta.indexAt }) : null
  if (g !== null) {
    return { root: g.root, objects: table.objects, meta, shapes: new Map(), classes: r.tables().classes, segments: new Map(), refs: r.refs, bytesIds: [], chunked: new Map(), views: [], stateful: [], lazy: g, flags: null }
  }
  // An instance of a class with hooks is current (LazyGraph.open gave up part-way, the
  // restorer left where its index scan stopped, over a log read on demand): the whole
  // graph from a restorer of its own, as an open without `lazy` restores it. Before, the
  // same restorer went on and could leave an object unfilled (an AggregateError's
  // `errors` came back as [ <1 empty item> ]: native-identity.test.ts).
  if (lazy) return restoreFrom(store, where, classes, false, onDemand)
  r.keyViews = lazyLog === null && inPlace === null     // the log is this restore's private copy (log.ts inv. 6)
  r.flags = { plain: new Uint8Array(meta.highWater), ordinary: new Uint8Array(meta.highWater) }
  const root = r.run(meta.rootId)
  const t = r.tables()
  return { root, objects: table.objects, meta, shapes: t.shapes, classes: t.classes, segments: r.segments, bases: r.bases, refs: r.refs, bytesIds: r.bytesIds, chunked: r.chunked, views: r.views, stateful: r.stateful, lazy: null, flags: r.flags }
}

/** `check`: the store's current version's index against a scan of its log (log-offsets.ts inv. X3). */
export function checkIndex(store: ChunkStore, where: string): string[] {
  const meta = decodeMeta(store.getMeta(), where)
  return meta.indexAt < 0 ? [] : indexProblems(readLog(store, meta.logEnd), meta.logEnd, meta.highWater, meta.indexAt, where)
}

export function listVersions(store: Pick<ChunkStore, 'versions'>, where: string): VersionInfo[] {
  const out: VersionInfo[] = []
  for (const v of store.versions()) {
    if (v.meta.length === 0) continue
    const m = decodeMeta(v.meta, where)
    out.push({ version: v.version, time: new Date(m.time), objects: m.records, bytes: m.logEnd, written: m.bytesWritten })
  }
  return out
}
