/**
 * The single-writer lock of a region file, across threads, processes, PID namespaces and
 * (on a shared file system) hosts.
 *
 * The lock is the directory `<file>.lock` holding `owner`, its holder's owner record (layout
 * in lock-owner.ts: pid, host, start time, PID namespace, boot id and a random token). It
 * appears with its record in one step (inv. L9): the holder makes
 * `<file>.lock.asides/new-<pid>-<hex>`, writes `owner` in it and renames it to `<file>.lock`. While it holds the lock, a refresh
 * thread sets the directory's mtime to now every `lockTiming.updateMs` (lock-keeper.ts).
 *
 *     state     | event                                   | next
 *     ----------+-----------------------------------------+---------
 *     (none)    | acquire: new dir + owner record, rename | held
 *     held      | release (or exit, SIGINT/SIGTERM/SIGHUP) | released
 *     held      | refresh finds the record gone or foreign | lost (compromised; callback)
 *     lost      | release                                 | released (touches nothing)
 *
 * Invariants (cited as "inv. L1".."inv. L11"):
 *  L1. At most one live holder: mkdir is atomic, and a lock is taken over only when its
 *      holder is known to be dead, by pid where its pid means the same process here
 *      (same PID namespace and boot: lock-owner.ts inv. O1; the pid is gone, a zombie,
 *      or now names a process started later), and otherwise (another PID namespace, a
 *      container, another boot or host, no readable record, or a record of an earlier
 *      version) only when the directory's mtime is older than `lockTiming.staleMs`
 *      (inv. O2): a live holder refreshes it every `updateMs` < `staleMs`. A holder that is
 *      another thread of this process (a worker, perhaps terminated: `terminate()` releases
 *      nothing) is judged by the mtime too (lock-owner.ts inv. O4; before session 10 its
 *      lock was held until the process exited).
 *  L2. A live holder's directory is never empty (it holds `owner`): nothing removes a
 *      directory with a record of a live holder.
 *  L3. Takeover is atomic: the stale directory is renamed aside (one contender wins) and
 *      deleted only if it still holds the owner record judged dead; otherwise it is put back.
 *      Only what this library makes is ever removed: a directory holding nothing but an
 *      `owner` file. Anything else at the lock's path (a regular file, a symlink, a
 *      directory with other entries: someone's data under a name that happens to end in
 *      `.lock`) is never deleted, however old: the writer is refused (RegionLockedError).
 *  L4. Release removes `owner`, then the directory, and only while `owner` still holds
 *      this acquisition's exact record (inv. O3). A lock that was lost (directory removed,
 *      or taken over by someone else) is never touched again: it may be another writer's.
 *  L5. Nothing here throws from a timer: a lost lock is reported through the callback, and
 *      the refresh never keeps the process alive. Locks still held when the process exits
 *      normally or dies of SIGINT, SIGTERM or SIGHUP are released (lock-keeper.ts inv. K3).
 *  L6. A blocked event loop does not lose the lock: the mtime is refreshed by a worker
 *      thread (inv. K1), and a same-namespace contender judges by pid anyway.
 *  L7. No signal but SIGINT, SIGTERM and SIGHUP is listened to (inv. K4): SIGXFSZ stays
 *      ignored, so `ulimit -f` gives EFBIG errors, not a killed process.
 *  L8. Leftovers of killed writers live in the file's asides directory `<file>.lock.asides`
 *      (asidesDirOf): a takeover that crashed between its rename and its rmdir, or whose
 *      put-back lost a race (inv. L3), leaves `stale-<pid>-<8 hex>` there; a writer killed
 *      while making its lock (inv. L9) leaves `new-<pid>-<8 hex>`. Each writer that takes the
 *      lock lists that directory (not the file's directory) and removes the entries that are
 *      provably stale leftovers of ours: a real directory (no symlink) named exactly so,
 *      holding nothing or only an `owner` record, whose record's holder is judged dead as a
 *      lock's is (inv. L1: by pid, or by an mtime older than `staleMs`), and, when it holds
 *      no record, whose mtime is older than `staleMs` (a takeover in progress has just
 *      emptied it, or a maker is between its mkdir and its record). Anything else (a file,
 *      other entries, a live holder's record, another name) is left alone. Cost per writer
 *      open: one lstat and one listing of a directory that is empty but for crashes and
 *      contenders in progress, whatever the number of files beside the pool.
 *      The asides directory stays once made: it is the mark that the leftovers of versions
 *      before session 17, which made both kinds beside the file (`<file>.lock.stale-*`,
 *      `<file>.lock.new-*`, by the same rules), were swept: a writer that finds no asides
 *      directory lists the file's directory once, removes those that are provably stale
 *      (the same judgment), and only then makes it (killed between the two: the next writer
 *      sweeps again). A writer of an earlier version killed after that (two versions writing
 *      one file) leaves its leftover beside the file, where any earlier-version writer of it
 *      still sweeps it (session 11 to 16) and this version does not look again. Nothing at
 *      the asides path but a real directory (a file, a symlink: it could lead elsewhere) is
 *      refused as a foreign lock path is (inv. L3). An open that made it and is refused
 *      (RegionLockedError, a file not a region...) removes it when empty, so a refused open
 *      leaves nothing beside the file, and `Region.delete` removes it with the file; any
 *      writer that finds it gone meanwhile (ENOENT at its mkdir) makes it again. The sweeps
 *      need not hold the lock (the legacy one runs before it is taken): a leftover is
 *      removed only when its holder is dead, and a taker that finds its aside removed under
 *      it has nothing left to do. Before session 11 leftovers were never removed; sessions 11
 *      to 16 listed the file's whole directory at every writer open (12 ms of a 14 ms open
 *      beside 5,787 files).
 *  L9. A lock directory is never seen without its owner record: it is made complete under a
 *      name of its own (`new-<pid>-<8 hex>` in the asides directory, inv. L8; beside the
 *      file before session 17) and renamed into place, and only when nothing is
 *      at `<file>.lock`. (Before session 11 the directory was made with mkdir and the record
 *      written next: a process killed between the two left an empty lock that refused every
 *      writer for `staleMs`, which the containers' kill torture hit.) An empty lock directory
 *      (an older version's holder between its two steps, or one killed there) is still judged
 *      by its mtime, as any lock without a readable record.
 * L10. One writer per FILE, whatever its name: the path lock above is keyed by name, so a
 *      file renamed (or moved to another directory, or linked then unlinked) while a writer
 *      has it open could get a second writer through its new name, with its own lock, which
 *      would recover over and commit into the first one's redo log (before session 12 it
 *      did; the first writer's path check, txn/engine.ts eng. 8, stops it only up to 50 ms
 *      later). So every writer, once it holds its path lock and before it reads or changes
 *      anything else of the file, reads the file's writer record (writer-record.ts: header
 *      page offset 1024, naming a lock directory and an acquisition token, with the file's
 *      device and inode): when it names another lock directory that still holds that exact
 *      token and whose holder is alive by inv. L1 (pid, or an mtime younger than `staleMs`),
 *      the open is RegionLockedError naming the other name and its holder, nothing changed.
 *      Otherwise (no record, an invalid one, a copy's, our own lock's, a released or dead
 *      holder's) it writes its own record, reads it back (a writer claiming the file under a
 *      third name at the same moment: judged again), and goes on; close puts back what those
 *      bytes held before when they still hold its own record (zeros over a dead writer's
 *      record of this file, removed as its lock is: inv. L3; a copy's record is put back).
 *      Read-only opens neither read nor write the record, but `liveWriter` consults it (a
 *      reader under another name sees the live writer). Cost of writing before anything is
 *      judged: a writable open refused above the region (a pool or container on a file of
 *      another kind) leaves the file's bytes as they were but its mtime at the open
 *      (api-misuse.test.ts compares the plain region's bytes only).
 * L11. Two writers under two names at the same moment (both read no live record before
 *      either wrote one; before session 16 both went on, the later record won, a pool
 *      refused at its next look up to `pathTiming.writerMs` later and a bare Region never):
 *      between judging the record and writing its own, a writer swaps its claim into the
 *      file's claim word (writer-claim.ts: 8 bytes at header offset 1016, changed only by
 *      an atomic compare-and-swap on a MAP_SHARED mapping, which Node offers where it has no
 *      fcntl/flock), expecting the value it read with the record. One contender's swap
 *      wins; every other finds the word changed and judges again, now the winner's record.
 *      A claim word whose record is not there (not the record's token: a writer between its
 *      swap and its record, microseconds, or one killed there) is waited for while it stays
 *      the same, up to `staleMs`, then taken over; a claim whose record names a dead holder,
 *      our own name's lock, or another inode (a copy's) is taken over at once. Close and a
 *      refused open (and an open whose record write failed) put the record's bytes back
 *      first, then the word, when it still holds their claim: 0 over this file's dead
 *      claim, what they found over a copy's claim or damaged bytes. Between writers of this version, that is an inode lock on one
 *      host (or wherever MAP_SHARED pages are shared); a writer of an earlier version
 *      neither reads nor swaps the word, and a lock path too long for a record
 *      (MAX_LOCK_PATH_BYTES) writes neither.
 */
import fs from 'node:fs'
import { join } from 'node:path'
import { RegionLockedError } from './errors.js'
import { errnoOf, unlinkIfExists } from './file-io.js'
import { describeOwner, newOwnerText, parseOwner, type LockOwner } from './lock-owner.js'
import { forget, keep, type KeptLock } from './lock-keeper.js'
import { foreignEntry, judgeHolder, lockTiming, ownerPathOf, pathExists, readOwnerText, type Judgement } from './lock-judge.js'
import { asideTag, asidesDirOf, dropAsidesIfEmpty, ensureAsides, lockSeam, removeStaleAsides } from './lock-asides.js'

export { processStart, type LockOwner } from './lock-owner.js'
export { lockTiming } from './lock-judge.js'
export { asidesDirOf, lockSeam } from './lock-asides.js'

/**
 * Inv. L10: the live holder of lock directory `lockDir` (another name's lock, named by a
 * writer record) when it still holds the acquisition `token` and is alive by inv. L1; else
 * undefined. Reads only.
 */
export function liveHolderOf(lockDir: string, token: string): LockOwner | undefined {
  let holder: Judgement
  try { holder = judgeHolder(lockDir) } catch { return undefined } // unreadable: nothing says it is held
  if (holder.owner === undefined || holder.owner.token !== token || !holder.alive) return undefined
  return holder.owner
}

/** Path of the lock directory of region file `file` (writers pass its real name: region-file.ts inv. C8). */
export function lockDirOf(file: string): string { return `${file}.lock` }

/** An exclusive lock on one region file, held from `acquire` to `release`. */
export class RegionLock {
  readonly file: string
  readonly #dir: string
  readonly #ownerText: string
  #state: 'held' | 'lost' | 'released' = 'held'
  readonly #onCompromised: (err: Error) => void
  readonly #kept: KeptLock

  /** True when this acquisition made the asides directory (inv. L8): an open that is refused or writes nothing removes it again. */
  readonly #madeAsides: boolean

  private constructor(file: string, ownerText: string, onCompromised: (err: Error) => void, madeAsides: boolean) {
    this.file = file
    this.#madeAsides = madeAsides
    this.#dir = lockDirOf(file)
    this.#ownerText = ownerText
    this.#onCompromised = onCompromised
    this.#kept = { dir: this.#dir, ownerText, lost: () => this.#lost(), release: () => this.release() }
    keep(this.#kept, lockTiming.updateMs)
  }

  /**
   * Takes the lock of `file` (an absolute path), taking over a lock whose holder is dead
   * (inv. L1, L3). Throws `RegionLockedError` naming `displayPath` and the holder when a
   * live process holds it; other errors (missing directory, permissions) propagate.
   * `onCompromised` is called once, from a timer, if the lock is later lost (inv. L5).
   * The error message is `${action} "${displayPath}": file is locked by ...; ${hint}`.
   */
  static acquire(file: string, displayPath: string, action: string, hint: string, onCompromised: (err: Error) => void): RegionLock {
    const lockDir = lockDirOf(file)
    let holder: Judgement | undefined
    let madeAsides = false
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const asides = ensureAsides(lockDir)
        if (typeof asides === 'object') {
          throw new RegionLockedError(`${action} "${displayPath}": the path of its lock's asides "${asidesDirOf(lockDir)}" is ${asides.foreign}, not a directory this library made; nothing was changed or removed. Move it away (or rename the region file), or open with { readOnly: true }`)
        }
        if (asides === 'made') madeAsides = true
        const ownerText = tryLock(lockDir)
        if (ownerText !== undefined) {
          const lock = new RegionLock(file, ownerText, onCompromised, madeAsides)
          removeStaleAsides(asidesDirOf(lockDir)) // inv. L8: lists the file's asides only
          return lock
        }
        const foreign = foreignEntry(lockDir)
        if (foreign !== undefined) {
          throw new RegionLockedError(`${action} "${displayPath}": its lock path "${lockDir}" is ${foreign}, not a lock this library made; nothing was changed or removed. Move it away (or rename the region file), or open with { readOnly: true }`)
        }
        holder = judgeHolder(lockDir)
        if (holder.alive) break
        takeOver(lockDir, holder.ownerText)
      }
      throw lockedError(`${action} "${displayPath}"`, hint, lockDir, holder)
    } catch (e) {
      if (madeAsides) dropAsidesIfEmpty(lockDir) // refused: nothing of ours left beside the file
      throw e
    }
  }

  /**
   * This acquisition's random token (lock-owner.ts inv. O3). A pool's writer publishes it for
   * readers, who compare it with the token of the lock's live holder (`liveHolderToken`).
   */
  get token(): string { return parseOwner(this.#ownerText)?.token ?? '' }

  /** The lock directory's absolute path (named by the file's writer record, inv. L10). */
  get dir(): string { return this.#dir }

  /** True once the lock was found lost (inv. L4). */
  get compromised(): boolean { return this.#state === 'lost' }

  /**
   * Releases the lock (inv. L4). Idempotent; never throws. `unwritten`: the open that took it
   * failed or wrote nothing (region.ts inv. R9), so the asides directory it made (inv. L8) is
   * removed too when empty: a refused open leaves nothing beside the file; `deleted`: the
   * file was deleted, so its asides directory goes too when empty, whoever made it.
   */
  release(how: 'kept' | 'unwritten' | 'deleted' = 'kept'): void {
    if (this.#state === 'released') return
    const wasHeld = this.#state === 'held'
    this.#state = 'released'
    forget(this.#kept)
    if (!wasHeld || readOwnerText(this.#dir, true) !== this.#ownerText) return // inv. L4
    try {
      unlinkIfExists(ownerPathOf(this.#dir))
      fs.rmdirSync(this.#dir)
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') process.emitWarning(`Could not remove the lock of region "${this.file}": ${String(e)}`, 'PersistentMemoryWarning')
    }
    if (how === 'deleted' || (how === 'unwritten' && this.#madeAsides)) dropAsidesIfEmpty(this.#dir)
  }

  /** The refresh found our record gone or replaced (inv. L4, L5). Must not throw. */
  #lost(): void {
    if (this.#state !== 'held') return
    this.#state = 'lost'
    const err = Object.assign(
      new Error(`Lock "${this.#dir}" was removed or taken over by another process`),
      { code: 'ECOMPROMISED' })
    try { this.#onCompromised(err) } catch { /* inv. L5: never throw from the timer */ }
  }
}

/**
 * Makes the lock directory with its owner record in one step (inv. L9); its text, or undefined
 * when something is at the lock's path already (judged, or refused as foreign, by the caller).
 */
function tryLock(lockDir: string): string | undefined {
  if (pathExists(lockDir)) return undefined
  const ownerText = newOwnerText()
  const fresh = join(asidesDirOf(lockDir), `new-${asideTag()}`)
  for (let attempt = 0; ; attempt++) {
    try { fs.mkdirSync(fresh); break } catch (e) {
      // the asides directory was removed meanwhile (a refused open's dropAsidesIfEmpty): make it again
      if (errnoOf(e) !== 'ENOENT' || attempt >= 3) throw e
      const again = ensureAsides(lockDir)
      if (again !== 'made' && again !== 'there') throw e
    }
  }
  lockSeam.step?.('fresh made')
  try {
    fs.writeFileSync(ownerPathOf(fresh), ownerText)
    lockSeam.step?.('owner written')
    fs.renameSync(fresh, lockDir)
    lockSeam.step?.('renamed into place')
    return ownerText
  } catch (e) {
    try { unlinkIfExists(ownerPathOf(fresh)); fs.rmdirSync(fresh) } catch { /* removed later when stale (inv. L8) */ }
    const code = errnoOf(e)
    if (code === 'EEXIST' || code === 'ENOTEMPTY' || code === 'ENOTDIR' || code === 'EISDIR') return undefined // taken meanwhile
    throw e
  }
}

/** Removes a stale lock directory atomically (inv. L3); a lost race is left to the caller's retry. */
function takeOver(lockDir: string, deadOwnerText: string | undefined): void {
  const aside = join(asidesDirOf(lockDir), `stale-${asideTag()}`)
  try {
    fs.renameSync(lockDir, aside)
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return // the lock went meanwhile, or the asides directory did: the caller retries
    throw e
  }
  lockSeam.step?.('moved aside')
  if (readOwnerText(aside, false) !== deadOwnerText || foreignEntry(aside) !== undefined) {
    // We moved a lock taken meanwhile by a live process, or something not ours: put it back.
    try { fs.renameSync(aside, lockDir); return } catch { /* its holder will see it lost */ }
  }
  try {
    unlinkIfExists(ownerPathOf(aside))
    lockSeam.step?.('aside emptied')
    fs.rmdirSync(aside) // never recursive: only an empty lock directory goes (inv. L3)
  } catch { /* something appeared in it: left aside, never deleted */ }
}

function lockedError(what: string, hint: string, lockDir: string, holder: Judgement | undefined): RegionLockedError {
  const owner = holder?.owner
  const who = owner === undefined
    ? `another process (lock directory "${lockDir}" has no owner record yet)`
    : describeOwner(owner)
  return new RegionLockedError(`${what}: file is locked by ${who}; ${hint}`, owner?.pid)
}

/**
 * The live holder of `file`'s lock (an absolute path), judged as a contender judges it
 * (inv. L1): its token, '' when its record has none or is not written yet, or null when no
 * live process holds the lock. Reads only: never takes, refreshes or removes the lock.
 */
export function liveHolderToken(file: string): string | null {
  const holder = judgeHolder(lockDirOf(file))
  if (!holder.alive) return null
  return holder.owner?.token ?? ''
}

/** Reads the owner record of `file`'s lock, if any (for diagnostics and tests). */
export function readLockOwner(file: string): LockOwner | undefined {
  return parseOwner(readOwnerText(lockDirOf(file), false))
}
