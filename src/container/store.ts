/**
 * The part of layer 2's `ShadowStore` (txn/) that containers use: logical chunks with
 * copy-on-write remapping, a small metadata blob per version, atomic (a)synchronous commit,
 * retained versions. Written as an interface so the container code can be tested on any
 * implementation of the same contract.
 */

/** One retained version of a chunk store. */
export interface StoreVersion {
  version: number
  time: number
  chunkCount: number
  bytes: number
  meta: Uint8Array
}

export interface ChunkStore {
  readonly chunkSize: number
  readonly version: number
  readonly chunkCount: number
  readonly readOnly: boolean
  readonly fellBack: { from: number; reason: string } | null
  /** Older retained versions dropped at open because their maps were damaged. */
  readonly droppedVersions?: ReadonlyArray<{ version: number; reason: string }>
  versions(): StoreVersion[]
  read(logical: number): Uint8Array
  /** Copies the first `length` bytes of a chunk into `target` at `at` (checked like `read`). */
  readInto(logical: number, target: Uint8Array, at: number, length?: number): void
  write(logical: number, data: Uint8Array, offset?: number): void
  resize(chunkCount: number): void
  setMeta(meta: Uint8Array): void
  getMeta(): Uint8Array
  commit(): number
  commitAsync(): Promise<number>
  abort(): void
  check(): { ok: boolean; problems: string[] }
  /** Space accounting: physical chunks in the region and how many of them are free. */
  stats(): { physicalChunks: number; freeChunks: number }
  /** Where chunks streamed past the region's end must start to be adopted, or null (ShadowStore.appendTarget). */
  appendTarget(): { phys: number; offset: number } | null
  /** Stages streamed chunks as logical chunks `[logical, ...)` with their checksums (ShadowStore.adopt). */
  adopt(logical: number, phys: number, crcs: Uint32Array): void
}
