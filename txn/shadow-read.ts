/**
 * Shadow paging, reads of the staged view: the work of `ShadowStore.read`, `readInto` and
 * `viewPrefix` with their argument checks (shadow.ts keeps their documentation and the state
 * checks), and the check of a committed chunk against the checksum its parent stores
 * (`verify`), which `write` (shadow-write.ts) uses too before it copies a chunk.
 *
 * Invariants kept (numbers shared with shadow.ts):
 *   inv. 4  A committed chunk is verified whole against the checksum its parent stores
 *           before any of its bytes are handed out or copied, once: `verified` remembers it
 *           until it is freed (shadow-versions.ts drops it there). A chunk the staged batch
 *           wrote (its dirty entry names that physical chunk) is not verified: its bytes are
 *           the batch's own and its checksum is computed at the seal.
 *   inv. 7  A hole (NONE) reads as zeros.
 *   inv. 1  `viewPrefix` shows committed chunks in place, which no batch writes; it is valid
 *           until the next write, resize or commit (a chunk freed and reused after a commit).
 */
import { CorruptionError, InvalidArgumentError, OutOfRangeError, describe } from '../regions/index.js'
import { NONE } from './shadow-format.js'
import type { ChunkIO } from './shadow-io.js'
import type { Entry, StagedMap } from './shadow-map.js'

/** Verified reads of one store's chunks, through the staged map passed to each call. */
export class ChunkReads {
  readonly #io: ChunkIO
  readonly #verified: Set<number>
  readonly #version: () => number

  /** `verified`: the store's set of chunks checked since written (shared with shadow-versions.ts); `version`: the view's version, for messages. */
  constructor(io: ChunkIO, verified: Set<number>, version: () => number) {
    this.#io = io
    this.#verified = verified
    this.#version = version
  }

  /** A copy of logical chunk `logical`. */
  read(map: StagedMap, logical: number): Uint8Array {
    this.checkLogical(map, logical, 'read')
    const e = map.lookup(logical)
    if (e.phys === NONE) return new Uint8Array(this.#io.chunkSize)
    if (map.dirty.get(logical) !== e.phys) this.verify(logical, e)
    return this.#io.read(e.phys)
  }

  /** The first `length` bytes of logical chunk `logical` into `target` at `at`. */
  readInto(map: StagedMap, logical: number, target: Uint8Array, at: number, length: number): void {
    this.checkLogical(map, logical, 'read')
    const cs = this.#io.chunkSize
    if (!(target instanceof Uint8Array) || !Number.isSafeInteger(at) || !Number.isSafeInteger(length) || length < 0 || length > cs || at < 0 || at + length > target.length) {
      throw new OutOfRangeError(`Cannot read logical chunk ${logical} of shadow store on region "${this.#io.region.path}": ${describe(length)} bytes at ${describe(at)} do not fit a target of ${target instanceof Uint8Array ? target.length : describe(target)} bytes (or exceed the ${cs}-byte chunk)`)
    }
    const e = map.lookup(logical)
    if (e.phys === NONE) { target.fill(0, at, at + length); return }
    if (map.dirty.get(logical) !== e.phys) this.verify(logical, e)
    this.#io.readInto(e.phys, 0, length, target, at)
  }

  /** Bytes `[0, end)` as one view of the region if their chunks lie in one physical run, each verified; else null (ShadowStore.viewPrefix). */
  viewPrefix(map: StagedMap, end: number): Uint8Array | null {
    const cs = this.#io.chunkSize
    if (!Number.isSafeInteger(end) || end <= 0 || end > map.count * cs) {
      throw new OutOfRangeError(`Cannot view ${describe(end)} bytes of shadow store on region "${this.#io.region.path}": it holds ${map.count} chunks of ${cs} bytes`)
    }
    const n = Math.ceil(end / cs)
    const e = map.prefixEntries(n)
    const first = e[0]
    for (let k = 0; k < n; k++) if (e[2 * k] === NONE || e[2 * k] !== first + k) return null
    const dirty = map.dirty
    for (let k = 0; k < n; k++) if (dirty.size === 0 || dirty.get(k) !== first + k) this.verify(k, { phys: first + k, crc: e[2 * k + 1] })
    return this.#io.view(first, end)
  }

  /** `logical` names a chunk of the staged view: InvalidArgumentError, OutOfRangeError (resize first) otherwise. */
  checkLogical(map: StagedMap, logical: number, action: string): void {
    if (!Number.isSafeInteger(logical) || logical < 0) {
      throw new InvalidArgumentError(`Cannot ${action} shadow store on region "${this.#io.region.path}": logical chunk must be a non-negative integer, got ${describe(logical)}`)
    }
    if (logical >= map.count) {
      throw new OutOfRangeError(`Cannot ${action} logical chunk ${logical} of shadow store on region "${this.#io.region.path}": it has ${map.count} chunks (resize first)`)
    }
  }

  /** Checks a committed chunk against the checksum its parent stores, once (inv. 4). */
  verify(logical: number, e: Entry): void {
    if (this.#verified.has(e.phys)) return
    const actual = this.#io.crc(e.phys)
    if (actual !== e.crc) {
      throw new CorruptionError(`Shadow store on region "${this.#io.region.path}": logical chunk ${logical} of version ${this.#version()} (physical chunk ${e.phys}, region offset ${this.#io.chunkOffset(e.phys)}) fails its checksum (stored ${hex(e.crc)}, computed ${hex(actual)}); the file is damaged`)
    }
    this.#verified.add(e.phys)
  }
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0')
}
