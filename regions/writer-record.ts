/**
 * The writer record: which lock a writer of this file holds, kept in the file itself, so that
 * a writer opening the same file under ANOTHER name (the file renamed or moved to another
 * directory while open, or linked then unlinked) finds the first writer's lock (lock.ts
 * inv. L10). The path lock (`<file>.lock`, inv. L1-L9) is keyed by name; the file's inode has
 * no lock Node can take (no fcntl/flock), so the record is the inode's pointer to its lock.
 *
 * Layout, little-endian, at file offset 1024 (`RECORD_OFFSET`: sector 2 of the header page,
 * inside its reserved bytes [64, 4096), which this and every earlier version write as zeros at
 * creation and never read: header.ts reads the 64-byte struct only, so a file with a record
 * opens unchanged in a version that knows nothing of it):
 *
 * | OFFSET | SIZE | DESCRIPTION                                                               |
 * | ------ | ---- | ------------------------------------------------------------------------- |
 * |      0 |    8 | magic, ASCII "PMWRITER"                                                   |
 * |      8 |    4 | record version, u32 (1)                                                   |
 * |     12 |    4 | n, u32: bytes of the lock path, 1..MAX_LOCK_PATH_BYTES                    |
 * |     16 |    8 | device of the file (fstat st_dev) when the record was written, u64        |
 * |     24 |    8 | inode of the file (st_ino) when the record was written, u64               |
 * |     32 |   16 | token of the writer's lock acquisition (lock-owner.ts inv. O3), 16 ASCII hex |
 * |     48 |    n | absolute path of the writer's lock directory, UTF-8                       |
 * | 48 + n |    4 | CRC-32C of bytes [0, 48 + n)                                              |
 *
 * Zeros (no magic) mean no record: a file of an earlier version, or one closed by its writer
 * (close puts back the bytes its open overwrote, but zeros over a dead writer's record of the file).
 * A record that fails any check (magic, version, length, CRC: torn by a crash, damaged, or
 * read in the middle of another writer's write) counts as no record: the record only ever
 * refuses a writer, never lets one through, so ignoring a bad one loses no protection a
 * good one would give except against the writer that is writing it right now, and that one
 * re-reads what it wrote (`claimWriterRecord`). A record whose device and inode are not the
 * file's is a copy's (`cp` of an open file carries its record): ignored, a copy is another file.
 *
 * The record is written only by a writer that holds the file's claim word (writer-claim.ts,
 * 8 bytes at offset 1016, swapped atomically; lock.ts inv. L11), so two writers under two names
 * at the same moment cannot both write one and go on.
 *
 * The record is not made durable (no fsync): it protects against live writers only, and a
 * crash of the machine ends them all; after one, a stale record names a lock that is gone, or
 * holds another token, or whose holder is dead, and is ignored (inv. L10).
 */
import fs from 'node:fs'
import { crc32c } from './checksum.js'
import { readAt, writeFull } from './file-io.js'
import { RegionLockedError } from './errors.js'
import { describeOwner } from './lock-owner.js'
import { liveHolderOf, lockTiming, type RegionLock } from './lock.js'
import { ClaimWord, claimSeam, isClaim, sleepMs, wordOf } from './writer-claim.js'

/** File offset of the record: sector 2 of the header page (reserved bytes, header.ts). */
export const RECORD_OFFSET = 1024
/** Bytes available to the record: the rest of the header page. */
const RECORD_SPACE = 4096 - RECORD_OFFSET
const OFF_PATH = 48
/** Longest lock path a record holds; a writer whose lock path is longer writes none (README). */
export const MAX_LOCK_PATH_BYTES = RECORD_SPACE - OFF_PATH - 4
const MAGIC = new TextEncoder().encode('PMWRITER')
const VERSION = 1

/** A decoded writer record. */
export interface WriterRecord {
  readonly dev: bigint
  readonly ino: bigint
  readonly token: string
  readonly lockDir: string
}

/** The record's bytes (48 + n + 4), or undefined when the lock path does not fit or the token is not 16 hex digits. */
export function encodeWriterRecord(r: WriterRecord): Uint8Array | undefined {
  const path = Buffer.from(r.lockDir, 'utf8')
  if (path.length === 0 || path.length > MAX_LOCK_PATH_BYTES || !/^[0-9a-f]{16}$/.test(r.token)) return undefined
  const out = new Uint8Array(OFF_PATH + path.length + 4)
  const dv = new DataView(out.buffer)
  out.set(MAGIC, 0)
  dv.setUint32(8, VERSION, true)
  dv.setUint32(12, path.length, true)
  dv.setBigUint64(16, BigInt.asUintN(64, r.dev), true)
  dv.setBigUint64(24, BigInt.asUintN(64, r.ino), true)
  out.set(Buffer.from(r.token, 'ascii'), 32)
  out.set(path, OFF_PATH)
  dv.setUint32(OFF_PATH + path.length, crc32c(out, 0, OFF_PATH + path.length), true)
  return out
}

/** Decodes the record from the bytes at RECORD_OFFSET; undefined when there is none or it fails a check. Pure and total. */
export function decodeWriterRecord(bytes: Uint8Array): WriterRecord | undefined {
  if (bytes.length < OFF_PATH + 5) return undefined
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return undefined
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  if (dv.getUint32(8, true) !== VERSION) return undefined
  const n = dv.getUint32(12, true)
  if (n === 0 || n > MAX_LOCK_PATH_BYTES || OFF_PATH + n + 4 > bytes.length) return undefined
  if (dv.getUint32(OFF_PATH + n, true) !== crc32c(bytes, 0, OFF_PATH + n)) return undefined
  const token = Buffer.from(bytes.subarray(32, 48)).toString('ascii')
  if (!/^[0-9a-f]{16}$/.test(token)) return undefined
  const lockDir = Buffer.from(bytes.subarray(OFF_PATH, OFF_PATH + n)).toString('utf8')
  return { dev: dv.getBigUint64(16, true), ino: dv.getBigUint64(24, true), token, lockDir }
}

/** The record of open file `fd` (undefined: none, or not valid). */
export function readWriterRecord(fd: number): WriterRecord | undefined {
  return decodeWriterRecord(readAt(fd, RECORD_SPACE, RECORD_OFFSET))
}

/** The record of `fd` when it is about this file (its device and inode), else undefined (none, bad, or a copy's). */
export function readOwnWriterRecord(fd: number): WriterRecord | undefined {
  const rec = readWriterRecord(fd)
  if (rec === undefined) return undefined
  const st = fs.fstatSync(fd, { bigint: true })
  return rec.dev === BigInt.asUintN(64, st.dev) && rec.ino === BigInt.asUintN(64, st.ino) ? rec : undefined
}

/** Bytes a record takes at RECORD_OFFSET. */
function recordLength(r: WriterRecord): number { return OFF_PATH + Buffer.byteLength(r.lockDir, 'utf8') + 4 }

/** Whether the bytes at RECORD_OFFSET are still exactly `bytes`. */
export function recordIs(fd: number, bytes: Uint8Array): boolean {
  const now = readAt(fd, bytes.length, RECORD_OFFSET)
  return now.length === bytes.length && Buffer.compare(now, bytes) === 0
}

/** What a writer's open wrote at RECORD_OFFSET and what those bytes held before (zeros, or a stale record), with its claim word (writer-claim.ts). */
export interface WriterClaim {
  readonly mine: Uint8Array
  readonly previous: Uint8Array
  /** The file's claim word, holding `value` while this writer has the file (lock.ts inv. L11). */
  readonly word: ClaimWord
  readonly value: bigint
  /** What the word gets at close: 0, or the non-claim bytes this writer found there (writer-claim.ts). */
  readonly restore: bigint
}

/**
 * Puts back what the record's bytes held before this writer's open (zeros; a copy's record or
 * other bytes, as harmless as they were; zeros for a dead writer's record of this file), when
 * they still hold this writer's record, then gives up the claim word (0, or the damaged bytes it
 * found, when it still holds this writer's claim: lock.ts inv. L11): a writable open refused above the region
 * (NotAPoolError, a damaged pool) leaves every byte as it found it, but for a dead writer's
 * record and claim, removed as its lock is. Best effort: never throws.
 */
export function clearWriterRecord(fd: number, claim: WriterClaim): void {
  try {
    if (recordIs(fd, claim.mine)) writeFull(fd, claim.previous, RECORD_OFFSET)
  } catch { /* a stale record is harmless (lock.ts inv. L10) */ }
  claim.word.swap(claim.value, claim.restore)
}

/** Attempts at swapping the claim in before an open gives up (each failed swap is another writer's claim, judged in between). */
const MAX_SWAPS = 64

/**
 * Lock.ts inv. L10-L11, at a writer's open, after its path lock and before anything else reads
 * or changes the file: RegionLockedError (nothing written) when the file's record names
 * another lock whose live holder still holds it; else swaps this writer's claim into the
 * claim word (writer-claim.ts), writes its record and reads it back; returns what it wrote
 * and overwrote (the writer compares its record again later: `recordIs`; close puts the old
 * bytes back and gives up the claim: `clearWriterRecord`). A claim word with no record of
 * its own (a writer between its swap and its record: microseconds) is waited for, up to
 * `lockTiming.staleMs` unchanged (a writer killed there), then taken over. Undefined, with
 * nothing written or claimed, when the lock path is too long for a record (README).
 */
export function claimWriterRecord(fd: number, lock: RegionLock, displayPath: string): WriterClaim | undefined {
  const st = fs.fstatSync(fd, { bigint: true })
  const dev = BigInt.asUintN(64, st.dev), ino = BigInt.asUintN(64, st.ino)
  const mine = encodeWriterRecord({ dev, ino, token: lock.token, lockDir: lock.dir })
  if (mine === undefined) return undefined
  const word = ClaimWord.map(fd, displayPath)
  const value = wordOf(lock.token)
  let waited = 0n, since = 0
  for (let swaps = 0; swaps < MAX_SWAPS;) {
    const w = word.load()
    const rec = readWriterRecord(fd)
    const own = rec !== undefined && rec.dev === dev && rec.ino === ino ? rec : undefined // else a copy's record, or none
    if (own !== undefined && own.lockDir !== lock.dir) {
      const holder = liveHolderOf(own.lockDir, own.token)
      if (holder !== undefined) {
        const name = own.lockDir.endsWith('.lock') ? own.lockDir.slice(0, -'.lock'.length) : own.lockDir
        throw new RegionLockedError(`Cannot open region "${displayPath}" for writing: the same file is open for writing under another name, "${name}" (renamed or moved while open), by ${describeOwner(holder)} (its lock "${own.lockDir}"); nothing was changed. Close that writer first, or open with { readOnly: true }`, holder.pid)
      }
    }
    const claimed = isClaim(w)
    if (claimed && (rec === undefined || wordOf(rec.token) !== w)) {
      // inv. L11: a claim whose record is not written yet (or whose writer was killed in between)
      if (w !== waited) { waited = w; since = Date.now() }
      if (Date.now() - since < lockTiming.staleMs) { sleepMs(1); continue }
    }
    // own: this file's record, dead or our own name's; zeros over it at close (inv. L3, L8)
    const previous = own === undefined ? readAt(fd, mine.length, RECORD_OFFSET) : new Uint8Array(Math.max(mine.length, recordLength(own)))
    // a copy's claim (it names the copy's record) or damage is put back as found; any other claim is this file's, dead: zeros
    const copys = own === undefined && rec !== undefined && wordOf(rec.token) === w
    const restore = claimed && !copys ? 0n : w
    claimSeam.beforeSwap?.()
    swaps++
    if (!word.swap(w, value)) continue // another writer claimed the file meanwhile: judge it
    try {
      writeFull(fd, mine, RECORD_OFFSET) // right after the swap: a writer killed between the two makes the next one wait (inv. L11)
    } catch (e) {
      word.swap(value, restore) // the open fails: no claim left behind for the next writer to wait out
      throw e
    }
    if (recordIs(fd, mine)) return { mine, previous, word, value, restore }
    word.swap(value, restore) // a writer of an earlier version (no claim word) wrote its record meanwhile: judge it
  }
  throw new RegionLockedError(`Cannot open region "${displayPath}" for writing: writers under other names keep claiming the same file at this moment; nothing else was changed. Close the other writers first, or open with { readOnly: true }`)
}

/**
 * The token of the live writer that the record of `fd` names (inv. L10: its lock still holds
 * that token and its holder is alive), or null: how a reader under another name sees a writer.
 */
export function recordedLiveWriter(fd: number): string | null {
  try {
    const rec = readOwnWriterRecord(fd)
    if (rec === undefined) return null
    return liveHolderOf(rec.lockDir, rec.token) === undefined ? null : rec.token
  } catch {
    return null
  }
}
