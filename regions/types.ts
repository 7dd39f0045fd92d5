/**
 * The interface every region implements: the mmap-backed {@link Region} and the in-memory
 * crash simulator {@link SimRegion}. Layers above (txn/, src/) are written against this
 * interface only, so the same transaction code runs on a real file or on the simulator
 * (PMDK's `pmem_ops` idea).
 *
 * Offsets are always relative to the start of the user area (the header is invisible).
 */

/** Constructors accepted by {@link RegionLike.view}. */
export type ViewCtor =
  | Uint8ArrayConstructor
  | Uint16ArrayConstructor
  | Uint32ArrayConstructor
  | Int32ArrayConstructor
  | Float64ArrayConstructor
  | BigUint64ArrayConstructor
  | DataViewConstructor

/** A persistent region: a fixed-size user area that can be read, written, flushed and grown. */
export interface RegionLike {
  /** File path (for SimRegion, a descriptive name). Used in error messages. */
  readonly path: string
  /** The region's unique 128-bit id as 32 hex digits (from the header). */
  readonly id: string
  /** Size of the user area in bytes. Always a multiple of 4096. */
  readonly size: number
  readonly readOnly: boolean
  readonly closed: boolean
  /**
   * True when the open (or `SimRegion.create`) that made this object also created the
   * region, so it holds nothing yet; the pool formats only such a region (or an all-zero one).
   */
  readonly created: boolean
  /**
   * Checked `Uint8Array` over the whole user area. Throws `RegionClosedError` on any use
   * after `close()` (and after a `grow` that had to remap). Slower than a raw view.
   */
  readonly bytes: Uint8Array
  /**
   * A checked typed view (or DataView) over `[byteOffset, byteOffset + length * elementSize)`
   * of the user area. `length` counts elements (bytes for DataView). The offset must be
   * aligned to the element size. Use after close throws `RegionClosedError`.
   */
  view<C extends ViewCtor>(ctor: C, byteOffset: number, length: number): InstanceType<C>
  /**
   * Unchecked `Uint8Array` over the whole user area, for the layers above, which check
   * `closed` themselves. Invalid after `close()` and after `grow()`: fetch it again.
   */
  unsafeBytes(): Uint8Array
  /** Makes `[offset, offset + length)` durable (default: the whole user area) before returning. */
  flush(offset?: number, length?: number): void
  /** Like `flush`, without blocking the event loop. */
  flushAsync(offset?: number, length?: number): Promise<void>
  /** Optional hint: get ready for a `flushAsync` soon (Region starts its flush thread). */
  prepareFlushAsync?(): void
  /** Optional hint: allocate the file space of a `grow(newSize)` soon, off the calling thread (Region: in its flush thread). */
  reserveAsync?(newSize: number): Promise<void>
  /** Optional: user-area offset where reserved space ends (-1 while a stream is open); see `Region.reservedEnd`. */
  readonly reservedEnd?: number
  /** Optional: bytes written past the user area off the calling thread, kept by a later grow; see `Region.appendStream`. */
  appendStream?(at: number, block: number): RegionStream | null
  /**
   * Optional: a writable region's writer-lock token (Region: lock-owner.ts inv. O3), which a
   * pool publishes for its readers; '' or absent when there is none.
   */
  readonly writerToken?: string
  /**
   * Optional: the token of the live writer holding the region's file now, '' when it is
   * unknown, null when no live writer holds it (Region: the lock directory, judged by pid or
   * refresh time). Readers use it to tell a live writer from a crashed one.
   */
  liveWriter?(): string | null
  /** Optional: whether the path the region was opened at still names its file, or it was deleted or replaced since (Region: region-file.ts inv. C7). */
  pathHolds?(): 'same' | 'deleted' | 'replaced'
  /**
   * Optional, writable regions: false once the file's writer record is no longer the one this
   * writer wrote, i.e. another writer claimed the file under another name (Region: lock.ts
   * inv. L10, the race it does not close). True where there is no record to check.
   */
  writerRecordHolds?(): boolean
  /** Optional: read-only regions map a larger user area if a writer grew the file; returns the size (Region inv. R8). */
  followGrowth?(): number
  /** Grows the user area to `newSize` bytes (rounded up to 4096); keeps data and offsets. */
  grow(newSize: number): void
  /** Releases the mapping and the lock. Idempotent. */
  close(): void
}

/** An append stream of a region (`Region.appendStream`). */
export interface RegionStream {
  /** User-area offset of the first byte written. */
  readonly at: number
  /** Bytes written so far. */
  readonly written: number
  /**
   * Queues `bytes` after the bytes written before: copied, or with `transfer` the whole
   * ArrayBuffer under `bytes` is handed to the flush thread and detached here (never pass
   * a pooled Buffer: its pool holds other Buffers).
   */
  write(bytes: Uint8Array, transfer?: boolean): void
  /** Ends the stream; resolves with the CRC-32C of each block once durable, or null if it failed (nothing of it is kept). */
  end(): Promise<Uint32Array | null>
  /** Optional: once `end()` resolved with null, the errno of the write that failed (`ENOSPC`, `EFBIG`, `EIO`...), when it had one. */
  readonly failure?: string
  /**
   * Gives the stream up (its bytes will not be grown over): ends it, waits for the flush
   * thread, and writes zeros over what it wrote, so reserved space reads zeros again.
   */
  discard(): void
}
