/**
 * Lazy restore (ZODB's "ghosts"): `Container.open(path, { lazy: true })` reads and indexes
 * the log (restore.ts, log-index.ts), makes the root's shell and returns; each object's
 * record is decoded (decode.ts `fillOne`) the first time the program reaches the object.
 *
 * A shell is the object a full restore would make for a forward reference: the right kind
 * and prototype from the start (Array.isArray, Map, Set, class prototype, a Date's time, a
 * buffer's length), empty. A shell is filled when the program is first handed it: just
 * before its write-barrier proxy is made (barrier.ts inv. 5; `touch`), or, if it is
 * handed out raw, together with what it reaches raw (`reached`). So reading `c.root.a.b`
 * decodes the root, `a` and `b`, and makes shells (undecoded) for what `b` references;
 * iterating a Map decodes each entry as the iteration yields it. Traps never meet a shell,
 * so a proxy costs what it costs after a full restore.
 *
 * | state | what holds | entered by | what a hand-out does |
 * | --- | --- | --- | --- |
 * | lazy | the log copy and its index; `done[id]` says which current records are filled | open with `lazy: true` | fills the record of an unfilled object (once), binds what it found into the tables (Z6) |
 * | complete | nothing (log copy released); the tables equal a full restore's | `complete()` | nothing |
 *
 * Damage found by a fill (a record that does not decode, or a chunk that fails its
 * checksum when the log is read on demand, Z9) is a CorruptionError thrown at the touch;
 * the object stays unfilled and every later touch of it, and `complete()`, throw the same
 * error (Z7). Without a persisted index, or for a read-only or older version, the log is
 * read whole and verified at open (log.ts `readLog`), so a damaged chunk is found at open
 * and falls back like a full restore (open.ts inv. O1).
 *
 * Invariants:
 *   Z1. One object per id, made once: shells are made only by the restorer's `ref`, into
 *       the container's id table (the same `objects` array), so the shell a touch fills and
 *       a reference decoded later are one object (identity and cycles as a full restore).
 *   Z2. The program never sees an unfilled object: an object is filled before its proxy is
 *       made (barrier.ts inv. 5); an object handed out raw (Dates, binary data, class
 *       instances, `unwrap`, objects held by frozen properties) is filled with everything it
 *       reaches raw (`reached`): up to exposed objects (already filled with their closure,
 *       exposure.ts inv. E1). With `track: 'barriers'` nothing is exposed, so nothing tells
 *       which raw objects the program holds (a value stored through a proxy into one of them
 *       would reach it raw, unfilled): there a raw hand-out that reaches any object other than
 *       Dates, RegExps and binary data (never proxied, so never stored into through a proxy)
 *       completes the restore.
 *   Z3. Every shell is stamped with its id as it is made, so a point that encodes a changed
 *       object writes a reference to an untouched one as a REF to its id and never encodes
 *       it: its record stays its current state (it cannot have changed, Z2).
 *   Z4. Ids with a current record in the log are never free, filled or not (the free list
 *       comes from the index), so no new object takes the id of an untouched one.
 *   Z5. What needs every record's references (compaction's mark, a full point, `exclude`,
 *       `snapshot`, `dropped` paths) calls `complete()` first; after it the tables (objects,
 *       references, descriptors, free ids) are those of a full restore.
 *   Z6. What a fill finds (shapes, segments, chunked buffers, views, restored buffers)
 *       enters the container's tables before the fill returns to the program, so a buffer
 *       has its fingerprints (binary.ts) before the program can change it.
 *   Z7. A fill that throws leaves its id unfilled and remembered as damaged: the error is
 *       thrown again at every later touch, never a half-filled object taken for whole.
 *   Z8. When a buffer is filled, every view of it is filled too (the open's scan lists the
 *       VIEW records of each buffer): the views are made while the buffer has its persisted
 *       length, as a full restore makes them, and `viewsOf` knows them all, so a point that
 *       finds the buffer's length changed re-encodes every view of it (binary.ts).
 *   Z9. A writer's lazy open of a version with a persisted index (log-offsets.ts) reads the
 *       index chain (a dense base's table only a group at a time, as ids are looked up,
 *       log-offsets.ts inv. X6) and the records it decodes, nothing else (open.ts inv. O7): each chunk
 *       of the log is copied and checksum-verified the first time a record in it is read
 *       (log.ts inv. 3), so damage in a chunk not read at open is a CorruptionError at the
 *       first touch that reads it (Z7), never a value, and no longer a fall-back at open.
 *       After an eighth of the chunks were read one by one, the rest is read at once (a
 *       failing chunk stays unread, log.ts inv. 3). `complete()` reads every chunk first; `release()`, before the store closes, reads
 *       the rest so that objects reached after close still decode (a damaged chunk's error
 *       is kept for the touch that needs it). A full restore still verifies every chunk at
 *       open, and `check` verifies everything.
 * Classes with hooks: if any current record is an instance of a class with save/revive
 * hooks (STATEFUL), restore.ts restores whole (revive hooks run once the whole graph is
 * built, open.ts inv. O5). CLASS records are all read at open, so an unregistered class is
 * UnknownClassError at open, as with a full restore.
 */
import { KIND_CLASS, KIND_STATEFUL, header, readHeader } from './format.js'
import { IdSet } from './id-set.js'
import { readIndex } from './log-offsets.js'
import type { LazyLog } from './log.js'
import { DENSE_SHIFT } from './log-index.js'
import type { ChunkedFound, Restorer, SegmentKey } from './decode.js'
import type { ContainerTables } from './tables.js'
import type { LazyFill } from './barrier.js'
import { RestoredSegments, SegmentRef } from './segments.js'
import { PatchPart } from './patch-record.js'
import { BinaryPart } from './binary-patch.js'
import { ClassRef } from './classes.js'
import { BinaryChunk } from './binary.js'
import { liveChildren } from './exposure.js'
import { isArrayBuffer, isDate, isRegExp } from './builtins.js'
import { isNativeOrBoxed } from './natives.js'

export type LazyState = 'lazy' | 'complete'

/** Objects always handed out raw, never behind a proxy (barrier.ts): no write through a proxy can store into them. */
function heldRaw(o: unknown): boolean {
  return typeof o === 'object' && o !== null && (isDate(o) || isArrayBuffer(o) || ArrayBuffer.isView(o) || isRegExp(o) || isNativeOrBoxed(o))
}

/** What a restore (or a fill) found, to be bound into the container's tables. */
export interface Found {
  readonly objects: unknown[]
  readonly shapes: Iterable<readonly [number, readonly string[]]>
  readonly classes: Map<number, { name: string; proto: object }>
  readonly segments: Map<number, [number, SegmentKey][]>
  /** The bases of the SEGMENTED and PATCH records filled (decode.ts), whose change logs start now (patch-record.ts inv. PR3). */
  readonly bases?: Restorer['bases']
  readonly chunked: Map<number, ChunkedFound>
  readonly bytesIds: number[]
  readonly views: number[]
}

/** Binds shapes, classes, segments and chunks as descriptors; records restored buffers and views (open.ts `adopt`, Z6). */
export function adoptFound(t: ContainerTables, f: Found): void {
  for (const [id, keys] of f.shapes) {
    const node = t.shapes.lookup([...keys])
    if (node.id === 0) node.id = id
    t.table.bindDescriptor(node, id)
  }
  for (const [owner, list] of f.segments) {
    const refs = list.map(([sid, key]) => [sid, new SegmentRef(owner, key)] as const)
    for (const [sid, ref] of refs) t.table.bindDescriptor(ref, sid)
    t.segments.set(owner, new RestoredSegments(refs))
  }
  if (f.bases !== undefined) {
    for (const [owner, b] of f.bases) {
      if (b.patch !== null) for (const pid of b.patch.parts) t.table.bindDescriptor(new PatchPart(owner), pid)     // patch-record.ts inv. PR3
      if (t.verifier === null) continue       // track: 'barriers': raw references are not watched, so no change logs (change-log.ts inv. CL1)
      const c = t.dirty.changes.start(f.objects[owner] as object, b.base, b.segIds, b.entries)      // inv. PR4
      if (b.patch === null) continue
      c.parts.push(...b.patch.parts)
      c.total = b.patch.total
      c.size0 = b.size     // the record's count: decode.ts checked the collection has it (a dictionary's keys are not listed)
    }
  }
  for (const [id, cls] of f.classes) {
    const ref = new ClassRef(cls.name, cls.proto, t.classes.infoOf(cls.name))
    ref.id = id
    t.classRefs.set(cls.proto, ref)
    t.table.bindDescriptor(ref, id)
  }
  for (const [owner, c] of f.chunked) {
    for (const cid of c.ids) t.table.bindDescriptor(new BinaryChunk(owner), cid)
    if (c.patch !== undefined) for (const pid of c.patch.parts) t.table.bindDescriptor(new BinaryPart(owner), pid)     // binary-patch.ts inv. BP2
  }
  for (const id of f.bytesIds) {
    const c = f.chunked.get(id)
    t.binaries.restored(id, f.objects[id] as object, c?.ids ?? null, c?.size ?? 0, c?.patch)
  }
  for (let i = 0; i < f.views.length; i += 2) {
    const set = t.viewsOf.get(f.views[i])
    if (set === undefined) t.viewsOf.set(f.views[i], new Set([f.views[i + 1]]))
    else set.add(f.views[i + 1])
  }
}

/** A lazily restored graph: the restorer over the log copy, and which records are filled. */
export class LazyGraph implements LazyFill {
  #r: Restorer | null
  /** id -> 1 once its record is filled; null when complete. */
  #done: Uint8Array | null
  readonly #damaged = new Map<number, unknown>()
  #t: ContainerTables | null = null
  /** Ids of objects made before `attach` (stamped then). */
  #early: number[] | null = []
  /** Buffer id -> ids of its current VIEW records (from the open's scan; Z8). */
  readonly #viewsOf: Map<number, number[]>
  /** Entries of the restorer's `shapeIds` bound so far. */
  #shapesBound = 0
  /** The log read on demand (Z9), or null (read whole at open). */
  #log: LazyLog | null
  /** Records filled so far (touched objects, and what completing filled). */
  filled = 0

  /** The root's shell, made at open (damage there is CorruptionError at open). */
  readonly root: object

  /**
   * Indexes the log of `r` and makes the root's shell, reading every CLASS record (an
   * unregistered class fails the open); null if an instance of a class with hooks is
   * current (the caller restores whole).
   */
  static open(r: Restorer, rootId: number, index: { log: LazyLog; at: number } | null): LazyGraph | null {
    const notable: number[] = []
    if (index === null) r.index(notable)
    else {
      const log = index.log
      r.load = (from, to) => log.load(from, to)      // Z9
      readIndex(r, index.at, notable, r.load, true)      // a dense base is checked as ids are looked up (log-offsets.ts inv. X6)
    }
    const classes: number[] = [], views = new Map<number, number[]>()
    for (let i = 0; i < notable.length; i += 2) {
      const id = notable[i], at = notable[i + 1]
      if (r.offsetOf(id) !== at) continue
      r.at(id, at)
      const kind = r.buf[header.body]
      if (kind === KIND_STATEFUL) return null
      if (kind === KIND_CLASS) { classes.push(id); continue }
      r.pos = header.body + 1      // VIEW: proto, type, buffer id (format.ts)
      r.end = header.end
      r.varint(); r.u8()
      const bid = r.varint()
      const list = views.get(bid)
      if (list === undefined) views.set(bid, [id]); else list.push(id)
    }
    r.end = r.logEnd
    index?.log.opened()
    return new LazyGraph(r, rootId, classes, views, index?.log ?? null)
  }

  private constructor(r: Restorer, rootId: number, classes: number[], views: Map<number, number[]>, log: LazyLog | null) {
    this.#r = r
    this.#log = log
    this.#viewsOf = views
    this.#done = new Uint8Array(r.high)     // ids without a record are marked as they are met (`#unfilled`)
    r.bind = (_o, id) => { this.#early!.push(id) }
    for (const id of classes) this.#fill(id)     // an unregistered class fails the open (Z7 for damage)
    this.root = r.shellOf(rootId)
  }

  get state(): LazyState { return this.#done === null ? 'complete' : 'lazy' }

  /**
   * The ids below `n` without a current record, highest first (the free ids, Z4; identity.ts
   * takes the lowest first). A group of the index that is damaged (log-offsets.ts inv. X6)
   * gives none: no id that may have a record is taken as free.
   */
  freeIds(n: number): number[] {
    const r = this.#r, free: number[] = []
    if (r === null) return free
    const d = r.dense, offsets = r.offsets
    for (let id = n - 1; id >= 1; id--) {
      if (id >= r.high) { free.push(id); continue }
      if (d !== null && d.checked[id >>> DENSE_SHIFT] === 0) {
        try { d.check(id) } catch { id = (id >>> DENSE_SHIFT) << DENSE_SHIFT; continue }
      }
      if (offsets[id] < 0) free.push(id)
    }
    return free
  }

  /** True if `id` has a current record in the log (inv. Z4). */
  has(id: number): boolean { return this.#r !== null && id > 0 && id < this.#r.high && this.#r.offsetOf(id) >= 0 }

  /** Joins the container's tables: shells are stamped from now on (Z3), the barrier fills what it hands out (Z2). */
  attach(t: ContainerTables): void {
    const r = this.#r!
    this.#t = t
    t.lazy = this
    for (const id of this.#early!) t.table.stamp(r.objects[id] as object, id)
    this.#early = null
    r.bind = (o, id) => t.table.stamp(o, id)
    t.barrier.setLazy(this)
    this.#sync()
  }

  /** `o`'s proxy is about to be made: fills it if it is an unfilled shell (Z2). */
  touch(o: object): void {
    const done = this.#done
    if (done === null) return
    const id = this.#t!.table.idOf(o)
    if (id === 0 || id >= done.length || !this.#unfilled(id)) return
    this.#fill(id)
    this.#sync()
  }

  /** `o` is handed out raw: it and what it reaches raw are filled (Z2). */
  reached(o: object): void {
    const done = this.#done
    if (done === null) return
    const t = this.#t!
    const id = t.table.idOf(o)
    if (id === 0 || id >= done.length) return
    const filled = this.#unfilled(id)
    if (filled) this.#fill(id)
    const refs = t.refs
    const v = t.verifier
    const dirty = t.dirty.flags
    const leaf = (id >= refs.start.length || refs.count[id] === 0) && !(id < dirty.length && dirty[id] === 1)
    if (leaf || (v !== null && v.has(id))) { if (filled) this.#sync(); return }     // nothing more, or exposed: filled with its closure already
    if (v === null && !heldRaw(o)) { this.complete(); return }
    const seen = new IdSet()     // id-set.ts: a walk may reach more ids than a V8 Set holds
    seen.add(id)
    const stack = [id]
    while (stack.length > 0) {
      const at = stack.pop()!
      const kids: number[] = []
      if (at < dirty.length && dirty[at] === 1) liveChildren(t, t.table.objects[at] as object, kids)    // its record is stale
      else if (at < refs.start.length) for (let i = refs.start[at], e = i + refs.count[at]; i < e; i++) kids.push(refs.pool[i])
      for (const k of kids) {
        if (seen.has(k) || (v !== null && v.has(k))) continue      // exposed: filled with its closure already
        seen.add(k)
        if (k < done.length && this.#unfilled(k)) this.#fill(k)
        if (v === null && !heldRaw(t.table.objects[k])) { this.complete(); return }
        stack.push(k)
      }
    }
    this.#sync()
  }

  /**
   * The store is about to close: the rest of the log is read now, so that objects reached
   * later still decode (a chunk that fails is remembered, and its error thrown when a record
   * in it is decoded, Z9).
   */
  release(): void { this.#log?.loadAll(true) }

  /** Fills every record not filled yet, in log order (Z5); then releases the log copy. */
  complete(): void {
    const r = this.#r, done = this.#done
    if (r === null || done === null) return
    this.#log?.loadAll()      // damage: CorruptionError here (Z9), nothing filled yet
    r.dense?.checkAll()
    const end = r.logEnd
    for (let pos = 0; pos < end;) {
      readHeader(r.buf, pos, end)
      const id = header.id, next = header.end
      if (r.offsets[id] === pos && done[id] === 0) this.#fill(id)
      pos = next
    }
    this.#sync()
    this.#r = null
    this.#done = null
    this.#log = null
    const t = this.#t!
    t.table.setHighWater(t.table.highWater)     // free ids as a full restore finds them (Z5)
    t.barrier.lazy = null
  }

  /** True if `id` has a current record not filled yet; an id without a record is marked filled (a new object may take it). */
  #unfilled(id: number): boolean {
    const done = this.#done!
    if (done[id] === 1) return false
    if (this.#r!.offsetOf(id) >= 0) return true
    done[id] = 1
    return false
  }

  #fill(id: number): void {
    if (this.#damaged.size > 0 && this.#damaged.has(id)) throw this.#damaged.get(id)
    const done = this.#done!
    done[id] = 1
    try { this.#r!.fillOne(id) } catch (e) {
      done[id] = 0
      this.#damaged.set(id, e)     // Z7
      throw e
    }
    this.filled++
  }

  /** Binds what the fills found into the tables (Z6); fills the views of the buffers filled (Z8). */
  #sync(): void {
    const r = this.#r!, t = this.#t!, done = this.#done!
    for (;;) {
      const ids = r.shapeIds
      if (this.#shapesBound < ids.length) {
        const shapes: [number, readonly string[]][] = []
        for (let i = this.#shapesBound; i < ids.length; i++) shapes.push([ids[i], r.shapeKeys(ids[i])])
        this.#shapesBound = ids.length
        adoptFound(t, { objects: r.objects, shapes, classes: new Map(), segments: new Map(), chunked: new Map(), bytesIds: [], views: [] })
      }
      if (r.segments.size === 0 && r.chunked.size === 0 && r.bytesIds.length === 0 && r.views.length === 0) return
      const buffers = r.bytesIds.slice()
      adoptFound(t, { objects: r.objects, shapes: [], classes: new Map(), segments: r.segments, bases: r.bases, chunked: r.chunked, bytesIds: r.bytesIds, views: r.views })
      r.segments.clear()
      r.bases.clear()
      r.chunked.clear()
      r.bytesIds.length = 0
      r.views.length = 0
      let more = false
      for (const bid of buffers) for (const vid of this.#viewsOf.get(bid) ?? []) if (done[vid] === 0) { this.#fill(vid); more = true }
      if (!more) return
    }
  }
}
