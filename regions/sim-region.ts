/**
 * SimRegion: an in-memory region with the crash model of DESIGN.md section 2, so that every
 * layer above can be property-tested against the crashes the model allows.
 *
 * It keeps two images of the user area:
 *   - the volatile image: what the program sees (every store lands here at once);
 *   - the durable image: what is guaranteed to be on the disk.
 * `flush(offset, length)` copies the 512-byte sectors covering the range from volatile to
 * durable. That is stricter than a real msync, which persists whole 4 KiB pages, so code that
 * passes here does not rely on neighbours it did not flush.
 *
 * Crash images (power loss): every sector whose volatile bytes differ from its durable bytes
 * is "dirty"; after a crash each dirty sector independently holds its old (durable) or new
 * (volatile) content. A sector never mixes old and new bytes (sectors do not tear), so an
 * aligned 8-byte word is never torn. Nothing else can change: clean sectors and flushed data
 * always survive. A process crash (SIGKILL) keeps the whole volatile image: `processCrash()`.
 *
 * Invariants the tests of this file check:
 *   1. every byte of a crash image equals the durable or the volatile byte at that offset,
 *      and whole sectors are taken from one side;
 *   2. a range flushed and not written since is identical in every crash image;
 *   3. `crashImages` yields each distinct image at most once and, when there are at most
 *      log2(max) dirty sectors, yields every one of the 2^k images.
 *   4. Space past the user area (`reserveAsync`, `appendStream`, as Region inv. R7) is the
 *      "tail": it is never part of a crash image (a real file's bytes past the recorded size
 *      are trimmed by the next writer's open), so stream bytes can only reach a crash image
 *      through a `grow` over them, which first ends any open stream and makes its bytes
 *      durable (as Region.grow waits for the flush thread). A stream's bytes are durable
 *      when its `end()` resolves; `discard()` zero-fills them again. The tail and its
 *      stream are kept by sim-tail.ts; this file keeps the user area and the crash images.
 */
import { RegionClosedError, InvalidArgumentError, ReadOnlyError, OutOfSpaceError } from './errors.js'
import { ViewRegistry } from './checked-view.js'
import { PAGE_SIZE, SECTOR_SIZE, checkNonNegInt, checkRange, checkViewArgs, describe, roundUp } from './bounds.js'
import { MAX_USER_SIZE } from './header.js'
import { SimTail, extend } from './sim-tail.js'
import type { RegionLike, RegionStream, ViewCtor } from './types.js'

/** Information passed to {@link SimRegion.onFlush}. */
export interface FlushInfo {
  /** Start of the flushed range in bytes (as asked, before rounding to sectors). */
  readonly offset: number
  readonly length: number
  /** How many flushes completed before this one (0 for the first). */
  readonly index: number
}

/** Options of {@link SimRegion.create}. */
export interface SimRegionOptions {
  /** User-area size in bytes; rounded up to 4096. */
  size: number
  /** Name used in error messages (default `"sim"`). */
  path?: string
  /** Largest size `grow` may reach (default: unlimited); beyond it `grow` throws OutOfSpaceError. */
  maxSize?: number
  readOnly?: boolean
}

let nextSimId = 1

/** 16 random hex digits, like a lock token (lock-owner.ts). */
function randomToken(): string {
  const w = globalThis.crypto.getRandomValues(new Uint32Array(2))
  return w[0]!.toString(16).padStart(8, '0') + w[1]!.toString(16).padStart(8, '0')
}

/** In-memory region with a durable and a volatile image; see the file comment. */
export class SimRegion implements RegionLike {
  readonly path: string
  readonly id: string
  readonly readOnly: boolean
  /** True for `create` (a new, zero region), false for `fromImage` and crash images. */
  readonly created: boolean
  /**
   * The simulated writer lock's token (a writable SimRegion stands for a file whose writer
   * holds the lock while it is open); '' for a read-only one.
   */
  readonly writerToken: string
  /** Called before each flush takes effect; a crash image taken inside it is a crash just before that flush. */
  onFlush: ((info: FlushInfo) => void) | undefined
  #volatile: Uint8Array
  #durable: Uint8Array
  #closed = false
  #flushes = 0
  #maxSize: number
  #views: ViewRegistry
  /** Bytes past the user area (reserved or streamed, inv. 4) and the open append stream: sim-tail.ts. */
  #tail: SimTail

  private constructor(path: string, volatile: Uint8Array, durable: Uint8Array, maxSize: number, readOnly: boolean, created = false) {
    this.path = path
    this.created = created
    this.id = (nextSimId++).toString(16).padStart(32, '0')
    this.readOnly = readOnly
    this.writerToken = readOnly ? '' : randomToken()
    this.#volatile = volatile
    this.#durable = durable
    this.#maxSize = maxSize
    this.#views = new ViewRegistry(`Region "${path}" is closed`)
    this.#tail = new SimTail({
      path, readOnly, maxSize,
      size: () => this.size,
      closed: () => this.#closed,
      flush: (offset, length, apply) => {
        this.onFlush?.({ offset, length, index: this.#flushes })
        apply()
        this.#flushes++
      },
    })
  }

  /** A new zero-filled simulated region whose durable and volatile images are equal. */
  static create(opts: SimRegionOptions): SimRegion {
    const o = checkCreateOptions(opts)
    const size = roundUp(Math.max(o.size, PAGE_SIZE), PAGE_SIZE)
    return new SimRegion(o.path ?? 'sim', new Uint8Array(size), new Uint8Array(size), o.maxSize ?? Infinity, o.readOnly ?? false, true)
  }

  /** A simulated region whose durable and volatile images are both `image` (copied). */
  static fromImage(image: Uint8Array, opts: { path?: string; readOnly?: boolean } = {}): SimRegion {
    if (!(image instanceof Uint8Array) || image.length % PAGE_SIZE !== 0 || image.length === 0 || image.length > MAX_USER_SIZE) {
      throw new InvalidArgumentError(`Cannot create SimRegion from image: expected a Uint8Array whose length is a positive multiple of 4096 (at most ${MAX_USER_SIZE}), got ${describe(image)}`)
    }
    const o = checkOptions(opts, 'Cannot create SimRegion from image', IMAGE_KEYS)
    return new SimRegion((o.path as string | undefined) ?? 'sim', image.slice(), image.slice(), Infinity, (o.readOnly as boolean | undefined) ?? false)
  }

  get size(): number { return this.#volatile.length }
  get closed(): boolean { return this.#closed }

  /**
   * The simulated lock's live holder: this region's own token while it is open and
   * writable (its writer is alive), null otherwise (a read-only image has no writer).
   */
  liveWriter(): string | null { return this.readOnly || this.#closed ? null : this.writerToken }

  /** The size: a SimRegion's bytes are always the current ones (its `unsafeBytes()` follows growth). */
  followGrowth(): number { this.#open('follow the growth of'); return this.size }
  /** Number of flushes (sync or async) that have taken effect. */
  get flushCount(): number { return this.#flushes }

  get bytes(): Uint8Array {
    this.#open('read bytes')
    return this.#views.wrap(this.#volatile, Uint8Array)
  }

  view<C extends ViewCtor>(ctor: C, byteOffset: number, length: number): InstanceType<C> {
    this.#open('create view')
    const byteLength = checkViewArgs(this.path, this.size, ctor, byteOffset, length)
    const buf = this.#volatile.buffer
    const real = ctor === DataView
      ? new DataView(buf, this.#volatile.byteOffset + byteOffset, byteLength)
      : new (ctor as Uint8ArrayConstructor)(buf, this.#volatile.byteOffset + byteOffset, length)
    return this.#views.wrap(real, ctor) as InstanceType<C>
  }

  unsafeBytes(): Uint8Array {
    this.#open('access bytes')
    return this.#volatile
  }

  flush(offset = 0, length = this.size - offset): void {
    this.#open('flush')
    if (this.readOnly) throw new ReadOnlyError(`Cannot flush region "${this.path}": it was opened read-only`)
    checkRange(this.path, this.size, offset, length, 'Cannot flush')
    this.onFlush?.({ offset, length, index: this.#flushes })
    const start = Math.floor(offset / SECTOR_SIZE) * SECTOR_SIZE
    const end = Math.min(this.size, roundUp(offset + length, SECTOR_SIZE))
    this.#durable.set(this.#volatile.subarray(start, end), start)
    this.#flushes++
  }

  /** Like `flush`, but takes effect after the current turn of the event loop (as real async I/O would). */
  async flushAsync(offset = 0, length = this.size - offset): Promise<void> {
    this.#open('flush')
    checkRange(this.path, this.size, offset, length, 'Cannot flush')
    await new Promise<void>(resolve => setImmediate(resolve))
    // The range is read when the flush happens, like a real writeback.
    this.flush(offset, length)
  }

  grow(newSize: number): void {
    this.#open('grow')
    if (this.readOnly) throw new ReadOnlyError(`Cannot grow region "${this.path}": it was opened read-only`)
    checkNonNegInt('newSize', newSize, 'Cannot grow region')
    const size = roundUp(newSize, PAGE_SIZE)
    if (size <= this.size) return
    if (size > this.#maxSize || size > MAX_USER_SIZE) {
      throw new OutOfSpaceError(`Cannot grow region "${this.path}" to ${size} bytes: the simulated disk holds at most ${this.#maxSize}`)
    }
    // Growth is durable at once, as Region.grow is (it fsyncs the new size). It first ends
    // an open stream (Region.grow waits for the flush thread), and keeps the tail's bytes
    // it grows over (inv. 4).
    this.#tail.finishStream()
    const old = this.#volatile.length, take = size - old
    this.#volatile = extend(this.#volatile, size)
    this.#durable = extend(this.#durable, size)
    const [tailVolatile, tailDurable] = this.#tail.shift(take)
    this.#volatile.set(tailVolatile, old)
    this.#durable.set(tailDurable, old)
    this.#views.invalidateAll()
  }

  /** User-area offset where the reserved space ends (at least `size`); -1 while a stream is open. */
  get reservedEnd(): number { return this.#tail.reservedEnd }

  /**
   * Reserves zero-filled, durable space past the user area up to `newSize` (as
   * Region.reserveAsync), taking effect after the current turn of the event loop (sim-tail.ts).
   */
  reserveAsync(newSize: number): Promise<void> { return this.#tail.reserve(newSize) }

  /**
   * An append stream past the user area from `at` (as Region.appendStream): its bytes are
   * durable only once `end()` resolves (inv. 4), with the CRC-32C of every `block` bytes.
   * Null while another stream is open (sim-tail.ts).
   */
  appendStream(at: number, block: number): RegionStream | null {
    this.#open('open an append stream on')
    return this.#tail.appendStream(at, block)
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#views.invalidateAll()
  }

  /** Indexes of the sectors whose volatile content differs from the durable content. */
  dirtySectors(): number[] {
    const out: number[] = []
    // Compared a 32-bit word at a time (the images are fresh, 4096-byte multiples, so aligned).
    const v = new Int32Array(this.#volatile.buffer, this.#volatile.byteOffset, this.size >>> 2)
    const d = new Int32Array(this.#durable.buffer, this.#durable.byteOffset, this.size >>> 2)
    const words = SECTOR_SIZE >>> 2
    for (let s = 0, n = this.size / SECTOR_SIZE; s < n; s++) {
      for (let i = s * words, end = i + words; i < end; i++) {
        if (v[i] !== d[i]) { out.push(s); break }
      }
    }
    return out
  }

  /** A copy of the durable image (what survives a crash for certain). */
  durableImage(): Uint8Array { return this.#durable.slice() }
  /** A copy of the volatile image (what the program sees, and what a process crash keeps). */
  volatileImage(): Uint8Array { return this.#volatile.slice() }

  /**
   * One post-power-loss image as a new open SimRegion: each dirty sector old or new, chosen
   * by `seed`. Half of the seeds decide per 4 KiB page (whole pages kept or lost), the other
   * half per sector (torn pages), so both kinds of damage are common.
   */
  crash(seed: number): SimRegion {
    checkSeed(seed, 'Cannot make a crash image')
    const rng = mulberry32(seed)
    const perPage = rng() < 0.5
    const pageChoice = new Map<number, boolean>()
    const keep = (sector: number): boolean => {
      if (!perPage) return rng() < 0.5
      const page = Math.floor(sector * SECTOR_SIZE / PAGE_SIZE)
      let k = pageChoice.get(page)
      if (k === undefined) { k = rng() < 0.5; pageChoice.set(page, k) }
      return k
    }
    return this.#image(this.dirtySectors().filter(keep))
  }

  /** The image a process crash leaves: every store kept, as a new open SimRegion. */
  processCrash(): SimRegion {
    return SimRegion.fromImage(this.#volatile, { path: this.path })
  }

  /**
   * Post-crash images. With k dirty sectors and 2^k <= max, yields all 2^k images (all old
   * first, all new last); otherwise yields all-old, all-new, then `max - 2` random images.
   */
  crashImages(opts: { max?: number; seed?: number } = {}): Generator<SimRegion> {
    const o = checkOptions(opts, 'Cannot make crash images', IMAGES_KEYS) as { max?: unknown; seed?: unknown }
    if (o.max !== undefined && (typeof o.max !== 'number' || !Number.isSafeInteger(o.max) || o.max < 1)) throw new InvalidArgumentError(`Cannot make crash images: max must be a positive integer, got ${describe(o.max)}`)
    if (o.seed !== undefined) checkSeed(o.seed, 'Cannot make crash images')
    return this.#crashImages(opts)
  }

  *#crashImages(opts: { max?: number; seed?: number }): Generator<SimRegion> {
    const max = opts.max ?? 64
    const dirty = this.dirtySectors()
    if (dirty.length < 31 && 2 ** dirty.length <= max) {
      for (let mask = 0; mask < 2 ** dirty.length; mask++) {
        yield this.#image(dirty.filter((_, i) => (mask >>> i) & 1))
      }
      return
    }
    yield this.#image([])
    yield this.#image(dirty)
    let seed = opts.seed ?? 1
    for (let i = 2; i < max; i++) yield this.crash(seed++)
  }

  /** The durable image with the given sectors taken from the volatile image. */
  #image(newSectors: number[]): SimRegion {
    const img = this.#durable.slice()
    for (const s of newSectors) {
      const base = s * SECTOR_SIZE
      img.set(this.#volatile.subarray(base, base + SECTOR_SIZE), base)
    }
    return SimRegion.fromImage(img, { path: this.path })
  }

  #open(action: string): void {
    if (this.#closed) throw new RegionClosedError(`Cannot ${action}: region "${this.path}" is closed`)
  }
}

const CREATE_KEYS = ['size', 'path', 'maxSize', 'readOnly']
const IMAGE_KEYS = ['path', 'readOnly']
const IMAGES_KEYS = ['max', 'seed']

/** Checks the options of `SimRegion.create`: every bad one is an InvalidArgumentError naming it. */
function checkCreateOptions(opts: unknown): SimRegionOptions {
  const action = 'Cannot create SimRegion'
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new InvalidArgumentError(`${action}: options object with a size is required, got ${describe(opts)}`)
  const o = checkOptions(opts, action, CREATE_KEYS)
  checkNonNegInt('size', o.size, action)
  if (o.size > MAX_USER_SIZE) throw new InvalidArgumentError(`${action}: size ${o.size} is larger than the largest region (${MAX_USER_SIZE} bytes), which Region also refuses`)
  if (o.maxSize !== undefined && (typeof o.maxSize !== 'number' || !(Number.isSafeInteger(o.maxSize) || o.maxSize === Infinity) || o.maxSize <= 0)) {
    throw new InvalidArgumentError(`${action}: maxSize must be a positive integer (or Infinity), got ${describe(o.maxSize)}`)
  }
  return o as unknown as SimRegionOptions
}

/** An options object with only `known` names; `path` and `readOnly`, when given, checked. */
function checkOptions(opts: unknown, action: string, known: readonly string[]): Record<string, unknown> {
  if (opts === undefined) return {}
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new InvalidArgumentError(`${action}: options must be an object, got ${describe(opts)}`)
  const o = opts as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) throw new InvalidArgumentError(`${action}: unknown option ${JSON.stringify(key)}; known options are ${known.join(', ')}`)
  }
  if (o.path !== undefined && (typeof o.path !== 'string' || o.path.length === 0)) throw new InvalidArgumentError(`${action}: path must be a non-empty string, got ${describe(o.path)}`)
  if (o.readOnly !== undefined && typeof o.readOnly !== 'boolean') throw new InvalidArgumentError(`${action}: readOnly must be true or false, got ${describe(o.readOnly)}`)
  return o
}

/** A crash-image seed is any safe integer. */
function checkSeed(seed: unknown, action: string): void {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new InvalidArgumentError(`${action}: seed must be an integer, got ${describe(seed)}`)
}

/** Small deterministic PRNG (mulberry32), so a seed always gives the same crash image. */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
