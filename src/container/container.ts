/**
 * Container: orthogonal persistence of everything reachable from a root object (SoftPM's
 * persistent containers; Table 1's pCAlloc, pCRestore, pPoint, pSync, pExclude, pCDelete).
 * This file is the public API: the entry points (open, openRegion, openStore, versions, delete,
 * check), argument checks, and each method's work. The lifecycle is kept in lifecycle.ts; the
 * work is done by:
 *
 * | file | job | invariants |
 * | --- | --- | --- |
 * | open.ts | create the root or restore a version, fall-back | O1-O3 |
 * | tables.ts | what the container knows of its graph between points | T1, T2 |
 * | snapshot.ts | a point's snapshot (synchronous): dirty set, comparisons, encoder -> batch | 1-3 |
 * | stream.ts | a snapshot's sealed buffers: streamed to the file, or reserved for | P1, P2 |
 * | write.ts | a point's write (asynchronous): log append, compaction, adoption, commit | 4, 4a, 4b, 4c, 5 |
 * | carry.ts | the records of the incremental points lost since the last commit, written before the next point's | 4c |
 * | check.ts | validation of an open container or a file | |
 * | follow.ts | a read-only container beside a live writer: the store's open, the newest version, a stable check | follow 1-6 |
 * | refresh.ts | a read-only container's refresh: to the newest version, from a file or a hosted store | |
 * | lifecycle.ts | the lifecycle: states, transitions, what each state allows; the points queued, lost, synced, and closing | 4a (its part) |
 *
 * Lifecycle (opening, idle, snapshot, writing, broken, closing, closed, and a read-only
 * container's refreshed transition): the state table, and what each method allows in each
 * state, are at the top of lifecycle.ts, with the transitions; each method here calls its
 * guards first (`usable`, `outsideSnapshot`) and names the transitions it makes. Invariants
 * 1-3 are kept in snapshot.ts, 4, 4a and 5 in write.ts (the numbers of "inv. N" of the
 * container, as cited in code and tests).
 */
import { InvalidArgumentError, NotARegionError, ReadOnlyError, Region, RegionClosedError, describe, type RegionLike } from '../../regions/index.js'
import { CREATE, REVIVE, SAVE, type ClassRegistry, type Registrable } from './classes.js'
import { copyGraph } from './copy.js'
import { fileBacking, regionBacking, type Backing } from './backing.js'
import { listVersions } from './restore.js'
import { checkAll, checkPath, checkPersistOptions, DEFAULT_CHUNK_SIZE, type ContainerOptions, type FallBack, type PersistOptions, type PointStats, type VersionInfo } from './options.js'
import type { DroppedEntry } from './dropped.js'
import { ContainerTables } from './tables.js'
import { takeSnapshot, type Snapshot } from './snapshot.js'
import { ChangedWhileEncodedError } from './errors.js'
import { PIPE_MIN, SealedOutput } from './stream.js'
import { PointWriter } from './write.js'
import { load, type OpenTarget } from './open.js'
import { checkFile, checkOpen, type ContainerCheck } from './check.js'
import { refreshNewest } from './refresh.js'
import { checkOpenStore, hostedBacking, openHosted } from './hosted.js'
import type { ChunkStoreHost } from './store.js'
import { Lifecycle } from './lifecycle.js'

export type { ContainerCheck } from './check.js'
export type { ContainerState } from './lifecycle.js'

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
  /** Key of a class's static method returning an instance's private state: `static [Container.save](instance) { return state }` (classes.ts). */
  static readonly save: typeof SAVE = SAVE
  /** Key of a class's static method putting restored state back: `static [Container.revive](instance, state) { ... }`. */
  static readonly revive: typeof REVIVE = REVIVE
  /** Key of a class's optional static method making a blank instance for a restore (default `new Class()`). */
  static readonly create: typeof CREATE = CREATE

  readonly path: string
  /** Set when the newest version could not be restored and an older one was used. */
  readonly fellBack: FallBack | null = null
  readonly #backing: Backing
  readonly #writer: PointWriter
  /** The lifecycle (lifecycle.ts): the state, the points queued, and the tables (replaced when a read-only container refreshes). */
  readonly #life: Lifecycle
  /** Opened `{ readOnly: true }`: follows the writer's newest version (follow.ts), refuses mutations. */
  readonly #readOnly: boolean
  /** What points watch and which own properties they look at (options `track`, `properties`). */
  readonly #track: 'all' | 'barriers'
  readonly #properties: 'all' | 'attributes' | 'enumerable'
  /** A full point streams its records once this many are encoded (PIPE_MIN, or the streamThreshold option). */
  readonly #streamThreshold: number
  /** Restore lazily (lazy.ts), at open and at each refresh. */
  readonly #lazy: boolean

  private constructor(backing: Backing, options: ContainerOptions<T>, classes: ClassRegistry) {
    this.path = backing.path
    this.#backing = backing
    this.#readOnly = options.readOnly === true
    this.#track = options.track ?? 'all'
    this.#properties = options.properties ?? 'all'
    this.#writer = new PointWriter(backing, options.chunkSize ?? DEFAULT_CHUNK_SIZE, options.keepVersions ?? 3, options.compactFactor ?? 2)
    this.#streamThreshold = options.streamThreshold ?? PIPE_MIN
    this.#lazy = options.lazy === true
    this.#life = new Lifecycle(this.path, backing, this.#writer, this.#newTables(classes))
  }

  /**
   * Empty tables; a read-only container's proxies refuse every mutation, and it verifies
   * nothing (it never persists: barriers only, so that its objects stay behind proxies).
   */
  #newTables(classes: ClassRegistry): ContainerTables {
    const t = new ContainerTables(classes, this.#readOnly ? 'barriers' : this.#track)
    t.inspect = this.#properties !== 'enumerable'
    t.attributes = this.#properties === 'attributes'
    if (this.#readOnly) t.barrier.closed = () => new ReadOnlyError(`Cannot change an object of container "${this.path}": it is open read-only (its proxies refuse writes); open it without { readOnly: true } to write`)
    return t
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

  /**
   * Opens the container `name` in a chunk store host, such as a PostgreSQL database
   * (`PostgresStore.connect` from `persistent-memory/postgres`): restores its newest version
   * (or `version`), or creates it with `init()`. A writer holds the container's lease until
   * `close()`: a second writer anywhere gets ContainerLockedError; `readOnly` opens take no
   * lease. Everything else is as for {@link open}; a point that cannot reach the database
   * rejects with StoreUnavailableError, the stored version stays intact, and the container
   * persists again (a full point) once the database is back (inv. 4a).
   *
   * @example
   * const c = await Container.openStore(store, 'sessions', { init: () => ({ users: new Map() }) })
   */
  static async openStore<T extends object = Record<string, any>>(store: ChunkStoreHost, name: string, options: ContainerOptions<T> = {}): Promise<Container<T>> {
    const classes = checkOpenStore(store, name, options)
    const backing = hostedBacking(await openHosted(store, name, options))
    try {
      return Container.#openOn(() => backing, options, classes)
    } catch (e) {
      await backing.discarded     // a failed open releases the lease and deletes what it created (inv. B2)
      throw e
    }
  }

  /** Opens the backing, then the container (opening -> idle); any failure leaves nothing open or created (backing.ts inv. B2). */
  static #openOn<T extends object>(open: () => Backing, options: ContainerOptions<T>, classes: ClassRegistry): Container<T> {
    const backing = open()
    try {
      const c = new Container<T>(backing, options, classes)
      const fellBack = load(c.#target(c.#life.tables), options)
      ;(c as { fellBack: FallBack | null }).fellBack = fellBack
      c.#life.opened()
      return c
    } catch (e) {
      backing.discard()
      throw e
    }
  }

  /** Where open.ts puts what it restores into `tables`; stamping stops once the container closes or replaces them. */
  #target(tables: ContainerTables): OpenTarget {
    return { path: this.path, backing: this.#backing, tables, writer: this.#writer, closed: () => this.#life.state === 'closed' || this.#life.state === 'closing' || this.#life.tables !== tables }
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
    return checkFile(path)
  }

  /**
   * The root object: itself if the program may hold it raw (a new container's `init` graph),
   * else a write-barrier proxy. Mutations through either are detected (barrier.ts, verify.ts).
   * Idle, snapshot, writing; else BrokenError or RegionClosedError. No transition.
   */
  get root(): T {
    this.#life.usable('read the root of')
    const t = this.#life.tables
    return t.barrier.wrap(t.root) as T
  }

  /** Replaces the root; the next point persists the new graph. Idle, snapshot, writing; else BrokenError or RegionClosedError. No transition. */
  set root(v: T) {
    this.#life.usable('set the root of')
    if (this.#readOnly) throw new ReadOnlyError(`Cannot set the root of container "${this.path}": it is open read-only`)
    const t = this.#life.tables
    const raw = t.barrier.unwrap(v)
    if (typeof raw !== 'object' || raw === null) throw new InvalidArgumentError(`Cannot set the root of container "${this.path}": the root must be an object, got ${String(v)}`)
    t.root = raw
  }

  /**
   * The raw object behind a proxy of this container. The program may keep and mutate it, so
   * it becomes exposed (with everything it reaches): compared at every point from now on,
   * which costs about 100 ns per object per point (README, "Change detection"); with
   * `track: 'barriers'` it is watched the same way (watch.ts inv. W4; before session 12 an
   * unwrapped object was neither, and writes through it were lost). For a copy to print,
   * clone or send, use {@link snapshot}. Any state (after close, nothing is exposed).
   */
  unwrap<V>(v: V): V {
    const t = this.#life.tables
    const raw = t.barrier.unwrap(v)
    const state = this.#life.state
    if (typeof raw === 'object' && raw !== null && state !== 'closed' && state !== 'closing') {
      t.barrier.unswapping = true     // a raw graph, no proxies in it (exposure.ts inv. E2)
      try { t.barrier.rawOut(raw) } finally { t.barrier.unswapping = false }
    }
    return raw
  }

  /**
   * A deep copy of `x` (default: the root) as the container persists it now, detached from
   * the container: plain objects, arrays, Maps, Sets, Dates, RegExps, binary data and
   * registered class instances (made and revived by their hooks, if they have any), with
   * shared references and cycles kept; values that cannot persist become null. It holds no
   * proxies, so `structuredClone`, `v8.serialize`, `postMessage`, `console.log` and Map/Set
   * methods called on it work; nothing is exposed. Any state.
   */
  snapshot<V = T>(x?: V): V {
    const t = this.#life.tables
    t.lazy?.complete()     // the copy reads raw objects (tables.ts inv. T4)
    return copyGraph(x === undefined ? t.root : t.barrier.unwrap(x), t.table, t.classes, t.excluded) as V
  }

  /** Version of the last committed point (0 before the first). Any state. */
  get version(): number { return this.#writer.version }

  /**
   * A lazy restore's progress (`open(path, { lazy: true })`, lazy.ts): `state` is 'lazy'
   * while records remain undecoded, 'complete' once every record is; `decoded` counts the
   * records decoded so far. Null if the graph was not restored lazily. Any state.
   */
  get lazy(): { state: 'lazy' | 'complete'; decoded: number } | null {
    const g = this.#life.tables.lazy
    return g === null ? null : { state: g.state, decoded: g.filled }
  }

  /** Stats of the last completed point, or null. Any state. */
  get lastPoint(): PointStats | null { return this.#writer.lastStats }

  /** Points started and not yet durable. Any state. */
  get pending(): number { return this.#life.pending }

  /** Registers a class whose instances persist (under `name`, default `cls.name`). Idle, snapshot, writing; else BrokenError or RegionClosedError. No transition. */
  register(cls: Registrable, name?: string): this {
    this.#life.usable('register a class with')
    this.#life.tables.classes.add(cls, name)
    return this
  }

  /**
   * Never follow `obj` (pExclude): it is not persisted, and references to it come back as
   * null. Excluding an object that is already persisted makes the next point a full one.
   * Idle and writing; TransactionActiveError in snapshot (it would free ids the point is
   * encoding), BrokenError in broken, RegionClosedError in closing and closed. No transition.
   */
  exclude(obj: object): void {
    this.#life.usable('exclude an object from')
    this.#life.outsideSnapshot('exclude an object from')
    const t = this.#life.tables
    t.stampAll()
    const raw = t.barrier.unwrap(obj)
    if (typeof raw !== 'object' || raw === null) throw new InvalidArgumentError(`Cannot exclude from container "${this.path}": expected an object, got ${String(obj)}`)
    if (raw === t.root) throw new InvalidArgumentError(`Cannot exclude the root of container "${this.path}"`)
    t.lazy?.complete()     // the next point is full (tables.ts inv. T4)
    t.exclude(raw)
  }

  /** What the container's persisted state lacks: values that could not persist, with their paths. Any state. */
  get dropped(): DroppedEntry[] { return this.#life.tables.droppedEntries() }

  /**
   * Takes a persistence point (pPoint): snapshots what changed now and writes it in the
   * background. Resolves when the point is durable, with its stats. Idle and writing;
   * TransactionActiveError in snapshot, BrokenError in broken, RegionClosedError in closing
   * and closed (ReadOnlyError for a read-only container, InvalidArgumentError for bad
   * options, both in any state). Transitions: snapshotBegins, then pointQueued (or
   * snapshotFailed if the snapshot throws, rethrowing); its write then ends with writeEnded,
   * after writeFailed if it failed.
   */
  persist(options?: PersistOptions): Promise<PointStats> {
    this.#life.usable('persist')
    this.#life.outsideSnapshot('persist')
    options = checkPersistOptions(options, this.path)
    if (this.#readOnly || this.#writer.store?.readOnly === true) throw new ReadOnlyError(`Cannot persist container "${this.path}": it is open read-only`)
    this.#backing.claim?.(this.#writer.version)     // one writer per region object (backing.ts inv. B3)
    this.#backing.prepareFlush()    // the flush thread starts (100-170 ms) while the snapshot computes
    const t = this.#life.tables
    const full = options.full === true || t.needFull
    // Only a point taken with no other queued may stream its records (stream.ts inv. P1).
    const alone = this.#life.state === 'idle'
    const take = (full: boolean): Snapshot => {
      const out = new SealedOutput(this.#backing, () => this.#writer.ensureStore(), full && alone, this.#streamThreshold)
      return takeSnapshot(t, full, out, bytes => this.#writer.dueForCompaction(bytes))
    }
    return this.#life.point(() => {
      try {
        return take(full)
      } catch (e) {
        if (!(e instanceof ChangedWhileEncodedError)) throw e
        return take(true)       // snapshot.ts inv. 5: what the trap discovered has its id now, so no trap runs again while the collection is encoded
      }
    })
  }

  /**
   * Read-only containers: moves to the newest version the writer committed (a full restore,
   * follow.ts) and resolves with it; `root` is then that version's graph (objects reached
   * through the old root keep the old version's values, and still refuse writes). A writable
   * container is its own newest version: it resolves with `version`. Rejects with
   * SnapshotConflictError if the writer keeps replacing versions faster than one can be
   * restored (follow.ts), with the damage found (CorruptionError) if the newest version is
   * damaged, with FileSystemError if the file was deleted or replaced at its path since the
   * open (refresh.ts: reopen the path to follow the new file); throws (as `persist` does) BrokenError in broken, RegionClosedError in closing
   * and closed. A container opened on a hosted store (PostgreSQL) fetches only the rows
   * written since its version (HostedStore.refresh, rejecting with StoreUnavailableError
   * when the server is out of reach), then restores the newest version from memory.
   * Transition: refreshed (idle -> idle) when a newer version was restored.
   * @example
   * const c = Container.open('state.pmc', { readOnly: true })
   * setInterval(async () => { await c.refresh(); render(c.root) }, 1000)
   */
  refresh(): Promise<number> {
    this.#life.usable('refresh')
    if (!this.#readOnly || this.#life.state !== 'idle') return Promise.resolve(this.version)
    const c = this
    return refreshNewest({
      path: this.path, backing: this.#backing, writer: this.#writer, life: this.#life, lazy: this.#lazy,
      get fellBack() { return c.fellBack },
      newTables: classes => this.#newTables(classes),
      target: tables => this.#target(tables),
      refreshed: tables => this.#refreshed(tables),
    })
  }

  /**
   * Waits until every point started so far is durable (pSync), the one being taken
   * included when called during a snapshot. Rejects with BrokenError if a point failed.
   * Any state; no transition.
   */
  sync(): Promise<void> { return this.#life.sync() }

  /**
   * Waits for the points queued, then closes the file: closeBegins (from idle, writing or
   * broken) -> closing -> closeDone -> closed. Every later call returns the promise of the
   * first. In a snapshot (called by a getter the encoder ran) it rejects with
   * TransactionActiveError and the container stays open.
   */
  close(): Promise<void> { return this.#life.close() }

  /**
   * Validates the chunk store and the log of the newest version (debug validator). A
   * fall-back at open (the newest version was damaged, `fellBack`) and retained versions
   * dropped as damaged are problems too: `ok` is true only for an undamaged file.
   * Idle, snapshot, writing; else BrokenError or RegionClosedError. No transition.
   */
  check(): { ok: boolean; problems: string[] } {
    this.#life.usable('check')
    return checkOpen(this.#writer.store, this.path, this.fellBack, this.#life.tables.classes)
  }

  /** The refreshed transition (lifecycle.ts: idle -> idle, read-only): the newest version's tables replace the old ones; the fall-back, if any, is over. */
  #refreshed(tables: ContainerTables): void {
    this.#life.refreshed(tables)
    ;(this as { fellBack: FallBack | null }).fellBack = null
  }
}
