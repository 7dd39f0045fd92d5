/**
 * The write of a persistence point, asynchronous: appends the snapshot's records to the log
 * (log.ts) in slices that yield to the event loop, or rewrites the log with them (a full
 * point), or compacts the log with them; or, for a streamed point (stream.ts), has the store
 * adopt the chunks the flush thread already wrote. Then stores the container metadata
 * (meta.ts) and commits the chunk store without blocking (commitAsync). The container runs
 * one write at a time, in the order the points were taken (lifecycle.ts).
 *
 * The log's position is kept here: its end, its size after the last compaction, and the
 * bytes of points queued and not written yet, which decide when the log is compacted.
 *
 * Invariants (cited as "inv. N" of the container; numbered as they always were):
 *   4. After a failed write the container is broken (BrokenError) until reopened; the file
 *      keeps its last committed version. A streamed point's stream counts as its write
 *      (its sealed buffers were handed over); a snapshot that throws gives its stream up.
 *      (The writer throws; lifecycle.ts makes the transition to `broken`.)
 *  4a. Except a StoreUnavailableError from a hosted store (PostgreSQL out of reach), and an
 *      OutOfSpaceError (a full disk, a quota, a file-size limit) met before the commit began
 *      by a point that was not streamed (`retryable`): the store's last committed version is
 *      intact and usable (chunk-store inv. 1: nothing of the point is referenced by a durable
 *      slot; `abort` frees what it staged, ShadowStore inv. 8), so the container stays
 *      usable. The failed point and every point queued behind it are lost (they fail with the
 *      same class of error: their deltas build on the lost one), and the next point is full,
 *      so it rewrites whatever those points would have written: on a file it needs room for
 *      the whole log beside the last version (shadow paging never overwrites it), and until
 *      there is, it fails the same way. A full disk met by a streamed point, or once the
 *      commit began (its map nodes, its slot), still breaks the container (inv. 4). Before
 *      session 13 a full disk always broke it: reading `c.root` threw BrokenError until the
 *      program reopened the file, which dropped every change since the last point.
 *  4b. A point resolves only if, after its commit, the path the container was opened at still
 *      names the file it wrote (region-file.ts inv. C7): a file deleted or replaced at its
 *      path while open (a rename over it, a backup put back) got the commit, but no later
 *      open of the path will see it, so the point rejects with FileSystemError (errno
 *      ENOENT when deleted) and the container is broken (inv. 4); the file now at the path
 *      is never written. (Before session 10 such points resolved, and were lost.) The
 *      check is one fstat and one stat: about 7 us of CPU per point (micro timing, load 8).
 *      A file replaced after the check is the program's later act, as one replaced after
 *      the point resolved.
 *   5. A streamed point's chunks are durable (the stream's fsync) before the store adopts
 *      them, and lie past every chunk the store held when the stream began, so the commit
 *      that names them is ordered after them (ShadowStore inv. 2) and no live chunk is
 *      written (inv. 1); after a crash before that commit they are either past the
 *      region's recorded size (zero-filled by the grow that reaches them, and trimmed at
 *      close by the next writer that wrote: Region inv. H3, R9) or free
 *      chunks of the store (ShadowStore inv. 8).
 *  F6. A committed version's metadata says format 6 if its log may hold an ERROR or BOXED
 *      record (format.ts, natives.ts), else 5: a point writes 6 when its batch holds one,
 *      and after any version that said 6, unless it rewrites the log with its batch alone
 *      (a full point) that holds none (appends and compactions keep earlier records, and a
 *      format-5 library scanning such a log would take the new kinds for damage). Opening a
 *      version-6 file starts from 6 (`format`, set by open.ts). So a format-5 library opens
 *      every file whose graph never held an error or a boxed primitive, and refuses the
 *      others with UnsupportedVersionError (meta.ts).
 */
import { FileSystemError, OutOfSpaceError, isSpaceErrno } from '../../regions/index.js'
import { joinBatch } from './encode.js'
import { compactLog, fitLog, readLog, writeLog } from './log.js'
import { FORMAT_BASE, encodeMeta, type ContainerMeta } from './meta.js'
import { indexRecord } from './index-record.js'
import type { Backing } from './backing.js'
import type { ChunkStore } from './store.js'
import type { PointStats } from './options.js'
import type { Snapshot } from './snapshot.js'
import type { Pipe } from './stream.js'

export class PointWriter {
  readonly #backing: Backing
  readonly #chunkSize: number
  readonly #keepVersions: number
  readonly #compactFactor: number
  /** The chunk store; null for a new container until its first point creates it. */
  store: ChunkStore | null
  /** End of the log in the last committed version. */
  logEnd = 0
  /** Size of the log after the last compaction or full point. */
  compactedSize = 0
  /** Bytes of the points taken and not written yet. */
  #queuedBytes = 0
  /** A compaction is queued: no other is started until it is written. */
  #compactQueued = false
  /** Log offset of the newest INDEX record in the last committed version, or -1 (log-offsets.ts inv. X4). */
  indexAt = -1
  /** Format version of the last committed point's metadata (inv. F6). */
  format = FORMAT_BASE
  /** Version of the last committed point (0 before the first). */
  version = 0
  /** Stats of the last completed point, or null. */
  lastStats: PointStats | null = null

  constructor(backing: Backing, chunkSize: number, keepVersions: number, compactFactor: number) {
    this.#backing = backing
    this.store = backing.store
    this.#chunkSize = chunkSize
    this.#keepVersions = keepVersions
    this.#compactFactor = compactFactor
  }

  /** The chunk store, created for a new container. */
  ensureStore(): ChunkStore {
    return this.store ??= this.#backing.create(this.#chunkSize, this.#keepVersions)
  }

  /**
   * Whether a point of `bytes` more makes the log due for compaction: it would grow past
   * `compactFactor` times its size after the last compaction (and a few chunks of the file:
   * its store's chunk size, fixed at its creation, not the open's `chunkSize` option, which
   * only a new container takes). A true answer queues that compaction.
   */
  dueForCompaction(bytes: number): boolean {
    if (this.#compactQueued) return false
    const projected = this.logEnd + this.#queuedBytes + bytes
    const chunk = this.store?.chunkSize ?? this.#chunkSize
    if (projected <= Math.max(chunk * 4, this.#compactFactor * this.compactedSize)) return false
    this.#compactQueued = true
    return true
  }

  /** A point was taken: its write is queued (reserves the file space it will need, unless streamed). */
  queued(s: Snapshot): void {
    if (s.pipe === null) void this.#backing.reserve(s.batch.length)
    this.#queuedBytes += s.batch.length
  }

  /** A queued point will not be written (it failed, or an earlier one was lost): forgets its bytes and its compaction. */
  abandon(s: Snapshot): void {
    this.#queuedBytes -= s.batch.length
    if (s.mode === 'compact') this.#compactQueued = false
  }

  /** While a write runs or after it failed: an OutOfSpaceError from it leaves the store as it was (inv. 4a): the point was not streamed and its commit had not begun. */
  retryable = false

  /** Writes and commits the point; throws if anything fails (the caller breaks the container, inv. 4, or retries with a full point, inv. 4a). */
  async write(s: Snapshot): Promise<PointStats> {
    this.retryable = s.pipe === null
    const store = this.ensureStore()
    let at = this.logEnd
    let data = s.batch.parts
    let length = s.batch.length
    if (s.mode === 'rewrite') at = 0
    else if (s.mode === 'compact') {
      const compacted = compactLog(readLog(store, this.logEnd), joinBatch(s.batch), s.keep!)
      data = [compacted]
      length = compacted.length
      at = 0
    }
    // the point's INDEX record (log-offsets.ts): a base after a full point or a compaction, else a delta
    let indexAt = -1
    const recordBytes = length      // what the stats and the metadata count (INDEX records show in `stored` only)
    if (s.pipe !== null) {
      if (s.pipe.indexBytes > 0) indexAt = length
      length += s.pipe.indexBytes     // streamed after the records (stream.ts)
    } else if (s.mode !== 'append' || this.indexAt >= 0) {
      const index = indexRecord(s.mode === 'compact' ? { parts: data, length } : s.batch, at, s.mode === 'append' ? this.indexAt : -1)
      indexAt = at + length
      data = [...data, ...index]
      for (const p of index) length += p.length
    }
    if (!(await adoptStreamed(store, s.pipe, length, this.#backing.path))) {
      await this.#backing.reserve(length)
      this.#backing.expectWrite(length)
      try { await writeLog(store, at, data, true) } finally { this.#backing.expectWrite(0) }
    }
    const end = at + length
    fitLog(store, end)
    const compacted = s.mode === 'compact'
    const compactedSize = s.mode === 'append' ? this.compactedSize : end
    const meta: ContainerMeta = {
      logEnd: end, rootId: s.rootId, highWater: s.highWater, objectsWritten: s.objects, records: s.live,
      bytesWritten: recordBytes, compactedSize, time: Date.now(), blockedMs: s.blockedMs, indexAt,
      format: s.natives || (this.format > FORMAT_BASE && s.mode !== 'rewrite') ? 6 : FORMAT_BASE,     // inv. F6
    }
    store.setMeta(encodeMeta(meta))
    this.retryable = false      // inv. 4a: from here on a failure may leave the store's version in doubt
    const version = await store.commitAsync()
    this.#checkPath(version)
    const stored = store.versions().find(v => v.version === version)?.bytes ?? 0
    this.logEnd = end
    this.indexAt = indexAt
    this.format = meta.format!
    this.compactedSize = compactedSize
    this.#queuedBytes -= s.batch.length
    if (compacted) this.#compactQueued = false
    this.version = version
    const stats: PointStats = {
      version, objects: s.objects, bytes: recordBytes, stored, blockedMs: s.blockedMs, totalMs: performance.now() - s.start,
      full: s.mode === 'rewrite', compacted, verified: s.verified,
    }
    this.lastStats = stats
    return stats
  }

  /** Inv. 4b: the committed version reached the file the path names, or the point fails. */
  #checkPath(version: number): void {
    const holds = this.#backing.pathHolds?.() ?? 'same'
    if (holds === 'same') return
    const path = this.#backing.path
    throw new FileSystemError(holds === 'deleted'
      ? `Cannot persist container "${path}": the file was deleted while the container was open; version ${version} went to the deleted file, which no path names, so it is lost once the container closes (close it, and open the path again with init to start over)`
      : `Cannot persist container "${path}": the file was replaced at its path while the container was open (renamed over, or re-created); version ${version} went to the file it had open, which no path names now, and the file at the path was not written (close the container and reopen the path)`,
    holds === 'deleted' ? 'ENOENT' : undefined)
  }
}

/**
 * The error of a streamed point whose stream failed with errno `code`: OutOfSpaceError for a
 * full disk, quota or file-size limit, as an appended point's growth gives (before session
 * 10 it was a BrokenError saying "a full disk or an I/O error"), FileSystemError for another
 * errno, a plain Error (made a BrokenError by lifecycle.ts) when there was none.
 */
function streamFailed(code: string | undefined, path: string): Error {
  const kept = 'the file keeps its last committed version'
  if (isSpaceErrno(code)) {
    return new OutOfSpaceError(`Cannot persist container "${path}": no space left on the disk for the records of a streamed point (${code}${code === 'EFBIG' ? ': the file-size limit' : ''}); ${kept}; free disk space and reopen the container`)
  }
  if (code !== undefined) return new FileSystemError(`Cannot persist container "${path}": the flush thread could not write the records of a streamed point (${code}); ${kept}, reopen the container`, code)
  return new Error('the flush thread could not write the records (a full disk or an I/O error)')
}

/**
 * A streamed point: waits for its stream to be durable, then has the store adopt the
 * chunks it wrote (the whole log, from logical chunk 0; inv. 5). False for a point that was
 * not streamed. A failed stream fails the point (the container turns broken, inv. 4).
 */
async function adoptStreamed(store: ChunkStore, pipe: Pipe | null, length: number, path: string): Promise<boolean> {
  if (pipe === null) return false
  const crcs = await pipe.stream.end()
  // The sealed buffers were handed over: without the stream there is nothing to write.
  if (crcs === null) throw streamFailed(pipe.stream.failure, path)
  if (crcs.length !== Math.ceil(length / store.chunkSize)) {
    pipe.stream.discard()
    throw new Error(`container bug: the stream holds ${crcs.length} chunks for ${length} bytes`)
  }
  store.adopt!(0, pipe.phys, crcs)    // a pipe exists only where the store gave an appendTarget (stream.ts)
  return true
}
