/**
 * The redo log: an area of a region holding self-validating transaction records (see
 * record.ts), with append, flush, replay and truncation. Usable on its own.
 *
 * Area layout, format 2: `[base, base + size)` of the region's user area, both multiples of 4096.
 *
 * | offset | size | description                                                        |
 * | -----: | ---: | ------------------------------------------------------------------ |
 * |      0 |    8 | magic "PMREDO01"                                                   |
 * |      8 |    4 | startSeq low 32 bits: seq of the first live record                 |
 * |     12 |    4 | startSeq high 21 bits                                              |
 * |     16 |    4 | size of the whole log area in bytes                                |
 * |     20 |    4 | logId: random per-log value                                        |
 * |     24 |    4 | format version (2)                                                 |
 * |     28 |    4 | epoch: bumped by every truncation and every writable open          |
 * |     32 |    4 | checksum: hash32 of words [0, 8) seeded with 0x5245444f           |
 * |   4096 |    * | the record area: 512-byte sectors, each laid out as below          |
 *
 * Every 512-byte sector of the record area (offset 4096 + 512 k):
 *
 * | offset | size | description                                                        |
 * | -----: | ---: | ------------------------------------------------------------------ |
 * |      0 |    4 | stamp seq: low 32 bits of the seq of the last record written here  |
 * |      4 |    4 | stamp tag: `recordSeed(logId, epoch)` of the epoch that wrote it   |
 * |      8 |  504 | payload: record bytes                                              |
 *
 * Records (record.ts) follow each other through the payloads: a record starts 8-byte
 * aligned where the previous one ended, runs to the end of its sector's payload and goes on
 * after the next sector's stamp. A record header (32 bytes) never straddles a sector: when
 * fewer than 32 payload bytes are left in a sector, the next record starts in the next one
 * (the gap is padding). Append writes a record's bytes into a sector before that sector's
 * stamp (seq word, then tag word, each an atomic store), so a stamp never claims bytes that
 * were not stored first.
 *
 * The control block (first 36 bytes) lies in one 512-byte sector, so a rewrite of it is
 * atomic in the crash model. Format 1 (records back to back, no stamps) is refused with
 * UnsupportedVersionError, as is any version newer than 2; every future version keeps the
 * magic and the checksum of words [0, 8) so that an old library can say so.
 *
 * Invariants (cited as "log inv. N"):
 *   1. Live records are exactly the valid records at the start of the record area onward
 *      whose seqs run startSeq, startSeq + 1, ... without a gap; the first invalid one ends
 *      the log, unless it is damage (inv. 5).
 *   2. `flush()` makes every appended record durable, oldest first in one range, so a durable
 *      record is always preceded by durable records (prefix order).
 *   3. `truncate()` is called only after the effects of every live record are durable in
 *      place; it rewrites the control block (startSeq = nextSeq, epoch + 1) and flushes it
 *      before any new record is written over the old ones.
 *   4. A record validates only under the epoch it was written in (the epoch seeds its
 *      checksums), and every writable open ends the epoch it found (the engine truncates
 *      after every recovery, even one that replayed nothing), so one epoch is written by one
 *      life only: records left from an earlier epoch or life, even ones whose seq is not
 *      below the new startSeq, are never replayed and never vouch for anything (rec. 4).
 *   5. A sector whose stamp carries the current epoch's tag and a seq >= s holds, as
 *      written, every byte that record s put in that sector: within one epoch every payload
 *      byte is written once, and sectors do not tear. So a record that fails validation
 *      while every sector it spans (by its trusted header, or its first sector when the
 *      header itself fails) has such a stamp was completely stored, not torn: it is damage,
 *      reported as CorruptionError. A sector with any other stamp means torn: the log ends.
 *      Residual limit: damage that also changes a stamp of the record's sectors (or makes
 *      its header look like a different valid one) can still look torn, and is then dropped
 *      like a torn tail; with a later durable record present inv. 6 still reports it.
 *   6. rec. 4: a valid header of this epoch with a later seq whose durableMark lies past the
 *      record where the scan stopped proves that record was durable: CorruptionError.
 *   7. An epoch writes its records front to back from the start of the record area (nothing
 *      wraps; a full log is checkpointed and truncated, inv. 3), and every sector it writes
 *      carries its tag (inv. 5). So the search for inv. 6's witnesses stops at the first
 *      sector past the stopped record that another epoch stamped: an open reads what the last
 *      epoch wrote, not the whole log area (it read all of it: 5 s per open of a 1 GiB log
 *      holding nothing). Residual limit: a witness past a sector of the record's epoch whose
 *      write was lost in a power loss (not yet durable, so after the witness's durable mark)
 *      is not looked for; it only ever reports damage outside the crash model.
 */
import { CorruptionError, RegionClosedError, UnsupportedVersionError } from '../regions/index.js'
import type { RegionLike } from '../regions/index.js'
import { hash32, wordsOf } from './hash.js'
import { decodeAnyRecord, decodeHeader, RECORD_HEADER, RECORD_MAGIC, type DecodedRecord } from './record.js'

const MAGIC_LO = 0x45524d50 // "PMRE"
const MAGIC_HI = 0x3130444f // "DO01"
const CONTROL_SEED = 0x5245444f
export const LOG_FORMAT_VERSION = 2
const CONTROL_BYTES = 36
/** Where records start inside the log area. */
export const RECORDS_OFFSET = 4096
/** Smallest log area: the control page and one page of records. */
export const MIN_LOG_SIZE = 2 * 4096
/** Stamp unit of the record area (log inv. 5). */
export const LOG_SECTOR = 512
/** Bytes of the stamp at the start of every sector. */
export const STAMP_BYTES = 8
const PAYLOAD = LOG_SECTOR - STAMP_BYTES

/** Where a record goes if the previous one ended at `pos` (log-relative): past a stamp or a too-short gap. */
export function recordStart(pos: number): number {
  const inSector = pos & (LOG_SECTOR - 1)
  if (inSector < STAMP_BYTES) return pos - inSector + STAMP_BYTES
  if (LOG_SECTOR - inSector < RECORD_HEADER) return pos - inSector + LOG_SECTOR + STAMP_BYTES
  return pos
}

/** Log-relative end of a record of `len` bytes starting at the record start `pos`. */
export function recordEnd(pos: number, len: number): number {
  const first = LOG_SECTOR - (pos & (LOG_SECTOR - 1))
  if (len <= first) return pos + len
  return pos + len + STAMP_BYTES * Math.ceil((len - first) / PAYLOAD)
}

/**
 * Copies the `len` bytes of the record starting at byte `at` of `mem` (a region's user area)
 * out of the sector payloads, around the stamps, into `dst`.
 */
export function gatherRecord(mem: Uint8Array, at: number, len: number, dst: Uint8Array): void {
  let p = at, off = 0
  while (off < len) {
    const n = Math.min(len - off, LOG_SECTOR - p % LOG_SECTOR)
    dst.set(mem.subarray(p, p + n), off)
    off += n
    p += n + STAMP_BYTES
  }
}

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
  tail = recordStart(RECORDS_OFFSET)
  /** Byte position up to which records are known durable. */
  durableTail = recordStart(RECORDS_OFFSET)
  /** Bumped (durably) by every truncation (log inv. 4); a flush that started before one can tell. */
  epoch: number
  /** Checksum seed of records of the current epoch, and the tag of its stamps. */
  seed: number
  /** The region's bytes; call `refresh()` after the region grows (a grow may remap). */
  #mem: Uint8Array
  #mem32: Uint32Array
  /** Where a scan gathers a record's bytes from the sectors (log inv. 5). */
  #scratch = new Uint32Array(1024)

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
    this.#mem32 = wordsOf(this.#mem)
  }

  /** Picks up the region's current mapping (after `grow`). */
  refresh(): void { this.#mem = this.region.unsafeBytes(); this.#mem32 = wordsOf(this.#mem) }

  /** Formats an empty log (startSeq 1) and makes it durable. */
  static format(region: RegionLike, base: number, size: number, logId = randomU32()): RedoLog {
    const log = new RedoLog(region, base, size, logId, 1, 1)
    log.#writeControl()
    return log
  }

  /** Opens a formatted log; the caller then runs `scan` to find live records. */
  static open(region: RegionLike, base: number, size: number): RedoLog {
    const c = readControl(region.unsafeBytes(), base)
    const where = `Cannot open redo log in "${region.path}" at offset ${base}`
    if (c === 'magic') throw new CorruptionError(`${where}: bad magic number`)
    if (c === 'checksum') throw new CorruptionError(`${where}: control block checksum mismatch`)
    if (c.version > LOG_FORMAT_VERSION) {
      throw new UnsupportedVersionError(`${where}: log format version ${c.version} is newer than this library's ${LOG_FORMAT_VERSION}; upgrade persistent-memory`)
    }
    if (c.version < LOG_FORMAT_VERSION) {
      throw new UnsupportedVersionError(`${where}: log format version ${c.version} was written by a pre-release of persistent-memory and is not read by this one (format ${LOG_FORMAT_VERSION}); recreate the file`)
    }
    if (c.size !== size) throw new CorruptionError(`${where}: log size ${c.size} does not match the pool's ${size}`)
    return new RedoLog(region, base, size, c.logId, c.startSeq, c.epoch)
  }

  /** Bytes a record may use at most: the payloads of the whole record area. */
  get capacity(): number { return (this.size - RECORDS_OFFSET) / LOG_SECTOR * PAYLOAD }
  /** Bytes of the largest record that still fits after the tail (record bytes, stamps excluded). */
  get free(): number {
    if (this.tail >= this.size) return 0
    const sectorEnd = (this.tail & ~(LOG_SECTOR - 1)) + LOG_SECTOR
    return sectorEnd - this.tail + (this.size - sectorEnd) / LOG_SECTOR * PAYLOAD
  }
  /** True when a record of `len` bytes fits after the tail. */
  fits(len: number): boolean { return recordEnd(this.tail, len) <= this.size }

  /**
   * Walks the live records (log inv. 1), those with seq <= `upToSeq`, and calls `visit` for
   * each with the record gathered into contiguous words (valid until the next visit); leaves
   * `tail` after the last one and `nextSeq` one past its seq. Reads only. Throws
   * CorruptionError when the record where it stops is damage, not a torn tail (log inv. 5, 6).
   */
  scan(visit: (words: Uint32Array, rec: DecodedRecord) => void, upToSeq = Infinity): number {
    let pos = recordStart(RECORDS_OFFSET)
    let seq = this.startSeq
    let n = 0
    for (; seq <= upToSeq; seq++, n++) {
      const rec = this.#read(pos, seq)
      if (rec === null) break
      visit(this.#scratch, rec)
      pos = recordStart(recordEnd(pos, rec.byteLength))
    }
    if (seq <= upToSeq) this.#checkStop(pos, seq)
    this.tail = this.durableTail = pos
    this.nextSeq = seq
    return n
  }

  /** The valid record of `seq` at log position `pos`, gathered into the scratch words, or null. */
  #read(pos: number, seq: number): DecodedRecord | null {
    const h = this.#header(pos)
    if (h === null || h.seq !== seq) return null
    const words = this.#gather(pos, h.byteLength)
    const rec = decodeAnyRecord(words, 0, h.byteLength >>> 2, this.seed)
    return rec !== null && rec.seq === seq ? rec : null
  }

  /** The header at `pos` if it is valid in this epoch and its record fits in the log. */
  #header(pos: number): ReturnType<typeof decodeHeader> {
    if (pos + RECORD_HEADER > this.size) return null
    const h = decodeHeader(this.#mem32, (this.base + pos) >>> 2, this.seed)
    return h === null || recordEnd(pos, h.byteLength) > this.size ? null : h
  }

  /** Copies the `len` record bytes at `pos` out of the sector payloads into the scratch words. */
  #gather(pos: number, len: number): Uint32Array {
    if (this.#scratch.length * 4 < len) this.#scratch = new Uint32Array(Math.max(len >>> 2, this.#scratch.length * 2))
    gatherRecord(this.#mem, this.base + pos, len, new Uint8Array(this.#scratch.buffer))
    return this.#scratch
  }

  /**
   * The scan stopped at `pos` expecting `seq`: decides torn tail (return) or damage (throw),
   * by the stamps of the record's sectors (log inv. 5) and by later headers' durable marks (inv. 6).
   */
  #checkStop(pos: number, seq: number): void {
    if (pos + RECORD_HEADER > this.size) return
    const h = this.#header(pos)
    const end = h !== null && h.seq === seq ? recordEnd(pos, h.byteLength) : pos + 1
    if (this.#stampsCover(pos, end, seq)) this.#damaged(pos, seq, 'its sectors carry stamps of this epoch showing it was completely written, so no crash tore it')
    this.#checkWitnesses(pos, end, seq)
  }

  /** True when every sector of `[from, to)` carries this epoch's tag with a stamp seq >= `seq` (log inv. 5). */
  #stampsCover(from: number, to: number, seq: number): boolean {
    const m = this.#mem32, s = seq >>> 0
    for (let sector = from - from % LOG_SECTOR; sector < to; sector += LOG_SECTOR) {
      const w = (this.base + sector) >>> 2
      if (m[w + 1] !== this.seed || ((m[w]! - s) | 0) < 0) return false
    }
    return true
  }

  /**
   * Log inv. 6: a later valid header of this epoch whose durable mark lies past `pos`. Looks in
   * the sectors of the stopped record (`[pos, end)`, whatever their stamps) and in the sectors
   * after it up to the first one another epoch stamped (log inv. 7): so an open reads the sectors
   * this epoch wrote, not the whole log area.
   */
  #checkWitnesses(pos: number, end: number, seq: number): void {
    const m = this.#mem32, base = this.base
    for (let sector = pos - pos % LOG_SECTOR; sector < this.size; sector += LOG_SECTOR) {
      if (sector >= end && m[(base + sector + 4) >>> 2] !== this.seed) return // log inv. 7: this epoch's sectors end here
      const last = sector + LOG_SECTOR - RECORD_HEADER // a header never straddles a sector
      for (let p = Math.max(sector + STAMP_BYTES, pos + 8); p <= last; p += 8) {
        if (m[(base + p) >>> 2] !== RECORD_MAGIC) continue
        const h = this.#header(p)
        if (h === null || h.seq <= seq || h.durableMark <= pos) continue
        this.#damaged(pos, seq, `transaction ${h.seq} (written later, at offset ${p}) shows it was durable`)
      }
    }
  }

  #damaged(pos: number, seq: number, why: string): never {
    throw new CorruptionError(
      `Cannot recover the redo log of "${this.region.path}": the record of transaction ${seq} at log offset ${pos} is damaged, ` +
      `but ${why}; the file was changed outside the crash model (bit flip or a foreign write). ` +
      'Restore it from a backup; check() reports the same without changing the file')
  }

  /**
   * Copies a sealed record to the tail (not yet durable), each sector's bytes before its
   * stamp (log inv. 5). The caller checked `fits`. `words`: the record's bytes as words, if
   * the caller has them (saves a view when the record spans sectors).
   */
  append(record: Uint8Array, words?: Uint32Array): void {
    const mem = this.#mem, base = this.base, len = record.length
    const seq = this.nextSeq >>> 0
    let p = this.tail
    let sector = p & ~(LOG_SECTOR - 1)
    if (p + len <= sector + LOG_SECTOR) { // fast path: the record fits in its first sector
      mem.set(record, base + p)
      this.#stamp((base + sector) >>> 2, seq)
      this.tail = recordStart(p + len)
      this.nextSeq++
      return
    }
    const src = words ?? wordsOf(record), m32 = this.#mem32
    for (let off = 0; ;) {
      const n = Math.min(len - off, sector + LOG_SECTOR - p)
      for (let i = off >>> 2, j = (base + p) >>> 2, end = (off + n) >>> 2; i < end; i++, j++) m32[j] = src[i]! // no view per piece

      this.#stamp((base + sector) >>> 2, seq)
      off += n
      p += n
      if (off === len) break
      p += STAMP_BYTES
      sector += LOG_SECTOR
    }
    this.tail = recordStart(p)
    this.nextSeq++
  }

  /**
   * Stamps the sector at word `w` after its bytes were stored (log inv. 5): seq, then the
   * tag if it changes (first record of this epoch there). Atomic stores keep that order for
   * the compiler and the CPU, so writeback never sees a stamp ahead of its bytes.
   */
  #stamp(w: number, seq: number): void {
    const m32 = this.#mem32
    Atomics.store(m32, w, seq)
    if (m32[w + 1] !== this.seed) Atomics.store(m32, w + 1, this.seed)
  }

  /** Start of the range a flush from `from` must cover: the stamp of `from`'s sector was rewritten. */
  #flushFrom(from: number): number { return from - from % LOG_SECTOR }

  /** Makes every appended record durable (log inv. 2). */
  flush(): void {
    if (this.durableTail === this.tail) return
    const from = this.#flushFrom(this.durableTail)
    this.region.flush(this.base + from, this.tail - from)
    this.durableTail = this.tail
  }

  /** Like `flush` without blocking; resolves true if it covered everything appended before the call. */
  async flushAsync(): Promise<boolean> {
    const from = this.durableTail, to = this.tail, epoch = this.epoch
    if (from === to) return true
    const start = this.#flushFrom(from)
    await this.region.flushAsync(this.base + start, to - start)
    if (epoch === this.epoch && this.durableTail < to) this.durableTail = to
    return epoch === this.epoch
  }

  /**
   * Drops every live record and starts a new epoch (log inv. 3, 4). Precondition: their
   * effects are durable in place.
   */
  truncate(): void {
    if (this.region.closed) throw new RegionClosedError(`Cannot truncate log: region "${this.region.path}" is closed`)
    this.startSeq = this.nextSeq
    this.epoch = (this.epoch + 1) >>> 0
    this.seed = recordSeed(this.logId, this.epoch)
    this.#writeControl()
    this.tail = this.durableTail = recordStart(RECORDS_OFFSET)
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

/** A decoded control block, or why it is not one. */
export type ControlBlock = { version: number; startSeq: number; size: number; logId: number; epoch: number }

/** Reads the control block at `base` of `bytes` without judging its version or size. Never throws. */
export function readControl(bytes: Uint8Array, base: number): ControlBlock | 'magic' | 'checksum' {
  if (base < 0 || base + CONTROL_BYTES > bytes.length) return 'magic'
  const w = wordsOf(bytes.subarray(base, base + CONTROL_BYTES))
  if (w[0] !== MAGIC_LO || w[1] !== MAGIC_HI) return 'magic'
  if (hash32(w, 0, 8, CONTROL_SEED) !== w[8]) return 'checksum'
  return { version: w[6]!, startSeq: w[2]! + (w[3]! & 0x1fffff) * 4294967296, size: w[4]!, logId: w[5]!, epoch: w[7]! }
}

/** The checksum seed of records written in `epoch` of the log `logId` (log inv. 4). */
export function recordSeed(logId: number, epoch: number): number {
  return (logId ^ Math.imul(epoch, 0x9e3779b1)) >>> 0
}

function randomU32(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0]!
}
