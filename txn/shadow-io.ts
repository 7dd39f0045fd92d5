/**
 * Shadow paging, chunk I/O: where physical chunks and metadata slots live in the region, and
 * the few byte operations the store performs on them (read a map entry, write a node, copy,
 * zero, checksum). The only code of the shadow store that touches region bytes.
 *
 * Invariant kept: the cached byte array is the region's current one; `sync()` refetches it
 * after any growth (a grow may remap, which leaves old arrays pointing at stale memory).
 */
import { crc32c, RegionClosedError } from '../regions/index.js'
import type { RegionLike } from '../regions/index.js'
import { DATA_START, MAX_PHYS, SLOT_SIZE } from './shadow-format.js'

/** Byte access to the slots and chunks of one shadow store. */
export class ChunkIO {
  readonly region: RegionLike
  readonly base: number
  readonly chunkSize: number
  /** Map entries per node: chunkSize / 8. */
  readonly fanout: number
  #bytes: Uint8Array
  #dv: DataView
  #size: number

  constructor(region: RegionLike, base: number, chunkSize: number) {
    this.region = region
    this.base = base
    this.chunkSize = chunkSize
    this.fanout = chunkSize / 8
    this.#bytes = region.unsafeBytes()
    this.#dv = dataView(this.#bytes)
    this.#size = region.size
  }

  /** Refetches the region's bytes if it grew; throws RegionClosedError if it was closed. */
  sync(action: string): void {
    if (this.region.closed) throw new RegionClosedError(`Cannot ${action}: region "${this.region.path}" is closed`)
    if (this.region.size !== this.#size) {
      this.#bytes = this.region.unsafeBytes()
      this.#dv = dataView(this.#bytes)
      this.#size = this.region.size
    }
  }

  /** Number of whole physical chunks the region holds now. */
  get physCount(): number {
    return Math.max(0, Math.min(MAX_PHYS, Math.floor((this.#size - this.base - DATA_START) / this.chunkSize)))
  }

  slotOffset(index: number): number { return this.base + index * SLOT_SIZE }
  chunkOffset(p: number): number { return this.base + DATA_START + p * this.chunkSize }

  /** The 4096 bytes of metadata slot `index` (a view, not a copy). */
  slot(index: number): Uint8Array {
    const o = this.slotOffset(index)
    return this.#bytes.subarray(o, o + SLOT_SIZE)
  }

  /** Copies `bytes` into slot `index` (from its start). */
  writeSlot(index: number, bytes: Uint8Array): void { this.#bytes.set(bytes, this.slotOffset(index)) }

  /** CRC-32C of the whole physical chunk `p`. */
  crc(p: number): number {
    const o = this.chunkOffset(p)
    return crc32c(this.#bytes, o, o + this.chunkSize)
  }

  /** Physical chunk named by entry `j` of the map node in chunk `p`. */
  entryPhys(p: number, j: number): number { return this.#dv.getUint32(this.chunkOffset(p) + 8 * j, true) }
  /** Checksum stored in entry `j` of the map node in chunk `p`. */
  entryCrc(p: number, j: number): number { return this.#dv.getUint32(this.chunkOffset(p) + 8 * j + 4, true) }

  /** All entries of the node in chunk `p` as [phys0, crc0, phys1, crc1, ...]. */
  readEntries(p: number): Uint32Array {
    const out = new Uint32Array(2 * this.fanout)
    const o = this.chunkOffset(p)
    for (let i = 0; i < out.length; i++) out[i] = this.#dv.getUint32(o + 4 * i, true)
    return out
  }

  /**
   * The entries of the node in chunk `p`, as `readEntries` gives them: a Uint32Array view
   * of the region (no copy) where the machine is little-endian and the chunk is aligned
   * (always: chunks are page-aligned), else a copy. Valid until the region is remapped
   * (`sync`); read it at once, never keep it.
   */
  entries(p: number): Uint32Array {
    const at = this.#bytes.byteOffset + this.chunkOffset(p)
    if (!LITTLE_ENDIAN || at % 4 !== 0) return this.readEntries(p)
    return new Uint32Array(this.#bytes.buffer, at, 2 * this.fanout)
  }

  /** Writes a node's entries into chunk `p` (the whole chunk). */
  writeEntries(p: number, entries: Uint32Array): void {
    const o = this.chunkOffset(p)
    for (let i = 0; i < entries.length; i++) this.#dv.setUint32(o + 4 * i, entries[i]!, true)
  }

  /** A copy of chunk `p`. */
  read(p: number): Uint8Array {
    const o = this.chunkOffset(p)
    return this.#bytes.slice(o, o + this.chunkSize)
  }

  /** Copies `len` bytes of chunk `p` from `from` into `target` at `at`. */
  readInto(p: number, from: number, len: number, target: Uint8Array, at: number): void {
    const o = this.chunkOffset(p) + from
    target.set(this.#bytes.subarray(o, o + len), at)
  }

  /** Bytes `[from, from + len)` of the chunk area from the start of chunk `p` (a view of the region, not a copy). */
  view(p: number, len: number): Uint8Array {
    const o = this.chunkOffset(p)
    return this.#bytes.subarray(o, o + len)
  }

  /** Writes `data` into chunk `p` at byte `offset`. */
  write(p: number, offset: number, data: Uint8Array): void { this.#bytes.set(data, this.chunkOffset(p) + offset) }

  copy(from: number, to: number): void {
    const o = this.chunkOffset(from)
    this.#bytes.copyWithin(this.chunkOffset(to), o, o + this.chunkSize)
  }

  zero(p: number, from = 0): void {
    const o = this.chunkOffset(p)
    this.#bytes.fill(0, o + from, o + this.chunkSize)
  }
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1

function dataView(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength)
}
