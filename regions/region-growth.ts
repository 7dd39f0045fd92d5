/**
 * The size of a live `Region` (region.ts) and the file space past it: growth of a writable
 * region (extend the file, rewrite the header), the space the flush thread prepares ahead of
 * growth (reservations and append streams, region-ahead.ts), and a read-only region reading
 * a writer's growth from the header. `Region` checks that it is usable (open, not broken,
 * writable where it must be) before each call, and remaps when a call says the size grew;
 * this file knows nothing of mappings or views.
 *
 * State: the header last written or read; its `userSize` is the region's size. It only
 * changes upward: `grow` replaces it once the file holds the new size and the new header is
 * durable (inv. R2, H2), `follow` once the file announces a larger size (inv. R8). A failure
 * that leaves the durable state unknown breaks the region through the `brk` callback
 * (region.ts inv. R6).
 *
 * Invariants (R1, R3-R6 are in region.ts):
 *  R2. Every mapped page has its disk blocks allocated before it is mapped (inv. F2), so
 *      stores never SIGBUS on a full disk; a full disk is an OutOfSpaceError at create/grow.
 *  R7. Space reserved ahead (`reserveAsync`, `appendStream`; region-ahead.ts) lies past the
 *      user area, so nothing of the region changes while the flush thread writes it. `grow`
 *      first settles every job under way (inv. A2: bounded, and a dead thread is noticed at
 *      once, flush-worker.ts W8), so the main thread never writes the file while the flush
 *      thread does. `close` (region.ts) first closes the file's gate (W6: bounded), so the
 *      flush thread never writes the file, nor uses its descriptor, once close trims the space
 *      no grow used (a longer file too, inv. H3, when it wrote: region.ts R9), releases the lock or closes the descriptor.
 *  R8. A read-only region follows a writer's growth only when asked (`followGrowth`): it
 *      reads the header again and, if it announces a larger user area, maps that (the file
 *      holds it, inv. H2), invalidating the views taken before (inv. R4). The old mapping
 *      stays readable until garbage collected, so a raw array fetched before still reads
 *      the file's current bytes below the old size.
 */
import fs from 'node:fs'
import { BrokenError, CorruptionError, InvalidArgumentError, OutOfSpaceError } from './errors.js'
import { checkNonNegInt, PAGE_SIZE, roundUp } from './bounds.js'
import { encodeHeader, HEADER_SIZE, HEADER_STRUCT_SIZE, MAX_USER_SIZE, type RegionHeader } from './header.js'
import { rereadHeader, typedOsErrors, type RegionFile } from './region-file.js'
import { fillZeros, isSpaceError, writeFull } from './file-io.js'
import { checkStreamGap, checkStreamStart } from './stream-args.js'
import { type FileRef, type WorkerStream } from './flush-worker.js'
import { SpaceAhead } from './region-ahead.js'
import type { RegionStream } from './types.js'

/** The size and the space past the user area of one open region (see the header comment). */
export class RegionSpace {
  readonly #file: RegionFile
  readonly #path: string
  readonly #fd: number
  #header: RegionHeader
  /** Space prepared past the user area by the flush thread (inv. R7); null when read-only. */
  readonly #ahead: SpaceAhead | null
  /** Whether the region is closed (its file's gate to the flush threads is closed, W6). */
  readonly #isClosed: () => boolean
  /** Enters the region's sticky broken state (region.ts inv. R6) and returns the error to throw. */
  readonly #break: (what: string, cause: unknown) => BrokenError

  constructor(file: RegionFile, flushFile: FileRef | null, isClosed: () => boolean, brk: (what: string, cause: unknown) => BrokenError) {
    this.#file = file
    this.#path = file.displayPath
    this.#fd = file.fd
    this.#header = file.header
    this.#ahead = flushFile === null ? null : new SpaceAhead(flushFile, file.displayPath)
    this.#isClosed = isClosed
    this.#break = brk
  }

  get header(): RegionHeader { return this.#header }

  /** Size of the user area in bytes (a multiple of 4096). */
  get size(): number { return this.#header.userSize }

  /**
   * `followGrowth` of a usable read-only region (inv. R8): reads the header again; true when
   * it announces a larger user area, which the caller then maps.
   */
  follow(): boolean {
    const header = typedOsErrors(`Cannot follow the growth of region "${this.#path}"`, () => rereadHeader(this.#file))
    if (header.id !== this.#header.id) {
      throw new CorruptionError(`Cannot follow the growth of region "${this.#path}": its header now names region ${header.id}, not ${this.#header.id}; the file was replaced, open it again`)
    }
    if (header.userSize <= this.size) return false
    this.#header = header
    return true
  }

  /**
   * `grow` of a writable, usable region (see Region.grow): true when the header now
   * announces the new size, which the caller then maps (inv. R4).
   */
  grow(newSize: number): boolean {
    const action = `Cannot grow region "${this.#path}"`
    checkNonNegInt('newSize', newSize, action)
    const target = roundUp(newSize, PAGE_SIZE)
    if (target < this.size) throw new InvalidArgumentError(`${action} to ${newSize} bytes: it already has ${this.size} bytes and regions never shrink`)
    if (target > MAX_USER_SIZE) throw new OutOfSpaceError(`${action} to ${newSize} bytes: the maximum user-area size is ${MAX_USER_SIZE} bytes (2 GiB - 4 KiB)`)
    if (target === this.size) return false
    this.#ahead!.settle(HEADER_SIZE + this.size, 'Cannot grow')
    const ready = this.#ahead!.readyTo(HEADER_SIZE + this.size)
    if (ready < HEADER_SIZE + target) this.#extendFile(ready, target, action)
    this.#writeHeader({ ...this.#header, userSize: target })
    return true
  }

  /** `reserveAsync` of a writable, open, unbroken region (see Region.reserveAsync, inv. R7). */
  reserve(newSize: number): Promise<void> {
    checkNonNegInt('newSize', newSize, `Cannot reserve space for region "${this.#path}"`)
    return this.#ahead!.reserve(HEADER_SIZE + this.size, HEADER_SIZE + Math.min(roundUp(newSize, PAGE_SIZE), MAX_USER_SIZE))
  }

  /** See Region.reservedEnd: at least `size`, or -1 while a stream is open. */
  get reservedEnd(): number {
    if (this.#ahead === null) return this.size
    const end = this.#ahead.end(HEADER_SIZE + this.size)
    return end < 0 ? -1 : end - HEADER_SIZE
  }

  /** `appendStream` of a writable, usable region (see Region.appendStream, inv. R7). */
  stream(at: number, block: number): RegionStream | null {
    const action = `Cannot open an append stream on region "${this.#path}"`
    checkNonNegInt('at', at, action)
    checkStreamStart(action, at, block) // inv. S1
    const end = this.reservedEnd
    if (end < 0) return null
    if (at < end) throw new InvalidArgumentError(`${action}: at ${at} is before the end of the reserved space (${end})`)
    checkStreamGap(action, at, end) // inv. S2
    const ws = this.#ahead!.stream(HEADER_SIZE + this.size, HEADER_SIZE + at, block)
    if (ws === null) return null
    return {
      at,
      get written() { return ws.written },
      get failure() { return ws.failure },
      write: (bytes, transfer) => ws.write(bytes, transfer),
      end: () => ws.end(),
      discard: () => this.#discardStream(ws),
    }
  }

  /** At close, once no flush thread can touch the file (W6): trims the space no grow used (inv. R7). */
  trimUnused(): void {
    try {
      if (fs.fstatSync(this.#fd).size > HEADER_SIZE + this.size) fs.ftruncateSync(this.#fd, HEADER_SIZE + this.size)
    } catch { /* a longer file is still valid (inv. H3) */ }
  }

  /** Ends `ws`, waits for it, and zero-fills what it wrote (a stream given up: inv. R7). */
  #discardStream(ws: WorkerStream): void {
    if (this.#isClosed()) { void ws.end(); return }          // the gate is closed: it wrote its last byte (W6), close trimmed it
    const range = this.#ahead!.discard(ws, 'Cannot discard an append stream of')
    if (range === null) return
    try {
      fillZeros(this.#fd, range[0], range[1])
      fs.fsyncSync(this.#fd)
    } catch (e) {
      throw this.#break('zero-filling a discarded append stream failed', e)
    }
  }

  /** Appends zeroed, allocated, fsynced pages from file offset `from` up to `target` bytes of user area (inv. R2). */
  #extendFile(from: number, target: number, action: string): void {
    try {
      fillZeros(this.#fd, from, HEADER_SIZE + target)
    } catch (e) {
      try { fs.ftruncateSync(this.#fd, from) } catch { /* a longer file is still valid (inv. H3) */ }
      if (isSpaceError(e)) throw new OutOfSpaceError(`${action} to ${target} bytes: no space left on the disk (${(e as { code: string }).code}); free some space`)
      throw this.#break('extending the file failed', e)
    }
    try { fs.fsyncSync(this.#fd) } catch (e) { throw this.#break('fsync after extending the file failed', e) }
  }

  /** Rewrites the header struct (one sector: atomic, inv. H1) and fsyncs it. */
  #writeHeader(header: RegionHeader): void {
    try {
      writeFull(this.#fd, encodeHeader(header).subarray(0, HEADER_STRUCT_SIZE), 0)
      fs.fsyncSync(this.#fd)
    } catch (e) {
      throw this.#break('writing the header failed; it may announce the old or the new size', e)
    }
    this.#header = header
  }
}
