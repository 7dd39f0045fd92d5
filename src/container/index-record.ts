/**
 * Building a point's INDEX record (the byte layout, form by form, and the invariants X1-X7
 * are in log-offsets.ts, which reads them): the entries of every record the point wrote,
 * from the writers' record lists (`addList`) or a scan of its parts (`add`), as a dense base
 * after a full point or a compaction, else as a delta with its own CRC-32C (form 2, X7).
 */
import { KIND_CLASS, KIND_INDEX, KIND_STATEFUL, KIND_VIEW, PROTO_BUILTIN, header, readHeader } from './format.js'
import { ByteWriter, type Batch, type RecordList } from './writer.js'
import { sharedF64, sharedU32 } from './by-id.js'
import { crc32c, crc32cUpdate } from '../../regions/index.js'

/** Collects the entries of one INDEX record from the point's records, part by part. */
export class IndexBuilder {
  #ids = sharedU32(1 << 12)     // by-id.ts: large ones in shared memory, not counted as V8's external memory
  #offs = sharedF64(1 << 12)
  #count = 0
  #maxId = 0
  readonly #notable: number[] = []
  /** Lists added (`addList`), not copied into the pairs yet, with the offset theirs are from; their record count. */
  readonly #lists: { list: RecordList; at: number }[] = []; #listed = 0
  /** Offset (from B) of the next part. */
  #pos = 0

  /** `base`: the log offset of the point's first record; `prev`: the previous INDEX record, or -1 (a base). */
  constructor(readonly base: number, readonly prev: number) {}

  /** Bytes of records added so far. */
  get bytes(): number { return this.#pos }

  /** Lists the records of `part` (whole records: writer.ts inv.), which follows the parts added so far. */
  add(part: Uint8Array): void {
    this.#takeLists()
    const n = part.length
    for (let p = 0; p < n;) {
      if (!readHeader(part, p, n) || header.end > n) throw new Error(`container bug: a malformed record at byte ${this.#pos + p} of a point`)
      const id = header.id
      if (id !== 0) {          // an INDEX record (a compaction drops them; nothing else copies one)
        if (this.#count === this.#ids.length) this.#grow(this.#count + 1)
        this.#ids[this.#count] = id
        this.#offs[this.#count++] = this.#pos + p
        if (id > this.#maxId) this.#maxId = id
        const k = part[header.body]
        if (k === KIND_CLASS || k === KIND_STATEFUL || k === KIND_VIEW) this.#notable.push(id)
      }
      p = header.end
    }
    this.#pos += n
  }

  /**
   * Lists the records of `list` (a writer's, `ByteWriter.track`), `shift` past the parts added
   * so far. Kept, not copied: a dense base fills its table from the lists (the pairs, grown by
   * doubling, cost 60-150 ms for the 2M records of bench/graph.mjs's first point).
   */
  addList(list: RecordList, shift: number): void {
    this.#lists.push({ list, at: this.#pos + shift })
    this.#listed += list.n
    const ids = list.ids
    let max = this.#maxId
    for (let i = 0; i < list.n; i++) if (ids[i] > max) max = ids[i]
    this.#maxId = max
    for (const id of list.notable) this.#notable.push(id)
  }

  /** Copies the lists added, in order, into the pairs. */
  #takeLists(): void {
    if (this.#lists.length === 0) return
    if (this.#count + this.#listed > this.#ids.length) this.#grow(this.#count + this.#listed)
    for (const { list, at } of this.#lists) for (let i = 0; i < list.n; i++) { this.#ids[this.#count] = list.ids[i]; this.#offs[this.#count++] = at + list.offs[i] }
    this.#lists.length = this.#listed = 0
  }

  /** Ends a batch added with `addList`: the next records follow its `length` bytes. */
  endBatch(length: number): void { this.#pos += length }

  /** Room for `n` pairs at least. */
  #grow(n: number): void {
    let size = this.#ids.length * 2
    while (size < n) size *= 2
    const ids = sharedU32(size), offs = sharedF64(size)
    ids.set(this.#ids.subarray(0, this.#count)); offs.set(this.#offs.subarray(0, this.#count))
    this.#ids = ids; this.#offs = offs
  }

  /** The INDEX record, as parts; it lies right after the records added (at log offset B + bytes). */
  record(): Buffer[] {
    const dense = this.prev === -1 && this.base === 0 && this.#pos < NONE
    const body = new ByteWriter(64)
    body.u8(KIND_INDEX); body.varint(PROTO_BUILTIN)
    body.f64(this.prev); body.f64(this.base)
    body.u8(dense ? 1 : 2)
    let entries: Uint8Array
    if (dense) {
      const m = this.#maxId + 1
      body.varint(m)
      const table = sharedU32(m).fill(NONE)
      for (let i = 0; i < this.#count; i++) table[this.#ids[i]] = this.#offs[i]
      for (const { list, at } of this.#lists) { const ids = list.ids, offs = list.offs; for (let i = 0; i < list.n; i++) table[ids[i]] = at + offs[i] }
      if (!LITTLE_ENDIAN) for (let i = 0; i < m; i++) table[i] = swap32(table[i])
      entries = Buffer.from(table.buffer)
      // pad so that the table starts at a log offset that is a multiple of 4 (the header has a fixed length: HEAD)
      const pad = (4 - ((this.base + this.#pos + HEAD + body.pos) % 4)) % 4
      for (let i = 0; i < pad; i++) body.u8(0)
    } else {
      this.#takeLists()
      const w = new ByteWriter(Math.max(64, this.#count * 5))
      w.varint(this.#count)
      let last = 0
      for (let i = 0; i < this.#count; i++) { w.varint(this.#ids[i]); w.varint(this.#offs[i] - last); last = this.#offs[i] }
      entries = w.buf.subarray(0, w.pos)
    }
    const tail = new ByteWriter(64)
    tail.varint(this.#notable.length)
    for (const id of this.#notable) tail.varint(id)
    const parts = [body.buf.subarray(0, body.pos), entries as Buffer, tail.buf.subarray(0, tail.pos)]
    if (!dense) {      // form 2: the delta's own checksum (inv. X7)
      let crc = crc32c(parts[0])
      crc = crc32cUpdate(crc, parts[1]); crc = crc32cUpdate(crc, parts[2])
      const sum = Buffer.alloc(4)
      sum.writeUInt32LE(crc >>> 0, 0)
      parts.push(sum)
    }
    // the header: id 0, then the body length as a 5-byte varint (not minimal: the table's padding depends on the header's length)
    let n = 0
    for (const q of parts) n += q.length
    const head = Buffer.from([0, (n & 0x7f) | 0x80, ((n >>> 7) & 0x7f) | 0x80, ((n >>> 14) & 0x7f) | 0x80, ((n >>> 21) & 0x7f) | 0x80, Math.floor(n / 2 ** 28)])
    return [head, ...parts]
  }
}

/** No record (a dense base's entry). */
export const NONE = 0xffff_ffff
export const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1
const swap32 = (v: number): number => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0

/** Length of an INDEX record's header: id 0 (1 byte), the body length as a 5-byte varint. */
const HEAD = 6

/** Builds the INDEX record of a batch: from the records its writers listed, else by a scan of its parts. */
export function indexRecord(batch: Batch, base: number, prev: number): Buffer[] {
  const b = new IndexBuilder(base, prev)
  if (batch.records !== undefined) {
    for (const { list, shift } of batch.records) b.addList(list, shift)
    b.endBatch(batch.length)
  } else for (const p of batch.parts) b.add(p)
  return b.record()
}
