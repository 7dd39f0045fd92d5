/**
 * The object-record log over a chunk store: reading it whole (restore, compaction),
 * appending a point's records, and rewriting it compacted.
 *
 * The log is the byte range [0, logEnd) of the store's logical space; logical chunk k holds
 * bytes [k*chunkSize, (k+1)*chunkSize). Appending writes only the chunks the new bytes touch
 * (the store copies a partly written chunk on first write: copy-on-write, never in place).
 *
 * Invariants:
 *   1. Appends never change bytes below the old logEnd, so an append plus a commit of the
 *      new metadata is atomic: a crash before the commit leaves the previous version.
 *   2. A compacted log holds, in their old relative order, the current records of the
 *      kept ids only, followed by the point's own kept records (format.ts inv. 1 holds);
 *      INDEX records (id 0) are dropped (the point writes a new base, log-offsets.ts).
 *   3. A LazyLog copies a chunk into its buffer once, through the store's `readInto`, which
 *      checks the chunk's CRC-32C on its first read: bytes it hands out were verified, and a
 *      damaged chunk is CorruptionError at every read of it, never its bytes. It reads the
 *      store's current view: a lazy graph reads only bytes below the log end it was opened
 *      at, which appends never change (inv. 1), and a full point or a compaction completes
 *      the graph before it rewrites the log (lazy.ts inv. Z5). Once 1/REST of the chunks
 *      were read one by one after the open (`opened`), the rest are read at once, in order;
 *      one that fails stays unread (its error comes at the read that needs it).
 *   4. A LazyLog's buffer is a SharedArrayBuffer, used by this thread only: V8 counts an
 *      ArrayBuffer's whole length as external memory of the isolate and answers a large
 *      one with a full collection (two at a lazy open of an 81 MiB log, one more with a
 *      large heap), while a lazy open writes only the chunks it reads; a shared buffer is
 *      not counted, and its untouched pages are never resident either (zero-filled on
 *      demand). Nothing is handed out from it: decoding copies bytes out (decode.ts,
 *      binary-decode.ts) or makes strings.
 *   5. `viewLog` gives a view of the store's memory instead of a copy when the store has one
 *      (a region: ShadowStore.viewPrefix, every chunk verified first). Only a full restore by
 *      the writer at open asks for it (restore.ts): it decodes the log at once, before any
 *      write, and the writer's lock keeps other processes from writing the file; decoding
 *      hands out nothing that views the log (inv. 4), so nothing outlives it. Never a lazy
 *      restore (one of a log without an index reads a copy): its graph decodes long after
 *      the open, when later points have reused the physical chunks under the view.
 *   6. The copy `readLog` makes for a full restore is the restore's own and is never written:
 *      when segments are at least half of it, the restored segment keys are views of it
 *      (decode.ts Restorer `keyViews`, segments.ts SegmentRef), which hold it until each is
 *      made a string or dropped; else, and for a log decoded in place or read on demand,
 *      the keys are strings at once.
 */
import { header, readHeader } from './format.js'
import type { ChunkStore } from './store.js'

/** Bytes written between two yields to the event loop while appending. */
const SLICE = 1 << 20

const yieldToLoop = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

/** `[0, end)` of the log as a view of the store's own memory when its chunks lie in one run, every chunk checksum-verified; else null (inv. 5). */
export function viewLog(store: ChunkStore, end: number): Buffer | null {
  const v = end > 0 ? store.viewPrefix?.(end) ?? null : null
  return v === null ? null : Buffer.from(v.buffer, v.byteOffset, v.byteLength)
}

/** Reads `[0, end)` of the log as one buffer, a copy (every chunk checksum-verified by the store). */
export function readLog(store: ChunkStore, end: number): Buffer {
  const cs = store.chunkSize
  const out = Buffer.allocUnsafe(end)
  const chunks = Math.ceil(end / cs)
  for (let k = 0; k < chunks; k++) store.readInto(k, out, k * cs, Math.min(cs, end - k * cs))
  return out
}

/**
 * The log of a store read on demand (a lazy open with a persisted index, lazy.ts): chunks
 * are copied into one buffer of the log's size the first time a byte in them is asked for
 * (inv. 3). The buffer's untouched pages are never written, so they cost no memory.
 */
export class LazyLog {
  readonly buf: Buffer
  readonly #store: ChunkStore
  readonly #end: number
  /** Chunk k -> 1 once copied. */
  readonly #loaded: Uint8Array
  /** Chunks that failed to load when the store was released (`loadAll` with `keepErrors`). */
  #errors: Map<number, unknown> | null = null
  #released = false
  /** `loadedChunks` at which the rest is read at once (`opened`), or -1. */
  #restAt = -1
  /** Every chunk is copied: `load` has nothing to do. */
  #all = false
  /** Chunks copied so far. */
  loadedChunks = 0

  constructor(store: ChunkStore, end: number) {
    this.#store = store
    this.#end = end
    this.buf = Buffer.from(new SharedArrayBuffer(end))     // inv. 4
    this.#loaded = new Uint8Array(Math.ceil(end / store.chunkSize))
  }

  /** The open is done (the index read): once 1/REST more of the chunks are read one by one, the rest is read at once. */
  opened(): void { this.#restAt = this.loadedChunks + Math.ceil(this.#loaded.length / REST) }

  /** Makes bytes [from, to) of the log readable in `buf` (CorruptionError if a chunk is damaged). */
  load(from: number, to: number): void {
    if (this.#all) return
    const cs = this.#store.chunkSize
    const last = Math.ceil(Math.min(to, this.#end) / cs)
    for (let k = Math.floor(from / cs); k < last; k++) if (this.#loaded[k] === 0) this.#chunk(k)
  }

  /**
   * Copies every chunk not copied yet. `keepErrors` (the store is about to close): a chunk
   * that fails is remembered, and its error thrown at every later read of it.
   */
  loadAll(keepErrors = false): void {
    for (let k = 0; k < this.#loaded.length; k++) {
      if (this.#loaded[k] === 1) continue
      if (!keepErrors) { this.#chunk(k); continue }
      try { this.#chunk(k) } catch (e) { (this.#errors ??= new Map()).set(k, e) }
    }
    if (keepErrors) this.#released = true
  }

  #chunk(k: number): void {
    if (this.#released) throw this.#errors?.get(k) ?? new Error(`container bug: log chunk ${k} read after the store was released`)
    const cs = this.#store.chunkSize
    this.#store.readInto(k, this.buf, k * cs, Math.min(cs, this.#end - k * cs))
    this.#loaded[k] = 1
    if (++this.loadedChunks === this.#loaded.length) this.#all = true
    else if (this.#restAt >= 0 && this.loadedChunks >= this.#restAt) { this.#restAt = -1; this.#rest() }
  }

  /**
   * A share of the log was read chunk by chunk: the rest is read now, in order (cheaper
   * than one chunk at a time, inv. 3). A chunk that fails stays unread: its error is
   * thrown when a record in it is read.
   */
  #rest(): void {
    for (let k = 0; k < this.#loaded.length; k++) {
      if (this.#loaded[k] === 1) continue
      try { this.#chunk(k) } catch { /* damaged: found when read */ }
    }
  }
}

/** Once 1/REST of a LazyLog's chunks were read one by one, it reads the rest at once. */
const REST = 8

/** Writes `parts` (in order) at log offset `at`, growing the store as needed; yields every SLICE bytes. */
export async function writeLog(store: ChunkStore, at: number, parts: Uint8Array[], yielding: boolean): Promise<void> {
  const cs = store.chunkSize
  const total = parts.reduce((n, p) => n + p.length, 0)
  const need = Math.ceil((at + total) / cs)
  if (store.chunkCount < need) store.resize(need)
  let pos = at
  let sinceYield = 0
  for (const data of parts) {
    let done = 0
    while (done < data.length) {
      const k = Math.floor(pos / cs)
      const off = pos - k * cs
      const n = Math.min(cs - off, data.length - done)
      store.write(k, data.subarray(done, done + n), off)
      done += n
      pos += n
      sinceYield += n
      if (yielding && sinceYield >= SLICE) { sinceYield = 0; await yieldToLoop() }
    }
  }
}

/** Sets the store's chunk count to what a log of `end` bytes needs. */
export function fitLog(store: ChunkStore, end: number): void {
  const need = Math.ceil(end / store.chunkSize)
  if (store.chunkCount !== need) store.resize(need)
}

/**
 * Builds a compacted log: the current records of `old` whose id is kept and that `batch`
 * does not supersede, then the kept records of `batch`.
 */
export function compactLog(old: Buffer, batch: Buffer, keep: Uint8Array): Buffer {
  const latest = new Float64Array(keep.length).fill(-1)
  for (let p = 0; p < old.length; p = header.end) { next(old, p); latest[header.id] = p }
  for (let p = 0; p < batch.length; p = header.end) { next(batch, p); latest[header.id] = -1 }
  const parts: Buffer[] = []
  let size = 0
  const take = (src: Buffer, p: number, end: number): void => { parts.push(src.subarray(p, end)); size += end - p }
  for (let p = 0; p < old.length; p = header.end) {
    next(old, p)
    if (header.id !== 0 && keep[header.id] === 1 && latest[header.id] === p) take(old, p, header.end)     // INDEX records dropped (inv. 2)
  }
  for (let p = 0; p < batch.length; p = header.end) {
    next(batch, p)
    if (keep[header.id] === 1) take(batch, p, header.end)
  }
  return Buffer.concat(parts, size)
}

/** Parses the header at `p` of a log this process wrote or already restored (so well-formed). */
function next(buf: Buffer, p: number): void {
  if (!readHeader(buf, p, buf.length) || header.end > buf.length || header.id >= 0xffff_ffff) throw new Error(`malformed record header at byte ${p}`)
}
