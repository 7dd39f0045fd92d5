/**
 * Binary data: ArrayBuffers, Node Buffers, typed arrays and DataViews. They are handed out
 * raw (not proxied, so native APIs work on them), and JavaScript has no hook on a store into
 * their bytes, so each point looks at every persisted buffer: it compares fingerprints
 * (fingerprint.ts, 16 bytes per 4 KiB chunk), not the bytes against a private copy, and it
 * writes only the chunks whose fingerprint changed.
 *
 * Storage (format.ts): a fixed-length buffer of at most BIN_CHUNK bytes is one BYTES record
 * (an ArrayBuffer) or BUFFER record (a Node Buffer's own bytes); a larger or resizable one
 * is a CHUNKED record (its length, maximum length and the ids of its CHUNK records) and
 * one CHUNK record per BIN_CHUNK bytes. A chunk keeps its id while its buffer has a chunk
 * at that index, so a point that finds one chunk changed appends one CHUNK record under
 * that id (it supersedes the old one, format.ts inv. 1) and nothing else: the CHUNKED
 * record is rewritten only when the buffer's length changes.
 *
 * Cost of a point per persisted buffer: hashing every byte (measured 1-3 GB/s, README),
 * because no store into a typed array can be observed; then per changed chunk one CHUNK
 * record of BIN_CHUNK bytes.
 *
 * Invariants (container inv. 3 relies on them):
 *   BIN1. Every ArrayBuffer and Buffer with a current record has a state here: its length,
 *         maximum length (resizable ones), the fingerprint of each piece as last persisted
 *         (the whole bytes of a BYTES or BUFFER record, each chunk of a CHUNKED one) and
 *         the ids of its chunks. The encoder sets it as it writes the record; a restore
 *         sets it from the restored bytes.
 *   BIN2. At each incremental point (`compare`): a buffer whose length or maximum length
 *         changed is marked dirty, with its views; a one-piece buffer whose fingerprint
 *         changed is marked dirty; every chunk whose fingerprint changed gets a new CHUNK
 *         record under its id. A change is missed only as fingerprint.ts inv. F2 says.
 *   BIN3. A chunk id belongs to one buffer (its PartRef owner) and is listed by that
 *         buffer's current record only; ids of chunks a buffer no longer lists are left to
 *         compaction (unreachable through the references), never reused before it
 *         (identity.ts inv. 2). A full point starts the table afresh (the ids of all
 *         descriptors are released, tables.ts).
 *   BIN4. PATCH parts (binary-patch.ts, format version 4): at an incremental point, the
 *         changed chunks of a chunked buffer are written as one PATCH part holding their
 *         changed blocks (and the buffer's record again, as a PATCH record listing its chunks
 *         and parts) when that is smaller than the chunks, or the buffer has parts already;
 *         unless the parts would then hold more bytes than the buffer has, or MAX_PARTS parts
 *         (a rewrite of the touched chunks costs the whole buffer when changes are spread:
 *         the more parts between two, the fewer bytes per point; restore copies them once):
 *         then every chunk touched since its last CHUNKED record (`touched`) is written
 *         whole and the record is CHUNKED again (no parts). While a buffer has parts, its
 *         CHUNK records hold the bytes of its base: a record that drops the parts for any
 *         other reason (`encode`) writes the touched chunks too. `hashes` (block hashes)
 *         describe exactly the bytes persisted (base and parts), or are null (made at the
 *         next point that finds a change).
 */
import { bufferLength, isArrayBuffer, isTypedArray, viewParts } from './builtins.js'
import { KIND_BUFFER, KIND_BYTES, KIND_CHUNKED, KIND_PATCH } from './format.js'
import { fingerprint, wordsOf } from './fingerprint.js'
import { writeChunk } from './records.js'
import { PartRef } from './segments.js'
import type { ByteWriter } from './writer.js'
import type { ObjectTable } from './identity.js'
import type { IdList } from './refs.js'
import { BinaryPart, blockHashes, changedBlocks, rehash, writeBinaryPart } from './binary-patch.js'
import { MAX_PARTS } from './change-log.js'

/** Bytes per CHUNK record; buffers up to this size (fixed-length) are one BYTES or BUFFER record. */
export const BIN_CHUNK = 4096

/** In-memory descriptor of a CHUNK record (kept in the object table under its id). */
export class BinaryChunk extends PartRef {}

const EMPTY = new Uint8Array(0)
const resizableOf = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'resizable')?.get
const maxLengthOf = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'maxByteLength')?.get

/** What the table knows of one persisted buffer (inv. BIN1). */
class BinaryState {
  constructor(
    /** KIND_BYTES (an ArrayBuffer) or KIND_BUFFER (a Node Buffer's own bytes). */
    readonly base: number,
    readonly length: number,
    /** maxByteLength + 1 of a resizable ArrayBuffer, 0 for a fixed-length one. */
    readonly max: number,
    /** 4 words per piece. */
    readonly fps: Int32Array,
    /** Ids of the CHUNK records, or null for a one-piece record. */
    readonly chunks: Int32Array | null,
  ) {}
  /** Its PATCH parts since its last CHUNKED record, in order (inv. BIN4). */
  parts: number[] = []
  /** Bytes its parts hold. */
  patched = 0
  /** Chunks whose bytes parts changed (their CHUNK records hold the base), or null. */
  touched: Uint8Array | null = null
  /** Block hashes of the bytes persisted (binary-patch.ts), or null. */
  hashes: Int32Array | null = null
}

/** The bytes a binary record holds: a whole ArrayBuffer, or a Buffer's own view (KIND_BUFFER); null for anything else. */
export function bytesOf(o: unknown, base: number): Uint8Array | null {
  if (base === KIND_BYTES) {
    if (!isArrayBuffer(o)) return null
    const n = bufferLength(o as ArrayBuffer)
    return n === 0 ? EMPTY : new Uint8Array(o as ArrayBuffer, 0, n)   // (a detached buffer has length 0)
  }
  if (!isTypedArray(o)) return null
  const [buffer, off, len] = viewParts(o as ArrayBufferView)
  return len === 0 ? EMPTY : new Uint8Array(buffer, off, len)
}

/** maxByteLength + 1 of a resizable ArrayBuffer, 0 for a fixed-length one (what CHUNKED records store). */
export function maxOf(b: ArrayBuffer): number {
  return resizableOf !== undefined && resizableOf.call(b) === true ? (maxLengthOf!.call(b) as number) + 1 : 0
}

/** The fingerprints of every piece of `bytes`: one piece, or one per BIN_CHUNK bytes. */
function fingerprints(bytes: Uint8Array, chunked: boolean): Int32Array {
  const n = bytes.length
  const count = chunked ? Math.ceil(n / BIN_CHUNK) : 1
  const fps = new Int32Array(4 * count)
  const words = wordsOf(bytes)
  if (!chunked) fingerprint(bytes, words, 0, n, fps, 0)
  else for (let i = 0; i < count; i++) fingerprint(bytes, words, i * BIN_CHUNK, Math.min(n, (i + 1) * BIN_CHUNK), fps, 4 * i)
  return fps
}

const tmp = new Int32Array(4)
function sameAt(fps: Int32Array, at: number): boolean {
  return fps[at] === tmp[0] && fps[at + 1] === tmp[1] && fps[at + 2] === tmp[2] && fps[at + 3] === tmp[3]
}

/** Buffer id -> its state (inv. BIN1), and the chunk records a record being encoded lists. */
export class BinaryTable {
  readonly #states = new Map<number, BinaryState>()
  /** CHUNK records the record being encoded lists and that must be written after it: [id, from, to] over #pendingBytes. */
  #pending: number[] = []
  #pendingBytes: Uint8Array = EMPTY

  get size(): number { return this.#states.size }
  delete(id: number): void { this.#states.delete(id) }
  clear(): void { this.#states.clear() }
  /** Chunk ids of buffer `id` (tests and checks), or null. */
  chunksOf(id: number): Int32Array | null { return this.#states.get(id)?.chunks ?? null }

  /**
   * Writes the body of buffer `id`'s record (after kind and proto, at `start` the kind byte):
   * a one-piece BYTES or BUFFER body, or a CHUNKED one (the kind byte is rewritten) whose
   * chunk ids are pushed on `refs`. A chunk keeps the id it had at the same index, and is
   * written (by `writePending`, after the record) only if it is new or its bytes changed.
   */
  encode(id: number, base: number, bytes: Uint8Array, max: number, w: ByteWriter, start: number, table: ObjectTable, refs: IdList): void {
    const n = bytes.length
    if (max === 0 && n <= BIN_CHUNK) {
      this.#states.set(id, new BinaryState(base, n, 0, fingerprints(bytes, false), null))
      w.varint(n)
      w.bytes(bytes)
      return
    }
    const prev = this.#states.get(id)
    if (prev !== undefined && prev.parts.length > 0 && prev.base === base && prev.length === n && prev.max === max && prev.chunks !== null) {
      this.#patchBody(prev, base, n, max, w, start, refs)     // inv. BIN4: the parts stay
      return
    }
    const old = prev !== undefined && prev.base === base ? prev.chunks : null
    const touched = prev?.touched ?? null
    const words = wordsOf(bytes)
    // Block hashes carry over for the same bytes (the chunks not rewritten hold what they did); the rewritten ones are hashed again below.
    const hashes = prev !== undefined && prev.hashes !== null && prev.base === base && prev.length === n && words !== null ? prev.hashes : null
    const fps = fingerprints(bytes, true)
    const count = fps.length / 4
    const ids = new Int32Array(count)
    w.buf[start] = KIND_CHUNKED
    w.u8(base); w.varint(n); w.varint(max); w.varint(BIN_CHUNK); w.varint(count)
    for (let i = 0; i < count; i++) {
      const from = i * BIN_CHUNK, to = Math.min(n, from + BIN_CHUNK)
      let cid = old !== null && i < old.length ? old[i] : 0
      const d = table.objects[cid]
      if (cid !== 0 && !(d instanceof BinaryChunk && d.owner === id)) cid = 0       // inv. BIN3 (belt and braces)
      if (cid === 0) cid = table.assign(new BinaryChunk(id))
      ids[i] = cid; refs.push(cid); w.varint(cid)
      // Unchanged: the old chunk at this index had the same length and fingerprint.
      if (old !== null && i < old.length && cid === old[i] && Math.min(BIN_CHUNK, prev!.length - from) === to - from && (touched === null || touched[i] === 0)) {
        tmp.set(prev!.fps.subarray(4 * i, 4 * i + 4))
        if (sameAt(fps, 4 * i)) continue
      }
      this.#pending.push(cid, from, to)
      if (hashes !== null) rehash(bytes, words!, hashes, from, to)     // inv. BIN4: the hashes of the bytes written
    }
    this.#pendingBytes = bytes
    const st = new BinaryState(base, n, max, fps, ids)
    st.hashes = hashes
    this.#states.set(id, st)
  }

  /** A PATCH record's body (format.ts): the CHUNKED fields, then the buffer's parts (inv. BIN4). */
  #patchBody(st: BinaryState, base: number, n: number, max: number, w: ByteWriter, start: number, refs: IdList): void {
    const chunks = st.chunks!
    w.buf[start] = KIND_PATCH
    w.u8(base); w.varint(n); w.varint(max); w.varint(BIN_CHUNK); w.varint(chunks.length)
    for (let i = 0; i < chunks.length; i++) { w.varint(chunks[i]); refs.push(chunks[i]) }
    w.varint(st.parts.length)
    for (const pid of st.parts) { w.varint(pid); refs.push(pid) }
  }

  /** Writes the CHUNK records the last `encode` listed as new or changed; returns how many. */
  writePending(w: ByteWriter): number {
    const p = this.#pending
    const n = p.length / 3
    for (let i = 0; i < p.length; i += 3) writeChunk(w, p[i], this.#pendingBytes.subarray(p[i + 1], p[i + 2]))
    p.length = 0
    this.#pendingBytes = EMPTY
    return n
  }

  /** True when the last `encode` listed chunks that `writePending` has not written yet. */
  get hasPending(): boolean { return this.#pending.length !== 0 }

  /**
   * Inv. BIN2, at an incremental point: marks (`mark`) the buffers whose length changed (and
   * their views) and the one-piece ones whose bytes changed; writes to `w` a CHUNK record for
   * every chunk whose bytes changed; forgets entries whose id no longer holds a buffer.
   * Returns the CHUNK records written.
   */
  compare(objects: unknown[], viewsOf: Map<number, Set<number>>, mark: (id: number) => void, w: ByteWriter, table?: ObjectTable): number {
    let written = 0
    for (const [id, st] of this.#states) {
      const o = objects[id]
      const bytes = bytesOf(o, st.base)
      if (bytes === null) { this.#states.delete(id); continue }
      const n = bytes.length
      if (n !== st.length || (st.base === KIND_BYTES && maxOf(o as ArrayBuffer) !== st.max)) {
        mark(id)
        for (const v of viewsOf.get(id) ?? []) mark(v)
        continue
      }
      if (n === 0) continue
      const words = wordsOf(bytes)
      const chunks = st.chunks
      if (chunks === null) {
        fingerprint(bytes, words, 0, n, tmp, 0)
        if (!sameAt(st.fps, 0)) mark(id)
        continue
      }
      const changed: number[] = []
      const located = st.hashes !== null      // else the ranges are whole chunks: written as CHUNK records
      const ranges: number[] = []
      let rangeBytes = 0
      for (let i = 0; i < chunks.length; i++) {
        const from = i * BIN_CHUNK, to = Math.min(n, from + BIN_CHUNK)
        fingerprint(bytes, words, from, to, tmp, 0)
        if (sameAt(st.fps, 4 * i)) continue
        st.fps.set(tmp, 4 * i)
        changed.push(i)
        rangeBytes += changedBlocks(bytes, words, st.hashes, from, to, ranges)
      }
      if (changed.length === 0) continue
      if (st.hashes === null && words !== null) st.hashes = blockHashes(bytes, words)    // from now on, changes are found by block
      written += this.#persist(id, st, bytes, changed, ranges, rangeBytes, mark, w, located ? table : undefined)
    }
    return written
  }

  /** Inv. BIN4: the changed chunks of buffer `id` as one PATCH part, or as CHUNK records (with every chunk touched since its base; always without `table`). */
  #persist(id: number, st: BinaryState, bytes: Uint8Array, changed: number[], ranges: number[], rangeBytes: number, mark: (id: number) => void, w: ByteWriter, table: ObjectTable | undefined): number {
    const chunks = st.chunks!
    const n = bytes.length
    const patchCost = rangeBytes + 4 * ranges.length + 3 * (chunks.length + st.parts.length + 1) + 16
    const rebase = table === undefined || (st.parts.length === 0 && patchCost >= changed.length * BIN_CHUNK) ||
      st.patched + rangeBytes > n || st.parts.length >= MAX_PARTS
    if (!rebase) {
      const pid = table.assign(new BinaryPart(id))
      writeBinaryPart(w, pid, st.base, bytes, ranges)
      st.parts.push(pid)
      st.patched += rangeBytes
      const touched = st.touched ??= new Uint8Array(chunks.length)
      for (const i of changed) touched[i] = 1
      mark(id)      // its record lists the new part
      return 1
    }
    const touched = st.touched ?? new Uint8Array(chunks.length)
    for (const i of changed) touched[i] = 1
    let written = 0
    for (let i = 0; i < chunks.length; i++) {
      if (touched[i] === 0) continue
      writeChunk(w, chunks[i], bytes.subarray(i * BIN_CHUNK, Math.min(n, (i + 1) * BIN_CHUNK)))
      written++
    }
    if (st.parts.length > 0) {
      st.parts = []; st.patched = 0; st.touched = null
      mark(id)      // a CHUNKED record again, without the parts
    }
    return written
  }

  /**
   * A buffer restored (inv. BIN1): its fingerprints from the restored bytes. `chunks` are
   * the ids its CHUNKED record lists (null for a one-piece record) and `chunkSize` the size
   * that record gives; a size other than BIN_CHUNK is kept as one piece (the next change
   * rewrites it in BIN_CHUNK chunks).
   */
  restored(id: number, o: object, chunks: Int32Array | null, chunkSize: number, patch?: { parts: number[]; touched: Uint8Array; patched: number }): void {
    const base = isArrayBuffer(o) ? KIND_BYTES : KIND_BUFFER
    const bytes = bytesOf(o, base)!
    const max = base === KIND_BYTES ? maxOf(o as ArrayBuffer) : 0
    const chunked = chunks !== null && chunkSize === BIN_CHUNK
    const st = new BinaryState(base, bytes.length, max, fingerprints(bytes, chunked), chunked ? chunks : null)
    if (patch !== undefined && patch.parts.length > 0) {
      // A restored PATCH record (inv. BIN4): its parts stay; a chunk size other than BIN_CHUNK
      // (never written with parts) would be rewritten whole at its next change anyway.
      st.parts = patch.parts.slice(); st.patched = patch.patched; st.touched = patch.touched
      const words = wordsOf(bytes)
      if (chunked && words !== null) st.hashes = blockHashes(bytes, words)     // it changed before: its next change is found by block too
    }
    this.#states.set(id, st)
  }
}
