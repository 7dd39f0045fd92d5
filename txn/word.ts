/**
 * Atomic word write: the smallest persistence primitive (Mnemosyne's single-variable
 * update). An aligned 8-byte store lies inside one 512-byte sector and is never torn
 * (DESIGN.md section 2), so after a crash the word holds either its old or its new value.
 * `atomicWrite64` stores the word and flushes the sector that holds it before returning, so
 * the new value is durable; commit words and version switches are built on it.
 */
import { MisalignedError, RegionClosedError, ReadOnlyError, InvalidArgumentError, checkRange } from '../regions/index.js'
import type { RegionLike } from '../regions/index.js'

const U64_MAX = (1n << 64n) - 1n

/** Checks that `offset` addresses an aligned 8-byte word inside the region. */
function checkWord(region: RegionLike, offset: number, action: string): void {
  if (region.closed) throw new RegionClosedError(`${action}: region "${region.path}" is closed`)
  checkRange(region.path, region.size, offset, 8, action)
  if (offset % 8 !== 0) {
    throw new MisalignedError(`${action} on region "${region.path}": offset ${offset} is not 8-byte aligned`)
  }
}

/** Reads the unsigned 64-bit little-endian word at `offset`. */
export function readWord64(region: RegionLike, offset: number): bigint {
  checkWord(region, offset, 'Cannot read word')
  const b = region.unsafeBytes()
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(offset, true)
}

/**
 * Stores `value` at the aligned word `offset` and, unless `flush` is false, makes it durable
 * before returning. Atomic against process crash and power loss.
 */
export function atomicWrite64(region: RegionLike, offset: number, value: bigint, opts: { flush?: boolean } = {}): void {
  checkWord(region, offset, 'Cannot write word')
  if (region.readOnly) throw new ReadOnlyError(`Cannot write word: region "${region.path}" is read-only`)
  if (typeof value !== 'bigint' || value < 0n || value > U64_MAX) {
    throw new InvalidArgumentError(`Cannot write word: value must be a bigint in [0, 2^64), got ${String(value)}`)
  }
  const b = region.unsafeBytes()
  new DataView(b.buffer, b.byteOffset, b.byteLength).setBigUint64(offset, value, true)
  if (opts.flush !== false) region.flush(offset, 8)
}
