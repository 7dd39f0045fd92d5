/**
 * Argument checks of `Region.appendStream(at, block)` (region.ts), kept apart so that the
 * stream code itself stays about streaming.
 *
 * Invariants (cited as "inv. S1", "inv. S2"):
 *  S1. A stream's first block can become part of the user area: `at + block` is at most
 *      MAX_USER_SIZE. A stream further out could never be grown over, so its bytes (and
 *      the zeros before them) would only waste the disk.
 *  S2. The gap a stream zero-fills, from the end of the reserved space to `at`, is at most
 *      MAX_STREAM_GAP = 16 MiB, the largest block (and the largest chunk of a shadow
 *      store, whose appends start at the next chunk boundary, less than one chunk away).
 *      A larger gap is a caller's bug, and honouring it would write that many zeros
 *      (2 GiB for `appendStream(2 ** 31)`) before the first byte.
 * Both are checked before anything is written, as every argument (region.ts inv. R5).
 */
import { InvalidArgumentError } from './errors.js'
import { describe } from './bounds.js'
import { MAX_USER_SIZE } from './header.js'

/** The largest block of a stream, and the largest gap it zero-fills (inv. S2). */
export const MAX_STREAM_GAP = 1 << 24

/** Checks `block` and inv. S1; `at` is already known to be a non-negative integer. */
export function checkStreamStart(action: string, at: number, block: number): void {
  if (!Number.isSafeInteger(block) || block < 1 || block > MAX_STREAM_GAP) {
    throw new InvalidArgumentError(`${action}: block must be an integer from 1 to 16 MiB, got ${describe(block)}`)
  }
  if (at + block > MAX_USER_SIZE) {
    throw new InvalidArgumentError(`${action}: at ${at} with block ${block} ends past the largest user area (${MAX_USER_SIZE} bytes), so no grow could ever reach it; nothing was written`)
  }
}

/** Inv. S2: `at` is at most MAX_STREAM_GAP past `end`, the end of the reserved space. */
export function checkStreamGap(action: string, at: number, end: number): void {
  if (at - end > MAX_STREAM_GAP) {
    throw new InvalidArgumentError(`${action}: at ${at} is ${at - end} bytes past the end of the reserved space (${end}); a stream zero-fills at most ${MAX_STREAM_GAP} bytes (16 MiB) before its first byte; nothing was written`)
  }
}
