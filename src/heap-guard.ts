/**
 * What the heap checks of every transaction before it commits (pm.ts installs it as the
 * engine's `beforeCommit`): heap inv. 4, memory at and above `top` is zero, kept against the
 * program's own writes.
 *
 * Heap inv. 4 is what lets a block carved at `top` be handed out without zeroing, so a write
 * that left a non-zero byte there would come back, silently, as the "zeroed" contents of the
 * next allocation or the next variable declared (a counter that starts at 7). Only the
 * program can put one there: the heap writes at `top` only headers it zeroes again when it
 * lowers `top` (a zero fill), and raw writes beyond the data area are refused by the Tx. The
 * program does it through a view or pointer kept past the life of its block: used after
 * `tx.free`, or made inside a sub-transaction that aborted (a variable it declared or a block
 * it allocated then), whose block the abort gave back. Before session 13 such a commit went
 * through, and `check()` saw only the 16 bytes at `top`.
 *
 * Guard inv. G1: a transaction commits only if every byte at or above the heap's `top` (as it
 * leaves it) that it wrote is zero; otherwise OutOfRangeError naming the offset, and nothing
 * is committed. The check reads only what the transaction staged past `top` (usually nothing:
 * one comparison, tx.ts `stagedPast`).
 *
 * Since session 14 a typed view refuses use at once when its block was freed or its allocation
 * undone, wherever the block lies (guard inv. G2, view-life.ts): G1 remains for raw writes by
 * offset (`tx.writeU32(stale, ...)`), which carry no life.
 */
import { OutOfRangeError } from '../regions/index.js'
import type { Tx } from '../txn/index.js'
import { HEAP_HEADER, H_TOP } from './heap-layout.js'

/** Guard inv. G1: throws OutOfRangeError when `tx` would leave a non-zero byte at or above the heap's top. */
export function refuseWritesAboveTop(tx: Tx, base: number, path: string): void {
  // One word: a pool is at most 2^31 bytes (MAX_USER_SIZE), so top's high word is 0 (each
  // read of a transaction beside a `none` or `group` overlay composes pages: this runs per commit)
  const top = tx.readU32(base + H_TOP)
  if (tx.stagedHi() < top) return // nothing staged at or past top: the usual case, no closure made
  if (top < base + HEAP_HEADER) return // no heap yet (a damaged header is open's and check's to report)
  tx.stagedPast(top, (target, length) => {
    const from = Math.max(target, top)
    const bytes = tx.readBytes(from, target + length - from) // as the commit leaves them: a later zero fill counts
    const i = bytes.findIndex(b => b !== 0)
    if (i < 0) return
    throw new OutOfRangeError(`Cannot commit to pool "${path}": the transaction wrote to offset ${from + i}, at or above the heap's top (${top}), memory that no allocation holds (heap inv. 4); nothing was committed. A view or pointer was used after its block was freed, or after the sub-transaction that declared its variable or allocated its block aborted: take it again from a live variable or allocation`)
  })
}
