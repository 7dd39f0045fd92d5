/**
 * The claim word: the one atomic step that makes the writer record (writer-record.ts) a lock
 * of the FILE between writers under different names (lock.ts inv. L10, L11).
 *
 * The record alone is read, judged, then written: two writers that open the same file under
 * two names at the same moment could both read "no record" before either wrote one, and both
 * went on (before session 16: the later record won, a pool noticed up to 50 ms later, a bare
 * Region never). Node has no inode lock (fcntl, flock), but two processes that map the same
 * file MAP_SHARED share its page-cache pages, and `Atomics.compareExchange` on a mapped word is
 * the processor's atomic compare-and-swap, across processes too (checked by writer-claim.test.ts
 * with two processes counting in the same word). So every writer, after its path lock and
 * before its record, swaps its own claim into this word; one contender wins, the others read
 * the winner's claim and judge its record.
 *
 * Layout: 8 bytes, little-endian, at file offset 1016 (`CLAIM_OFFSET`), the last 8 bytes of
 * sector 1 of the header page, right before the record (offset 1024). Those bytes are reserved
 * (header.ts: zeros at creation, never read by the header decoder or by earlier versions,
 * which neither read nor write the word).
 *
 *   0            no writer of this version claims the file
 *   a claim      `wordOf(token)`: bits 32-63 the first 32 bits of a writer's lock acquisition
 *                token (lock-owner.ts inv. O3), the token its record carries, so the word
 *                names its record; bits 0-31 the CRC-32C of those 4 bytes (little-endian)
 *   anything else  not a claim (damage to reserved bytes, which the format ignores): treated
 *                as 0
 * What a writer swaps out is put back at its close as found (a copy's claim, damage), except a
 * claim of this file's dead writer (its record names this inode, or no record came for it
 * within `staleMs`), which gets 0, as its record gets zeros (writer-record.ts).
 *
 * Transitions (`claimWriterRecord` in writer-record.ts; each is one compare-and-swap):
 *   0, not a claim, or a stale claim -> mine   at a writer's open, after judging the record (inv. L11)
 *   mine -> 0 (or what it found, above)        at its close, or when its open is refused above
 *                                              the region, after the record's bytes are put back
 * One aligned 8-byte word is never torn; the CRC only tells a claim from damage. The word is not made durable:
 * after a crash it names a dead writer's acquisition, judged as its record is.
 */
import { mmap } from './mmap.js'
import { OutOfSpaceError } from './errors.js'
import { crc32c } from './checksum.js'

/** File offset of the claim word (header page, reserved bytes, just before the record at 1024). */
export const CLAIM_OFFSET = 1016

/**
 * Test seam: called after a writer judged the record and before it swaps its claim in (the
 * moment two writers under two names race); null in production.
 */
export const claimSeam: { beforeSwap: (() => void) | null } = { beforeSwap: null }

/** The claim word of a lock acquisition's token (16 hex digits): its first 32 bits and their CRC-32C; never 0. */
export function wordOf(token: string): bigint {
  const hi = parseInt(token.slice(0, 8), 16) >>> 0
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(checkOf(hi)))
}

/** Whether `w` is a claim (`wordOf` of some token), not 0 or damage. */
export function isClaim(w: bigint): boolean {
  const u = BigInt.asUintN(64, w)
  return u !== 0n && (u & 0xffffffffn) === BigInt(checkOf(Number(u >> 32n)))
}

function checkOf(hi: number): number {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, hi, true)
  return crc32c(b, 0, 4) >>> 0
}

/** The claim word of one open file: a MAP_SHARED mapping of its header page. */
export class ClaimWord {
  readonly #cell: BigInt64Array

  private constructor(cell: BigInt64Array) { this.#cell = cell }

  /** Maps the header page of open file `fd` (at least 4096 bytes: a validated region). */
  static map(fd: number, displayPath: string): ClaimWord {
    let page: Buffer
    try {
      page = mmap.map(4096, 3 /* PROT_READ | PROT_WRITE */, mmap.MAP_SHARED, fd, 0)
    } catch (e) {
      throw new OutOfSpaceError(`Cannot open region "${displayPath}": cannot map its header page to claim it (${(e as Error).message}); out of memory or mappings`)
    }
    return new ClaimWord(new BigInt64Array(page.buffer, page.byteOffset + CLAIM_OFFSET, 1))
  }

  /** The word now (0: unclaimed). */
  load(): bigint { return Atomics.load(this.#cell, 0) }

  /** Sets the word to `value` if it still holds `expected`; true if it did. */
  swap(expected: bigint, value: bigint): boolean {
    return Atomics.compareExchange(this.#cell, 0, expected, value) === expected
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4))

/** Blocks the thread for `ms` milliseconds (an open is synchronous). */
export function sleepMs(ms: number): void { Atomics.wait(pause, 0, 0, ms) }
