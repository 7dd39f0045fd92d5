/**
 * The single-writer lock of a region file, across threads and processes.
 *
 * The lock is the directory `<file>.lock`, created atomically (mkdir) by proper-lockfile,
 * whose unref'd timer refreshes its mtime every `lockTiming.updateMs`. Right after the
 * mkdir the holder writes `<file>.lock/owner`: `{"pid":..,"host":..,"start":..}` (start is
 * the process start time from /proc, to recognise a reused pid).
 *
 * Invariants (cited as "inv. L1".."inv. L5"):
 *  L1. At most one live holder: mkdir is atomic, and a lock is taken over only when its
 *      holder is known to be dead (same host, and its pid is gone, a zombie, or now names a
 *      process started later), or when it has no readable owner record (or one from another host)
 *      and its mtime is older than `lockTiming.staleMs`.
 *  L2. A live holder's directory is never empty (it holds `owner`), so proper-lockfile's
 *      own mtime-based stale removal (rmdir) can never remove it, even when the holder's
 *      event loop is blocked for longer than the stale time.
 *  L3. Takeover is atomic: the stale directory is renamed aside (one contender wins) and
 *      deleted only if it still holds the owner record judged dead; otherwise it is put back.
 *  L4. Release removes `owner`, then the directory. A compromised lock (directory removed
 *      or replaced by someone else) is never touched again: it may belong to another writer.
 *  L5. Nothing here throws from a timer: compromise is reported through the callback, and
 *      the refresh timer is unref'd, so a held lock never keeps the process alive. Locks
 *      still held at a normal process exit are released by an 'exit' handler.
 *  L6. A blocked event loop does not lose the lock: when proper-lockfile reports a late
 *      refresh as a compromise but the directory still holds our owner record, the lock is
 *      kept and refreshed by our own unref'd timer; only a missing or foreign owner record
 *      is a real compromise.
 */
import fs from 'node:fs'
import os from 'node:os'
import { randomBytes } from 'node:crypto'
import lockfile from 'proper-lockfile'
import { RegionLockedError } from './errors.js'
import { errnoOf, unlinkIfExists } from './file-io.js'

/** Lock timing in milliseconds. Tests may lower them (proper-lockfile needs stale >= 2000, update >= 1000). */
export const lockTiming = { staleMs: 10_000, updateMs: 5_000 }

/** The holder recorded in a lock directory. */
export interface LockOwner {
  readonly pid: number
  readonly host: string
  /** Process start time (clock ticks since boot, from /proc/<pid>/stat), when known. */
  readonly start?: string
}

/** Path of the lock directory of region file `file`. */
export function lockDirOf(file: string): string { return `${file}.lock` }

function ownerPathOf(lockDir: string): string { return `${lockDir}/owner` }

/** An exclusive lock on one region file, held from `acquire` to `release`. */
export class RegionLock {
  readonly file: string
  #unlock: (() => void) | null
  #compromised = false
  /** Set when proper-lockfile gave up refreshing but the lock is still ours (inv. L6). */
  #refresher: NodeJS.Timeout | null = null

  private constructor(file: string, unlock: () => void) {
    this.file = file
    this.#unlock = unlock
    heldLocks.add(this)
    installExitHandler()
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
    for (let attempt = 0; attempt < 3; attempt++) {
      const lock = RegionLock.#tryLock(file, lockDir, onCompromised)
      if (lock !== undefined) return lock
      holder = judgeHolder(lockDir)
      if (holder.alive) break
      takeOver(lockDir, holder.ownerText)
    }
    throw lockedError(`${action} "${displayPath}"`, hint, lockDir, holder)
  }

  /** One mkdir attempt; undefined when the directory already exists. */
  static #tryLock(file: string, lockDir: string, onCompromised: (err: Error) => void): RegionLock | undefined {
    let lock: RegionLock | undefined
    let unlock: () => void
    try {
      unlock = lockfile.lockSync(file, {
        realpath: false,
        lockfilePath: lockDir,
        stale: lockTiming.staleMs,
        update: lockTiming.updateMs,
        onCompromised: (err: Error) => {
          if (lock !== undefined && lock.#keepIfStillOurs(lockDir)) return // inv. L6
          if (lock !== undefined) lock.#markCompromised()
          try { onCompromised(err) } catch { /* inv. L5: never throw from the timer */ }
        },
      })
    } catch (e) {
      const code = errnoOf(e)
      if (code === 'ELOCKED' || code === 'ENOTEMPTY' || code === 'EEXIST') return undefined
      throw e
    }
    lock = new RegionLock(file, unlock)
    writeOwner(lock, lockDir)
    return lock
  }

  /** True once proper-lockfile reported the lock lost (inv. L4). */
  get compromised(): boolean { return this.#compromised }

  /** Releases the lock (inv. L4). Idempotent; never throws. */
  release(): void {
    const unlock = this.#unlock
    if (unlock === null) return
    this.#unlock = null
    heldLocks.delete(this)
    if (this.#compromised) return
    if (this.#refresher !== null) {
      clearInterval(this.#refresher)
      this.#refresher = null
      try {
        unlinkIfExists(ownerPathOf(lockDirOf(this.file)))
        fs.rmdirSync(lockDirOf(this.file))
      } catch (e) {
        if (errnoOf(e) !== 'ENOENT') process.emitWarning(`Could not remove the lock of region "${this.file}": ${String(e)}`, 'PersistentMemoryWarning')
      }
      return
    }
    try {
      unlinkIfExists(ownerPathOf(lockDirOf(this.file)))
      unlock()
    } catch (e) {
      if (errnoOf(e) !== 'ERELEASED') process.emitWarning(`Could not remove the lock of region "${this.file}": ${String(e)}`, 'PersistentMemoryWarning')
    }
  }

  /**
   * proper-lockfile declares a lock compromised when its refresh timer runs later than the
   * stale time, which a long synchronous stretch of work (a loop of sync commits) causes.
   * If our owner record is still in the directory, nobody took the lock (inv. L2), so we
   * keep it and refresh its mtime ourselves from now on (inv. L6). Must not throw.
   */
  #keepIfStillOurs(lockDir: string): boolean {
    try {
      const owner = JSON.parse(fs.readFileSync(ownerPathOf(lockDir), 'utf8')) as LockOwner
      if (owner.pid !== process.pid || owner.host !== os.hostname() || owner.start !== processStart(process.pid)) return false
    } catch {
      return false
    }
    const touch = () => { try { const now = new Date(); fs.utimesSync(lockDir, now, now) } catch { /* checked on release */ } }
    touch()
    this.#refresher = setInterval(touch, lockTiming.updateMs)
    this.#refresher.unref()
    return true
  }

  /** Called by proper-lockfile's timer; must not throw (inv. L5). */
  #markCompromised(): void {
    this.#compromised = true
    heldLocks.delete(this)
  }
}

function writeOwner(lock: RegionLock, lockDir: string): void {
  const owner: LockOwner = { pid: process.pid, host: os.hostname(), start: processStart(process.pid) }
  try {
    fs.writeFileSync(ownerPathOf(lockDir), JSON.stringify(owner) + '\n')
  } catch (e) {
    lock.release()
    throw e
  }
}

interface Judgement {
  readonly alive: boolean
  readonly owner: LockOwner | undefined
  /** The owner file's exact text (undefined when missing), to recognise it at takeover. */
  readonly ownerText: string | undefined
}

/** Decides whether the current holder of `lockDir` may still be alive (inv. L1). */
function judgeHolder(lockDir: string): Judgement {
  const ownerText = readOwnerText(lockDir)
  const owner = parseOwner(ownerText)
  if (owner !== undefined && owner.host === os.hostname()) {
    return { alive: isProcessAlive(owner), owner, ownerText }
  }
  let mtimeMs: number
  try {
    mtimeMs = fs.statSync(lockDir).mtimeMs
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return { alive: false, owner, ownerText } // released meanwhile: retry
    throw e
  }
  return { alive: mtimeMs >= Date.now() - lockTiming.staleMs, owner, ownerText }
}

function readOwnerText(lockDir: string): string | undefined {
  try {
    return fs.readFileSync(ownerPathOf(lockDir), 'utf8')
  } catch (e) {
    const code = errnoOf(e)
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw e
  }
}

function parseOwner(text: string | undefined): LockOwner | undefined {
  if (text === undefined) return undefined
  try {
    const o = JSON.parse(text) as Partial<LockOwner>
    if (!Number.isSafeInteger(o.pid) || (o.pid as number) <= 0 || typeof o.host !== 'string') return undefined
    return { pid: o.pid as number, host: o.host, start: typeof o.start === 'string' ? o.start : undefined }
  } catch {
    return undefined
  }
}

/** Whether `owner` (on this host) still runs: its pid exists, is not a zombie, and was not reused. */
function isProcessAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0)
  } catch (e) {
    if (errnoOf(e) === 'ESRCH') return false
  }
  const stat = readProcStat(owner.pid)
  if (stat === undefined) return true // no /proc: trust kill(pid, 0)
  if (stat.state === 'Z' || stat.state === 'X') return false // killed, not yet reaped
  return owner.start === undefined || stat.start === owner.start
}

/** Start time of process `pid` in clock ticks since boot (Linux /proc), or undefined. */
export function processStart(pid: number): string | undefined {
  return readProcStat(pid)?.start
}

/** State letter and start time of `pid` from /proc/<pid>/stat, or undefined where unavailable. */
function readProcStat(pid: number): { state: string; start: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 2 (comm) may contain spaces and parentheses: fields 3.. follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const state = fields[0]
    const start = fields[19] // field 22, starttime
    return state !== undefined && start !== undefined ? { state, start } : undefined
  } catch {
    return undefined
  }
}

/** Removes a stale lock directory atomically (inv. L3); a lost race is left to the caller's retry. */
function takeOver(lockDir: string, deadOwnerText: string | undefined): void {
  const aside = `${lockDir}.stale-${process.pid}-${randomBytes(4).toString('hex')}`
  try {
    fs.renameSync(lockDir, aside)
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return
    throw e
  }
  if (readOwnerText(aside) !== deadOwnerText) {
    // We moved a lock taken meanwhile by a live process: put it back.
    try { fs.renameSync(aside, lockDir); return } catch { /* its holder will see it compromised */ }
  }
  fs.rmSync(aside, { recursive: true, force: true })
}

function lockedError(what: string, hint: string, lockDir: string, holder: Judgement | undefined): RegionLockedError {
  const owner = holder?.owner
  let who: string
  if (owner === undefined) who = `another process (lock directory "${lockDir}" has no owner record yet)`
  else if (owner.host !== os.hostname()) who = `process ${owner.pid} on host "${owner.host}"`
  else who = `process ${owner.pid}${owner.pid === process.pid ? ' (this process)' : ''}`
  return new RegionLockedError(
    `${what}: file is locked by ${who}; ${hint}`,
    owner?.pid)
}

/** Reads the owner record of `file`'s lock, if any (for diagnostics and tests). */
export function readLockOwner(file: string): LockOwner | undefined {
  return parseOwner(readOwnerText(lockDirOf(file)))
}

const heldLocks = new Set<RegionLock>()
let exitHandlerInstalled = false

/** Releases locks still held when the process exits normally (inv. L5). */
function installExitHandler(): void {
  if (exitHandlerInstalled) return
  exitHandlerInstalled = true
  process.on('exit', () => {
    for (const lock of [...heldLocks]) lock.release()
  })
}
