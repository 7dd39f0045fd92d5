/**
 * The chunk-store interface: what a container (src/container) needs from the storage under
 * it, and so what every storage back-end implements. Two implementations: `ShadowStore`
 * (shadow.ts: shadow paging on a region file) and `PgChunkStore` (src/postgres: rows in
 * PostgreSQL). A third back-end is one class implementing `ChunkStore`, and, if it holds
 * many named stores (a database, a bucket), one implementing `ChunkStoreHost`, handed to
 * `Container.openStore`.
 *
 * The contract (every implementation keeps these; cited as "chunk-store inv. N"):
 *   1. A store is a sequence of `chunkCount` logical chunks of `chunkSize` bytes plus a
 *      small metadata blob, seen as of one version. Writes, resizes and `setMeta` are staged
 *      (read-your-writes) and become version `version + 1` (or higher, never lower) all at
 *      once at `commitAsync`, or not at all: after any failure or crash, an open sees every
 *      chunk and the blob exactly as some committed version left them.
 *   2. Committed chunks are never changed in place: a commit writes the chunks its batch
 *      changed somewhere new, then switches to the new version in one atomic step, written
 *      last. The bytes a commit writes are proportional to the chunks it changed.
 *   3. Chunks past the count are holes: growing the count reads zeros there, even where an
 *      earlier version had data.
 *   4. The last `keepVersions` committed versions stay readable (their chunks are kept);
 *      what no retained version uses is eventually freed.
 *   5. Damage is detected (checksums), never returned as data: CorruptionError, or a
 *      fall-back to an older intact version that `fellBack` reports.
 *   6. One writer at a time; a read-only store (`readOnly`) never writes.
 */

/** One retained version of a chunk store. */
export interface StoreVersion {
  version: number
  /** Commit time, ms since the epoch. */
  time: number
  chunkCount: number
  /** Bytes the commit that made this version wrote. */
  bytes: number
  /** The metadata blob of this version (a copy). */
  meta: Uint8Array
}

/**
 * A versioned store of logical chunks with copy-on-write commits (the contract above).
 *
 * @example
 * store.resize(2)
 * store.write(1, bytes, 0)
 * store.setMeta(blob)
 * const v = await store.commitAsync()   // durable and atomic (inv. 1)
 */
export interface ChunkStore {
  readonly chunkSize: number
  /** The last committed version (for a view of an older version: that version). */
  readonly version: number
  /** Logical chunks in the staged view. */
  readonly chunkCount: number
  /** True when writes throw ReadOnlyError (read-only open, or a view of an older version). */
  readonly readOnly: boolean
  /** Set when open could not use the newest version and used an older intact one (inv. 5). */
  readonly fellBack: { from: number; reason: string } | null
  /** Older retained versions dropped at open because they were damaged. */
  readonly droppedVersions?: ReadonlyArray<{ version: number; reason: string }>
  /** The retained committed versions, oldest first (inv. 4). */
  versions(): StoreVersion[]
  /** The content of a chunk in the staged view, as a copy of `chunkSize` bytes. */
  read(logical: number): Uint8Array
  /** Copies the first `length` bytes of a chunk into `target` at `at` (checked like `read`). */
  readInto(logical: number, target: Uint8Array, at: number, length?: number): void
  /** Stages `data` into chunk `logical` at byte `offset` (copy-on-write: nothing committed changes, inv. 2). */
  write(logical: number, data: Uint8Array, offset?: number): void
  /** Stages a new chunk count; new chunks read as zeros (inv. 3). */
  resize(chunkCount: number): void
  /** Stages the metadata blob of the next version. */
  setMeta(meta: Uint8Array): void
  /** The metadata blob of the staged view (a copy). */
  getMeta(): Uint8Array
  /**
   * Commits the staged batch atomically (inv. 1) and resolves with its version once it is
   * durable. The batch is sealed at the call: writes made while it is pending belong to the
   * next batch. A rejected commit changed nothing that any open can see.
   */
  commitAsync(): Promise<number>
  /** Drops the staged batch: the view returns to the last sealed version. */
  abort(): void
  /** Debug validator: checksums and accounting of the retained versions. */
  check(): { ok: boolean; problems: string[] }
  /** Space accounting: physical chunks held and how many of them are free for reuse. */
  stats(): { physicalChunks: number; freeChunks: number }
  /**
   * (Optional: stores on a region.) Where chunks streamed past the region's end must start
   * to be adopted, or null (ShadowStore.appendTarget). A store without it never streams.
   */
  appendTarget?(): { phys: number; offset: number } | null
  /** (Optional, with appendTarget.) Stages streamed chunks as logical chunks `[logical, ...)` (ShadowStore.adopt). */
  adopt?(logical: number, phys: number, crcs: Uint32Array): void
  /**
   * (Optional: stores on a region.) Bytes `[0, end)` of the logical space as one view of the
   * store's own memory, no copy, every chunk checked as `read` checks it (inv. 5), when
   * those chunks lie in order in one run of storage; else null (read them with `readInto`).
   * The view is valid until the next write, resize or commit (ShadowStore.viewPrefix).
   */
  viewPrefix?(end: number): Uint8Array | null
}

/** What `Container.openStore` asks a {@link ChunkStoreHost} for. */
export interface HostOpenOptions {
  /** Open without taking the writer's lease; the stores returned never write. */
  readOnly: boolean
  /**
   * Create the named store when it does not exist, with these parameters (a writer opened
   * with `init`); null: a missing store opens as `store: null`.
   */
  create: { chunkSize: number; keepVersions: number } | null
  /** A retained older version the open must also load (the container's `version` option). */
  version?: number
}

/** One named store opened by a host: the newest version, and the retained ones it loaded. */
export interface HostedStore {
  /** How messages name the store, e.g. `postgres://db.internal:5432/app#sessions`. */
  readonly path: string
  /** True when this open created the store (a failed open then deletes it again). */
  readonly created: boolean
  /**
   * The store at its newest version (writable unless opened read-only; for a read-only open
   * with a `version`, that version), or null when the named store does not exist.
   */
  readonly store: ChunkStore | null
  /** A read-only view of a retained version the open loaded (`HostOpenOptions.version`). */
  openVersion(version: number): ChunkStore
  /**
   * (Optional) Moves a read-only store on to the newest committed version, fetching only
   * what changed; resolves true if the version changed (the hook behind a container's refresh).
   */
  refresh?(): Promise<boolean>
  /** Releases what the open holds (the writer's lease, connections, memory). Idempotent. */
  close(): Promise<void>
  /** Closes after a failed open, and deletes the store if this open created it. */
  discard(): Promise<void>
}

/**
 * A place holding many named chunk stores (a database): what `Container.openStore` takes.
 * It keeps the single-writer rule across machines (chunk-store inv. 6): a second writer's
 * open rejects with ContainerLockedError, and a writer that lost its lock can never commit
 * (LeaseLostError).
 */
export interface ChunkStoreHost {
  /** Where the stores live, for messages (no password), e.g. `postgres://db.internal:5432/app`. */
  readonly where: string
  /** Opens (or creates) the named store. */
  openStore(name: string, options: HostOpenOptions): Promise<HostedStore>
}
