/**
 * LogIndex: where the current record of every id lies in a log of object records
 * (format.ts), found by one scan of the record headers before anything is built. The
 * restorer (decode.ts) builds objects on top of it, and reaches any record by id.
 *
 * Invariants:
 *   L1. The last record of an id is its current state (format.ts inv. 1): `offsets[id]` is
 *       the offset of that record, or -1.
 *   L2. Every header is checked before it is used: an id of 0 or past the high-water mark,
 *       a body shorter than kind + proto, a record running past the log end, or an unknown
 *       kind is CorruptionError (through `fail`); `enter` bounds the reader to one record.
 *       A record of id 0 is an INDEX record (log-offsets.ts): the scan skips it.
 *   L3. With offsets from a persisted index (log-offsets.ts, a lazy open), the log is read
 *       on demand (`load`, which checks the chunks' checksums) and `enter` checks that the
 *       record at an id's offset has that id: a wrong offset is CorruptionError (inv. X3).
 *   L4. Where a lazy open reads a dense base on demand (`dense`, log-offsets.ts inv. X6),
 *       `offsets[id]` is meaningful only once its group of entries is checked: every read
 *       of an id's offset goes through `offsetOf`, which checks the group first (or
 *       `dense.checkAll()` was called); a raw `offsets[id]` read is for full restores and
 *       after `checkAll`.
 */
import { KIND_CLASS, KIND_INDEX, KIND_STATEFUL, knownKind, KIND_VIEW, MAX_HEADER, header, readHeader } from './format.js'
import { ByteReader } from './reader.js'

/** A dense base whose entries are loaded and checked group by group (log-offsets.ts `DenseBase`, inv. X6). */
export interface DenseEntries {
  /** Group g (ids [g << DENSE_SHIFT, (g + 1) << DENSE_SHIFT)) -> 1 once its entries are loaded and checked. */
  readonly checked: Uint8Array
  /** Loads and checks the group of `id` (CorruptionError if its chunk or an entry is damaged). */
  check(id: number): void
  /** Loads and checks every group not checked yet. */
  checkAll(): void
}

/** log2 of the ids in a group of a dense base checked at once (4 KiB of entries). */
export const DENSE_SHIFT = 10

/**
 * id -> log offset of its current record, or -1 (inv. L1): 4 bytes an id for a log below
 * 2 GiB (every region-backed log: a region's user area is below 2 GiB), else 8. A lazy open
 * of a log whose dense base covers every id uses the base's table in the log copy itself
 * (log-offsets.ts inv. X5).
 */
export type Offsets = Int32Array | Float64Array

/** Largest log offset an Int32Array of offsets holds. */
const INT32_MAX = 0x7fff_ffff

export class LogIndex extends ByteReader {
  /** id -> offset of its current record, or -1 (inv. L1); replaced only by `readIndex` (log-offsets.ts), before any record is read. */
  offsets: Offsets
  /** One past the highest id the log may use (from the container metadata). */
  readonly high: number
  /** The dense base read on demand (inv. L4), or null: every entry of `offsets` is meaningful. */
  dense: DenseEntries | null = null
  /** Makes log bytes [from, to) readable in `buf` (inv. L3); null when the whole log is there. */
  load: ((from: number, to: number) => void) | null = null

  /** End of the log (the reader's `end` is bounded to one record while it reads one). */
  readonly logLength: number

  /**
   * The log is `log[0, end)`; `unfilled`: the offsets are left empty (length 0, of the right
   * kind) for `readIndex` (log-offsets.ts) to supply: a lazy open often uses the dense base
   * itself (inv. X5), and an unused 8 MB table still counted as the isolate's external memory.
   */
  constructor(log: Uint8Array, end: number, high: number, where: string, unfilled = false) {
    super(log, 0, end, where)
    if (end > log.length) this.fail(`log end ${end} beyond the ${log.length} bytes stored`)
    this.high = high
    this.logLength = end
    this.offsets = unfilled ? this.newOffsets(0) : this.newOffsets(high).fill(-1)
  }

  /** An offsets table of `n` entries (zero) of the kind this log needs. */
  newOffsets(n: number): Offsets { return this.logLength <= INT32_MAX ? new Int32Array(n) : new Float64Array(n) }

  /**
   * Scans the log: the offset of each id's last record (inv. L1, L2). `notable`, if given,
   * receives [id, offset, ...] of every CLASS, STATEFUL and VIEW record (a lazy restore
   * loads the classes at once, restores whole if instances of classes with hooks are
   * current, and learns the views of each buffer: lazy.ts).
   */
  index(notable?: number[]): void {
    const logEnd = this.end
    this.pos = 0
    while (this.pos < logEnd) {
      const at = this.pos
      if (!readHeader(this.buf, at, logEnd)) this.fail('malformed record header')
      const id = header.id
      if (id === 0 && header.end - header.body >= 2 && header.end <= logEnd && this.buf[header.body] === KIND_INDEX) { this.pos = header.end; continue }
      if (id === 0 || id >= this.high) this.fail(`record with impossible id ${id}`)
      if (header.end - header.body < 2 || header.end > logEnd) this.fail(`record of id ${id} with impossible length ${header.end - header.body}`)
      this.offsets[id] = at
      if (notable !== undefined) { const k = this.buf[header.body]; if (k === KIND_CLASS || k === KIND_STATEFUL || k === KIND_VIEW) notable.push(id, at) }
      this.pos = header.end
    }
  }

  /** The offset of `id`'s current record, or -1 (0 < id < high); its dense base entry is checked first (inv. L4). */
  offsetOf(id: number): number {
    const d = this.dense
    if (d !== null && d.checked[id >>> DENSE_SHIFT] === 0) d.check(id)
    return this.offsets[id]
  }

  /** Positions the reader on the body of `id`'s current record (bounded to it); returns its kind. */
  enter(id: number): number {
    if (id <= 0 || id >= this.high) this.fail(`reference to impossible id ${id}`)
    const at = this.offsetOf(id)
    if (at < 0) this.fail(`reference to object ${id}, which has no record`)
    this.at(id, at)
    this.pos = header.body
    this.end = header.end
    const kind = this.u8()
    if (!knownKind(kind)) this.fail(`unknown record kind ${kind}`)
    return kind
  }

  /** Parses the header of `id`'s record at `at` into `header`, loading it first if the log is read on demand (inv. L3). */
  at(id: number, at: number): void {
    const load = this.load
    if (load === null) { readHeader(this.buf, at, this.buf.length); return }
    const logEnd = this.logLength
    load(at, Math.min(at + MAX_HEADER, logEnd))
    this.pos = at
    if (!readHeader(this.buf, at, logEnd) || header.id !== id || header.end > logEnd) this.fail(`the index places object ${id} where ${header.id === id ? 'a malformed record' : `a record of id ${header.id}`} lies`)
    const end = header.end, body = header.body
    load(at, end)
    header.id = id; header.body = body; header.end = end
  }
}
