/**
 * Container: orthogonal persistence of everything reachable from a root object (SoftPM's
 * persistent containers; Table 1's pCAlloc, pCRestore, pPoint, pSync, pExclude, pCDelete).
 *
 * A persistence point (`persist`) has two phases:
 *   - the snapshot, synchronous: compares binary data, takes the dirty set marked by the
 *     write barriers (barrier.ts), encodes the records of those objects and of every object
 *     they reach that is new (walk.ts, encode.ts). This is the only time the program blocks.
 *   - the write, asynchronous: appends the records to the log (log.ts) in slices that yield
 *     to the event loop, stores the metadata (meta.ts) and commits the chunk store without
 *     blocking (commitAsync). Points are written one after the other (a point started while
 *     another is writing waits for it); the program keeps mutating meanwhile.
 *   - a large full point whose records the store has no room for (the first point of a
 *     container, typically) is streamed: once 2 MiB of records are encoded, every sealed
 *     buffer goes to the region's flush thread (Region.appendStream), which writes,
 *     checksums and fdatasyncs it past the end of the region while the snapshot goes on;
 *     its write then only has the store adopt those chunks (ShadowStore.adopt) and commit.
 *     A large point that is not streamed has the region reserve (zero-fill) the space it
 *     will need in the flush thread while it encodes (Region.reserveAsync).
 *
 * Invariants (cited as "inv. N"):
 *   1. A version's log holds the records of one snapshot (plus older records it does not
 *      supersede): a restore sees the graph exactly as it was when that `persist()` was
 *      called. A crash before the commit leaves the previous version (log.ts inv. 1).
 *   2. Every id referenced by a committed record has a current record in the same version:
 *      ids are freed only in a snapshot (compaction or full point) for objects that the
 *      persisted references (RefStore) no longer reach, or by `exclude`, which makes the
 *      next point a full rewrite; so a later snapshot never references a freed id (it sees
 *      the object as new).
 *   3. Change detection never misses a mutation made through the container's proxies, to
 *      binary data, or to a Date read through the container; mutations through raw
 *      references need `persist({ full: true })`.
 *   4. After a failed write the container is broken (BrokenError) until reopened; the file
 *      keeps its last committed version. A streamed point's stream counts as its write
 *      (its sealed buffers were handed over); a snapshot that throws gives its stream up.
 *   5. A streamed point's chunks are durable (the stream's fsync) before the store adopts
 *      them, and lie past every chunk the store held when the stream began, so the commit
 *      that names them is ordered after them (ShadowStore inv. 2) and no live chunk is
 *      written (inv. 1); after a crash before that commit they are either past the
 *      region's recorded size (the next writer's open trims them, Region inv. H3) or free
 *      chunks of the store (ShadowStore inv. 8).
 */
import {
  BrokenError, CorruptionError, InvalidArgumentError, NotARegionError, PmemError, ReadOnlyError, Region, RegionClosedError, describe,
  RegionNotFoundError, type RegionLike, type RegionStream,
} from '../../regions/index.js'
import { bufferLength, dateTime, isArrayBuffer } from './builtins.js'
import { ObjectTable } from './identity.js'
import { ShapeTrie } from './shapes.js'
import { AnyClassRegistry, ClassRef, ClassRegistry, type Registrable } from './classes.js'
import { Encoder, joinBatch, type Batch, type EncoderContext } from './encode.js'
import { drain, encodeFromRoot, encodeObjects, isDescriptor, isShared } from './walk.js'
import { SegmentRef } from './segments.js'
import { DateTable } from './dates.js'
import { RefStore } from './refs.js'
import { DirtySet } from './dirty.js'
import { Barrier } from './barrier.js'
import { compactLog, fitLog, readLog, writeLog } from './log.js'
import { encodeMeta, type ContainerMeta } from './meta.js'
import { droppedStep, pathsTo } from './paths.js'
import { fileBacking, regionBacking, type Backing } from './backing.js'
import { listVersions, restoreFrom, type Restored } from './restore.js'
import { checkStable, followNewest } from './follow.js'
import {
  DEFAULT_CHUNK_SIZE, checkAll, checkPath, checkPersistOptions, checkRoot,
  type ContainerOptions, type FallBack, type PersistOptions, type PointStats, type VersionInfo,
} from './options.js'
import type { ChunkStore } from './store.js'
import type { DroppedAt, DroppedEntry } from './dropped.js'

interface Snapshot {
  batch: Batch
  /** 'append' the batch; 'rewrite' the log with it alone; 'compact' old records + batch. */
  mode: 'append' | 'rewrite' | 'compact'
  keep: Uint8Array | null
  rootId: number
  highWater: number
  objects: number
  /** Ids in use (objects, shapes and classes) after the snapshot. */
  live: number
  blockedMs: number
  start: number
  /** The records already on their way to the file (a streamed full point), or null. */
  pipe: Pipe | null
}

/**
 * A full point whose records are written to the file by the region's flush thread while it
 * encodes (an append stream past the store's end, adopted by the store at the write).
 */
interface Pipe {
  readonly stream: RegionStream
  /** The physical chunk where the stream starts (ShadowStore.appendTarget). */
  readonly phys: number
  /** Sealed buffers of object records handed to the stream (the first parts of the batch; detached here). */
  sentParts: number
}

const noop = (): void => {}

/** What {@link Container.check} finds. */
export interface ContainerCheck {
  /** True when nothing is damaged. */
  ok: boolean
  /** Newest retained version whose records all check (0 for a container never persisted, or none intact). */
  version: number
  /** Retained versions whose records were checked, oldest first. */
  versions: number[]
  problems: string[]
}

/** Damage the store found at open: retained versions dropped because their maps fail. */
function damageOf(store: ChunkStore): string[] {
  return (store.droppedVersions ?? []).map(d => `retained version ${d.version} is damaged and was dropped (${d.reason})`)
}

/**
 * A full point is streamed once its sealed records reach this size: smaller ones are
 * written in the usual way (a stream costs a round trip to the flush thread and its fsync).
 */
const PIPE_MIN = 2 << 20

/**
 * While a large point encodes, the file space its write will need is allocated this far
 * ahead of the records encoded so far (by the region's flush thread, which zero-fills
 * about six times faster than the encoder produces records, so a small margin keeps it ahead).
 */
const RESERVE_AHEAD = 4 << 20

/** The bytes a binary record holds: a whole ArrayBuffer, or a Buffer's own view (KIND_BUFFER). */
function bytesOf(b: unknown): Buffer | null {
  if (isArrayBuffer(b)) {
    const n = bufferLength(b as ArrayBuffer)
    return n === 0 ? Buffer.alloc(0) : Buffer.from(b as ArrayBuffer, 0, n)   // (a detached buffer has length 0)
  }
  if (Buffer.isBuffer(b)) return b
  return null
}

/**
 * A persistent container: `root` and everything reachable from it persist at each `persist()`.
 *
 * @example
 * const c = Container.open('state.pmc', { init: () => ({ users: new Map(), log: [] }) })
 * c.root.users.set('ada', { name: 'Ada', friends: [] })
 * await c.persist()      // version, objects, bytes, blockedMs
 * await c.close()
 */
export class Container<T extends object = Record<string, any>> {
  readonly path: string
  /** Set when the newest version could not be restored and an older one was used. */
  readonly fellBack: FallBack | null = null
  readonly #backing: Backing
  #store: ChunkStore | null
  /** Opened `{ readOnly: true }`: follows the writer's newest version (follow.ts), refuses mutations. */
  readonly #readOnly: boolean
  readonly #keepVersions: number
  readonly #chunkSize: number
  readonly #compactFactor: number
  /** A full point streams its records once this many are encoded (PIPE_MIN, or the streamThreshold option). */
  readonly #streamThreshold: number
  readonly #table = new ObjectTable()
  #shapes = new ShapeTrie()
  readonly #classes: ClassRegistry
  #classRefs = new Map<object, ClassRef>()
  readonly #excluded = new WeakSet<object>()
  #anyExcluded = false
  #refs = new RefStore()
  readonly #dirty = new DirtySet()
  readonly #barrier: Barrier
  readonly #binaries = new Map<number, Uint8Array>()
  /** Date id -> time value persisted (Dates are handed out raw and compared at each point). */
  readonly #dates = new DateTable()
  /** ArrayBuffer id -> its views, re-encoded when the buffer's length changes (detached, resized). */
  readonly #viewsOf = new Map<number, Set<number>>()
  readonly #dropped = new Map<number, DroppedAt[]>()
  readonly #segments = new Map<number, Map<string, number>>()
  #droppedCache: DroppedEntry[] | null = null
  #rootObj: T
  #rootId = 0
  #version = 0
  #logEnd = 0
  #compactedSize = 0
  #queuedBytes = 0
  #compactQueued = false
  #needFull = true
  #queue: Promise<unknown> = Promise.resolve()
  #pending = 0
  #broken: Error | null = null
  #closed = false
  #lastStats: PointStats | null = null
  /** Dates handed out while ids were being stamped, with their time value then: [date, time, ...]. */
  #pendingDates: (Date | number)[] = []
  /** Ids below this are stamped on their objects; restore stamps the rest in the background. */
  #stamped = Infinity
  /** During a snapshot: may its records be streamed (a full point, no write under way)? */
  #pipeAllowed = false
  /** During a snapshot: the stream its records go to, once opened. */
  #pipe: Pipe | null = null
  /** During a snapshot: the sealed record buffers so far (sent to the stream when it opens). */
  #sealedSoFar: Buffer[] = []

  private constructor(backing: Backing, options: ContainerOptions<T>, classes: ClassRegistry) {
    this.path = backing.path
    this.#backing = backing
    this.#store = backing.store
    this.#keepVersions = options.keepVersions ?? 3
    this.#chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
    this.#compactFactor = options.compactFactor ?? 2
    this.#streamThreshold = options.streamThreshold ?? PIPE_MIN
    this.#classes = classes
    this.#barrier = new Barrier(this.#table, this.#dirty, this.#classes, this.#excluded, d => this.#exposeDate(d))
    this.#rootObj = undefined as unknown as T
    this.#readOnly = options.readOnly === true
    if (this.#readOnly) this.#barrier.closed = () => new ReadOnlyError(`Cannot change an object of container "${this.path}": it is open read-only (its proxies refuse writes); open it without { readOnly: true } to write`)
  }

  /**
   * Opens the container at `path`: restores the root with its whole graph when the file
   * exists (pCRestore), or creates it with `init()` (pCAlloc). The first `persist()` of a
   * new container writes it to the file.
   */
  static open<T extends object = Record<string, any>>(path: string, options: ContainerOptions<T> = {}): Container<T> {
    checkPath(path, 'open')
    const classes = checkAll(options)
    const readOnly = options.readOnly === true
    return Container.#openOn(() => fileBacking(path, options.init !== undefined && options.version === undefined && !readOnly, readOnly), options, classes)
  }

  /** Like {@link open}, on a region that is already open (for example a SimRegion in tests). */
  static openRegion<T extends object = Record<string, any>>(region: RegionLike, options: ContainerOptions<T> = {}): Container<T> {
    if (region === null || typeof region !== 'object' || typeof (region as RegionLike).unsafeBytes !== 'function' || typeof (region as RegionLike).grow !== 'function') {
      throw new InvalidArgumentError(`Cannot open container: expected an open region (Region or SimRegion), got ${describe(region)}`)
    }
    if (region.closed) throw new RegionClosedError(`Cannot open container on region "${region.path}": the region is closed`)
    const classes = checkAll(options)
    if (options.readOnly === true && !region.readOnly) throw new InvalidArgumentError(`Cannot open container on region "${region.path}" read-only: the region is writable (open the region with { readOnly: true })`)
    return Container.#openOn(() => regionBacking(region, false), options, classes)
  }

  /** Opens the backing, then the container; any failure leaves nothing open or created (backing.ts inv. B2). */
  static #openOn<T extends object>(open: () => Backing, options: ContainerOptions<T>, classes: ClassRegistry): Container<T> {
    const backing = open()
    try {
      const c = new Container<T>(backing, options, classes)
      c.#load(options)
      return c
    } catch (e) {
      backing.discard()
      throw e
    }
  }

  /** The retained versions of the container at `path`, oldest first, with times and sizes. */
  static versions(path: string): VersionInfo[] {
    checkPath(path, 'list the versions of')
    const backing = fileBacking(path, false, true)
    try {
      if (backing.store === null) return []
      return listVersions(backing.store, path)
    } finally { backing.close() }
  }

  /** Deletes the container file at `path` (pCDelete). It must not be open. */
  static delete(path: string): void {
    checkPath(path, 'delete')
    const backing = fileBacking(path, false, true)
    const isContainer = backing.store !== null || backing.blank
    backing.close()
    if (!isContainer) throw new NotARegionError(`Cannot delete container "${path}": the file is not a container; nothing was deleted`)
    Region.delete(path)
  }

  /** The root object, as a write-barrier proxy (mutations through it are tracked). */
  get root(): T {
    this.#ready('read the root of')
    return this.#barrier.wrap(this.#rootObj) as T
  }

  /** Replaces the root; the next point persists the new graph. */
  set root(v: T) {
    this.#ready('set the root of')
    if (this.#readOnly) throw new ReadOnlyError(`Cannot set the root of container "${this.path}": it is open read-only`)
    const raw = this.#barrier.unwrap(v)
    if (typeof raw !== 'object' || raw === null) throw new InvalidArgumentError(`Cannot set the root of container "${this.path}": the root must be an object, got ${String(v)}`)
    this.#rootObj = raw
  }

  /** The raw object behind a proxy of this container (mutations to it are NOT tracked). */
  unwrap<V>(v: V): V { return this.#barrier.unwrap(v) }

  /** Version of the last committed point (0 before the first). */
  get version(): number { return this.#version }

  /** Stats of the last completed point, or null. */
  get lastPoint(): PointStats | null { return this.#lastStats }

  /** Points started and not yet durable. */
  get pending(): number { return this.#pending }

  /** Registers a class whose instances persist (under `name`, default `cls.name`). */
  register(cls: Registrable, name?: string): this {
    this.#ready('register a class with')
    this.#classes.add(cls, name)
    return this
  }

  /**
   * Never follow `obj` (pExclude): it is not persisted, and references to it come back as
   * null. Excluding an object that is already persisted makes the next point a full one.
   */
  exclude(obj: object): void {
    this.#ready('exclude an object from')
    this.#stampAll()
    const raw = this.#barrier.unwrap(obj)
    if (typeof raw !== 'object' || raw === null) throw new InvalidArgumentError(`Cannot exclude from container "${this.path}": expected an object, got ${String(obj)}`)
    if (raw === this.#rootObj) throw new InvalidArgumentError(`Cannot exclude the root of container "${this.path}"`)
    this.#excluded.add(raw)
    this.#anyExcluded = true
    this.#barrier.anyExcluded = true
    const id = this.#table.idOf(raw)
    if (id !== 0) { this.#forget(id); this.#needFull = true }
  }

  /** What the container's persisted state lacks: values that could not persist, with their paths. */
  get dropped(): DroppedEntry[] {
    if (this.#droppedCache !== null) return this.#droppedCache
    const holders = new Set<number>()
    for (const [id, list] of this.#dropped) if (list.length > 0) holders.add(id)
    const paths = holders.size === 0 ? new Map<number, string>() : pathsTo(this.#refs, this.#table.objects, this.#rootId, holders)
    const out: DroppedEntry[] = []
    for (const [id, list] of this.#dropped) {
      const base = paths.get(id)
      if (base === undefined) continue
      for (const d of list) out.push({ path: base + droppedStep(d), reason: d.reason })
    }
    this.#droppedCache = out
    return out
  }

  /**
   * Takes a persistence point (pPoint): snapshots what changed now and writes it in the
   * background. Resolves when the point is durable, with its stats.
   */
  persist(options?: PersistOptions): Promise<PointStats> {
    this.#ready('persist')
    options = checkPersistOptions(options, this.path)
    if (this.#readOnly || this.#store?.readOnly === true) throw new ReadOnlyError(`Cannot persist container "${this.path}": it is open read-only`)
    this.#backing.prepareFlush()    // the flush thread starts (100-170 ms) while the snapshot computes
    const full = options.full === true || this.#needFull
    this.#pipeAllowed = full && this.#pending === 0
    const snap = this.#snapshot(full)
    this.#pending++
    if (snap.pipe === null) void this.#backing.reserve(snap.batch.length)
    this.#queuedBytes += snap.batch.length
    const p = this.#queue.then(() => this.#write(snap))
    this.#queue = p.then(noop, noop)
    p.then(() => { this.#pending-- }, () => { this.#pending-- })
    return p
  }

  /**
   * Read-only containers: moves to the newest version the writer committed (a full restore,
   * follow.ts) and resolves with it; `root` is then that version's graph (objects reached
   * through the old root keep the old version's values). A writable container is its own
   * newest version: it resolves with `version`. Rejects with SnapshotConflictError if the
   * writer keeps replacing versions faster than one can be restored (see follow.ts), and
   * with the damage found (CorruptionError) if the newest version is damaged.
   * @example
   * const c = Container.open('state.pmc', { readOnly: true })
   * setInterval(async () => { await c.refresh(); render(c.root) }, 1000)
   */
  refresh(): Promise<number> {
    this.#ready('refresh')
    if (!this.#readOnly) return Promise.resolve(this.#version)
    try { return Promise.resolve(this.#refreshNow()) } catch (e) { return Promise.reject(e) }
  }

  #refreshNow(): number {
    const got = followNewest(this.#backing, this.path, this.#classes)
    if (got.store === null || got.restored === null) return this.#version
    this.#store = got.store
    this.#binaries.clear()
    this.#viewsOf.clear()
    this.#segments.clear()
    this.#dropped.clear()
    this.#droppedCache = null
    this.#classRefs = new Map()
    this.#shapes = new ShapeTrie()
    this.#adopt(got.restored)
    this.#version = got.store.version
    ;(this as { fellBack: FallBack | null }).fellBack = null
    return this.#version
  }

  /** Waits until every point started so far is durable (pSync). Rejects if one failed. */
  async sync(): Promise<void> {
    await this.#queue
    if (this.#broken !== null) throw this.#brokenError('sync')
  }

  /** Waits for outstanding points, then closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#barrier.closed = () => new RegionClosedError(`Cannot change an object of container "${this.path}": the container is closed (its proxies refuse writes); reopen it`)
    await this.#queue
    this.#backing.close()
  }

  /**
   * Validates the chunk store and the log of the newest version (debug validator). A
   * fall-back at open (the newest version was damaged, `fellBack`) and retained versions
   * dropped as damaged are problems too: `ok` is true only for an undamaged file.
   */
  check(): { ok: boolean; problems: string[] } {
    this.#ready('check')
    const problems: string[] = []
    if (this.fellBack !== null) problems.push(`version ${this.fellBack.from} is damaged (${this.fellBack.reason}); version ${this.fellBack.to} was restored instead`)
    if (this.#store === null) return { ok: problems.length === 0, problems }
    problems.push(...damageOf(this.#store), ...this.#store.check().problems)
    try {
      if (this.#store.getMeta().length > 0 && this.fellBack === null) restoreFrom(this.#store, this.path, this.#classes)
    } catch (e) { problems.push((e as Error).message) }
    return { ok: problems.length === 0, problems }
  }

  /**
   * Validates the container file at `path` without changing it (a read-only open: no
   * writer lock, so it works while another process writes the file, and on a read-only
   * file): the chunk store, and every record of every retained version, decoded without
   * the program's classes (instances of any class are accepted). Any damage, a newest
   * version that fails its checksum included, makes `ok` false. Throws for a file that is
   * not a container (NotAPoolError, NotARegionError) or cannot be read.
   */
  static check(path: string): ContainerCheck {
    checkPath(path, 'check')
    const backing = fileBacking(path, false, true)
    try {
      return checkStable(backing, () => Container.#checkStore(backing, path)) // beside a live writer: follow.ts
    } finally { backing.close() }
  }

  /** One check of the store as it is now (Container.check). */
  static #checkStore(backing: Backing, path: string): ContainerCheck {
    {
      const store = backing.reopen()
      if (store === null) return { ok: true, version: 0, versions: [], problems: [] }
      const problems = [...damageOf(store), ...store.check().problems]
      if (store.fellBack !== null) problems.unshift(`version ${store.fellBack.from} is damaged (${store.fellBack.reason}); the newest intact version is ${store.version}`)
      const versions: number[] = []
      let intact = 0
      for (const v of store.versions()) {
        if (v.meta.length === 0) continue
        versions.push(v.version)
        try {
          const view = v.version === store.version ? store : backing.openVersion(v.version)
          restoreFrom(view, path, new AnyClassRegistry())
          intact = v.version
        } catch (e) {
          if (!(e instanceof PmemError)) throw e
          problems.push(`version ${v.version}: ${e.message}`)
        }
      }
      return { ok: problems.length === 0, version: intact, versions, problems }
    }
  }

  // ---- open ----

  #load(options: ContainerOptions<T>): void {
    let followed: Restored | null = null
    if (this.#readOnly && options.version === undefined) {
      try { followed = followNewest(this.#backing, this.path, this.#classes).restored } catch (e) {
        if (!(e instanceof CorruptionError)) throw e
        this.#store = this.#backing.store
        this.#fallBack(this.#store!, e) // damage, not the writer's work (follow 2)
        return
      } finally { this.#store = this.#backing.store }
    }
    const store = this.#store
    if (store === null || store.getMeta().length === 0) {
      if (options.version !== undefined) throw new InvalidArgumentError(`Cannot open container "${this.path}" at version ${options.version}: it has no persisted version`)
      if (options.init === undefined) throw new RegionNotFoundError(`Cannot open container "${this.path}": it has no persisted version and no init was given; pass { init: () => root }`)
      this.#rootObj = checkRoot(options.init(), this.path)
      return
    }
    const target = options.version
    if (target !== undefined && target !== store.version) {
      this.#restoreVersion(target)
      this.#needFull = true
      return
    }
    try {
      this.#adopt(followed ?? restoreFrom(store, this.path, this.#classes))
      this.#version = store.version
      this.#needFull = false
      if (store.fellBack !== null) this.#reportFallBack(store.fellBack.from, store.version, store.fellBack.reason)
    } catch (e) {
      if (!(e instanceof CorruptionError)) throw e
      this.#fallBack(store, e)
    }
  }

  #restoreVersion(v: number): void {
    const view = this.#backing.openVersion(v)
    this.#adopt(restoreFrom(view, this.path, this.#classes))
    this.#version = this.#store!.version
  }

  /** The newest version is damaged: restore the newest older one that is intact. */
  #fallBack(store: ChunkStore, cause: CorruptionError): void {
    const older = store.versions().map(v => v.version).filter(v => v < store.version && v > 0).sort((a, b) => b - a)
    for (const v of older) {
      try {
        this.#restoreVersion(v)
        this.#needFull = true
        this.#reportFallBack(store.version, v, cause.message)
        return
      } catch (e) {
        if (!(e instanceof CorruptionError)) throw e
      }
    }
    throw cause
  }

  #reportFallBack(from: number, to: number, reason: string): void {
    ;(this as { fellBack: FallBack | null }).fellBack = { from, to, reason }
    process.emitWarning(`Container "${this.path}": version ${from} is damaged (${reason}); restored version ${to}`, { type: 'PersistentMemoryWarning', code: 'PMEM_CONTAINER_FELL_BACK' })
  }

  #adopt(r: Restored): void {
    this.#table.objects = r.objects
    for (const [id, keys] of r.shapes) {
      const node = this.#shapes.lookup([...keys])
      node.id = id
      this.#table.bindDescriptor(node, id)
    }
    for (const [owner, list] of r.segments) {
      const byKey = new Map<string, number>()
      for (const [sid, key] of list) {
        this.#table.bindDescriptor(new SegmentRef(owner, key), sid)
        byKey.set(key, sid)
      }
      this.#segments.set(owner, byKey)
    }
    for (const [id, c] of r.classes) {
      const ref = new ClassRef(c.name, c.proto)
      ref.id = id
      this.#classRefs.set(c.proto, ref)
      this.#table.bindDescriptor(ref, id)
    }
    this.#table.setHighWater(r.meta.highWater)
    this.#refs = r.refs
    for (const id of r.bytesIds) this.#binaries.set(id, Uint8Array.from(bytesOf(r.objects[id])!))
    for (let i = 0; i < r.views.length; i += 2) {
      const set = this.#viewsOf.get(r.views[i])
      if (set === undefined) this.#viewsOf.set(r.views[i], new Set([r.views[i + 1]]))
      else set.add(r.views[i + 1])
    }
    this.#rootObj = r.root as T
    this.#barrier.deferred = []
    this.#startStamping()
    this.#rootId = r.meta.rootId
    this.#logEnd = r.meta.logEnd
    this.#compactedSize = r.meta.compactedSize
  }

  /**
   * Stamps restored objects with their ids, 64k per turn of the event loop, so that a
   * restore returns as soon as the graph is built. Anything that needs ids first calls
   * `#stampAll`; marks made meanwhile wait in `barrier.deferred`.
   */
  #startStamping(): void {
    this.#stamped = 1
    setImmediate(() => this.#stampSome())
  }

  #stampSome(): void {
    if (this.#stamped === Infinity || this.#closed) return
    this.#stampUpTo(this.#stamped + 65536)
    if (this.#stamped !== Infinity) setImmediate(() => this.#stampSome())
  }

  /** Finishes stamping now (something needs ids). */
  #stampAll(): void { if (this.#stamped !== Infinity) this.#stampUpTo(Infinity) }

  #stampUpTo(limit: number): void {
    const objects = this.#table.objects
    const end = Math.min(limit, objects.length)
    for (let id = this.#stamped; id < end; id++) {
      const o = objects[id]
      if (o !== undefined && !isDescriptor(o)) this.#table.stamp(o as object, id)
    }
    if (end < objects.length) { this.#stamped = end; return }
    this.#stamped = Infinity
    const deferred = this.#barrier.deferred ?? []
    this.#barrier.deferred = null
    for (const t of deferred) this.#barrier.mark(t)
    const dates = this.#pendingDates
    this.#pendingDates = []
    for (let i = 0; i < dates.length; i += 2) {
      const id = this.#table.idOf(dates[i] as Date)
      if (id !== 0) this.#dates.add(id, dates[i + 1] as number)
    }
  }

  // ---- snapshot (synchronous) ----

  #context(): EncoderContext {
    return {
      table: this.#table, shapes: this.#shapes, classes: this.#classes, excluded: this.#excluded,
      anyExcluded: this.#anyExcluded, anyProxies: this.#barrier.created, refs: this.#refs, dropped: this.#dropped, segments: this.#segments, dates: this.#dates, viewsOf: this.#viewsOf,
      onOutput: (sealed, bytes) => this.#sealed(sealed, bytes),
    }
  }

  #snapshot(full: boolean): Snapshot {
    const start = performance.now()
    this.#stampAll()
    this.#droppedCache = null
    let snap: Snapshot
    try {
      snap = full ? this.#snapshotFull() : this.#snapshotChanges()
      snap.pipe = this.#finishPipe(snap.batch)
    } catch (e) {
      // A getter threw, or a buffer was detached mid-walk: ids may have been given to
      // objects whose records were not written. Only a full point is safe next.
      this.#needFull = true
      const pipe = this.#pipe
      this.#pipe = null
      if (pipe !== null) pipe.stream.discard()
      throw e
    } finally {
      this.#pipeAllowed = false
      this.#sealedSoFar = []
    }
    snap.start = start
    snap.live = this.#table.highWater - 1 - this.#table.free.length
    snap.blockedMs = performance.now() - start
    return snap
  }

  /**
   * The encoder sealed a buffer of records. A large full point opens an append stream and
   * sends its records to the file as they come (the flush thread writes and checksums them
   * while this thread encodes); another large point reserves the file space it will need.
   */
  #sealed(sealed: Buffer, bytes: number): void {
    // A sealed buffer is a whole allocation of at least 64 KiB (writer.ts), never a pooled
    // Buffer, and is not written again: it is handed over, not copied.
    if (this.#pipe !== null) { this.#pipe.stream.write(sealed, true); this.#pipe.sentParts++; return }
    if (this.#pipeAllowed) {
      this.#sealedSoFar.push(sealed)
      if (bytes >= this.#streamThreshold) {
        this.#pipeAllowed = false
        this.#pipe = this.#openPipe(bytes)
        if (this.#pipe !== null) {
          for (const b of this.#sealedSoFar) this.#pipe.stream.write(b, true)
          this.#pipe.sentParts = this.#sealedSoFar.length
          return
        }
      } else return
    }
    if (bytes >= RESERVE_AHEAD) void this.#backing.reserve(bytes + RESERVE_AHEAD)
  }

  /**
   * Opens the stream of a large full point, if the store has no room even for what is
   * already encoded (`sealed` bytes): a stream always lands past the region's end, so with
   * free chunks to reuse (the chunks of versions that left the retention window, after
   * earlier full points) the records are written into them the usual way, and the file
   * does not grow by a whole log at every full point.
   */
  #openPipe(sealed: number): Pipe | null {
    if (this.#broken !== null) return null
    this.#store ??= this.#backing.create(this.#chunkSize, this.#keepVersions)
    if (this.#store.stats().freeChunks * this.#store.chunkSize >= sealed) return null
    const target = this.#store.appendTarget()
    if (target === null) return null
    const stream = this.#backing.appendStream(target.offset, this.#store.chunkSize)
    return stream === null ? null : { stream, phys: target.phys, sentParts: 0 }
  }

  /** The snapshot is complete: sends the records not streamed yet (object records first, then the SHAPE, CLASS and SEGMENT records). */
  #finishPipe(batch: Batch): Pipe | null {
    const pipe = this.#pipe
    this.#pipe = null
    if (pipe === null) return null
    for (let i = pipe.sentParts; i < batch.parts.length; i++) pipe.stream.write(batch.parts[i])   // (copied: small, maybe pooled)
    if (pipe.stream.written !== batch.length) {
      pipe.stream.discard()
      throw new Error(`container bug: ${pipe.stream.written} bytes streamed for a point of ${batch.length}`)
    }
    return pipe
  }

  /** Marks Dates whose time value differs from the persisted one. */
  #compareDates(): void {
    // The table holds only ids whose object is that Date (#forget removes freed ids; an id
    // is reused only after it was freed), so no type check is needed.
    this.#dates.compare(this.#table.objects, id => this.#dirty.mark(id))
  }

  /** Marks ArrayBuffers whose bytes differ from their last persisted copy. */
  #compareBinaries(): void {
    for (const [id, copy] of this.#binaries) {
      const b = this.#table.objects[id]
      if (b === undefined) { this.#binaries.delete(id); continue }
      const now = bytesOf(b)
      if (now === null) { this.#binaries.delete(id); continue }
      if (now.length !== copy.length) {
        this.#dirty.mark(id)
        for (const v of this.#viewsOf.get(id) ?? []) this.#dirty.mark(v)
      } else if (Buffer.compare(now, copy) !== 0) this.#dirty.mark(id)
    }
  }

  #snapshotChanges(): Snapshot {
    this.#compareBinaries()
    this.#compareDates()
    const ids = this.#dirty.take()
    const enc = new Encoder(this.#context(), this.#classRefs)
    let rootId = this.#table.idOf(this.#rootObj)
    encodeObjects(enc, this.#table, ids)
    if (rootId === 0) {
      rootId = enc.discover(this.#rootObj, 'root', 'prop')
      drain(enc, this.#table)
    }
    this.#rootId = rootId
    this.#adoptTracked(enc)
    const batch = enc.output()
    const projected = this.#logEnd + this.#queuedBytes + batch.length
    let keep: Uint8Array | null = null
    if (!this.#compactQueued && projected > Math.max(this.#chunkSize * 4, this.#compactFactor * this.#compactedSize)) {
      keep = this.#collect()
      this.#compactQueued = true
    }
    return { batch, mode: keep ? 'compact' : 'append', keep, rootId, highWater: this.#table.highWater, objects: enc.records, live: 0, blockedMs: 0, start: 0, pipe: null }
  }

  /** Frees the ids the persisted references no longer reach from the root (inv. 2). */
  #collect(): Uint8Array {
    const high = this.#table.highWater
    const keep = this.#refs.mark(this.#rootId, high)
    const objects = this.#table.objects
    for (let id = 1; id < high; id++) {
      if (keep[id] === 1) continue
      const o = objects[id]
      if (o === undefined) continue
      if (isShared(o)) { keep[id] = 1; continue }
      this.#forget(id)
    }
    return keep
  }

  /** Takes over the binary copies the encoder made (Dates it updated in #dates itself). */
  #adoptTracked(enc: Encoder): void {
    for (const [id, copy] of enc.binaries) this.#binaries.set(id, copy)
  }

  /** A Date was handed out: compare it at every point from now on (its value now is the persisted one, or it was changed through a raw reference). */
  #exposeDate(d: Date): void {
    if (this.#stamped !== Infinity) { this.#pendingDates.push(d, dateTime(d)); return }
    const id = this.#table.idOf(d)
    if (id !== 0) this.#dates.add(id, dateTime(d))
  }

  #forget(id: number): void {
    this.#segments.delete(id)
    this.#viewsOf.delete(id)
    this.#dates.delete(id)
    this.#table.release(id)
    this.#refs.clear(id)
    this.#dropped.delete(id)
    this.#binaries.delete(id)
  }

  /** A full point's records, in the order its stream (if any) received them. */
  #output(enc: Encoder): Batch { return this.#pipe !== null ? enc.outputObjectsFirst() : enc.output() }

  /** The first point of a new container: everything is new, so discovery alone walks it. */
  #snapshotFirst(): Snapshot {
    const enc = new Encoder(this.#context(), this.#classRefs)
    const rootId = encodeFromRoot(enc, this.#table, this.#rootObj)
    this.#adoptTracked(enc)
    this.#rootId = rootId
    this.#needFull = false
    const high = this.#table.highWater
    return { batch: this.#output(enc), mode: 'rewrite', keep: null, rootId, highWater: high, objects: enc.records, live: 0, blockedMs: 0, start: 0, pipe: null }
  }

  /** Encodes everything reachable from the root; ids no longer reachable are freed. */
  #snapshotFull(): Snapshot {
    if (this.#table.highWater === 1) return this.#snapshotFirst()
    this.#dirty.take()
    const table = this.#table
    for (let id = 1; id < table.highWater; id++) if (isDescriptor(table.objects[id])) table.release(id)
    this.#shapes = new ShapeTrie()
    this.#classRefs = new Map()
    this.#refs = new RefStore()
    this.#dropped.clear()
    this.#segments.clear()
    this.#viewsOf.clear()
    const enc = new Encoder(this.#context(), this.#classRefs)
    const rootId = table.idOf(this.#rootObj) || enc.discover(this.#rootObj, 'root', 'prop')
    let seen = new Uint8Array(Math.max(1024, table.highWater * 2))
    const stack = [rootId]
    seen[rootId] = 1
    while (stack.length > 0) {
      const id = stack.pop()!
      const o = table.objects[id]
      if (!(o instanceof SegmentRef)) {    // a segment was written with its collection: follow its entries
        enc.record(id, o as object, 0, 0)
        enc.pending.clear()
      }
      const refs = this.#refs
      for (let i = refs.start[id], e = i + refs.count[id]; i < e; i++) {
        const r = refs.pool[i]
        if (r >= seen.length) { const s = new Uint8Array(Math.max(r + 1, seen.length * 2)); s.set(seen); seen = s }
        if (seen[r] === 0) { seen[r] = 1; stack.push(r) }
      }
    }
    const high = table.highWater
    const keep = new Uint8Array(high)
    for (let id = 1; id < high; id++) {
      const o = table.objects[id]
      if (o === undefined) continue
      if (seen[id] === 1 || isShared(o)) keep[id] = 1
      else this.#forget(id)
    }
    this.#binaries.clear()
    this.#adoptTracked(enc)
    this.#rootId = rootId
    this.#needFull = false
    return { batch: this.#output(enc), mode: 'rewrite', keep, rootId, highWater: high, objects: enc.records, live: 0, blockedMs: 0, start: 0, pipe: null }
  }

  // ---- write (asynchronous) ----

  async #write(s: Snapshot): Promise<PointStats> {
    if (this.#broken !== null) throw this.#brokenError('persist')
    try {
      const store = this.#store ?? this.#backing.create(this.#chunkSize, this.#keepVersions)
      this.#store = store
      let at = this.#logEnd
      let data = s.batch.parts
      let length = s.batch.length
      if (s.mode === 'rewrite') at = 0
      else if (s.mode === 'compact') {
        const compacted = compactLog(readLog(store, this.#logEnd), joinBatch(s.batch), s.keep!)
        data = [compacted]
        length = compacted.length
        at = 0
      }
      if (!(await this.#adoptStreamed(store, s.pipe, length))) {
        await this.#backing.reserve(length)
        this.#backing.expectWrite(length)
        try { await writeLog(store, at, data, true) } finally { this.#backing.expectWrite(0) }
      }
      const end = at + length
      fitLog(store, end)
      const compacted = s.mode === 'compact'
      const compactedSize = s.mode === 'append' ? this.#compactedSize : end
      const meta: ContainerMeta = {
        logEnd: end, rootId: s.rootId, highWater: s.highWater, objectsWritten: s.objects, records: s.live,
        bytesWritten: length, compactedSize, time: Date.now(), blockedMs: s.blockedMs,
      }
      store.setMeta(encodeMeta(meta))
      const version = await store.commitAsync()
      const stored = store.versions().find(v => v.version === version)?.bytes ?? 0
      this.#logEnd = end
      this.#compactedSize = compactedSize
      this.#queuedBytes -= s.batch.length
      if (s.mode === 'compact') this.#compactQueued = false
      this.#version = version
      const stats: PointStats = {
        version, objects: s.objects, bytes: length, stored, blockedMs: s.blockedMs, totalMs: performance.now() - s.start,
        full: s.mode === 'rewrite', compacted,
      }
      this.#lastStats = stats
      return stats
    } catch (e) {
      this.#broken = e as Error
      throw e instanceof PmemError ? e : new BrokenError(`Cannot persist container "${this.path}": ${(e as Error).message}; the file keeps its last committed version, reopen the container`, { cause: e })
    }
  }

  /**
   * A streamed point: waits for its stream to be durable, then has the store adopt the
   * chunks it wrote (the whole log, from logical chunk 0). False for a point that was not
   * streamed. A failed stream fails the point (the container turns broken, inv. 4).
   */
  async #adoptStreamed(store: ChunkStore, pipe: Pipe | null, length: number): Promise<boolean> {
    if (pipe === null) return false
    const crcs = await pipe.stream.end()
    // The sealed buffers were handed over: without the stream there is nothing to write.
    if (crcs === null) throw new Error('the flush thread could not write the records (a full disk or an I/O error)')
    if (crcs.length !== Math.ceil(length / store.chunkSize)) {
      pipe.stream.discard()
      throw new Error(`container bug: the stream holds ${crcs.length} chunks for ${length} bytes`)
    }
    store.adopt(0, pipe.phys, crcs)
    return true
  }

  #ready(action: string): void {
    if (this.#closed) throw new RegionClosedError(`Cannot ${action} container "${this.path}": it is closed`)
    if (this.#broken !== null) throw this.#brokenError(action)
  }

  #brokenError(action: string): BrokenError {
    return new BrokenError(`Cannot ${action} container "${this.path}": an earlier point failed (${this.#broken!.message}); reopen the container`, { cause: this.#broken })
  }
}
