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
 *      (`retryable`), streamed points included: the store's last committed version is
 *      intact and usable (chunk-store inv. 1: nothing of the point is referenced by a durable
 *      slot; `abort` frees what it staged, ShadowStore inv. 8; a failed stream was never
 *      adopted, and the flush thread trimmed the file back to where it began, so the next
 *      stream or growth starts there again and trusts none of its bytes), so the container
 *      stays usable. The point fails with that error and is lost; what it would have written
 *      goes into the next point (inv. 4c). Before session 13 a full disk always broke the
 *      container (reading `c.root` threw BrokenError until the program reopened the file,
 *      which dropped every change since the last point); before session 14, also when met
 *      by a streamed point (the first point of a large graph).
 *      Where a full disk can be met: the growth of the region for the log's chunks, their
 *      map nodes (staged with the chunks, ShadowStore.write) and the metadata chunk
 *      (`setMeta`), all reserved by growing the region with real writes of zeros (Region
 *      inv. R2, so the mapped stores never SIGBUS), and a stream's writes: all before the
 *      commit. The commit (`commitAsync`) allocates nothing: it writes the map nodes and the
 *      slot into chunks already allocated and flushes them. A flush can still fail (EIO;
 *      ENOSPC or EDQUOT only on filesystems that allocate at writeback: copy-on-write ones
 *      such as btrfs and ZFS, thin provisioning, NFS): the store is then broken
 *      (ShadowStore: BrokenError, never OutOfSpaceError), and so is the container (inv. 4),
 *      since the store has sealed the version in memory and, if the data flush failed, the
 *      kernel's pages are in an unknown state, and if the slot flush failed, the version is
 *      in doubt (the slot may or may not be durable: the next open decides, ShadowStore inv.
 *      5). `retryable` turns false when the commit begins for that reason.
 *  4c. The records of a lost incremental point (not streamed: an append) are kept
 *      (carry.ts) and written, in the order the points were taken, before the records of
 *      the next point that is not full, so the retry after a full disk costs about the lost
 *      points' size (what changed), not the graph's: the points queued behind it are
 *      written as usual (their records build on it) and, if lost too, kept as well. Kept
 *      records never exceed the last committed log's size (at least 1 MiB): beyond it, and
 *      after a lost full point or compaction (which need room for a whole log anyway), the
 *      points queued behind the lost one fail with the same class of error and the next
 *      point is full, rewriting whatever they would have written; on a file it needs room
 *      for the whole log beside the last version (shadow paging never overwrites it), and
 *      until there is, it fails the same way. `persist({ full: true })` drops what was
 *      kept: an append never makes the log smaller, so a program that makes room by
 *      dropping data asks for a full point.
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
 *      others with UnsupportedVersionError (meta.ts). Format 7 likewise: a version says 7
 *      if its log may hold a SEGMENTED or PATCH record of base DICT (a plain object of more
 *      than 256 keys, patch-record.ts inv. PR6), by the same rule (`dicts`), so a format-6
 *      library refuses such a file and opens every other one.
 */
import { FileSystemError, OutOfSpaceError, isSpaceErrno } from '../../regions/index.js'
import { joinBatch } from './encode.js'
import { compactLog, fitLog, readLog, writeLog } from './log.js'
import { FORMAT_BASE, FORMAT_DICTS, FORMAT_NATIVES, encodeMeta, type ContainerMeta } from './meta.js'
import { indexRecord } from './index-record.js'
import type { Backing } from './backing.js'
import type { ChunkStore } from './store.js'
import type { PointStats } from './options.js'
import type { Snapshot } from './snapshot.js'
import type { Pipe } from './stream.js'
import { LostRecords } from './carry.js'

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
    const projected = this.logEnd + this.lost.length + this.#queuedBytes + bytes
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

  /** While a write runs or after it failed: an OutOfSpaceError from it leaves the store as it was (inv. 4a): its commit had not begun. */
  retryable = false

  /** The records of the incremental points lost since the last commit, written before the next point's (inv. 4c). */
  readonly lost = new LostRecords()

  /** Writes and commits the point; throws if anything fails (the caller breaks the container, inv. 4, or loses the point, inv. 4a). */
  async write(s: Snapshot): Promise<PointStats> {
    this.retryable = true
    const store = this.ensureStore()
    const batch = this.lost.before(s)      // inv. 4c: the lost points' records first
    let at = this.logEnd
    let data = batch.parts
    let length = batch.length
    if (s.mode === 'rewrite') at = 0
    else if (s.mode === 'compact') {
      const compacted = compactLog(readLog(store, this.logEnd), joinBatch(batch), s.keep!)
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
      const index = indexRecord(s.mode === 'compact' ? { parts: data, length } : batch, at, s.mode === 'append' ? this.indexAt : -1)
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
      format: this.#formatOf(s),
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
    this.lost.drop()        // inv. 4c: written
    const stats: PointStats = {
      version, objects: s.objects, bytes: recordBytes, stored, blockedMs: s.blockedMs, totalMs: performance.now() - s.start,
      full: s.mode === 'rewrite', compacted, verified: s.verified,
    }
    this.lastStats = stats
    return stats
  }

  /** Inv. F6: the format version point `s` commits (a rewrite writes its own records alone; appends and compactions keep the earlier ones). */
  #formatOf(s: Snapshot): number {
    const kept = s.mode !== 'rewrite'
    if (s.dicts || (kept && (this.lost.dicts || this.format >= FORMAT_DICTS))) return FORMAT_DICTS
    if (s.natives || (kept && (this.lost.natives || this.format > FORMAT_BASE))) return FORMAT_NATIVES
    return FORMAT_BASE
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
    return new OutOfSpaceError(`Cannot persist container "${path}": no space left on the disk for the records of a streamed point (${code}${code === 'EFBIG' ? ': the file-size limit' : ''}); ${kept} and the container goes on (inv. 4a): free disk space, and the next persist() rewrites the graph`)
  }
  if (code !== undefined) return new FileSystemError(`Cannot persist container "${path}": the flush thread could not write the records of a streamed point (${code}); ${kept}, reopen the container`, code)
  return new Error('the flush thread could not write the records (a full disk or an I/O error)')
}

/**
 * A streamed point: waits for its stream to be durable, then has the store adopt the
 * chunks it wrote (the whole log, from logical chunk 0; inv. 5). False for a point that was
 * not streamed. A failed stream fails the point: lost on a full disk (inv. 4a: nothing was
 * adopted, and the flush thread trimmed the file back to where the stream began, flush-worker.ts
 * W5, so the region's reserved space does not count it), else the container turns broken
 * (inv. 4). An adoption that cannot grow the region over the stream's chunks and their map
 * nodes is OutOfSpaceError with nothing changed (shadow-adopt.ts grows first): lost too.
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
