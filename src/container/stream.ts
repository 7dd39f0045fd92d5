/**
 * Where a snapshot's sealed buffers of records go while it encodes (the encoder seals one
 * every few MiB, writer.ts):
 *   - a large full point whose records the store has no free chunks for (the first point of
 *     a container, typically) is streamed: once `threshold` bytes (2 MiB) are encoded, every
 *     sealed buffer is handed (transferred, not copied) to the region's flush thread
 *     (Region.appendStream), which writes, checksums and fdatasyncs it past the end of the
 *     region while the snapshot goes on; the point's write then only has the store adopt
 *     those chunks (write.ts) and commit;
 *   - another large point has the region reserve (zero-fill) the space its write will need
 *     in the flush thread while it encodes (Region.reserveAsync).
 *
 * Invariants (container inv. 4 and 5 rely on them):
 *   P1. A stream is opened only for a full point taken while no other point is queued (the
 *       container's `idle` state) and only when the store has no free chunks for what is
 *       already encoded: it starts at ShadowStore.appendTarget, past every chunk the store
 *       holds, so no live chunk is written.
 *   P2. When the snapshot completes, the stream has received exactly the batch's bytes,
 *       object records first (Encoder.outputObjectsFirst), and then the point's INDEX record
 *       (a base listing every record streamed, log-offsets.ts), else it is discarded and the
 *       snapshot fails; a snapshot that throws discards its stream (`giveUp`), and the
 *       region zero-fills what it wrote.
 */
import type { RegionStream } from '../../regions/index.js'
import type { Backing } from './backing.js'
import type { Batch } from './encode.js'
import type { ChunkStore } from './store.js'
import { indexRecord } from './index-record.js'

/**
 * A full point is streamed once its sealed records reach this size: smaller ones are
 * written in the usual way (a stream costs a round trip to the flush thread and its fsync).
 */
export const PIPE_MIN = 2 << 20

/**
 * While a large point encodes, the file space its write will need is allocated this far
 * ahead of the records encoded so far (by the region's flush thread, which zero-fills
 * about six times faster than the encoder produces records, so a small margin keeps it ahead).
 */
const RESERVE_AHEAD = 4 << 20

/**
 * A full point whose records are written to the file by the region's flush thread while it
 * encodes (an append stream past the store's end, adopted by the store at the write).
 */
export interface Pipe {
  readonly stream: RegionStream
  /** The physical chunk where the stream starts (ShadowStore.appendTarget). */
  readonly phys: number
  /** Sealed buffers of object records handed to the stream (the first parts of the batch; detached here). */
  sentParts: number
  /** Bytes of the INDEX record streamed after the batch (set by `finish`; 0: none, log-offsets.ts inv. X4). */
  indexBytes: number
}

/** The sealed buffers of one snapshot: streamed, or announced to the region's reserve. */
export class SealedOutput {
  readonly #backing: Backing
  readonly #store: () => ChunkStore
  readonly #threshold: number
  /** May this snapshot's records still be streamed (a full point, no other point queued; inv. P1)? */
  #allowed: boolean
  /** The stream the records go to, once opened. */
  #pipe: Pipe | null = null
  /** The sealed record buffers so far (sent to the stream when it opens). */
  #sealedSoFar: Buffer[] = []

  /** `store` returns the chunk store, creating it for a new container. */
  constructor(backing: Backing, store: () => ChunkStore, allowed: boolean, threshold: number) {
    this.#backing = backing
    this.#store = store
    this.#allowed = allowed
    this.#threshold = threshold
  }

  /** True once the records go to a stream (the batch must then put object records first). */
  get streaming(): boolean { return this.#pipe !== null }

  /** The encoder sealed a buffer of records; `bytes` sealed so far in this point. */
  sealed(sealed: Buffer, bytes: number): void {
    // A sealed buffer is a whole allocation of at least 64 KiB over shared memory (writer.ts),
    // never a pooled Buffer, and is not written again: it is shared with the flush thread,
    // not copied (a SharedArrayBuffer cannot be transferred, and need not be).
    if (this.#pipe !== null) { this.#pipe.stream.write(sealed, handOver(sealed)); this.#pipe.sentParts++; return }
    if (this.#allowed) {
      this.#sealedSoFar.push(sealed)
      if (bytes >= this.#threshold) {
        this.#allowed = false
        this.#pipe = this.#open(bytes)
        if (this.#pipe !== null) {
          for (const b of this.#sealedSoFar) this.#pipe.stream.write(b, handOver(b))
          this.#pipe.sentParts = this.#sealedSoFar.length
          this.#sealedSoFar = []
          return
        }
        this.#sealedSoFar = []
      } else return
    }
    if (bytes >= RESERVE_AHEAD) void this.#backing.reserve(bytes + RESERVE_AHEAD)
  }

  /**
   * Opens the stream of a large full point, if the store has no room even for what is
   * already encoded (`sealed` bytes): a stream always lands past the region's end, so with
   * free chunks to reuse (the chunks of versions that left the retention window, after
   * earlier full points) the records are written into them the usual way, and the file
   * does not grow by a whole log at every full point.
   */
  #open(sealed: number): Pipe | null {
    const store = this.#store()
    if (store.stats().freeChunks * store.chunkSize >= sealed) return null
    const target = store.appendTarget?.() ?? null
    if (target === null) return null
    const stream = this.#backing.appendStream(target.offset, store.chunkSize)
    return stream === null ? null : { stream, phys: target.phys, sentParts: 0, indexBytes: 0 }
  }

  /** The snapshot is complete: sends the records not streamed yet (object records first, then the SHAPE, CLASS and SEGMENT records; inv. P2). */
  finish(batch: Batch): Pipe | null {
    const pipe = this.#pipe
    this.#pipe = null
    this.#allowed = false
    if (pipe === null) return null
    for (let i = pipe.sentParts; i < batch.parts.length; i++) pipe.stream.write(batch.parts[i])   // (copied: small, maybe pooled)
    if (pipe.stream.written !== batch.length) {
      pipe.stream.discard()
      throw new Error(`container bug: ${pipe.stream.written} bytes streamed for a point of ${batch.length}`)
    }
    // the base, after the records (P2), from the records the writers listed (the streamed buffers are gone: without the list, no index)
    if (batch.records !== undefined) for (const p of indexRecord(batch, 0, -1)) { pipe.stream.write(p); pipe.indexBytes += p.length }
    return pipe
  }

  /** The snapshot threw: its stream, if any, is given up (inv. P2). */
  giveUp(): void {
    const pipe = this.#pipe
    this.#pipe = null
    this.#allowed = false
    this.#sealedSoFar = []
    if (pipe !== null) pipe.stream.discard()
  }
}

/** Whether a sealed buffer is transferred (an ArrayBuffer's) rather than shared (writer.ts: shared memory). */
function handOver(sealed: Buffer): boolean { return !(sealed.buffer instanceof SharedArrayBuffer) }
