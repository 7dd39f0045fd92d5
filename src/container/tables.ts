/**
 * ContainerTables: what a container knows about its graph between points (in memory only).
 * The snapshot (snapshot.ts) reads and updates these tables, restore (open.ts) fills them,
 * the public Container (container.ts) reaches them through its methods.
 *
 * | table | holds |
 * | --- | --- |
 * | `table` (identity.ts) | id -> object (and shape, class and segment descriptors); every persisted object is stamped with its id |
 * | `refs` (refs.ts) | id -> the ids its current record references (compaction's mark, `dropped` paths) |
 * | `segments` | segmented collection id -> its segments by content (segments.ts) |
 * | `dropped` | holder id -> the values its current record could not persist |
 * | `binaries` (binary.ts) | ArrayBuffer (or Buffer) id -> its length, chunk ids and the fingerprints of its persisted bytes (compared at each point) |
 * | `dates` (dates.ts) | Date id -> its last persisted time value (the Dates handed out, compared at each point) |
 * | `viewsOf` | ArrayBuffer id -> its views (re-encoded when the buffer's length changes) |
 * | `dirty` (dirty.ts) | ids marked changed by the write barriers since the last point |
 * | `verifier` (verify.ts) | exposed ids (objects the program may hold raw) and their shadows; null with `track: 'barriers'` |
 * | `watch` (watch.ts) | with `track: 'barriers'` only: ids reached raw by calls on the real instance (and what they reach), and their shadows; an id leaves when it is freed (watch.ts inv. W4) |
 * | `held` | with `track: 'barriers'`: instances with an async call on the real instance unsettled (watched again after each point, watch.ts inv. W3) |
 * | `states` | class instance with hooks (id) -> the state its record holds (classes.ts) |
 * | `shapes`, `classRefs` | the SHAPE and CLASS records of the log |
 *
 * Invariants:
 *   T1. Every table holds only live ids: an id freed (`forget`) leaves every table at once,
 *       so an id reused later never inherits another object's bytes, time value, views,
 *       segments, references or dropped values (container inv. 2 relies on it).
 *   T2. After a restore, ids are stamped on their objects in the background (`stamping`):
 *       until it completes, the write barriers defer their marks, remember the objects
 *       stored through them (`handedIn`: new, so handed out raw), and Dates handed out wait
 *       with their time value then; Dates and RegExps handed out with nothing beyond their
 *       body wait to be exposed (`#pendingExpose`), and one found with own properties when
 *       stamping ends is marked changed (it had none at its hand-out, so none at its record:
 *       verify.ts inv. V5); anything that needs every id first calls `stampAll`. (Exposing
 *       them at once cost the whole stamping inside the program's first read of a Date:
 *       a restore plus a walk of the 200,000 users 2.0 -> 2.7 s, session 10.)
 *   T3. Exposure never runs inside a snapshot (the encoder is writing shadows): objects
 *       handed out raw by a getter the snapshot runs are exposed when it returns.
 *   T4. After a lazy restore (`lazy`, lazy.ts), anything that needs every record's
 *       references (compaction, a full point, `exclude`, `snapshot`, dropped paths) calls
 *       `lazy.complete()` first (lazy.ts inv. Z5).
 */
import { dateTime, isDate, isRegExp } from './builtins.js'
import { rawNoExtras } from './verify-compare.js'
import { ObjectTable } from './identity.js'
import { ShapeTrie } from './shapes.js'
import type { ClassRef, ClassRegistry } from './classes.js'
import type { EncoderContext } from './encode.js'
import { isDescriptor } from './walk.js'
import { DateTable } from './dates.js'
import { BinaryTable } from './binary.js'
import { RefStore } from './refs.js'
import { DirtySet } from './dirty.js'
import { Barrier } from './barrier.js'
import { Verifier } from './verify.js'
import { exposeFrom } from './exposure.js'
import { rewatch, watchFrom, watchedObjects } from './watch.js'
import { droppedStep, pathsTo } from './paths.js'
import { BigMap } from './big-map.js'
import { IdSet } from './id-set.js'
import type { DroppedAt, DroppedEntry } from './dropped.js'
import type { LazyGraph } from './lazy.js'

export class ContainerTables {
  readonly table = new ObjectTable()
  shapes = new ShapeTrie()
  readonly classes: ClassRegistry
  classRefs = new Map<object, ClassRef>()
  readonly excluded = new WeakSet<object>()
  /** False until the program excludes something (the encoder then skips the WeakSet lookup). */
  anyExcluded = false
  /** Points look at own properties beyond the enumerable string-keyed ones (props.ts); false with `properties: 'enumerable'`. */
  inspect = true
  /** `properties: 'attributes'`: the attributes of every enumerable key are checked too (props.ts). */
  attributes = false
  refs = new RefStore()
  readonly dirty = new DirtySet()
  readonly barrier: Barrier
  readonly verifier: Verifier | null
  /** With `track: 'barriers'`: what calls on the real instance reached raw since the last point (watch.ts). */
  readonly watch: Verifier | null
  /** Instances with unsettled async calls on the real instance -> how many (watch.ts inv. W3). */
  readonly held = new Map<object, number>()
  /** The dirty ids the snapshot being taken took (with `track: 'barriers'`; set by snapshot.ts, handed to `snapshotting(false)`: watch.ts inv. W4). */
  encodedIds: number[] = []
  readonly states = new Map<number, unknown>()
  /** Objects handed out raw during a snapshot, exposed when it ends (inv. T3); null outside snapshots. */
  #exposeLater: object[] | null = null
  /** What was watched before a full point, watched again when it ends (watch.ts inv. W4). */
  #watchAgain: object[] = []
  readonly binaries = new BinaryTable()
  readonly dates = new DateTable()
  readonly viewsOf = new Map<number, Set<number>>()
  /** A BigMap (big-map.ts): a graph may hold more objects with a dropped value than a V8 Map holds (before session 16 the 2^24th holder failed every point with RangeError). */
  readonly dropped = new BigMap<number, DroppedAt[]>()
  readonly segments = new Map<number, Map<string, number>>()
  /** A lazy restore's graph (lazy.ts; its calls are no-ops once it is complete), or null. */
  lazy: LazyGraph | null = null
  /** The raw root object. */
  root: object = undefined as unknown as object
  /** Id of the root in the last snapshot (0 before the first). */
  rootId = 0
  /** The next point must rewrite the whole graph (new container, fall-back, version restore, exclude, a failed snapshot). */
  needFull = true
  #droppedCache: DroppedEntry[] | null = null
  /** Ids below this are stamped on their objects; restore stamps the rest in the background (inv. T2). */
  #stamped = Infinity
  /** The pending turn of `startStamping`, or null. */
  #stamping: NodeJS.Immediate | null = null
  /** Dates handed out while ids were being stamped, with their time value then: [date, time, ...]. */
  #pendingDates: (Date | number)[] = []
  /** Dates and RegExps handed out raw with nothing beyond their body while stamping runs, to expose (or watch, `track: 'barriers'`) when it ends (inv. T2). */
  #pendingExpose: object[] = []

  constructor(classes: ClassRegistry, track: 'all' | 'barriers' = 'all') {
    this.classes = classes
    this.verifier = track === 'all' ? new Verifier() : null
    this.watch = track === 'all' ? null : new Verifier()
    const host = {
      onDate: (d: Date) => this.#exposeDate(d), expose: (raw: object) => this.expose(raw), verifier: this.verifier,
      watch: (raw: object) => this.watchRaw(raw), watched: this.watch,
      hold: (t: object, on: boolean) => this.#hold(t, on),
      stampAll: () => this.stampAll(),
    }
    this.barrier = new Barrier(this.table, this.dirty, classes, this.excluded, host)
  }

  /**
   * `raw` is handed out raw to the program: if it is a persisted object not exposed yet, it
   * and everything it reaches raw become exposed (exposure.ts); during a snapshot, when it
   * ends (inv. T3). Returns how many objects became exposed.
   */
  expose(raw: object): number {
    this.lazy?.reached(raw)     // handed out raw: filled with what it reaches (lazy.ts inv. Z2)
    if (this.verifier === null) return 0
    if (this.#exposeLater !== null) { this.#exposeLater.push(raw); return 0 }
    if (this.#stamped !== Infinity && (isDate(raw) || isRegExp(raw)) && rawNoExtras(raw)) { this.#pendingExpose.push(raw); return 0 }     // inv. T2
    this.stampAll()
    const id = this.table.idOf(raw)
    return id === 0 ? 0 : exposeFrom(this, id)
  }

  /**
   * `raw` (a container object) is reached raw by a call on the real instance (barriers mode):
   * it and what it reaches are compared at the next point (watch.ts); during a snapshot, when
   * it ends (inv. T3). Returns how many objects were added.
   */
  watchRaw(raw: object): number {
    if (this.watch === null) return 0
    if (this.#exposeLater !== null) { this.#exposeLater.push(raw); return 0 }
    if (this.#stamped !== Infinity && (isDate(raw) || isRegExp(raw)) && rawNoExtras(raw)) { this.#pendingExpose.push(raw); return 0 }     // inv. T2
    return watchFrom(this, raw)
  }

  /** An async call on the real instance `t` began (`on`) or settled (watch.ts inv. W3). */
  #hold(t: object, on: boolean): void {
    const n = (this.held.get(t) ?? 0) + (on ? 1 : -1)
    if (n > 0) this.held.set(t, n)
    else this.held.delete(t)
  }

  /**
   * A snapshot begins (inv. T3: exposures wait) or ends (they are made; the watched ids it
   * re-encoded, `encoded`, get their shadows again, and after a full point what was watched
   * before it is watched again: watch.ts inv. W3, W4).
   */
  snapshotting(on: boolean, encoded: readonly number[] = []): void {
    if (on) { this.#exposeLater ??= []; return }
    const later = this.#exposeLater ?? []
    this.#exposeLater = null
    if (this.watch !== null) {
      rewatch(this, encoded)
      const again = this.#watchAgain
      this.#watchAgain = []
      for (const o of again) watchFrom(this, o)
      for (const t of this.held.keys()) watchFrom(this, t)
      for (const o of later) this.watchRaw(o)
      return
    }
    for (const o of later) this.expose(o)
  }

  /** What the encoder of a point needs; `onOutput` receives each sealed buffer of records. */
  context(onOutput: (sealed: Buffer, bytes: number) => void): EncoderContext {
    return {
      table: this.table, shapes: this.shapes, classes: this.classes, excluded: this.excluded,
      anyExcluded: this.anyExcluded, anyProxies: this.barrier.created, refs: this.refs, dropped: this.dropped, segments: this.segments, dates: this.dates, viewsOf: this.viewsOf,
      binaries: this.binaries, inspect: this.inspect, attributes: this.attributes,
      onOutput, verifier: this.verifier, states: this.states, dirty: this.dirty,
    }
  }

  /** Frees `id` from every table (inv. T1). */
  forget(id: number): void {
    const o = this.table.objects[id]
    if (typeof o === 'object' && o !== null) this.dirty.changes.delete(o)     // change-log.ts inv. CL1
    this.segments.delete(id)
    this.viewsOf.delete(id)
    this.dates.delete(id)
    this.table.release(id)
    this.refs.clear(id)
    this.dropped.delete(id)
    this.binaries.delete(id)
    this.verifier?.forget(id)
    this.watch?.forget(id)
    this.states.delete(id)
    this.dirty.forget(id)
  }

  /** Never follow `raw` again; if it was persisted, its id is freed and the next point is full. */
  exclude(raw: object): void {
    this.excluded.add(raw)
    this.anyExcluded = true
    this.barrier.anyExcluded = true
    const id = this.table.idOf(raw)
    if (id !== 0) { this.forget(id); this.needFull = true }
  }

  /** Empties the descriptor tables before a full point re-encodes the whole graph (they are rebuilt as it goes). */
  resetForFull(): void {
    const table = this.table
    for (let id = 1; id < table.highWater; id++) if (isDescriptor(table.objects[id])) table.release(id)
    this.shapes = new ShapeTrie()
    this.classRefs = new Map()
    this.refs = new RefStore()
    this.dropped.clear()
    this.segments.clear()
    this.dirty.changes.clear()    // their bases' segment ids were released above (change-log.ts inv. CL1)
    this.viewsOf.clear()
    this.verifier?.reset()      // a full point writes the shadow of every exposed object it encodes
    this.#watchAgain = watchedObjects(this)     // watched again when the point ends (watch.ts inv. W4)
    this.watch?.forgetAll()
    this.binaries.clear()     // its chunk ids were released above (binary.ts inv. BIN3)
  }

  /** A snapshot changes what `dropped` reports. */
  droppedChanged(): void { this.#droppedCache = null }

  /** The values that could not persist, with their paths from the root (cached until the next snapshot). */
  droppedEntries(): DroppedEntry[] {
    if (this.#droppedCache !== null) return this.#droppedCache
    const holders = new IdSet()     // id-set.ts, and `paths` a BigMap: past 2^24 holders too
    let n = 0
    for (const [id, list] of this.dropped) if (list.length > 0) { holders.add(id); n++ }
    if (n > 0) this.lazy?.complete()    // paths need every record's references (lazy.ts inv. Z5)
    const paths = n === 0 ? new BigMap<number, string>() : pathsTo(this.refs, this.table.objects, this.rootId, holders, n, o => this.table.targetOf(o))
    const out: DroppedEntry[] = []
    for (const [id, list] of this.dropped) {
      const base = paths.get(id)
      if (base === undefined) continue
      for (const d of list) out.push({ path: base + droppedStep(d), reason: d.reason })
    }
    this.#droppedCache = out
    return out
  }

  // ---- stamping after a restore (inv. T2) ----

  /**
   * Stamps restored objects with their ids, 64k per turn of the event loop, so that a
   * restore returns as soon as the graph is built; stops early once `stop()` is true (the
   * container was closed).
   */
  startStamping(stop: () => boolean): void {
    this.barrier.deferred = []
    if (this.verifier !== null) this.barrier.handedIn = new Set()
    this.#stamped = 1
    const some = (): void => {
      this.#stamping = null
      if (this.#stamped === Infinity || stop()) return
      this.#stampUpTo(this.#stamped + 65536)
      if (this.#stamped !== Infinity) this.#stamping = setImmediate(some)
    }
    this.#stamping = setImmediate(some)
  }

  /**
   * The container began closing, or replaced these tables: no stamping turn stays pending
   * (it would stop at once, `stop()`, but until the event loop turned it held these tables
   * and the whole graph: a program opening and closing containers in a chain of awaits that
   * never yields to the loop kept every closed graph).
   */
  stopStamping(): void {
    if (this.#stamping !== null) { clearImmediate(this.#stamping); this.#stamping = null }
  }

  /** Finishes stamping now (something needs ids). */
  stampAll(): void { if (this.#stamped !== Infinity) this.#stampUpTo(Infinity) }

  #stampUpTo(limit: number): void {
    const objects = this.table.objects
    const end = Math.min(limit, objects.length)
    for (let id = this.#stamped; id < end; id++) {
      const o = objects[id]
      if (o !== undefined && !isDescriptor(o)) this.table.stamp(o as object, id)
    }
    if (end < objects.length) { this.#stamped = end; return }
    this.#stamped = Infinity
    const deferred = this.barrier.deferred ?? []
    this.barrier.deferred = null
    this.barrier.handedIn = null
    for (const t of deferred) this.barrier.mark(t)
    const beyond = this.barrier.deferredBeyond
    this.barrier.deferredBeyond = []
    for (const t of beyond) this.dirty.beyond(this.table.idOf(t))     // dirty.ts inv. D2: before any point reads the flags
    const dates = this.#pendingDates
    this.#pendingDates = []
    for (let i = 0; i < dates.length; i += 2) {
      const id = this.table.idOf(dates[i] as Date)
      if (id !== 0) this.dates.add(id, dates[i + 1] as number)
    }
    const later = this.#pendingExpose     // after the dates: their time values of the hand-out stay (dates.ts add keeps the first)
    this.#pendingExpose = []
    for (const o of later) {
      const id = this.table.idOf(o)
      if (id === 0) continue     // only `expose` (with a verifier) and `watchRaw` (with `track: 'barriers'`) fill the list
      if (this.verifier !== null) exposeFrom(this, id); else watchFrom(this, o)
      if (!rawNoExtras(o)) this.dirty.mark(id)     // given own properties since its hand-out (inv. T2, verify.ts inv. V5)
    }
  }

  /** A Date was handed out: compare it at every point from now on (its value now is the persisted one, or it was changed through a raw reference). */
  #exposeDate(d: Date): void {
    if (this.#stamped !== Infinity) { this.#pendingDates.push(d, dateTime(d)); return }
    const id = this.table.idOf(d)
    if (id !== 0) this.dates.add(id, dateTime(d))
  }
}
