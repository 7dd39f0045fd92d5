/**
 * PgChunkStore: the chunk store (txn/chunk-store.ts) of one container in PostgreSQL, as the
 * container sees it: the chosen version's chunks in memory (loaded at open by one query,
 * load.ts), writes staged in memory, and a commit that sends the changed chunks and the new
 * version's row in one database transaction (commit.ts).
 *
 * A batch's state machine (as ShadowStore's):
 *
 *     write / resize / setMeta          commitAsync(): seal (the view moves to the batch)
 *   +-------------------------+       +-----------------------------------------------+
 *   v                         |       |                                               v
 * STAGED (read-your-writes) --+-------+   the transaction commits: DURABLE = sealed   COMMITTED
 *   ^  abort(): back to the sealed view    it fails: view back to DURABLE, `uncertain`
 *
 * Invariants (cited as "pg-store inv. N"):
 *   1. Staging never changes a chunk the view shares with the durable version: a write
 *      copies the chunk first (the stored rows are never updated either, pg inv. 1).
 *   2. A commit sends the chunks the batch wrote, plus empty rows for chunks that grew back
 *      into existence unwritten (zeros, chunk-store inv. 3); its byte count is the bytes of
 *      those rows.
 *   3. After a failed commit the store returns to its durable version and is `uncertain`
 *      (the failure may have hit after the server committed): its next commit sends every
 *      chunk of its view and takes its version number from the database, so it is right
 *      whatever the database holds. A store whose view is older than the newest stored
 *      version (a fall-back at open) starts uncertain too.
 *  3a. After a failed commit (not at open), the batch also carries its delta against the
 *      durable version (`delta`): when the database's newest version is still that one (the
 *      failed commit did not happen: a connection refused, a timeout before COMMIT), the
 *      commit sends the delta only, as any commit (commit.ts); otherwise every chunk. Before
 *      session 16 every chunk was sent after any failure: a container of 1 GB resent 1 GB
 *      for each point lost to an outage.
 *   4. A lost lease is sticky: once a commit was fenced (LeaseLostError), every later
 *      commit fails with it without reaching the database.
 */
import { crc32 } from 'node:zlib'
import {
  InvalidArgumentError, LeaseLostError, OutOfRangeError, ReadOnlyError, RegionClosedError, StoreUnavailableError, describe,
} from '../../regions/index.js'
import type { ChunkStore, StoreVersion } from '../../txn/index.js'

/** One version's content in memory: chunk k is `chunks[k]` (trailing zeros trimmed; null: all zeros). */
export interface View {
  version: number
  count: number
  chunks: (Uint8Array | null)[]
  meta: Uint8Array
}

/** What a commit sends: the rows to insert and the version row. */
export interface SealedBatch {
  /** The version the batch builds on, or null if the database must say (pg-store inv. 3). */
  expected: number | null
  count: number
  meta: Uint8Array
  idx: number[]
  data: Uint8Array[]
  /** With `expected` null after a failed commit: the chunks changed since `delta.expected` (the durable version), sent instead when the database's newest is that version (pg-store inv. 3a). */
  delta?: { expected: number; idx: number[]; data: Uint8Array[] } | null
}

/** The database side of a commit (commit.ts, bound to one container and lease). */
export type Committer = (b: SealedBatch) => Promise<{ version: number; time: number; bytes: number }>

export interface PgChunkStoreInit {
  path: string
  chunkSize: number
  keepVersions: number
  view: View
  versions: StoreVersion[]
  /** Why the store is read-only, or null for the writer. */
  readOnly: string | null
  committer: Committer | null
  fellBack: { from: number; reason: string } | null
  droppedVersions?: { version: number; reason: string }[]
  /** The view is older than the newest stored version (fall-back): start uncertain. */
  uncertain?: boolean
}

const MAX_COUNT = 0x7fff_ffff

/** The bytes of `b` without its trailing zeros (a view), or null if all are zero. */
export function trimmed(b: Uint8Array): Uint8Array | null {
  let n = b.length
  while (n > 0 && b[n - 1] === 0) n--
  return n === 0 ? null : b.subarray(0, n)
}

/** CRC-32 of a chunk's stored bytes, as PostgreSQL's signed int. */
export function chunkCrc(b: Uint8Array | null): number { return b === null ? 0 : crc32(b) | 0 }

export class PgChunkStore implements ChunkStore {
  readonly chunkSize: number
  readonly keepVersions: number
  readonly readOnly: boolean
  readonly fellBack: { from: number; reason: string } | null
  readonly droppedVersions: ReadonlyArray<{ version: number; reason: string }>
  readonly #path: string
  readonly #readOnlyWhy: string | null
  readonly #committer: Committer | null
  /** The last committed version's content. */
  #durable: View
  /** The view the staged batch builds on (the durable one, or a batch being committed). */
  #base: View
  #versions: StoreVersion[]
  /** Staged chunk copies (full chunkSize), by logical index (pg-store inv. 1). */
  #dirty = new Map<number, Buffer>()
  #count: number
  /** The lowest count the batch went through: chunks from here up read as zeros unless written. */
  #floor: number
  #meta: Uint8Array | null = null
  #uncertain: boolean
  /** Uncertain because a commit failed (pg-store inv. 3a), not from the open. */
  #afterFailure = false
  #lost: LeaseLostError | null = null
  #chain: Promise<unknown> = Promise.resolve()
  /** Failed commits so far: a batch sealed before a failure is refused (it builds on the lost one). */
  #failures = 0
  #closed: string | null = null
  /** Why commits are refused from now on (a close waiting for the commits begun: drain), or null. */
  #draining: string | null = null

  constructor(init: PgChunkStoreInit) {
    this.#path = init.path
    this.chunkSize = init.chunkSize
    this.keepVersions = init.keepVersions
    this.#readOnlyWhy = init.readOnly
    this.readOnly = init.readOnly !== null
    this.#committer = init.committer
    this.fellBack = init.fellBack
    this.droppedVersions = init.droppedVersions ?? []
    this.#durable = this.#base = init.view
    this.#versions = init.versions
    this.#count = this.#floor = init.view.count
    this.#uncertain = init.uncertain === true
  }

  get version(): number { return this.#durable.version }
  get chunkCount(): number { return this.#count }

  versions(): StoreVersion[] {
    this.#ready('list versions of')
    return this.#versions.map(v => ({ ...v, meta: v.meta.slice() }))
  }

  read(logical: number): Uint8Array {
    const out = new Uint8Array(this.chunkSize)
    this.readInto(logical, out, 0)
    return out
  }

  readInto(logical: number, target: Uint8Array, at: number, length = this.chunkSize): void {
    this.#ready('read')
    this.#checkLogical(logical, 'read')
    if (!(target instanceof Uint8Array) || !Number.isSafeInteger(at) || !Number.isSafeInteger(length) || length < 0 || length > this.chunkSize || at < 0 || at + length > target.length) {
      throw new OutOfRangeError(`Cannot read logical chunk ${logical} of container "${this.#path}": ${describe(length)} bytes at ${describe(at)} do not fit a target of ${target instanceof Uint8Array ? target.length : describe(target)} bytes (or exceed the ${this.chunkSize}-byte chunk)`)
    }
    const src = this.#chunk(logical)
    const n = src === null ? 0 : Math.min(length, src.length)
    if (n > 0) target.set(n === src!.length ? src! : src!.subarray(0, n), at)
    if (n < length) target.fill(0, at + n, at + length)
  }

  write(logical: number, data: Uint8Array, offset = 0): void {
    this.#writable('write')
    this.#checkLogical(logical, 'write')
    if (!(data instanceof Uint8Array) || !Number.isSafeInteger(offset) || offset < 0 || offset + data.length > this.chunkSize) {
      throw new OutOfRangeError(`Cannot write logical chunk ${logical} of container "${this.#path}": ${data instanceof Uint8Array ? data.length : describe(data)} bytes at offset ${describe(offset)} exceed the ${this.chunkSize}-byte chunk`)
    }
    let buf = this.#dirty.get(logical)
    if (buf === undefined) {
      buf = Buffer.alloc(this.chunkSize)
      const src = this.#chunk(logical)
      if (src !== null) buf.set(src)
      this.#dirty.set(logical, buf)       // pg-store inv. 1: a copy
    }
    buf.set(data, offset)
  }

  resize(chunkCount: number): void {
    this.#writable('resize')
    if (!Number.isSafeInteger(chunkCount) || chunkCount < 0 || chunkCount > MAX_COUNT) {
      throw new InvalidArgumentError(`Cannot resize container "${this.#path}": chunkCount must be an integer from 0 to ${MAX_COUNT}, got ${describe(chunkCount)}`)
    }
    if (chunkCount < this.#count) for (const k of [...this.#dirty.keys()]) if (k >= chunkCount) this.#dirty.delete(k)
    this.#count = chunkCount
    if (chunkCount < this.#floor) this.#floor = chunkCount
  }

  setMeta(meta: Uint8Array): void {
    this.#writable('set meta of')
    if (!(meta instanceof Uint8Array) || meta.length > 1 << 20) {
      throw new InvalidArgumentError(`Cannot set meta of container "${this.#path}": expected a Uint8Array of at most 1 MiB, got ${meta instanceof Uint8Array ? `${meta.length} bytes` : describe(meta)}`)
    }
    this.#meta = meta.slice()
  }

  getMeta(): Uint8Array {
    this.#ready('get meta of')
    return (this.#meta ?? this.#base.meta).slice()
  }

  /**
   * Seals the batch (the view moves on to it) and commits it in one database transaction
   * (commit.ts); resolves with the new version. On failure the view returns to the durable
   * version (pg-store inv. 3) and the error is StoreUnavailableError, or LeaseLostError
   * (sticky, inv. 4).
   */
  commitAsync(): Promise<number> {
    let batch: SealedBatch
    let next: View
    try {
      this.#writable('commit')
      if (this.#draining !== null) throw new RegionClosedError(`Cannot commit container "${this.#path}": ${this.#draining}; nothing was written`)
      if (this.#lost !== null) throw this.#lost
      ;({ batch, next } = this.#seal())
    } catch (e) {
      return Promise.reject(e)
    }
    const failures = this.#failures
    const run = this.#chain.then(async () => {
      if (this.#lost !== null) throw this.#lost
      if (failures !== this.#failures) {    // sealed on top of a batch whose commit failed
        throw new StoreUnavailableError(`Cannot commit container "${this.#path}": the commit it builds on failed; nothing was written`)
      }
      const r = await this.#committer!(batch)
      this.#committed(next, r, batch.meta)
      return r.version
    })
    this.#chain = run.catch((e: unknown) => this.#failed(e))
    return run
  }

  abort(): void {
    this.#ready('abort')
    this.#clearStaged()
  }

  check(): { ok: boolean; problems: string[] } {
    this.#ready('check')
    const problems: string[] = []
    const v = this.#durable
    if (v.chunks.length !== v.count) problems.push(`version ${v.version} holds ${v.chunks.length} chunks in memory for a count of ${v.count}`)
    for (let k = 0; k < v.chunks.length; k++) {
      const c = v.chunks[k]
      if (c !== undefined && c !== null && c.length > this.chunkSize) problems.push(`chunk ${k} of version ${v.version} holds ${c.length} bytes, more than a chunk`)
    }
    for (let i = 1; i < this.#versions.length; i++) {
      if (this.#versions[i].version !== this.#versions[i - 1].version + 1) problems.push(`retained versions are not consecutive: ${this.#versions.map(x => x.version).join(', ')}`)
    }
    if (this.#versions.length > this.keepVersions) problems.push(`${this.#versions.length} versions retained, more than keepVersions ${this.keepVersions}`)
    return { ok: problems.length === 0, problems }
  }

  stats(): { physicalChunks: number; freeChunks: number } {
    this.#ready('read stats of')
    return { physicalChunks: this.#durable.count, freeChunks: 0 }
  }

  /** The durable view (for the host: refresh, versions). */
  get durableView(): View { return this.#durable }

  /** Moves a read-only store on to a newer view (a reader's refresh). */
  replaceView(view: View, versions: StoreVersion[]): void {
    this.#ready('refresh')
    if (!this.readOnly) throw new InvalidArgumentError(`Cannot refresh container "${this.#path}": only a read-only store moves to newer versions (the writer makes them)`)
    this.#durable = this.#base = view
    this.#versions = versions
    this.#clearStaged()
  }

  /**
   * Refuses every later commit, and resolves once the commits already begun have ended
   * (pg-hosted inv. P2: a close waits for them, so a commit the database made is the point's
   * outcome, not RegionClosedError). Reads stay allowed until `close`.
   */
  drain(why: string): Promise<void> {
    this.#draining ??= why
    return this.#chain.then(() => undefined, () => undefined)
  }

  /** Makes every later call fail (the container or the store was closed). */
  close(why: string): void { this.#draining ??= why; this.#closed ??= why }

  // ---- internals ----

  /** Chunk `k` of the staged view (trimmed), or null for zeros. */
  #chunk(k: number): Uint8Array | null {
    const d = this.#dirty.get(k)
    if (d !== undefined) return d
    if (k >= this.#floor) return null      // grown back after a shrink: zeros (chunk-store inv. 3)
    return this.#base.chunks[k] ?? null
  }

  /** Builds the batch and the view it makes; the staged state becomes the base (empty batch). */
  #seal(): { batch: SealedBatch; next: View } {
    const base = this.#base
    const chunks = base.chunks.slice(0, Math.min(this.#count, this.#floor))
    while (chunks.length < this.#count) chunks.push(null)
    const idx: number[] = []
    const data: Uint8Array[] = []
    const send = (k: number, c: Uint8Array | null) => { idx.push(k); data.push(c ?? EMPTY) }
    for (const [k, buf] of this.#dirty) chunks[k] = trimmed(buf)
    const materialize = this.#uncertain
    const changed = (): void => {
      for (const k of [...this.#dirty.keys()].sort((a, b) => a - b)) send(k, chunks[k])
      for (let k = this.#floor; k < this.#count; k++) if (!this.#dirty.has(k)) send(k, null)   // pg-store inv. 2
    }
    let delta: SealedBatch['delta'] = null
    if (materialize) {
      if (this.#afterFailure && base === this.#durable) {      // pg-store inv. 3a
        changed()
        delta = { expected: base.version, idx: idx.splice(0), data: data.splice(0) }
      }
      for (let k = 0; k < chunks.length; k++) send(k, chunks[k])
    } else changed()
    const meta = this.#meta ?? base.meta
    const next: View = { version: -1, count: this.#count, chunks, meta }
    this.#base = next
    this.#clearStaged()
    return { batch: { expected: materialize ? null : base.version, count: next.count, meta, idx, data, delta }, next }
  }

  #committed(next: View, r: { version: number; time: number; bytes: number }, meta: Uint8Array): void {
    next.version = r.version
    this.#durable = next
    this.#uncertain = false
    this.#afterFailure = false
    this.#versions.push({ version: r.version, time: r.time, chunkCount: next.count, bytes: r.bytes, meta })
    while (this.#versions.length > 0 && this.#versions[0].version <= r.version - this.keepVersions) this.#versions.shift()
    if (this.#versions.length > this.keepVersions) this.#versions = this.#versions.slice(-this.keepVersions)
  }

  /** A commit failed: back to the durable view, uncertain (pg-store inv. 3); a lost lease sticks (inv. 4). */
  #failed(e: unknown): void {
    if (e instanceof LeaseLostError) this.#lost = e
    this.#failures++
    this.#base = this.#durable
    this.#clearStaged()
    this.#uncertain = true
    this.#afterFailure = true     // pg-store inv. 3a (a store uncertain from its open stays without a delta)
  }

  #clearStaged(): void {
    this.#dirty = new Map()
    this.#count = this.#floor = this.#base.count
    this.#meta = null
  }

  #checkLogical(logical: number, action: string): void {
    if (!Number.isSafeInteger(logical) || logical < 0) {
      throw new InvalidArgumentError(`Cannot ${action} container "${this.#path}": logical chunk must be a non-negative integer, got ${describe(logical)}`)
    }
    if (logical >= this.#count) {
      throw new OutOfRangeError(`Cannot ${action} logical chunk ${logical} of container "${this.#path}": it has ${this.#count} chunks (resize first)`)
    }
  }

  #ready(action: string): void {
    if (this.#closed !== null) throw new RegionClosedError(`Cannot ${action} container "${this.#path}": ${this.#closed}`)
  }

  #writable(action: string): void {
    this.#ready(action)
    if (this.#readOnlyWhy !== null) throw new ReadOnlyError(`Cannot ${action} container "${this.#path}": ${this.#readOnlyWhy}`)
  }
}

const EMPTY = new Uint8Array(0)
