/**
 * The persisted id -> offset index of a log (format version 3, meta.ts): INDEX records, so
 * that a lazy open (lazy.ts) learns where each id's current record lies without reading
 * and scanning the whole log.
 *
 * Every point writes one INDEX record right after its own records (in the same store
 * commit, write.ts; a streamed point at the end of its stream, stream.ts), and the
 * metadata names the newest one (meta.ts `indexAt`). A full point or a compaction writes
 * a *base*: the records of the whole new log. An incremental point writes a *delta*: the
 * records it appended, and the offset of the previous INDEX record. The chain from the
 * newest INDEX record back to its base lists every record of the log.
 *
 * INDEX record (a record as format.ts describes, with id 0 and kind INDEX):
 *
 * | OFFSET | SIZE | DESCRIPTION |
 * | ------ | ---- | ----------- |
 * | 0      | 1    | id: varint 0 (no object has id 0) |
 * | 1      | 5    | n: body length, varint written in 5 bytes (not minimal: the padding below depends on it); the body starts at b = 6 |
 * | b      | 1    | kind: KIND_INDEX (20) |
 * | b+1    | 1    | proto: varint 0 |
 * | b+2    | 8    | float64 LE: log offset of the previous INDEX record of the chain, -1 for a base |
 * | b+10   | 8    | float64 LE: B, the log offset of the point's first record (0 for a base) |
 * | b+18   | 1    | form: 0 = pairs (format 3), 1 = dense, 2 = pairs with a checksum (format 4: what an incremental point writes) |
 * | b+19   | var  | pairs (forms 0 and 2): varint count, then count x (varint id, varint gap): the records in log order; the k-th lies at B + the sum of the first k gaps |
 * | b+19   | var  | dense (a base whose log is below 4 GiB): varint m, then 0-3 zero bytes so that the next byte's log offset is a multiple of 4, then m x u32 LE: the offset of id i's record, 0xffffffff for none (ids from m on have none) |
 * | ...    | var  | varint k, then k x varint id: the ids listed whose record is CLASS, STATEFUL or VIEW (a lazy open reads those at once) |
 * | end-4  | 4    | form 2 only: CRC-32C (regions/checksum.ts) of the body from b to here, u32 LE (inv. X7) |
 *
 * (A dense base is read through a Uint32Array view of the log copy: 4 bytes per id, no
 * decoding; deltas are small and varint-coded, about 4 bytes per record.)
 *
 * Building the record: index-record.ts. The record's integrity is the chunk store's: its chunks carry CRC-32Cs checked on first
 * read (ShadowStore inv. 4), like every record's.
 *
 * Invariants (cited as "X1".."X5"):
 *   X1. An INDEX record is committed in the same store commit as the records it lists and
 *       the metadata naming it, after them; appends never change bytes below the old log
 *       end (log.ts inv. 1). So every INDEX record of a committed version's chain is intact
 *       in that version, after any crash (chunk-store inv. 1): no new crash state exists.
 *   X2. A base lists every record of the log it ends (from offset 0, B = 0); a delta lists
 *       every record its point appended, in log order. Applying the chain from the base to
 *       the newest gives each id the offset of its last record: the header scan's answer
 *       (log-index.ts inv. L1).
 *   X3. The index is trusted for offsets only: an INDEX record that does not parse, a chain
 *       that does not go back, an id past the high-water mark, an offset past the log, or an
 *       offset where a record of another id lies (checked as each record is entered,
 *       log-index.ts inv. L3) is CorruptionError, never a wrong object. (An offset at an
 *       older record of the same id passes L3: only a writer's bug can make one, chunk
 *       checksums catching damage; a format-4 delta's own checksum catches bytes changed
 *       after it was built, X7.) `check` compares the chain with a full scan (check.ts).
 *   X4. A point whose log has no index (a version-2 file, or one whose previous point wrote
 *       none) writes none either (`indexAt` -1) until the next full point or compaction; a
 *       lazy open of a version without an index scans the log, as before format 3.
 *   X5. A lazy open may use a dense base's table in its log copy as the offsets array
 *       itself (readDense: 4-byte offsets, aligned, covering every id): the deltas after it
 *       then write into those bytes of the copy. Nothing reads an INDEX record's bytes from
 *       a log copy after `readIndex` (scans skip INDEX records by their header, compaction
 *       reads the store again, log.ts; `check` compares the offsets, not the bytes), and the
 *       copy lives exactly as long as the offsets do (the restorer holds both). *   X6. A lazy open reading the log on demand (`onDemand`) reads of such a base only its
 *       fixed fields and its tail at open; its table is loaded and checked (X3's bounds, the
 *       chunks' checksums, log.ts inv. 3) a group of 1024 entries at a time (`DenseBase`),
 *       the first time an id of the group is looked up (log-index.ts inv. L4) or a delta of
 *       the chain writes one of its entries (before the write, so the bytes a delta wrote are
 *       never loaded over or checked against the base's bounds). Damage in a group is a
 *       CorruptionError at the lookup that needs it, never an offset: the group stays
 *       unchecked and every later lookup in it throws again (lazy.ts inv. Z7, Z9).
 *   X7. A delta carries its own CRC-32C (form 2), computed when the record is built and checked
 *       before any of its entries is used: X3's L3 check cannot see a delta entry moved to an
 *       older record of the same id, nor an entry whose id was changed (the id it no longer
 *       names keeps the older offset an earlier INDEX record gave it, and the L3 check of the
 *       entry's new id runs only when that id is touched). Bytes changed after the record was
 *       built, checksums of the chunks intact, are then a CorruptionError at the open, never
 *       an older object. A base needs none: its log holds one record per id, so any moved
 *       entry names a record of another id (L3). Form 0 deltas (format 3 files) are read as
 *       before, without one.
 */
import { KIND_INDEX, header, readHeader } from './format.js'
import { DENSE_SHIFT, LogIndex, type DenseEntries } from './log-index.js'
import { LITTLE_ENDIAN, NONE } from './index-record.js'
import { PmemError, crc32c } from '../../regions/index.js'


/**
 * Reads the index chain ending at the INDEX record at `at` into `r.offsets` (inv. X2, X3;
 * every entry is written: the LogIndex may be `unfilled`);
 * `notable` receives [id, offset, ...] of the CLASS, STATEFUL and VIEW records it lists
 * (as LogIndex.index does). `load(from, to)` makes log bytes [from, to) readable in `r.buf`.
 * `onDemand`: a dense base is checked group by group as ids are looked up (inv. X6, `r.dense`).
 */
export function readIndex(r: LogIndex, at: number, notable: number[], load: (from: number, to: number) => void, onDemand = false): void {
  const chain: number[] = []
  const logEnd = r.end
  for (let x = at; x >= 0;) {
    if (chain.length > 0 && x >= chain[chain.length - 1]) { r.pos = x; r.fail(`index chain does not go back (INDEX record at ${chain[chain.length - 1]} names one at ${x})`) }
    r.pos = x
    load(x, x + 10)
    if (!readHeader(r.buf, x, logEnd) || header.id !== 0 || header.end > logEnd) r.fail('no INDEX record where the index names one')
    const end = header.end, body = header.body
    load(x, onDemand ? Math.min(end, body + FIXED) : end)     // a dense base's table is loaded later (inv. X6)
    if (end - body < 19 || r.buf[body] !== KIND_INDEX) r.fail('no INDEX record where the index names one')
    if (onDemand && r.buf[body + 18] !== 1) load(x, end)
    chain.push(x)
    x = r.buf.readDoubleLE(body + 2)
    if (x !== -1 && !(Number.isSafeInteger(x) && x >= 0)) r.fail(`INDEX record with an impossible previous offset ${x}`)
    if (x === -1 && r.buf.readDoubleLE(body + 10) !== 0) r.fail('INDEX base that does not start the log')
  }
  for (let c = chain.length - 1; c >= 0; c--) {
    readHeader(r.buf, chain[c], logEnd)
    r.pos = header.body + 10
    r.end = header.end
    const base = r.f64()
    if (!Number.isSafeInteger(base) || base < 0 || base > chain[c]) r.fail(`INDEX record with an impossible base offset ${base}`)
    const form = r.u8()
    if (form === 2) {      // inv. X7: checked before any entry is used
      const end = r.end - 4
      if (end < r.pos || (crc32c(r.buf, header.body, end) >>> 0) !== r.buf.readUInt32LE(end)) r.fail('INDEX record whose checksum does not match its bytes')
      r.end = end
    }
    if (c === chain.length - 1 && form !== 1) r.offsets = r.newOffsets(r.high).fill(-1)     // (LogIndex `unfilled`: a dense base supplies them)
    if (form === 1 && c === chain.length - 1) readDense(r, chain[c], onDemand ? load : null)
    else if (form === 0 || form === 2) readPairs(r, base, chain[c])
    else r.fail(`INDEX record of unknown form ${form}`)
    const m = r.count(1)
    for (let i = 0; i < m; i++) {
      const id = r.varint()
      if (id === 0 || id >= r.high) r.fail(`INDEX lists a record of impossible id ${id}`)
      const off = r.offsetOf(id)
      if (off < 0) r.fail(`INDEX lists a record of impossible id ${id}`)
      notable.push(id, off)
    }
    if (r.pos !== r.end) r.fail('INDEX record longer than its entries')
  }
  r.end = logEnd
}

/** Bytes of an INDEX body a lazy open loads before its entries: kind to form (19), m (at most 5), padding (at most 3). */
const FIXED = 19 + 5 + 3

/**
 * What `check` finds wrong with the index of a log read whole (inv. X3): the chain read
 * against a scan of every header. Empty when the log has no index.
 */
export function indexProblems(log: Uint8Array, logEnd: number, high: number, indexAt: number, where: string): string[] {
  if (indexAt < 0) return []
  const scan = new LogIndex(log, logEnd, high, where)
  const idx = new LogIndex(log, logEnd, high, where, true)
  try {
    scan.index()
    readIndex(idx, indexAt, [], () => {})
  } catch (e) {
    if (e instanceof PmemError) return [`the index: ${e.message}`]
    throw e
  }
  const problems: string[] = []
  for (let id = 0; id < high && problems.length < 5; id++) {
    if (scan.offsets[id] !== idx.offsets[id]) problems.push(`the index places object ${id} at log offset ${idx.offsets[id]}, the log's last record of it is at ${scan.offsets[id]} (inv. X2)`)
  }
  return problems
}

/**
 * A dense base (the chain's first record): offsets by id. Where the table is aligned in
 * the log copy and the offsets are 4-byte (a log below 2 GiB), its entries are checked in
 * place (0xffffffff reads as -1, "none"); if it covers every id it becomes the offsets
 * themselves, with no copy (inv. X5), else it is copied into them at once (`set`). With
 * `load` (a lazy open reading on demand) such a table covering every id is loaded and
 * checked group by group as ids are looked up (inv. X6): only its tail is loaded now.
 */
function readDense(r: LogIndex, limit: number, load: ((from: number, to: number) => void) | null): void {
  const m = r.varint()
  if (m > r.high) r.fail(`INDEX base of ${m} ids, past the high-water mark ${r.high}`)
  const start = r.pos + ((4 - (r.pos % 4)) % 4)
  if (start + 4 * m > r.end) r.fail('INDEX record truncated')
  const buf = r.buf
  const at = buf.byteOffset + start
  const aligned = LITTLE_ENDIAN && at % 4 === 0
  const inPlace = aligned && r.offsets instanceof Int32Array
  if (load !== null) {
    if (inPlace && m === r.high) {      // inv. X6
      const table = new Int32Array(buf.buffer, at, m)
      r.offsets = table
      r.dense = new DenseBase(r, start, table, limit, load)
      r.pos = start + 4 * m
      load(r.pos, r.end)
      return
    }
    load(start, r.end)      // read at once: the rest of the record
  }
  if (inPlace) {
    const table = new Int32Array(buf.buffer, at, m)
    checkDense(r, table, 0, m, start, limit)
    if (m === r.high) r.offsets = table      // inv. X5
    else { const offsets = r.newOffsets(r.high); offsets.set(table); offsets.fill(-1, m); r.offsets = offsets }
    r.pos = start + 4 * m
    return
  }
  const table = aligned ? new Uint32Array(buf.buffer, at, m) : null
  const offsets = r.offsets = r.newOffsets(r.high)
  for (let id = 0; id < m; id++) {
    const v = table !== null ? table[id] : buf.readUInt32LE(start + 4 * id)
    if (v === NONE) { offsets[id] = -1; continue }
    if (v >= limit || id === 0) { r.pos = start + 4 * id; r.fail(`INDEX entry with impossible id ${id} or offset ${v}`) }
    offsets[id] = v
  }
  offsets.fill(-1, m)
  r.pos = start + 4 * m
}

/** Checks entries [from, to) of a dense base's table, whose entry 0 lies at log offset `start` (inv. X3). */
function checkDense(r: LogIndex, table: Int32Array, from: number, to: number, start: number, limit: number): void {
  for (let id = from; id < to; id++) {
    const v = table[id]
    if (v === -1) continue
    if (v < 0 || v >= limit || id === 0) { r.pos = start + 4 * id; r.fail(`INDEX entry with impossible id ${id} or offset ${v >>> 0}`) }
  }
}

/**
 * A dense base read on demand (inv. X6): the group of 1 << DENSE_SHIFT entries holding an
 * id is loaded (its log chunks copied and checksum-verified) and checked the first time
 * one of its ids is looked up (log-index.ts inv. L4).
 */
class DenseBase implements DenseEntries {
  readonly checked: Uint8Array
  readonly #r: LogIndex
  readonly #start: number
  readonly #table: Int32Array
  readonly #limit: number
  readonly #load: (from: number, to: number) => void

  constructor(r: LogIndex, start: number, table: Int32Array, limit: number, load: (from: number, to: number) => void) {
    this.#r = r
    this.#start = start
    this.#table = table
    this.#limit = limit
    this.#load = load
    this.checked = new Uint8Array(Math.ceil(table.length / (1 << DENSE_SHIFT)))
  }

  check(id: number): void {
    const g = id >>> DENSE_SHIFT
    if (g >= this.checked.length || this.checked[g] === 1) return
    const from = g << DENSE_SHIFT, to = Math.min(this.#table.length, from + (1 << DENSE_SHIFT))
    const r = this.#r, pos = r.pos
    this.#load(this.#start + 4 * from, this.#start + 4 * to)      // damage: CorruptionError, the group stays unchecked
    checkDense(r, this.#table, from, to, this.#start, this.#limit)
    r.pos = pos
    this.checked[g] = 1
  }

  checkAll(): void {
    for (let g = 0; g < this.checked.length; g++) if (this.checked[g] === 0) this.check(g << DENSE_SHIFT)
  }
}

/** A delta: (id, gap) varint pairs in log order. */
function readPairs(r: LogIndex, base: number, limit: number): void {
  const count = r.count(2)
  const buf = r.buf, end = r.end, offsets = r.offsets, high = r.high, dense = r.dense
  let off = base, p = r.pos
  for (let i = 0; i < count; i++) {      // varints decoded inline
    let b = 0, id = 0, gap = 0, scale = 1
    do { if (p >= end || scale > 2 ** 35) { r.pos = p; r.fail('INDEX entry truncated') } b = buf[p++]; id += (b & 0x7f) * scale; scale *= 0x80 } while (b >= 0x80)
    scale = 1
    do { if (p >= end || scale > 2 ** 49) { r.pos = p; r.fail('INDEX entry truncated') } b = buf[p++]; gap += (b & 0x7f) * scale; scale *= 0x80 } while (b >= 0x80)
    off += gap
    if (id === 0 || id >= high || off >= limit) { r.pos = p; r.fail(`INDEX entry with impossible id ${id} or offset ${off}`) }
    if (dense !== null && dense.checked[id >>> DENSE_SHIFT] === 0) dense.check(id)     // before the write (inv. X6)
    offsets[id] = off
  }
  r.pos = p
}
