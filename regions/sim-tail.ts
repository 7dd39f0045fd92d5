/**
 * SimTail: the space past a SimRegion's user area, emulating Region's reservations
 * (`reserveAsync`) and append stream (`appendStream`), with SimStream, the stream handle.
 * It keeps two images of the tail, like SimRegion's of the user area: what the program wrote
 * (volatile) and what is durable. The crash model of that space is sim-region.ts inv. 4: the
 * tail is never part of a crash image; a `grow` takes bytes from its front (`shift`) after
 * ending any open stream (`finishStream`).
 *
 * States: no stream open (`reservedEnd` is the end of the tail; `reserve` may lengthen it) or
 * one stream open (`reservedEnd` is -1; `reserve` does nothing, `appendStream` returns null).
 * A stream is open from `appendStream` until it is finished (its `end()` resolves, or a grow)
 * or discarded; the stream's own states are documented at SimStream.
 */
import { InvalidArgumentError, ReadOnlyError } from './errors.js'
import { PAGE_SIZE, checkNonNegInt, roundUp } from './bounds.js'
import { MAX_USER_SIZE } from './header.js'
import { crc32c } from './checksum.js'
import { checkStreamGap, checkStreamStart } from './stream-args.js'
import type { RegionStream } from './types.js'

/** What a SimTail needs of its SimRegion (closures over the region's private state). */
export interface TailHost {
  readonly path: string
  readonly readOnly: boolean
  /** Largest size the region may reach. */
  readonly maxSize: number
  /** The region's current user-area size (where the tail starts). */
  size(): number
  closed(): boolean
  /** A flush of `[offset, offset + length)` taking effect: onFlush first, then `apply`, then the flush count. */
  flush(offset: number, length: number, apply: () => void): void
}

/** The bytes past a SimRegion's user area and its open append stream; see the file comment. */
export class SimTail {
  /** Bytes past the user area (reserved or streamed, sim-region.ts inv. 4): what the program wrote, and what is durable. */
  #volatile: Uint8Array = new Uint8Array(0)
  #durable: Uint8Array = new Uint8Array(0)
  /** The open append stream, if any. */
  #stream: SimStream | null = null

  constructor(private readonly host: TailHost) {}

  /** User-area offset where the reserved space ends (at least `size`); -1 while a stream is open. */
  get reservedEnd(): number {
    return this.#stream !== null ? -1 : this.host.size() + this.#volatile.length
  }

  /**
   * Reserves zero-filled, durable space past the user area up to `newSize` (as
   * Region.reserveAsync), taking effect after the current turn of the event loop.
   */
  async reserve(newSize: number): Promise<void> {
    const host = this.host
    if (host.readOnly || host.closed()) return
    checkNonNegInt('newSize', newSize, `Cannot reserve space for region "${host.path}"`)
    if (this.#stream !== null) return
    await new Promise<void>(resolve => setImmediate(resolve))
    const want = Math.min(roundUp(newSize, PAGE_SIZE), MAX_USER_SIZE) - host.size()   // as Region: never past the largest user area
    if (host.closed() || this.#stream !== null || want <= this.#volatile.length || host.size() + want > host.maxSize) return
    host.flush(host.size() + this.#volatile.length, want - this.#volatile.length, () => {
      this.#volatile = extend(this.#volatile, want)
      this.#durable = extend(this.#durable, want)
    })
  }

  /**
   * An append stream past the user area from `at` (as Region.appendStream): its bytes are
   * durable only once `end()` resolves (sim-region.ts inv. 4), with the CRC-32C of every
   * `block` bytes. Null while another stream is open. The caller checks the region is open.
   */
  appendStream(at: number, block: number): RegionStream | null {
    const action = `Cannot open an append stream on region "${this.host.path}"`
    if (this.host.readOnly) throw new ReadOnlyError(`${action}: it was opened read-only`)
    checkNonNegInt('at', at, action)
    checkStreamStart(action, at, block) // stream-args.ts inv. S1, as Region
    if (this.#stream !== null) return null
    if (at < this.reservedEnd) throw new InvalidArgumentError(`${action}: at ${at} is before the end of the reserved space (${this.reservedEnd})`)
    checkStreamGap(action, at, this.reservedEnd) // inv. S2
    const stream = new SimStream(this.host.path, at, block, {
      write: (a, bytes) => this.#write(a, bytes),
      end: (st, a, e, keep) => this.#end(st, a, e, keep),
      read: (a, e) => this.#read(a, e),
    })
    this.#stream = stream
    return stream.handle
  }

  /** Ends the open stream, if any, making its bytes durable (as Region.grow waits for the flush thread). */
  finishStream(): void {
    this.#stream?.finish()
  }

  /**
   * Removes the first `take` bytes of the tail (a grow over them, sim-region.ts inv. 4) and
   * returns them, volatile and durable; shorter when the tail is.
   */
  shift(take: number): [volatile: Uint8Array, durable: Uint8Array] {
    const v = this.#volatile.subarray(0, take), d = this.#durable.subarray(0, take)
    this.#volatile = this.#volatile.slice(Math.min(take, this.#volatile.length))
    this.#durable = this.#durable.slice(Math.min(take, this.#durable.length))
    return [v, d]
  }

  /** Stream support (SimStream): writes `bytes` at user-area offset `at` of the tail (volatile only). */
  #write(at: number, bytes: Uint8Array): void {
    const from = at - this.host.size()
    if (from + bytes.length > this.#volatile.length) {
      const len = roundUp(from + bytes.length, PAGE_SIZE)
      this.#volatile = extend(this.#volatile, len)
      this.#durable = extend(this.#durable, len)
    }
    this.#volatile.set(bytes, from)
  }

  /** Stream support: the stream's range `[at, end)` is fsynced (a flush, onFlush first) or zero-filled again. */
  #end(stream: SimStream, at: number, end: number, keep: boolean): void {
    if (this.#stream === stream) this.#stream = null
    const size = this.host.size()
    const from = Math.max(0, at - size), to = Math.max(from, end - size)
    if (to === from) return
    if (keep) {
      this.host.flush(at, end - at, () => {
        this.#durable.set(this.#volatile.subarray(from, to), from)
      })
    } else {
      this.#volatile.fill(0, from, to)
      this.#durable.fill(0, from, to)
    }
  }

  /** Stream support: the bytes `[at, end)` of the tail as written. */
  #read(at: number, end: number): Uint8Array {
    const size = this.host.size()
    return this.#volatile.subarray(at - size, end - size)
  }
}

/** What a SimStream may do to its region's tail (closures over the SimTail's private state). */
interface TailOps {
  write(at: number, bytes: Uint8Array): void
  end(stream: SimStream, at: number, end: number, keep: boolean): void
  read(at: number, end: number): Uint8Array
}

/**
 * A SimRegion append stream: bytes land in the region's tail at once (volatile), and are
 * durable, with their block checksums, when `end()` resolves after a turn of the event loop.
 *
 * States (`#state`):
 *   - open: `write` appends; `end()` -> ended, `discard()` -> discarded, `finish()` -> done;
 *   - ended: `end()` was called; writes throw; its turn of the event loop (or a `grow`) calls
 *     `finish()` -> done, `discard()` -> discarded;
 *   - done: the bytes are durable (the tail's end with keep); `discard()` -> discarded;
 *   - discarded: the bytes are zero-filled again (the tail's end without keep); final.
 */
class SimStream {
  readonly handle: RegionStream
  #written = 0
  #state: 'open' | 'ended' | 'done' | 'discarded' = 'open'
  #crcs: Promise<Uint32Array | null> | null = null

  constructor(readonly path: string, readonly at: number, readonly block: number, private readonly tail: TailOps) {
    const self = this
    this.handle = {
      at,
      get written() { return self.#written },
      write: (bytes, transfer) => self.write(bytes, transfer === true),
      end: () => self.end(),
      discard: () => self.discard(),
    }
  }

  write(bytes: Uint8Array, transfer: boolean): void {
    if (this.#state !== 'open') throw new InvalidArgumentError(`Cannot write to an append stream of region "${this.path}": it has ended`)
    if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError(`Cannot write to an append stream of region "${this.path}": expected a Uint8Array`)
    this.tail.write(this.at + this.#written, bytes)
    this.#written += bytes.length
    // A transferred buffer is detached here, as the flush thread's transfer would.
    if (transfer && bytes.buffer instanceof ArrayBuffer) structuredClone(bytes.buffer, { transfer: [bytes.buffer] })
  }

  end(): Promise<Uint32Array | null> {
    if (this.#crcs !== null) return this.#crcs
    if (this.#state === 'open') this.#state = 'ended'
    this.#crcs = new Promise<void>(resolve => setImmediate(resolve)).then(() => this.finish())
    return this.#crcs
  }

  /** Makes the stream durable now (its fsync); the checksums, or null if it was discarded. */
  finish(): Uint32Array | null {
    if (this.#state === 'discarded') return null
    if (this.#state !== 'done') {
      this.#state = 'done'
      this.tail.end(this, this.at, this.at + this.#written, true)
    }
    return this.checksums()
  }

  checksums(): Uint32Array {
    const n = Math.ceil(this.#written / this.block)
    const out = new Uint32Array(n)
    const bytes = this.tail.read(this.at, this.at + this.#written)
    for (let i = 0; i < n; i++) {
      const part = bytes.subarray(i * this.block, Math.min(bytes.length, (i + 1) * this.block))
      if (part.length === this.block) { out[i] = crc32c(part); continue }
      const padded = new Uint8Array(this.block)
      padded.set(part)
      out[i] = crc32c(padded)
    }
    return out
  }

  discard(): void {
    if (this.#state === 'discarded') return
    this.#state = 'discarded'
    this.#crcs ??= Promise.resolve(null)
    this.tail.end(this, this.at, this.at + this.#written, false)
  }
}

/** A copy of `a` zero-extended to `size` bytes. */
export function extend(a: Uint8Array, size: number): Uint8Array {
  const b = new Uint8Array(size)
  b.set(a)
  return b
}
