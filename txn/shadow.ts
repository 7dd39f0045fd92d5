/**
 * Shadow paging: `ShadowStore`, a store of fixed-size logical chunks over a region, with
 * copy-on-write remapping to physical chunks and atomically switched, versioned metadata
 * (Mnemosyne's shadow-paging primitive; the storage layer of SoftPM containers, after
 * SoftPM's SID: chunk remapping, versions, commit by writing the metadata last).
 *
 * Implements the chunk-store interface (chunk-store.ts) that containers are written against.
 * This file is the store's API over the staged batch: reads, writes, resize, meta, commits,
 * the state checks and the broken state. The reads' work (each committed chunk verified on
 * first read, inv. 4): shadow-read.ts. The writes' and resizes' work, with the space they
 * reserve first (inv. 1): shadow-write.ts. Formats: shadow-format.ts.
 * Staged map: shadow-map.ts (its data chunks, single and adopted runs: shadow-staged.ts). Versions and commits
 * (sealing, the slot writes, which chunks each version pins, freeing them): shadow-versions.ts.
 * Recovery: shadow-recover.ts. Create, open and the slot probes: shadow-open.ts. Adopting
 * appended chunks: shadow-adopt.ts.
 *
 * A batch is everything written between two commits. Its state machine:
 *
 *     write / resize / setMeta            commit(): seal -> flush chunks -> write slot -> flush slot
 *   +------------------------+         +----------------------------------------------------+
 *   v                        |         |                                                    v
 * STAGED (read-your-writes) -+---------+       (commitAsync: the next batch may start       COMMITTED
 *   ^  abort(): staged chunks freed             while the flushes run; commits chain)   (version v+1)
 *
 * Invariants recovery relies on (cited as "inv. N" in code and tests):
 *   1. Live chunks are never written. A batch writes only chunks it took from the free set,
 *      and a chunk is free only when no retained version of any durable slot references it
 *      (and no earlier batch still in flight does). A chunk the new version stops referencing
 *      is freed only when the newest version that references it leaves the retention window.
 *   2. Ordering: every chunk a version references (data, map nodes, meta) is flushed before
 *      the slot naming that version is written; the slot is flushed before commit returns.
 *   3. Version v is written only into slot v % 2, so the commit of v never touches the slot
 *      of v - 1, the newest durable version: some slot is always valid.
 *   4. Everything is self-validating: a slot carries a CRC-32C over its used bytes, and every
 *      reference to a chunk carries the chunk's CRC-32C. Torn slots, damaged map nodes and
 *      damaged data are detected (map nodes at open, data chunks on first read).
 *   5. Open uses the valid slot with the highest version whose map validates, otherwise the
 *      other slot (`fellBack` says why).
 *   6. The free set is the complement of the union of the retained versions' chunks; it is
 *      rebuilt at open, never stored.
 *   7. Map entries past a version's chunk count are holes (NONE): growing reads zeros.
 *   8. Chunks taken by an uncommitted batch are referenced by no durable slot: after a crash
 *      or an abort they are free again.
 *   9. A slot, once written, is never blank again: create writes version 0 into slot 0, the
 *      commit of version 1 writes slot 1, and commits only overwrite a slot with another
 *      valid one. A blank slot beside a version above 0 is damage, reported in `fellBack`.
 * Kept at commit and release (inv. 1, 2, 3, 6, 8): shadow-versions.ts, with a version's states.
 *
 * Cost of a commit: two flushes (chunks, then the slot); an empty commit needs one.
 */
import { BrokenError, InvalidArgumentError, ReadOnlyError, describe } from '../regions/index.js'
import type { RegionLike } from '../regions/index.js'
import { META_MAX } from './shadow-format.js'
import { ChunkIO } from './shadow-io.js'
import { FreeSpace } from './shadow-space.js'
import { StagedMap } from './shadow-map.js'
import { ChunkReads } from './shadow-read.js'
import { ChunkWrites } from './shadow-write.js'
import { Versions, type Sealed, type ShadowVersionInfo } from './shadow-versions.js'
import { CommitInProgressError } from './shadow-errors.js'
import {
  createStore, openStore, probeStore, retainedVersions,
  type ShadowCreateOptions, type ShadowOpenOptions, type StoreInit,
} from './shadow-open.js'
import { adoptChunks, appendTarget, type AdoptHost } from './shadow-adopt.js'
import type { ChunkStore } from './chunk-store.js'

export type { ShadowCreateOptions, ShadowOpenOptions } from './shadow-open.js'
export type { ShadowVersionInfo } from './shadow-versions.js'

/** Space accounting, for tests and monitoring. */
export interface ShadowStats {
  physicalChunks: number
  freeChunks: number
  /** Chunks taken by the staged batch. */
  stagedChunks: number
  retainedVersions: number
}

/**
 * A copy-on-write chunk store with versioned, atomically committed metadata.
 *
 * @example
 * const store = ShadowStore.create(region, { chunkSize: 4096 })
 * store.resize(10)
 * store.write(3, new TextEncoder().encode('hello'))
 * store.setMeta(Uint8Array.of(1, 2, 3))
 * store.commit()                      // version 1, durable
 * // after a crash:
 * const again = ShadowStore.open(region)
 * again.read(3)                       // 'hello' then zeros
 */
export class ShadowStore implements ChunkStore {
  readonly chunkSize: number
  readonly keepVersions: number
  readonly base: number
  /** True when writes throw ReadOnlyError (read-only region, or an older version opened). */
  readonly readOnly: boolean
  /** Set when open could not use the newest metadata and used the previous valid version (inv. 5). */
  readonly fellBack: { from: number; reason: string } | null
  /** Older versions the chosen slot retained but whose maps were damaged (dropped at open). */
  readonly droppedVersions: ReadonlyArray<{ version: number; reason: string }>
  readonly #region: RegionLike
  readonly #io: ChunkIO
  readonly #space: FreeSpace
  readonly #readOnlyWhy: string | null
  /** Retained versions, the view, metas, commits and what each version pins (shadow-versions.ts). */
  readonly #versions: Versions
  /** The staged batch's chunk map, over the view (shadow-map.ts). */
  #map: StagedMap
  /** Committed chunks whose checksum was verified since they were written or last freed. */
  readonly #verified = new Set<number>()
  /** Reads of the staged view, each committed chunk verified once (shadow-read.ts, inv. 4). */
  readonly #reads: ChunkReads
  /** Writes and resizes of the staged view, and the space they reserve (shadow-write.ts, inv. 1). */
  readonly #writes: ChunkWrites
  #broken: { cause: unknown } | null = null

  private constructor(init: StoreInit) {
    this.#region = init.region
    this.base = init.base
    this.chunkSize = init.chunkSize
    this.keepVersions = init.keepVersions
    this.#readOnlyWhy = init.readOnly
    this.readOnly = init.readOnly !== null
    this.fellBack = init.fellBack
    this.droppedVersions = init.dropped
    this.#io = new ChunkIO(init.region, init.base, init.chunkSize)
    this.#space = new FreeSpace(this.#io.physCount)
    this.#reads = new ChunkReads(this.#io, this.#verified, () => this.#versions.view.version)
    this.#writes = new ChunkWrites(this.#io, this.#space, this.#reads, init.growBy)
    this.#versions = new Versions({
      region: this.#region, io: this.#io, space: this.#space, verified: this.#verified,
      broken: () => this.#broken !== null,
      breakWith: e => this.#breakWith(e),
      brokenError: action => this.#brokenError(action),
      reserve: (n, action) => this.#reserve(n, action),
    }, init)
    this.#map = new StagedMap(this.#io, this.#space, init.view)
  }

  /**
   * Formats `[base, region.size)` of the region as an empty store: both metadata slots
   * zeroed, version 0 (no chunks, empty meta) committed in slot 0, durable on return.
   * Anything the region held there is lost. Create itself is not atomic: after a crash
   * before it returned, open reports NotARegionError or CorruptionError; create again.
   */
  static create(region: RegionLike, opts: ShadowCreateOptions): ShadowStore {
    return new ShadowStore(createStore(region, opts))
  }

  /**
   * Opens the store: the newest valid version (inv. 5), or with `{ version }` a retained
   * older one, read-only. Throws NotARegionError (no store here), UnsupportedVersionError
   * (newer format), CorruptionError (no valid version), InvalidArgumentError (version not retained).
   */
  static open(region: RegionLike, opts: ShadowOpenOptions = {}): ShadowStore {
    return new ShadowStore(openStore(region, opts))
  }

  /**
   * What `[base, base + 8192)` of the region holds, without validating or changing
   * anything: 'blank' (both metadata slots entirely zero: never a store), 'store' (a slot
   * has the store's magic: open it, damage included), 'foreign' (other data).
   */
  static probe(region: RegionLike, base = 0): 'blank' | 'store' | 'foreign' {
    return probeStore(region, base)
  }

  /**
   * The versions the newest valid metadata slot at `base` retains, newest first, read from
   * copies of both slots without validating any map (empty when neither slot is valid).
   * A reader beside a live writer asks it after reading a version: if that version is still
   * listed, none of its chunks was freed meanwhile (inv. 1: a chunk is freed only after a
   * slot that no longer retains its version was written), so what it read is that version.
   */
  static retained(region: RegionLike, base = 0): number[] {
    return retainedVersions(region, base)
  }

  /** Last committed version (for a store opened at an older version: that version). */
  get version(): number { return this.readOnly ? this.#versions.view.version : this.#versions.newest }
  /** Logical chunks in the staged view. */
  get chunkCount(): number { return this.#map.count }

  /** The retained committed versions, oldest first. */
  versions(): ShadowVersionInfo[] {
    this.#ready('list versions of')
    return this.#versions.list()
  }

  /**
   * Content of logical chunk `logical` in the staged view (read-your-writes), as a copy of
   * `chunkSize` bytes. A committed chunk is checked against its checksum on first read
   * (inv. 4): CorruptionError names the region, chunk and version on mismatch.
   */
  read(logical: number): Uint8Array {
    this.#ready('read')
    return this.#reads.read(this.#map, logical)
  }

  /**
   * Copies the first `length` bytes of logical chunk `logical` into `target` at `at`: the
   * same checks as `read` (a committed chunk is verified whole on first read, inv. 4) without
   * allocating a chunk copy (a restore reads every chunk once).
   *
   * @example
   * store.readInto(3, out, 3 * store.chunkSize, store.chunkSize)
   */
  readInto(logical: number, target: Uint8Array, at: number, length = this.chunkSize): void {
    this.#ready('read')
    this.#reads.readInto(this.#map, logical, target, at, length)
  }

  /**
   * Bytes `[0, end)` of the logical space as one view of the region (no copy), if logical
   * chunks `[0, ceil(end / chunkSize))` lie in consecutive physical chunks in order (a log
   * appended by one streamed point, typically); else null, and `readInto` copies them. Every
   * committed chunk of the range is verified first, whole, as `read` does (inv. 4): damage is
   * CorruptionError, never bytes. The view shows the region's memory: committed chunks are
   * never written (inv. 1), but a chunk this batch writes, a remap (growth) or a chunk freed
   * and reused after a later commit changes or invalidates it, so it is for a caller that
   * reads it at once, before any write, resize or commit (a restore at open, which decodes
   * the log without copying it: 31 MB of log copied cost 50-60 ms of page faults alone).
   *
   * @example
   * const log = store.viewPrefix(logEnd) ?? copyOf(store, logEnd)
   */
  viewPrefix(end: number): Uint8Array | null {
    this.#ready('read')
    return this.#reads.viewPrefix(this.#map, end)
  }

  /**
   * Writes `data` at byte `offset` of logical chunk `logical`. The first write to a chunk in
   * a batch takes a free physical chunk (inv. 1) and, unless it covers the whole chunk,
   * copies the old content first; later writes in the batch go to that same chunk. Grows the
   * region when no chunk is free; OutOfSpaceError if it cannot, with nothing changed.
   */
  write(logical: number, data: Uint8Array, offset = 0): void {
    this.#writable('write')
    this.#writes.write(this.#map, logical, data, offset)
  }

  /**
   * Where chunks written past the region's end (by `Region.appendStream`) must start to be
   * adopted: the first physical chunk at or after the end of the region's reserved space,
   * and its region offset. Null while the region cannot say (no streams, or one is open).
   */
  appendTarget(): { phys: number; offset: number } | null {
    this.#writable('plan an append to')
    return appendTarget(this.#adoptHost())
  }

  /**
   * Adopts chunks another thread wrote: logical chunks `[logical, logical + crcs.length)`
   * become physical chunks `[phys, ...)`, whose checksums are `crcs`, in the staged batch,
   * as if written whole by `write` (the old chunks are released the same way; the store
   * grows to `logical + crcs.length` chunks if it has fewer). The chunks must lie past the
   * store's physical space (`appendTarget`) and hold their bytes durably in the region's
   * reserved space; the region grows over them here, once, with room for the map nodes
   * (keeping the bytes, Region inv. R7), before anything else is allocated, so nothing
   * else can take them. The logical chunks must not be staged yet in this batch.
   */
  adopt(logical: number, phys: number, crcs: Uint32Array): void {
    this.#writable('adopt chunks into')
    adoptChunks(this.#adoptHost(), logical, phys, crcs)
  }
  /** Sets the number of logical chunks. New chunks read as zeros (inv. 7); dropped ones are released. */
  resize(chunkCount: number): void {
    this.#writable('resize')
    this.#writes.resize(this.#map, chunkCount)
  }

  /** Stores a small blob (at most 512 bytes) with the next version; setting the same bytes again costs nothing. */
  setMeta(meta: Uint8Array): void {
    this.#writable('set meta of')
    if (!(meta instanceof Uint8Array) || meta.length > META_MAX) {
      throw new InvalidArgumentError(`Cannot set meta of shadow store on region "${this.#region.path}": expected a Uint8Array of at most ${META_MAX} bytes, got ${meta instanceof Uint8Array ? `${meta.length} bytes` : describe(meta)}`)
    }
    this.#versions.setMeta(meta)
  }

  /** The meta blob of the staged view (read-your-writes), as a copy. */
  getMeta(): Uint8Array {
    this.#ready('get meta of')
    return this.#versions.getMeta()
  }

  /**
   * Commits the batch as version `version + 1` and returns it, durable on return: flushes
   * the written chunks, then writes the version's slot (inv. 3) and flushes it (inv. 2).
   * A commit with no changes still makes a version. An I/O failure makes the store refuse
   * further work (BrokenError); reopen it to recover.
   */
  commit(): number {
    this.#writable('commit')
    if (this.#versions.inFlight) {
      throw new CommitInProgressError(`Cannot commit shadow store on region "${this.#region.path}": an asynchronous commit is still running; await it first`)
    }
    return this.#versions.commit(this.#seal())
  }

  /**
   * Like `commit`, with `region.flushAsync`, so the event loop goes on. The batch is sealed
   * at the call: writes made while the promise is pending belong to the next batch. A
   * second `commitAsync` waits for the first before writing its slot.
   */
  commitAsync(): Promise<number> {
    let s: Sealed
    try {
      this.#writable('commit')
      s = this.#seal()
    } catch (e) {
      return Promise.reject(e)
    }
    return this.#versions.commitAsync(s)
  }

  /** Drops the staged batch: the view returns to the last sealed version; its chunks are freed (inv. 8). */
  abort(): void {
    this.#ready('abort')
    this.#map.discard()
    this.#map = new StagedMap(this.#io, this.#space, this.#versions.view)
    this.#versions.dropStagedMeta()
  }

  /** Debug validator: every retained version checksum-valid, no chunk twice in a version, free set exact (inv. 1, 4, 6, 7). */
  check(): { ok: boolean; problems: string[] } {
    this.#ready('check')
    const problems = this.#versions.check(this.#map)
    return { ok: problems.length === 0, problems }
  }

  /** Space accounting. */
  stats(): ShadowStats {
    this.#ready('read stats of')
    const staged = this.#map.stagedChunks().length + this.#versions.stagedMetaChunks
    return { physicalChunks: this.#space.count, freeChunks: this.#space.freeCount, stagedChunks: staged, retainedVersions: this.#versions.retainedCount }
  }

  /** Seals the batch as the next version (shadow-versions.ts) and starts the next batch from it. */
  #seal(): Sealed {
    const s = this.#versions.seal(this.#map.seal())
    this.#map = new StagedMap(this.#io, this.#space, s.desc)
    return s
  }

  /** What adopting works on: the current batch's map, and `#reserve` for its map nodes. */
  #adoptHost(): AdoptHost {
    return { region: this.#region, io: this.#io, space: this.#space, map: this.#map, reserve: (n, action) => this.#reserve(n, action) }
  }

  /** Makes sure `n` chunks are free, growing the region if needed (shadow-write.ts; OutOfSpaceError otherwise). */
  #reserve(n: number, action: string): void { this.#writes.reserve(n, action) }

  /** Throws if the store is broken or its region closed; refreshes the region's bytes. */
  #ready(action: string): void {
    if (this.#broken !== null) throw this.#brokenError(action)
    this.#io.sync(`${action} shadow store`)
  }

  #writable(action: string): void {
    this.#ready(action)
    if (this.#readOnlyWhy !== null) {
      throw new ReadOnlyError(`Cannot ${action} shadow store on region "${this.#region.path}": ${this.#readOnlyWhy}`)
    }
  }

  #breakWith(cause: unknown): BrokenError {
    this.#broken = { cause }
    return this.#brokenError('commit')
  }

  #brokenError(action: string): BrokenError {
    const cause = this.#broken!.cause
    const msg = cause instanceof Error ? cause.message : String(cause)
    return new BrokenError(`Cannot ${action} shadow store on region "${this.#region.path}": an earlier flush failed (${msg}); the store refuses further work, reopen it to recover the last durable version`, { cause })
  }
}
