/**
 * `Region`: a file mapped into memory (header page + user area, see header.ts), exposed
 * as checked typed views, with flush, growth, a single-writer lock and read-only open.
 * This file keeps the region's state (open, broken, closed) and sequences its operations;
 * the size, growth and space past the user area are region-growth.ts, the mapping and its
 * checked views region-views.ts.
 *
 * Invariants (file-side ones C1-C4 are in region-file.ts, H1-H4 in header.ts, L1-L7 in lock.ts;
 * R2, R7 and R8, on the size and the space past the user area, are in region-growth.ts):
 *  R1. No array this class hands out reaches past the end of the file: the mapping covers
 *      exactly the user area (inv. C3), and grow extends the file before it remaps.
 *  R3. A writable region holds the writer lock from open to close (inv. L1).
 *  R4. Checked views (`bytes`, `view()`) throw `RegionClosedError` after `close()`, after a
 *      `grow()` (which always remaps), and once the region is broken. Raw arrays from
 *      `unsafeBytes()` are not checked: fetch them again after each of those events.
 *  R5. A method that throws for bad arguments, a closed or read-only region has changed
 *      nothing; argument checks come before the first write.
 *  R6. Broken is sticky (LMDB's MDB_PANIC): after a failed msync/fsync, a failed header
 *      update or a lost lock, the durable state is unknown, so every method except
 *      `close()` throws `BrokenError` until the file is reopened.
 *  R9. An open alone never changes the file: close trims past the user area (inv. H3, R7)
 *      only after this life wrote (flush, grow, reserveAsync, appendStream), so a region
 *      whose opener refused it (a pool that does not fit) closes with every byte as found,
 *      and nothing beside it: the lock's asides directory, when this open made it, goes
 *      too (lock.ts inv. L8; the next writer makes it again).
 *
 * Durability: `flush` (msync MS_SYNC of the covering pages) and `flushAsync` (the same msync
 * in a worker thread, flush-worker.ts; fdatasync on the thread pool where no thread can run,
 * or when the thread died, W8, W10) are durable when they return / resolve. `close()`
 * flushes everything before releasing the lock.
 */
import fs from 'node:fs'
import { mmap } from './mmap.js'
import {
  BrokenError, FlushThreadError, ReadOnlyError, RegionClosedError,
} from './errors.js'
import { checkViewArgs, flushPages } from './bounds.js'
import { HEADER_SIZE, type RegionHeader } from './header.js'
import { liveHolderToken, lockDirOf } from './lock.js'
import { clearWriterRecord, recordedLiveWriter, recordIs } from './writer-record.js'
import {
  closeRegionFile, deleteRegionFile, mapUserArea, openRegionFile, pathHolds, readRegionHeader, typedOsErrors, type RegionFile,
} from './region-file.js'
import { resolveOpenOptions, type RegionOpenOptions } from './open-options.js'
import { closeGate, flushTiming, forgetInWorker, msyncInWorker, newFileRef, startFlushThreads, type FileRef } from './flush-worker.js'
import { RegionSpace } from './region-growth.js'
import { MappedViews } from './region-views.js'
import { SharedFdatasync } from './shared-fdatasync.js'
import type { RegionLike, RegionStream, ViewCtor } from './types.js'

/** An mmap-backed persistent region. Create or open one with {@link Region.open}. */
export class Region implements RegionLike {
  /** The path as given to `open`; used in error messages. */
  readonly path: string
  /** The region's 128-bit id as 32 hex digits. */
  readonly id: string
  readonly readOnly: boolean
  /** True when this `open` created the file (see {@link RegionLike.created}). */
  readonly created: boolean
  /** When the region file was created. */
  readonly createdAt: Date
  #file: RegionFile
  #fd: number
  /** The header and size, growth and space past the user area (region-growth.ts). */
  #space: RegionSpace
  /** The mapping of the user area and the checked views over it (region-views.ts). */
  #mapped: MappedViews
  #closed = false
  #wrote = false // inv. R9
  #broken: BrokenError | null = null
  /** The fdatasync fallback of flushAsync; it closes the descriptor at close (once idle). */
  #fdatasync: SharedFdatasync
  /** The file as the flush threads know it (writable regions only): descriptor and gate (W6). */
  #flushFile: FileRef | null
  /** Resolves when a close that had to wait for the flush thread has finished (trim, fdatasync, release). */
  #closing: Promise<void> | null = null

  private constructor(file: RegionFile, map: Buffer) {
    this.path = file.displayPath
    this.id = file.header.id
    this.readOnly = file.readOnly
    this.created = file.created
    this.createdAt = new Date(file.header.createdAt)
    this.#file = file
    this.#fd = file.fd
    this.#mapped = new MappedViews(file.displayPath, file.readOnly, map)
    this.#fdatasync = new SharedFdatasync(file.fd, () => this.#syncState(), err => this.#break('fdatasync failed', err))
    this.#flushFile = file.readOnly ? null : newFileRef(file.fd)
    this.#space = new RegionSpace(file, this.#flushFile, () => this.#closed, (what, cause) => this.#break(what, cause))
  }

  /**
   * Opens the region file at `path`, creating it when asked (see {@link RegionOpenOptions}):
   * - missing file, `size` given: created durably (inv. C1) with a zeroed user area of
   *   `size` bytes rounded up to 4096; `create: false` never creates, `exclusive: true`
   *   refuses an existing file;
   * - existing file: opened with its own size; `size` is ignored (use `grow`);
   * - `readOnly: true`: mapped PROT_READ without the writer lock; never creates.
   *
   * Throws `InvalidArgumentError` (bad options), `RegionNotFoundError`, `RegionExistsError`,
   * `RegionLockedError` (another writer, named by pid), `NotARegionError`, `CorruptionError`,
   * `UnsupportedVersionError`, or `OutOfSpaceError` (disk full while creating).
   *
   * @example
   * const r = Region.open('data.pm', { size: 1 << 20 })
   * r.view(Float64Array, 0, 4)[0] = 42
   * r.flush(0, 8)
   * r.close()
   */
  static open(path: string, options?: RegionOpenOptions): Region {
    const o = resolveOpenOptions(path, options)
    const onLost = { handler: (_err: Error): void => {} }
    const file = typedOsErrors(`Cannot open region "${path}"`, () => openRegionFile(path, o, err => onLost.handler(err)))
    let region: Region
    try {
      region = new Region(file, mapUserArea(file, file.header.userSize))
    } catch (e) {
      closeRegionFile(file)
      throw e
    }
    onLost.handler = err => region.#onLockLost(err)
    return region
  }

  /**
   * Deletes the region file at `path`, its stale lock directory and any leftover of an
   * interrupted creation. Throws `RegionLockedError` while a live writer (this process
   * included) has it open, `RegionNotFoundError` if there is no file, and `NotARegionError`
   * (deleting nothing) if the file is not a region.
   */
  static delete(path: string): void { deleteRegionFile(path) }

  /**
   * Validates the region file at `path` (header, checksum, version, size) without locking
   * or mapping it, and returns its header. Throws the same errors as a read-only open.
   */
  static check(path: string): RegionHeader { return readRegionHeader(path) }

  /** Size of the user area in bytes (a multiple of 4096). */
  get size(): number { return this.#space.size }

  /**
   * Writable regions: the random token of this open's writer lock (lock-owner.ts inv. O3),
   * which a pool publishes so that readers can tell its writer is the lock's live holder.
   * '' for a read-only region.
   */
  get writerToken(): string { return this.#file.lock?.token ?? '' }

  /**
   * The token of the live process holding this file's writer lock now (this process
   * included), '' when the holder's record has no token or is not written yet, or null
   * when no live process holds it. Reads the lock directory (and, when no live process
   * holds it, the file's writer record: a writer that opened the file under another name,
   * lock.ts inv. L10); never takes or changes either.
   */
  liveWriter(): string | null {
    this.#usableRaw('Cannot probe the writer of')
    return liveHolderToken(this.#file.absPath) ?? recordedLiveWriter(this.#file.fd) // lock.ts inv. L10: a writer under another name
  }

  /**
   * Writable regions: false once the file's writer record is no longer the one this open wrote
   * (another writer claimed the file under another name: lock.ts inv. L10). One read of the
   * record's bytes. True for read-only regions and where no record was written.
   */
  writerRecordHolds(): boolean {
    this.#usableRaw('Cannot look up the writer record of')
    const claim = this.#file.writerClaim
    try { return claim === null || recordIs(this.#fd, claim.mine) } catch { return true } // an unreadable record says nothing
  }

  /** Whether the path still names this region's file: 'same', or 'deleted' / 'replaced' since the open (region-file.ts inv. C7). */
  pathHolds(): 'same' | 'deleted' | 'replaced' { this.#usableRaw('Cannot look up the path of'); return pathHolds(this.#file) }

  /**
   * Read-only regions (inv. R8): reads the header again and, when a writer has grown the
   * file, maps the larger user area; returns the size. Views taken before throw
   * `RegionClosedError` once it remapped, and `unsafeBytes()` must be fetched again. A
   * writable region knows its size: it returns it unchanged.
   */
  followGrowth(): number {
    this.#usableRaw('Cannot follow the growth of')
    if (!this.readOnly) return this.size
    if (this.#space.follow()) this.#remap()
    return this.size
  }
  get closed(): boolean { return this.#closed }
  /** True after an unrecoverable failure (inv. R6); only `close()` still works. */
  get broken(): boolean { return this.#broken !== null }

  /** Checked `Uint8Array` over the whole user area (inv. R4). Read-only regions: stores throw `ReadOnlyError`. */
  get bytes(): Uint8Array {
    this.#usableRaw('Cannot use')
    return this.#mapped.bytes()
  }

  /**
   * A checked `ctor` view of `length` elements (bytes for DataView) at `byteOffset`, which
   * must be aligned to the element size (inv. R4). Read-only regions: stores throw `ReadOnlyError`.
   */
  view<C extends ViewCtor>(ctor: C, byteOffset: number, length: number): InstanceType<C> {
    this.#usableRaw('Cannot create view on')
    checkViewArgs(this.path, this.size, ctor, byteOffset, length)
    return this.#mapped.view(ctor, byteOffset, length)
  }

  /**
   * The raw `Uint8Array` over the user area, unchecked: invalid (but still harmless to
   * read) after `close()` and `grow()`; fetch it again. On a read-only region the array is
   * backed by a PROT_READ mapping and a store into it kills the process with SIGSEGV:
   * callers must check `readOnly` before writing.
   */
  unsafeBytes(): Uint8Array { return this.#usableRaw('Cannot use') }

  /**
   * Makes `[offset, offset + length)` durable before returning (msync MS_SYNC of the 4 KiB
   * pages covering it). Defaults: the whole user area. A zero length flushes nothing.
   */
  flush(offset?: number, length?: number): void {
    const [start, end] = this.#flushRange('Cannot flush', offset, length)
    if (start === end) return
    this.#wrote = true // inv. R9
    try {
      mmap.sync(this.#mapped.map!, start, end - start, true, false)
    } catch (e) {
      throw this.#break('msync failed', e)
    }
  }

  /**
   * Starts the thread that `flushAsync` uses, if it is not running yet (a hint: it starts
   * on first use otherwise, 100-170 ms later). Call it before a long computation whose
   * result will be flushed asynchronously. Does nothing on a read-only or closed region.
   */
  prepareFlushAsync(): void {
    if (this.readOnly || this.#closed) return
    startFlushThreads()
  }

  /**
   * Like `flush`, without blocking the event loop: resolves once the range is durable.
   * Runs msync(MS_SYNC) of the covering pages in a worker thread (flush-worker.ts), so only
   * the range is written, not every dirty page of the file. Where no worker can run (it
   * cannot start, W10, or it died, W8) it falls back to fdatasync on the thread pool (a
   * superset of the range; calls made while one is running share the next one). Errors
   * (including bad arguments) are rejections; a failed msync breaks the region (inv. R6).
   */
  async flushAsync(offset?: number, length?: number): Promise<void> {
    const [start, end] = this.#flushRange('Cannot flush', offset, length)
    if (start === end) return
    this.#wrote = true // inv. R9
    const ranged = msyncInWorker(this.#flushFile!, HEADER_SIZE + this.size, HEADER_SIZE + start, end - start)
    if (ranged === null) return this.#fdatasync.sync()
    let result: Awaited<typeof ranged>
    try {
      result = await ranged
    } catch (e) {
      throw this.#break('msync failed', e)
    }
    if (result === 'done') return
    if (this.#closed || result === 'closed') {             // close made everything durable, or failed (inv. R6)
      await this.#closing
      if (this.#broken !== null) throw this.#brokenError('Cannot flush')
      return
    }
    return this.#fdatasync.sync()                                 // W8, W10: no thread could do it
  }

  /**
   * Grows the user area to `newSize` bytes rounded up to 4096, keeping every byte and
   * offset. Extends the file with zeros (4 KiB writes) and fsyncs it, then rewrites the
   * header and fsyncs it (inv. H2), then remaps: every checked view taken before throws
   * `RegionClosedError` afterwards and `unsafeBytes()` must be fetched again (inv. R4).
   * A size that rounds to the current one does nothing; a smaller one is `InvalidArgumentError`;
   * beyond 2 GiB - 4 KiB or a full disk is `OutOfSpaceError` (the file is left unchanged).
   * It first waits for the space the flush thread prepares (inv. R7); if that thread is
   * still writing after `flushTiming.waitMs`, it throws `FlushThreadError`, changing nothing.
   */
  grow(newSize: number): void {
    this.#checkWritable('Cannot grow')
    this.#wrote = true // inv. R9
    if (this.#space.grow(newSize)) this.#remap()
  }

  /**
   * Starts allocating the file space a later `grow(newSize)` needs, in the flush thread:
   * zeroed 4 KiB pages past the user area, then an fsync (the work `grow` does on the
   * calling thread). A `grow` to at most `newSize` then only rewrites the header and
   * remaps. Resolves when the flush thread is done, whether it succeeded or not: it is a
   * hint, and `grow` does whatever it did not (inv. R7). Does nothing on a read-only,
   * closed or broken region, or where no worker thread can run.
   */
  reserveAsync(newSize: number): Promise<void> {
    if (this.readOnly || this.#closed || this.#broken !== null) return Promise.resolve()
    this.#wrote = true // inv. R9
    return this.#space.reserve(newSize)
  }

  /**
   * User-area offset where the space reserved so far ends (at least `size`): an append
   * stream may start there or further on. Not known while a stream is open (-1).
   */
  get reservedEnd(): number { return this.#space.reservedEnd }

  /**
   * Opens an append stream: bytes written to it go, in order, into the file past the user
   * area from user-area offset `at` (at or after `reservedEnd`; the gap is zero-filled),
   * written and fsynced by the flush thread while this thread goes on, with the CRC-32C
   * of every `block` bytes (the last block zero-padded). It is a reservation whose pages
   * hold data (inv. R7): a later `grow` over it keeps the bytes, so they appear in the user
   * area without this thread ever copying them. Returns null where no worker thread can
   * run or another stream is open (then write the usual way). Bad arguments throw
   * `InvalidArgumentError` before anything is written, among them a stream that no grow
   * could reach (`at + block` past 2 GiB - 4 KiB) and a gap of more than 16 MiB (stream-args.ts).
   */
  appendStream(at: number, block: number): RegionStream | null {
    this.#checkWritable('Cannot open an append stream on')
    this.#wrote = true // inv. R9
    return this.#space.stream(at, block)
  }

  /**
   * Makes everything durable, invalidates every checked view and releases the mapping (when
   * garbage collected) and the lock. Idempotent. Throws `BrokenError` if the final flush
   * failed (the region is closed anyway). A writable region first closes its file to the
   * flush threads (inv. R7, W6): if one is still inside a write after `flushTiming.waitMs`,
   * close throws `FlushThreadError`; the region is closed for this process, and its trim,
   * final flush and lock release happen once that write ends.
   */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#mapped.release()
    if (this.#flushFile !== null && !closeGate(this.#flushFile)) {
      this.#finishCloseLater()
      throw new FlushThreadError(`Cannot close region "${this.path}" yet: the flush thread is still inside a write to it after ${flushTiming.waitMs} ms; it is closed for this process, and its lock is released once that write ends`)
    }
    this.#finishClose()
  }

  /** The end of close, once no flush thread can touch the file (W6): trim, final flush, release. */
  #finishClose(): void {
    let failure: BrokenError | undefined
    if (!this.readOnly) {
      const claim = this.#file.writerClaim
      if (claim !== null) clearWriterRecord(this.#fd, claim) // lock.ts inv. L10: the old bytes back, best effort, before the lock goes
      if (this.#wrote) this.#space.trimUnused() // inv. R9
      if (this.#broken === null) {
        try { fs.fdatasyncSync(this.#fd) } catch (e) { failure = this.#break('fdatasync at close failed', e) }
      }
    }
    this.#file.lock?.release(this.#wrote || this.created ? 'kept' : 'unwritten') // inv. R9: and the lock's asides directory if this open made it (lock.ts inv. L8)
    if (this.#flushFile !== null) forgetInWorker(this.#flushFile)
    this.#fdatasync.closeWhenIdle()
    if (failure !== undefined) throw failure
  }

  /** Finishes close once the flush thread leaves the file's gate (close timed out waiting for it). */
  #finishCloseLater(): void {
    this.#closing = new Promise<void>(resolve => {
      const timer = setInterval(() => {
        if (!closeGate(this.#flushFile!, 0)) return
        clearInterval(timer)
        try { this.#finishClose() } catch (e) { process.emitWarning(e as Error) }
        resolve()
      }, 100)
      timer.unref()
    })
  }

  /** Whether a queued fdatasync still has to run: not once closed (close made everything durable) or broken. */
  #syncState(): 'open' | 'closed' | Error {
    if (this.#broken !== null) return this.#brokenError('Cannot flush')
    return this.#closed ? 'closed' : 'open'
  }

  #usableRaw(action: string): Uint8Array {
    if (this.#closed) throw new RegionClosedError(`${action} region "${this.path}": it is closed; open it again with Region.open()`)
    if (this.#broken !== null) throw this.#brokenError(action)
    return this.#mapped.raw!
  }

  #brokenError(action: string): BrokenError {
    return new BrokenError(`${action} region "${this.path}": ${this.#broken!.message}`, { cause: this.#broken })
  }

  #checkWritable(action: string): void {
    this.#usableRaw(action)
    if (this.readOnly) throw new ReadOnlyError(`${action} region "${this.path}": it was opened read-only; open it without { readOnly: true } to write`)
  }

  /** Checks a flush range and returns it rounded out to whole pages, `[start, end)`. */
  #flushRange(action: string, offset: number | undefined, length: number | undefined): [number, number] {
    this.#checkWritable(action)
    return flushPages(this.path, this.size, action, offset, length)
  }

  /** Maps the (grown) user area anew and invalidates the old views (inv. R4). */
  #remap(): void {
    let map: Buffer
    try {
      map = mapUserArea(this.#file, this.size)
    } catch (e) {
      throw this.#break(`mapping the grown file failed (${String(e)}); reopen it`, e)
    }
    this.#mapped.remap(map)
  }

  /** Enters the sticky broken state (inv. R6) and returns the error to throw. */
  #break(what: string, cause: unknown): BrokenError {
    if (this.#broken === null) {
      this.#broken = new BrokenError(`${what} (${String(cause)}); its durable state is unknown: close it and open it again`, { cause })
      this.#mapped.invalidate()
    }
    return this.#brokenError('Cannot use')
  }

  /** The lock was found lost (lock.ts inv. L4): another writer may be active (inv. R6, L5). */
  #onLockLost(err: Error): void {
    if (this.#closed) return
    this.#break(`its lock "${lockDirOf(this.#file.absPath)}" was lost, so another process may be writing it`, err)
    process.emitWarning(`Region "${this.path}" is broken: its lock was lost (${err.message})`, 'PersistentMemoryWarning')
  }
}

export type { RegionOpenOptions } from './open-options.js'
export type { RegionHeader } from './header.js'
