/**
 * Atomic word write: the smallest persistence primitive (Mnemosyne's single-variable
 * update). An aligned 8-byte store lies inside one 512-byte sector and is never torn
 * (DESIGN.md section 2), so after a crash the word holds either its old or its new value.
 * `atomicWrite64` stores the word and flushes the sector that holds it before returning, so
 * the new value is durable; commit words and version switches are built on it.
 *
 * Invariants (cited as "inv. A1", "inv. A2"):
 *  A1. The word is written by one 8-byte store and read by one 8-byte load, never by
 *      narrower accesses: `Atomics.store` / `Atomics.load` on a `BigUint64Array` element
 *      over the mapping. ECMA-262 makes an Atomics operation on an aligned element a
 *      single tear-free memory event (Memory Model section: Atomics events are SeqCst with
 *      [[NoTear]] true; see the Atomics.store and Atomics.load algorithms), and allows them
 *      on non-shared ArrayBuffers such as the mapping's. Across processes mapping the same
 *      file this relies on the operation being lock-free, i.e. one machine instruction
 *      (`Atomics.isLockFree(8)`, true for V8 on x64 and arm64; tested in
 *      test/txn/word-atomic.test.ts). `DataView.setBigUint64`, used before, has no such
 *      guarantee, and V8 executes it as eight 1-byte stores: a concurrent reader (another
 *      process, a worker thread with its own mapping) saw half-written words.
 *  A2. The word is little-endian in the file on every platform: on a big-endian machine
 *      the value is byte-swapped before the (still single) store and after the load.
 */
import { MisalignedError, RegionClosedError, ReadOnlyError, InvalidArgumentError, checkRange } from '../regions/index.js'
import type { RegionLike } from '../regions/index.js'

const U64_MAX = (1n << 64n) - 1n
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

/** Checks that `offset` addresses an aligned 8-byte word inside the region. */
function checkWord(region: RegionLike, offset: number, action: string): void {
  if (region.closed) throw new RegionClosedError(`${action}: region "${region.path}" is closed`)
  checkRange(region.path, region.size, offset, 8, action)
  if (offset % 8 !== 0) {
    throw new MisalignedError(`${action} on region "${region.path}": offset ${offset} is not 8-byte aligned`)
  }
}

/** The one-element BigUint64Array over the word at `offset` (inv. A1). */
function wordArray(region: RegionLike, offset: number, action: string): BigUint64Array {
  const b = region.unsafeBytes()
  const at = b.byteOffset + offset
  if (at % 8 !== 0) {
    // Only a RegionLike whose bytes start misaligned in their buffer gets here (Region and
    // SimRegion never do): no single 8-byte access is possible there.
    throw new MisalignedError(`${action} on region "${region.path}": its bytes start at byte ${b.byteOffset} of their buffer, so word ${offset} is not 8-byte aligned in memory`)
  }
  return new BigUint64Array(b.buffer, at, 1)
}

/** Reverses the byte order of a 64-bit value (inv. A2, big-endian machines only). */
function swap64(v: bigint): bigint {
  let out = 0n
  for (let i = 0; i < 8; i++) { out = (out << 8n) | (v & 0xffn); v >>= 8n }
  return out
}

/** Reads the unsigned 64-bit little-endian word at `offset` with one 8-byte load (inv. A1). */
export function readWord64(region: RegionLike, offset: number): bigint {
  checkWord(region, offset, 'Cannot read word')
  const v = Atomics.load(wordArray(region, offset, 'Cannot read word'), 0)
  return LITTLE_ENDIAN ? v : swap64(v)
}

/**
 * Stores `value` at the aligned word `offset` with one 8-byte store (inv. A1) and, unless
 * `flush` is false, makes it durable before returning. Atomic against process crash, power
 * loss and concurrent readers.
 */
export function atomicWrite64(region: RegionLike, offset: number, value: bigint, opts: { flush?: boolean } = {}): void {
  checkWord(region, offset, 'Cannot write word')
  if (region.readOnly) throw new ReadOnlyError(`Cannot write word: region "${region.path}" is read-only`)
  if (typeof value !== 'bigint' || value < 0n || value > U64_MAX) {
    throw new InvalidArgumentError(`Cannot write word: value must be a bigint in [0, 2^64), got ${String(value)}`)
  }
  Atomics.store(wordArray(region, offset, 'Cannot write word'), 0, LITTLE_ENDIAN ? value : swap64(value))
  if (opts.flush !== false) region.flush(offset, 8)
}
