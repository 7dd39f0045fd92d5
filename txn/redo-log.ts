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
 * |     20 |    4 | logId: random seed of every record checksum in this log            |
 * |     24 |    4 | format version (1)                                                 |
 * |     28 |    4 | checksum: hash32 of words [0, 7) seeded with 0x5245444f           |
 * |   4096 |    * | records, back to back from `base + 4096`, each 8-byte aligned      |
 *
 * The control block (first 32 bytes) lies in one 512-byte sector, so a rewrite of it is
 * atomic in the crash model.
 *
 * Invariants (cited as "log inv. N"):
 *   1. Live records are exactly the valid records at `base + 4096` onward whose seqs run
 *      startSeq, startSeq + 1, ... without a gap; the first invalid one ends the log.
 *   2. `flush()` makes every appended record durable, oldest first in one range, so a durable
 *      record is always preceded by durable records (prefix order).
 *   3. `truncate(nextSeq)` is called only after the effects of every live record are durable
 *      in place; it rewrites the control block (startSeq = nextSeq) and flushes it before any
 *      new record is written over the old ones. Old records then fail the seq check (inv. 1).
 */
import { CorruptionError, RegionClosedError } from '../regions/index.js'
import type { RegionLike } from '../regions/index.js'
import { hash32, wordsOf } from './hash.js'
import { decodeRecord, forEachEntry, type DecodedRecord } from './record.js'

const MAGIC_LO = 0x45524d50 // "PMRE"
const MAGIC_HI = 0x3130444f // "DO01"
const CONTROL_SEED = 0x5245444f
export const LOG_FORMAT_VERSION = 1
/** Where records start inside the log area. */
export const RECORDS_OFFSET = 4096
/** Smallest log area: the control page and one page of records. */
export const MIN_LOG_SIZE = 2 * 4096

/** A redo log living in `[base, base + size)` of a region. */
export class RedoLog {
  readonly region: RegionLike
  readonly base: number
  readonly size: number
  /** Random per-log seed of the record checksums. */
  readonly logId: number
  /** Seq of the first live record. */
  startSeq: number
  /** Seq the next appended record gets. */
  nextSeq: number
  /** Byte position (relative to base) where the next record goes. */
  tail = RECORDS_OFFSET
  /** Byte position up to which records are known durable. */
  durableTail = RECORDS_OFFSET
  /** Bumped by every truncation, so a flush that started before one can tell. */
  epoch = 0
  /** The region's bytes; call `refresh()` after the region grows (a grow may remap). */
  #mem: Uint8Array

  private constructor(region: RegionLike, base: number, size: number, logId: number, startSeq: number) {
    this.region = region
    this.base = base
    this.size = size
    this.logId = logId
    this.startSeq = startSeq
    this.nextSeq = startSeq
    this.#mem = region.unsafeBytes()
  }

  /** Picks up the region's current mapping (after `grow`). */
  refresh(): void { this.#mem = this.region.unsafeBytes() }

  /** Formats an empty log (startSeq 1) and makes it durable. */
  static format(region: RegionLike, base: number, size: number, logId = randomU32()): RedoLog {
    const log = new RedoLog(region, base, size, logId, 1)
    log.#writeControl(1)
    return log
  }

  /** Opens a formatted log; the caller then runs `scan` to find live records. */
  static open(region: RegionLike, base: number, size: number): RedoLog {
    const w = wordsOf(region.unsafeBytes().subarray(base, base + 32))
    const where = `Cannot open redo log in "${region.path}" at offset ${base}`
    if (w[0] !== MAGIC_LO || w[1] !== MAGIC_HI) throw new CorruptionError(`${where}: bad magic number`)
    if (hash32(w, 0, 7, CONTROL_SEED) !== w[7]) throw new CorruptionError(`${where}: control block checksum mismatch`)
    if (w[6] !== LOG_FORMAT_VERSION) throw new CorruptionError(`${where}: unknown log format version ${w[6]}`)
    if (w[4] !== size) throw new CorruptionError(`${where}: log size ${w[4]} does not match the pool's ${size}`)
    return new RedoLog(region, base, size, w[5]!, w[2]! + w[3]! * 4294967296)
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
      const rec = decodeRecord(words, w, limit, seq, this.logId)
      if (rec === null) break
      visit(words, rec)
      w += rec.byteLength >>> 2
      seq++
      n++
    }
    this.tail = w * 4 - this.base
    this.durableTail = this.tail
    this.nextSeq = seq
    return n
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
    this.#writeControl(this.nextSeq)
    this.startSeq = this.nextSeq
    this.tail = this.durableTail = RECORDS_OFFSET
    this.epoch++
  }

  /** Calls `visit` for each entry of a record found by `scan`. */
  static entries = forEachEntry

  #writeControl(startSeq: number): void {
    const bytes = this.region.unsafeBytes()
    const w = wordsOf(bytes.subarray(this.base, this.base + 32))
    w[0] = MAGIC_LO; w[1] = MAGIC_HI
    w[2] = startSeq >>> 0; w[3] = Math.floor(startSeq / 4294967296)
    w[4] = this.size; w[5] = this.logId; w[6] = LOG_FORMAT_VERSION
    w[7] = hash32(w, 0, 7, CONTROL_SEED)
    this.region.flush(this.base, 32)
  }
}

function randomU32(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0]!
}
