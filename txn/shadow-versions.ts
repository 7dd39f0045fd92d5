/**
 * Shadow paging, versions: how a staged batch becomes a durable version (seal, flush the
 * chunks, write and flush the slot) and how versions leave the retention window (freeing the
 * chunks only they pinned). Keeps the retained versions, the view the staged batch starts
 * from, every retained version's meta blob and the batch's own, and, per version, the chunks
 * it is the newest retained referencer of. The store (shadow.ts) owns one `Versions` and
 * hands it each batch's sealed map; reads and writes of chunks never come here.
 *
 * States of a version, and where each is kept:
 *
 *   | state   | kept in                              | event                          | next          |
 *   | ------- | ------------------------------------ | ------------------------------ | ------------- |
 *   | staged  | the store's StagedMap, `#stagedMeta` | `seal` (commit, commitAsync)   | sealed        |
 *   | staged  |                                      | `dropStagedMeta` (abort)       | gone (inv. 8) |
 *   | sealed  | `#head` and `#view`, not `#committed`| slot durable: `#finish`        | durable       |
 *   |         | (its slot bytes in a `Sealed`)       | a flush fails                  | store broken  |
 *   | durable | `#committed` (newest first)          | `keepVersions` newer ones      | dropped       |
 *   |         |                                      | durable (`#finish`)            |               |
 *   | dropped | nowhere: its `#releasedAt` chunks    |                                |               |
 *   |         | freed, its meta forgotten            |                                |               |
 *
 * `#head` differs from `#committed` only while commits are in flight. Commits in flight
 * (`#inFlight`): idle -> `commitAsync` -> in flight (a second `commitAsync` chains after the
 * first; `commit` is refused) -> the last one settles -> idle.
 *
 * Invariants kept (numbers shared with shadow.ts):
 *   inv. 1  A chunk the new version stops referencing waits in `#releasedAt` under the
 *           version it was sealed from (its newest retained referencer) and is freed only
 *           by `#finish`, after a slot that no longer retains that version is durable.
 *   inv. 2  `commit`/`commitAsync` flush every chunk the version references before writing
 *           its slot, and flush the slot before returning.
 *   inv. 3  Version v is written only into slot v % 2.
 *   inv. 6  At open every chunk a retained version references is marked used and queued
 *           with the newest retained version that references it (`StoreInit.lastRef`: 1 + that
 *           version's index in `descs`, 0 for none).
 *   inv. 8  The staged meta chunk is referenced by no durable slot: an abort frees it.
 */
import type { BrokenError, RegionLike } from '../regions/index.js'
import { NONE, encodeSlot, type VersionDesc } from './shadow-format.js'
import type { ChunkIO } from './shadow-io.js'
import type { FreeSpace } from './shadow-space.js'
import type { SealedMap, StagedMap } from './shadow-map.js'
import { checkShadow } from './shadow-check.js'
import type { StoreInit } from './shadow-open.js'

/** One retained version, as {@link ShadowStore.versions} lists it. */
export interface ShadowVersionInfo {
  version: number
  /** Commit time, ms since the epoch. */
  time: number
  chunkCount: number
  /** Bytes written by the commit that made this version (new data, map and meta chunks). */
  bytes: number
  /** The blob given to setMeta (a copy). */
  meta: Uint8Array
}

/** A batch sealed for commit: its descriptor, slot bytes and what to flush. */
export interface Sealed {
  desc: VersionDesc
  head: VersionDesc[]
  slot: Uint8Array
  range: { offset: number; length: number } | null
}

/** What the versions work with: the store's region, chunks, free set, and its broken state. */
export interface VersionsHost {
  readonly region: RegionLike
  readonly io: ChunkIO
  readonly space: FreeSpace
  /** The store's chunks verified since written (inv. 4): a chunk freed here leaves it. */
  readonly verified: Set<number>
  /** True once a flush failed: the store refuses further work. */
  broken(): boolean
  /** Marks the store broken by `cause`; returns the error to throw. */
  breakWith(cause: unknown): BrokenError
  /** The error a broken store throws for `action`. */
  brokenError(action: string): BrokenError
  /** Makes sure `n` chunks are free, growing the region if needed (the store's `#reserve`). */
  reserve(n: number, action: string): void
}

/** The store's versions and commits. See the file comment for the states. */
export class Versions {
  readonly #h: VersionsHost
  readonly #chunkSize: number
  readonly #keepVersions: number
  /** Durable retained versions, newest first. */
  #committed: VersionDesc[]
  /** Retained versions as of the newest sealed version (differs from #committed while commits are in flight). */
  #head: VersionDesc[]
  /** The version the staged view starts from. */
  #view: VersionDesc
  readonly #metas: Map<number, Uint8Array>
  #stagedMeta: Uint8Array | null = null
  #stagedMetaPhys = NONE
  /** Version -> chunks it is the newest retained referencer of; freed when it leaves the window (inv. 1). */
  readonly #releasedAt = new Map<number, number[]>()
  #inFlight: Promise<number> | null = null

  constructor(host: VersionsHost, init: StoreInit) {
    this.#h = host
    this.#chunkSize = init.chunkSize
    this.#keepVersions = init.keepVersions
    const lastRef = init.lastRef
    host.space.markUsedWhere(lastRef)
    if (init.descs.length > 1) {
      const older = init.descs.map((): number[] => [])
      for (let p = 0; p < lastRef.length; p++) { const r = lastRef[p]!; if (r > 1) older[r - 1]!.push(p) }
      for (let k = 1; k < older.length; k++) this.#queueRelease(init.descs[k]!.version, older[k]!)
    }
    this.#committed = this.#head = init.descs
    this.#view = init.view
    this.#metas = init.metas
  }

  /** The version the staged batch starts from. */
  get view(): VersionDesc { return this.#view }
  /** The newest durable version. */
  get newest(): number { return this.#committed[0]!.version }
  /** Durable retained versions. */
  get retainedCount(): number { return this.#committed.length }
  /** True while a `commitAsync` runs. */
  get inFlight(): boolean { return this.#inFlight !== null }
  /** Chunks the staged meta took (0 or 1). */
  get stagedMetaChunks(): number { return this.#stagedMetaPhys === NONE ? 0 : 1 }

  /** The retained durable versions, oldest first. */
  list(): ShadowVersionInfo[] {
    return this.#committed.map(d => ({
      version: d.version, time: d.time, chunkCount: d.chunkCount, bytes: d.bytes, meta: this.#metas.get(d.version)!.slice(),
    })).reverse()
  }

  /** Stages the meta blob of the next version (checked by the store); the same bytes as the view's cost nothing. */
  setMeta(meta: Uint8Array): void {
    if (sameBytes(meta, this.#metas.get(this.#view.version)!)) { this.dropStagedMeta(); return }
    if (meta.length > 0 && this.#stagedMetaPhys === NONE) {
      this.#h.reserve(1, 'set meta of')
      this.#stagedMetaPhys = this.#h.space.alloc()
    }
    if (meta.length === 0 && this.#stagedMetaPhys !== NONE) { this.#h.space.free(this.#stagedMetaPhys); this.#stagedMetaPhys = NONE }
    this.#stagedMeta = meta.slice()
  }

  /** The meta blob of the staged view, as a copy. */
  getMeta(): Uint8Array {
    return (this.#stagedMeta ?? this.#metas.get(this.#view.version)!).slice()
  }

  /** Drops the staged meta blob and frees its chunk (inv. 8). */
  dropStagedMeta(): void {
    if (this.#stagedMetaPhys !== NONE) this.#h.space.free(this.#stagedMetaPhys)
    this.#stagedMetaPhys = NONE
    this.#stagedMeta = null
  }

  /**
   * staged -> sealed: writes the meta chunk, builds the next version's descriptor and slot
   * from the batch's sealed map `m`, and queues what it released (no allocation: cannot fail).
   * The caller starts a new batch from `desc`.
   */
  seal(m: SealedMap): Sealed {
    const base = this.#view
    const version = base.version + 1
    let { metaPhys, metaCrc, metaLen } = base
    if (this.#stagedMeta !== null) {
      if (base.metaPhys !== NONE) m.released.push(base.metaPhys)
      metaPhys = this.#stagedMetaPhys
      metaLen = this.#stagedMeta.length
      metaCrc = metaPhys === NONE ? 0 : this.#writeMeta(metaPhys, this.#stagedMeta)
      if (metaPhys !== NONE) m.written.push(metaPhys)
    }
    this.#metas.set(version, this.#stagedMeta ?? this.#metas.get(base.version)!)
    const desc: VersionDesc = {
      version, time: Date.now(), bytes: m.written.length * this.#chunkSize, chunkCount: m.chunkCount,
      root: m.root, rootCrc: m.rootCrc, metaPhys, metaCrc, metaLen, depth: m.depth,
    }
    this.#queueRelease(base.version, m.released)
    const head = [desc, ...this.#head].slice(0, this.#keepVersions)
    this.#head = head
    this.#view = desc
    this.#stagedMeta = null
    this.#stagedMetaPhys = NONE
    return { desc, head, slot: encodeSlot({ chunkSize: this.#chunkSize, keepVersions: this.#keepVersions, descs: head }), range: this.#flushRange(m.written) }
  }

  /** sealed -> durable, synchronously (inv. 2, 3); a failing flush breaks the store. The caller checked `inFlight`. */
  commit(s: Sealed): number {
    const { region, io } = this.#h
    try {
      if (s.range) region.flush(s.range.offset, s.range.length)
      io.writeSlot(s.desc.version % 2, s.slot)
      region.flush(io.slotOffset(s.desc.version % 2), s.slot.length)
    } catch (e) {
      throw this.#h.breakWith(e)
    }
    this.#finish(s)
    return s.desc.version
  }

  /** sealed -> durable with `region.flushAsync`, after any commit still in flight (inv. 2, 3). */
  commitAsync(s: Sealed): Promise<number> {
    const prev = this.#inFlight
    const h = this.#h
    const run = async (): Promise<number> => {
      if (prev !== null) await prev.catch(() => undefined)
      if (h.broken()) throw h.brokenError('commit')
      try {
        if (s.range) await h.region.flushAsync(s.range.offset, s.range.length)
        h.io.sync('commit')
        h.io.writeSlot(s.desc.version % 2, s.slot)
        await h.region.flushAsync(h.io.slotOffset(s.desc.version % 2), s.slot.length)
      } catch (e) {
        throw h.breakWith(e)
      }
      this.#finish(s)
      return s.desc.version
    }
    const p = run()
    this.#inFlight = p
    const settle = (): void => { if (this.#inFlight === p) this.#inFlight = null }
    p.then(settle, settle)
    return p
  }

  /** The debug validator over every retained version (durable and sealed) and the batch `map` (shadow-check.ts). */
  check(map: StagedMap): string[] {
    const seen = new Set<number>()
    const descs = [...this.#head, ...this.#committed].filter(d => !seen.has(d.version) && seen.add(d.version))
    const staged = map.stagedChunks()
    if (this.#stagedMetaPhys !== NONE) staged.push(this.#stagedMetaPhys)
    return checkShadow({
      io: this.#h.io, space: this.#h.space, descs, staged, releasedAt: this.#releasedAt, stagedProblems: map.stagedProblems(),
    })
  }

  #writeMeta(phys: number, meta: Uint8Array): number {
    const io = this.#h.io
    io.zero(phys)
    io.write(phys, 0, meta)
    return io.crc(phys)
  }

  /** One range covering every chunk written (a single flush, inv. 2). */
  #flushRange(written: number[]): Sealed['range'] {
    if (written.length === 0) return null
    let lo = written[0]!, hi = lo
    for (const p of written) { if (p < lo) lo = p; if (p > hi) hi = p } // no spread: batches may be huge
    const offset = this.#h.io.chunkOffset(lo)
    return { offset, length: this.#h.io.chunkOffset(hi) + this.#chunkSize - offset }
  }

  /** After the slot is durable: durable -> dropped for versions that left the window, freeing their chunks (inv. 1). */
  #finish(s: Sealed): void {
    const kept = new Set(s.head.map(d => d.version))
    const { space, verified } = this.#h
    for (const d of this.#committed) {
      if (kept.has(d.version)) continue
      for (const p of this.#releasedAt.get(d.version) ?? []) { space.free(p); verified.delete(p) }
      this.#releasedAt.delete(d.version)
      this.#metas.delete(d.version)
    }
    this.#committed = s.head
  }

  #queueRelease(version: number, chunks: number[]): void {
    if (chunks.length === 0) return
    const list = this.#releasedAt.get(version)
    if (list) list.push(...chunks); else this.#releasedAt.set(version, [...chunks])
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
