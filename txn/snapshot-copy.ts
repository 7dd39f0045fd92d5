/**
 * A private copy of a pool's committed state, taken beside a live writer without stopping it
 * (a fuzzy copy repaired by redo, as ARIES takes a fuzzy checkpoint). Used by `read(fn)`
 * when fn is too long to finish between two of the writer's changes in place (rd. 3), and by
 * `check()`: once copied, nothing can change the state under the function.
 *
 * How: the data area is copied in 64 KiB pieces. Each piece is copied under one even seq of
 * the sequence lock (publish.ts), so it holds exactly the state after the `appliedSeq` read
 * with that seq (pub. 1): pieces may come from different states. Then the published records
 * from the oldest piece's `appliedPos` up to `committed` are replayed, each record only over
 * the pieces that are older than it: every piece ends at the state after the newest
 * published commit. Records hold absolute values (rec. 2, 3), so replaying a record over a
 * piece that does not hold it yet is exactly applying it.
 *
 * Invariants (cited as "copy N"):
 *   1. Every piece was copied while the seq held one even value, read before and after.
 *   2. The records replayed were still in the log when read: the epoch (changed only in the
 *      odd window of a truncation, before any record is overwritten: pub. 2, 4) is the one
 *      the first piece saw, read again after the last record.
 *   3. The writer is the same throughout (its id in the RCB): a new writer's recovery may
 *      rewrite anything.
 * Any of these failing gives null (the caller takes another way); nothing here writes to
 * the region.
 */
import type { RegionLike } from '../regions/index.js'
import { forEachEntry } from './record.js'
import { recordSeed } from './redo-log.js'
import { LogCursor } from './log-cursor.js'
import { fence, readControl, W_EPOCH, W_SEQ, W_WRITER, type Control } from './publish.js'
import type { PoolLayout } from './pool.js'

/** How long a piece may wait for the writer's odd windows before the copy gives up. */
const PIECE_WAIT_MS = 200

/**
 * Test hooks: `afterPiece` is called after each piece is copied (a test runs the writer
 * there; null outside tests); `pieceBytes` is the piece size (64 KiB; tests make it small).
 */
export const copyHooks: { afterPiece: ((index: number) => void) | null; pieceBytes: number } = { afterPiece: null, pieceBytes: 64 << 10 }

/** What the copy reads: the reader's mapping and RCB, kept current by the reader. */
export interface CopySource {
  readonly region: RegionLike
  readonly layout: PoolLayout
  readonly logId: number
  /** The region's current bytes. */
  bytes(): Uint8Array
  /** Maps at least `size` bytes; false if the file does not hold them. */
  follow(size: number): boolean
  ctl(): Int32Array
  /** The writer id the RCB must name (copy 3). */
  readonly liveId: number
}

/** The copied state: `mem` is a user area of `size` bytes (its data area filled). */
export interface CopiedState { mem: Uint8Array; size: number; lastSeq: number; replayed: number }

/** A private copy of the newest committed state, or null when the writer did not let it happen (see the file comment). */
export function copySnapshot(src: CopySource): CopiedState | null {
  const first = stableControl(src)
  if (first === null || !src.follow(first.size)) return null
  const { dataOffset, logOffset, logSize } = src.layout
  const PIECE = copyHooks.pieceBytes
  const size = first.size
  const copy = new Uint8Array(size)
  const pieces = Math.ceil((size - dataOffset) / PIECE)
  const pieceSeq = new Float64Array(pieces)
  let oldest: Control = first
  for (let i = 0; i < pieces; i++) {
    const from = dataOffset + i * PIECE, to = Math.min(size, from + PIECE)
    const c = copyPiece(src, copy, from, to, first)
    if (c === null) return null
    pieceSeq[i] = c.appliedSeq
    if (c.appliedSeq < oldest.appliedSeq) oldest = c
    copyHooks.afterPiece?.(i)
  }
  const last = stableControl(src)
  if (last === null || last.epoch !== first.epoch || last.writer !== first.writer || last.size !== size) return null
  const cursor = new LogCursor(src.bytes(), logOffset, logSize)
  const seed = recordSeed(src.logId, first.epoch)
  const n = cursor.walk(oldest.appliedPos, last.committed, oldest.appliedSeq + 1, seed, (words, rec) => {
    const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength)
    forEachEntry(words, rec, (target, len, dataByte) => {
      for (let at = Math.max(target, dataOffset), end = Math.min(target + len, size); at < end;) {
        const piece = Math.floor((at - dataOffset) / PIECE)
        const stop = Math.min(end, dataOffset + (piece + 1) * PIECE)
        if (pieceSeq[piece]! < rec.seq) {
          if (dataByte < 0) copy.fill(0, at, stop)
          else copy.set(bytes.subarray(dataByte + at - target, dataByte + stop - target), at)
        }
        at = stop
      }
    })
  })
  fence()
  const ctl = src.ctl()
  if (typeof n !== 'number' || Atomics.load(ctl, W_EPOCH) >>> 0 !== first.epoch || Atomics.load(ctl, W_WRITER) !== first.writer) return null // copy 2, 3
  return { mem: copy, size, lastSeq: oldest.appliedSeq + n, replayed: n }
}

/** Copies `[from, to)` under one even seq (copy 1); the control it was copied under, or null. */
function copyPiece(src: CopySource, copy: Uint8Array, from: number, to: number, first: Control): Control | null {
  const until = performance.now() + PIECE_WAIT_MS
  for (;;) {
    const c = stableControl(src)
    if (c === null || c.epoch !== first.epoch || c.writer !== first.writer) return null
    copy.set(src.bytes().subarray(from, to), from)
    fence()
    if (Atomics.load(src.ctl(), W_SEQ) === c.seq) return c
    if (performance.now() > until) return null
  }
}

/** An even, consistent RCB of the writer `liveId`, waiting out short odd windows; null if none came. */
function stableControl(src: CopySource): Control | null {
  const until = performance.now() + PIECE_WAIT_MS
  for (;;) {
    src.bytes()
    const c = readControl(src.ctl())
    if (typeof c === 'object') return c.writer === src.liveId ? c : null
    if (c === 'unclaimed' || performance.now() > until) return null
  }
}
