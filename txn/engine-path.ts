/**
 * EnginePath: whether the path a pool was opened at still names the file its engine writes
 * or reads (region-file.ts inv. C7: the path is looked up once, at open, so a file deleted,
 * or replaced by a rename over it, stays the file written, a file no path names). The engine
 * (engine.ts) owns one and asks it at each durability point (eng. 8); its read-only engines
 * ask it on reads (eng. 9).
 *
 * Before session 11 nothing asked: a pool whose file was deleted, or had a backup renamed
 * over it, went on "committing" durable transactions into the orphan file; every one of them
 * returned, and a reopen of the path found none of them (or the backup's older state).
 *
 * Like SQLite (pager.c `databaseIsUnmoved`, asked when a write transaction opens its journal,
 * before the first change: os_unix.c `fileHasMoved` compares the inode of the open file with
 * a stat of its name, and the transaction fails with SQLITE_READONLY_DBMOVED), the check is
 * one stat (`RegionLike.pathHolds`; a region without it, a SimRegion, always holds). SQLite
 * looks at every write transaction; here a look costs a few microseconds alone, but a stat of
 * the file just fsynced made each sync commit 1.2-1.6x slower on this project's disk (ext4 on
 * a VM, interleaved runs, session 11), so a writer looks when `pathTiming.writerMs` passed
 * since its last look that found the path, and always where the user asks for durability
 * (`flush`, `checkpoint`, `close`). Not at every `none` commit, which promises nothing until
 * one of those.
 *
 * Eng. 8: nothing is reported durable in a file the path no longer names for longer than
 * `pathTiming.writerMs` (region-file.ts inv. C7). A sync commit looks up the path before
 * its record is appended (when that long passed since the last look that found it), and one
 * whose file was deleted or replaced is refused with FileSystemError, nothing
 * of it written, naming the seqs committed since the last look (which may have gone to
 * the old file), the engine broken from then on (every call BrokenError naming the
 * cause; close only detaches). `none` and `group` commits, which promise nothing before
 * their flush, are checked at it: a shared group flush looks after it completes and
 * rejects its waiters instead of resolving them; a checkpoint for log room looks before
 * it; `flush()` and `checkpoint()` always look first; `close()` looks when `none` or
 * `group` commits are not yet durable, and on a moved path closes without its checkpoint,
 * then throws FileSystemError (with everything durable it closes quietly, as SQLite's close
 * of a moved database skips its checkpoint: a program may delete a file it is about to close,
 * as `pmem serve` does with a pool it created when its port is taken). A commit made before the path moved stays in the file it went
 * to (a file renamed away keeps it; one deleted loses it with it).
 * Eng. 10 (session 12): at the same looks, a writer also reads its writer record back
 * (`RegionLike.writerRecordHolds`, one read of some 100 bytes): a record that is no longer
 * its own means another writer opened the file under another name in the race regions/lock.ts
 * inv. L10 does not close (both read no record before either wrote one); the look refuses
 * with RegionLockedError and the engine turns broken, as for a moved path.
 * Eng. 9: a read-only engine's reads look up the path at most every `pathTiming.readerMs`: once
 * it names another file, or none, the read throws FileSystemError and the engine turns
 * broken, instead of following a file no writer at the path writes any longer (the
 * container refresh's rule, src/container/refresh.ts).
 *
 * State: the time and the engine's last seq at the writer's last look that found the path
 * (`#writerAt`, `#checkedSeq`: commits after it may have gone to a moved file), the time of
 * the readers' last look (`#readerAt`); each only moves forward. What the engine does with a
 * moved path (it turns broken) is kept by EngineLife.
 */
import { FileSystemError, RegionLockedError, type RegionLike } from '../regions/index.js'

/** How often writers and read-only pools look at their path (milliseconds; tests may set 0). */
export const pathTiming = {
  /**
   * A sync commit or a group flush looks up the path when this long passed since the last
   * look that found it (eng. 8); 0 looks every time. `flush()` and `checkpoint()`
   * always look.
   */
  writerMs: 50,
  /** A read-only engine's read looks up the path when this long passed since its last look (eng. 9). */
  readerMs: 100,
}

export class EnginePath {
  readonly #region: RegionLike
  /** performance.now() of the last writer look that found the path naming the file (eng. 8). */
  #writerAt = -Infinity
  /** The engine's last committed seq at that look: later commits may have gone to a moved file. */
  #checkedSeq: number
  /** performance.now() of the last reader look (eng. 9). */
  #readerAt = -Infinity

  constructor(region: RegionLike, lastSeq: number) {
    this.#region = region
    this.#checkedSeq = lastSeq
  }

  /** The last seq committed when the path was last seen naming the file. */
  get checkedSeq(): number { return this.#checkedSeq }

  /**
   * Eng. 8: null while the path still names the file written (or, unless `force`, when the
   * last look was less than `pathTiming.writerMs` ago), else the FileSystemError that says
   * what happened to the file, which commits since the last look may have gone to it
   * (`lastSeq`: the engine's newest), and `what` was refused (`closing`: by a close).
   */
  moved(lastSeq: number, force: boolean, what: () => string, closing = false): FileSystemError | RegionLockedError | null {
    const now = performance.now()
    if (!force && now - this.#writerAt < pathTiming.writerMs) return null
    const holds = this.#holds()
    const claimed = holds === 'same' && this.#region.writerRecordHolds?.() === false // eng. 10
    if (holds === 'same' && !claimed) {
      this.#writerAt = now
      this.#checkedSeq = lastSeq
      return null
    }
    const path = this.#region.path
    if (claimed) {
      const since = lastSeq > this.#checkedSeq ? `; the transactions seq ${this.#checkedSeq + 1}..${lastSeq}, committed since the last look, may be lost or mixed with the other writer's` : ''
      return new RegionLockedError(`Cannot write pool "${path}": another writer opened the same file under another name at the same moment as this one (the file's writer record names its lock now, regions/lock.ts inv. L10); ${what()}${since}; ${closing ? 'check the file (pmem check) before trusting it' : 'the pool refuses every further call: close it, and check the file (pmem check)'}`)
    }
    const how = holds === 'deleted'
      ? 'was deleted while the pool was open (no file is at its path now)'
      : 'was replaced at its path while the pool was open (a file renamed over it, or created again)'
    const since = lastSeq > this.#checkedSeq
      ? `; the transactions seq ${this.#checkedSeq + 1}..${lastSeq}, committed after the path was last seen naming the file, may have gone to the old file, which no path names`
      : ''
    return new FileSystemError(`Cannot write pool "${path}": its file ${how}; ${what()}${since}; ${closing ? 'open the path again to see what the file there now holds' : 'the pool refuses every further call: close it and open the path again'}`,
      holds === 'deleted' ? 'ENOENT' : undefined)
  }
  /**
   * Eng. 9 (read-only engines): null unless `pathTiming.readerMs` passed since the last look
   * and the path now names another file, or none; then the FileSystemError for the reader.
   */
  readerMoved(): FileSystemError | null {
    const now = performance.now()
    if (now - this.#readerAt < pathTiming.readerMs) return null
    this.#readerAt = now
    const holds = this.#holds()
    if (holds === 'same') return null
    const path = this.#region.path
    return new FileSystemError(`Cannot read pool "${path}": its file was ${holds === 'deleted' ? 'deleted' : 'replaced at its path (created again, or renamed over)'} since this read-only pool opened it, so its reads would show that old file, never what a writer commits at the path now: close it and open the path again`,
      holds === 'deleted' ? 'ENOENT' : undefined)
  }

  #holds(): 'same' | 'deleted' | 'replaced' {
    return this.#region.pathHolds?.() ?? 'same'
  }
}

/** What eng. 8 refused, for its error: this commit (nothing of it written), and the earlier ones not yet durable. */
export function undurable(at: 'commit' | 'close', durableSeq: number, lastSeq: number): string {
  const earlier = lastSeq > durableSeq ? `the transactions seq ${durableSeq + 1}..${lastSeq} (durability 'none' or 'group') were not made durable` : ''
  if (at === 'close') return `the pool was closed without a checkpoint${earlier === '' ? '' : `, and ${earlier}`}`
  return `this transaction was refused before anything of it was written${earlier === '' ? '' : `, and ${earlier}`}`
}
