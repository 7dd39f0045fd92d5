/**
 * The redo log: an area of a region holding self-validating transaction records (see
 * record.ts), with append, flush, replay and truncation. Usable on its own.
 *
 * Area layout: `[base, base + size)` of the region's user area, both multiples of 4096.
 *
 * | offset | size | description                                                        |
 * | -----: | ---: | ------------------------------------------------------------------ |
 * |      0 |    8 | magic "PMREDO01"                                                   |
 * |      8 |    4 | startSeq low 32 bits: seq of the first live record                 |
 * |     12 |    4 | startSeq high 21 bits                                              |
 * |     16 |    4 | size of the whole log area in bytes                                |
 * |     20 |    4 | logId: random per-log value                                        |
 * |     24 |    4 | format version (1)                                                 |
 * |     28 |    4 | epoch: bumped by every truncation                                  |
 * |     32 |    4 | checksum: hash32 of words [0, 8) seeded with 0x5245444f           |
 * |   4096 |    * | records, back to back from `base + 4096`, each 8-byte aligned      |
 *
 * The control block (first 36 bytes) lies in one 512-byte sector, so a rewrite of it is
 * atomic in the crash model. Record checksums are seeded with `recordSeed(logId, epoch)`.
 *
 * Invariants (cited as "log inv. N"):
 *   1. Live records are exactly the valid records at `base + 4096` onward whose seqs run
 *      startSeq, startSeq + 1, ... without a gap; the first invalid one ends the log.
 *   2. `flush()` makes every appended record durable, oldest first in one range, so a durable
 *      record is always preceded by durable records (prefix order).
 *   3. `truncate(nextSeq)` is called only after the effects of every live record are durable
 *      in place; it rewrites the control block (startSeq = nextSeq, epoch + 1) and flushes it
 *      before any new record is written over the old ones.
 *   4. A record validates only under the epoch it was written in (the epoch seeds its
 *      checksum), so records left from an earlier epoch, even ones whose seq is not below
 *      the new startSeq (written after a torn record that recovery truncated at), are never
 *      replayed and never vouch for anything (record.ts rec. 4).
 */
import { CorruptionError, RegionClosedError } from '../regions/index.js'
import type { RegionLike } from '../regions/index.js'
import { hash32, wordsOf } from './hash.js'
import { decodeAnyRecord, decodeRecord, RECORD_MAGIC, type DecodedRecord } from './record.js'

const MAGIC_LO = 0x45524d50 // "PMRE"
const MAGIC_HI = 0x3130444f // "DO01"
const CONTROL_SEED = 0x5245444f
export const LOG_FORMAT_VERSION = 1
const CONTROL_BYTES = 36
/** Where records start inside the log area. */
export const RECORDS_OFFSET = 4096
/** Smallest log area: the control page and one page of records. */
export const MIN_LOG_SIZE = 2 * 4096

/** A redo log living in `[base, base + size)` of a region. */
export class RedoLog {
  readonly region: RegionLike
  readonly base: number
  readonly size: number
  /** Random per-log value; with the epoch it seeds the record checksums. */
  readonly logId: number
  /** Seq of the first live record. */
  startSeq: number
  /** Seq the next appended record gets. */
  nextSeq: number
  /** Byte position (relative to base) where the next record goes. */
  tail = RECORDS_OFFSET
  /** Byte position up to which records are known durable. */
  durableTail = RECORDS_OFFSET
  /** Bumped (durably) by every truncation (log inv. 4); a flush that started before one can tell. */
  epoch: number
  /** Checksum seed of records of the current epoch. */
  seed: number
  /** The region's bytes; call `refresh()` after the region grows (a grow may remap). */
  #mem: Uint8Array

  private constructor(region: RegionLike, base: number, size: number, logId: number, startSeq: number, epoch: number) {
    this.region = region
    this.base = base
    this.size = size
    this.logId = logId
    this.startSeq = startSeq
    this.nextSeq = startSeq
    this.epoch = epoch
    this.seed = recordSeed(logId, epoch)
    this.#mem = region.unsafeBytes()
  }

  /** Picks up the region's current mapping (after `grow`). */
  refresh(): void { this.#mem = this.region.unsafeBytes() }

  /** Formats an empty log (startSeq 1) and makes it durable. */
  static format(region: RegionLike, base: number, size: number, logId = randomU32()): RedoLog {
    const log = new RedoLog(region, base, size, logId, 1, 1)
    log.#writeControl()
    return log
  }

  /** Opens a formatted log; the caller then runs `scan` to find live records. */
  static open(region: RegionLike, base: number, size: number): RedoLog {
    const w = wordsOf(region.unsafeBytes().subarray(base, base + CONTROL_BYTES))
    const where = `Cannot open redo log in "${region.path}" at offset ${base}`
    if (w[0] !== MAGIC_LO || w[1] !== MAGIC_HI) throw new CorruptionError(`${where}: bad magic number`)
    if (hash32(w, 0, 8, CONTROL_SEED) !== w[8]) throw new CorruptionError(`${where}: control block checksum mismatch`)
    if (w[6] !== LOG_FORMAT_VERSION) throw new CorruptionError(`${where}: unknown log format version ${w[6]}`)
    if (w[4] !== size) throw new CorruptionError(`${where}: log size ${w[4]} does not match the pool's ${size}`)
    return new RedoLog(region, base, size, w[5]!, w[2]! + w[3]! * 4294967296, w[7]!)
  }

  /** Bytes a record may use at most (the whole record area). */
  get capacity(): number { return this.size - RECORDS_OFFSET }
  /** Bytes free after the tail. */
  get free(): number { return this.size - this.tail }

  /**
   * Walks the live records (log inv. 1), those with seq <= `upToSeq`, and calls `visit` for
   * each; leaves `tail` after the last one and `nextSeq` one past its seq. Reads only.
   */
  scan(visit: (words: Uint32Array, rec: DecodedRecord) => void, upToSeq = Infinity): number {
    const words = wordsOf(this.region.unsafeBytes())
    const limit = (this.base + this.size) >>> 2
    let w = (this.base + RECORDS_OFFSET) >>> 2
    let seq = this.startSeq
    let n = 0
    while (seq <= upToSeq) {
      const rec = decodeRecord(words, w, limit, seq, this.seed)
      if (rec === null) break
      visit(words, rec)
      w += rec.byteLength >>> 2
      seq++
      n++
    }
    this.#checkDamage(words, w, limit, seq)
    this.tail = w * 4 - this.base
    this.durableTail = this.tail
    this.nextSeq = seq
    return n
  }

  /**
   * rec. 4: the scan stopped at word `stopW` expecting `seq`. A valid later record of this
   * log whose durable mark lies beyond that point proves the record there was durable and
   * has since been damaged: CorruptionError instead of silently dropping it and everything
   * after it. (A torn tail never has such a witness: a flush covers whole records.)
   */
  #checkDamage(words: Uint32Array, stopW: number, limit: number, seq: number): void {
    const stopPos = stopW * 4 - this.base
    for (let w = stopW + 2; w + 6 <= limit; w += 2) {
      if (words[w] !== RECORD_MAGIC) continue
      const rec = decodeAnyRecord(words, w, limit, this.seed)
      if (rec === null || rec.seq <= seq || rec.durableMark <= stopPos) continue
      throw new CorruptionError(
        `Cannot recover the redo log of "${this.region.path}": the record of transaction ${seq} at log offset ${stopPos} is damaged, ` +
        `but transaction ${rec.seq} (written later, at offset ${w * 4 - this.base}) shows it was durable; the file was changed outside ` +
        'the crash model (bit flip or a foreign write). Restore it from a backup; check() reports the same without changing the file')
    }
  }

  /** Copies a sealed record to the tail (not yet durable). The caller checked `free`. */
  append(record: Uint8Array): void {
    this.#mem.set(record, this.base + this.tail)
    this.tail += record.length
    this.nextSeq++
  }

  /** Makes every appended record durable (log inv. 2). */
  flush(): void {
    if (this.durableTail === this.tail) return
    this.region.flush(this.base + this.durableTail, this.tail - this.durableTail)
    this.durableTail = this.tail
  }

  /** Like `flush` without blocking; resolves true if it covered everything appended before the call. */
  async flushAsync(): Promise<boolean> {
    const from = this.durableTail, to = this.tail, epoch = this.epoch
    if (from === to) return true
    await this.region.flushAsync(this.base + from, to - from)
    if (epoch === this.epoch && this.durableTail < to) this.durableTail = to
    return epoch === this.epoch
  }

  /**
   * Drops every live record (log inv. 3). Precondition: their effects are durable in place.
   */
  truncate(): void {
    if (this.region.closed) throw new RegionClosedError(`Cannot truncate log: region "${this.region.path}" is closed`)
    this.startSeq = this.nextSeq
    this.epoch = (this.epoch + 1) >>> 0
    this.seed = recordSeed(this.logId, this.epoch)
    this.#writeControl()
    this.tail = this.durableTail = RECORDS_OFFSET
  }

  /** Writes and flushes the control block from startSeq and epoch (log inv. 3). */
  #writeControl(): void {
    const bytes = this.region.unsafeBytes()
    const w = wordsOf(bytes.subarray(this.base, this.base + CONTROL_BYTES))
    w[0] = MAGIC_LO; w[1] = MAGIC_HI
    w[2] = this.startSeq >>> 0; w[3] = Math.floor(this.startSeq / 4294967296)
    w[4] = this.size; w[5] = this.logId; w[6] = LOG_FORMAT_VERSION; w[7] = this.epoch
    w[8] = hash32(w, 0, 8, CONTROL_SEED)
    this.region.flush(this.base, CONTROL_BYTES)
  }
}

/** The checksum seed of records written in `epoch` of the log `logId` (log inv. 4). */
export function recordSeed(logId: number, epoch: number): number {
  return (logId ^ Math.imul(epoch, 0x9e3779b1)) >>> 0
}

function randomU32(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0]!
}
