/**
 * The file side of a region: durable creation (region-create.ts), open and validation of an
 * existing file, the mapping of its user area, and deletion. `Region` (region.ts) builds
 * on these; they know nothing of views.
 *
 * Invariants kept here (header invariants H1-H4 are in header.ts, lock ones in lock.ts):
 *  C1. Creation is durable and all-or-nothing (inv. H4): the file is written under the
 *      temporary name `<file>.creating` (header page, then zeros in 4 KiB writes, inv. F1,
 *      F2), fsynced, linked to its name (never replacing an existing file), and the
 *      directory is fsynced. A crash leaves no file or a complete one; a leftover
 *      `.creating` file (empty, or starting with the region magic) is removed by the next
 *      writer (which holds the lock, so the file cannot be in use); any other file under
 *      that name is someone else's and is never removed.
 *  C2. Writers create, trim and delete only while holding the region's lock (inv. L1).
 *  C3. The mapping covers exactly the user area the header announces, which the file
 *      holds (inv. H2), at file offset 4096 (page aligned): no mapped byte lies past EOF,
 *      so no access can SIGBUS while the file keeps its size. Regions never shrink.
 *  C4. Every argument is checked (open-options.ts) before the first change on disk.
 *  C5. Only a regular file is ever read or mapped: the path is stat'ed before it is
 *      opened, and opened with O_NONBLOCK, then fstat'ed, so neither a FIFO, a device nor
 *      a socket (even one swapped in between) can make an open, a check or a delete hang.
 *      Anything else is NotARegionError naming what it is. (O_NONBLOCK changes nothing for
 *      a regular file.) Operating-system refusals of the path itself (ELOOP for a symlink
 *      loop, EACCES, ENAMETOOLONG, EIO...) are FileSystemError with the errno.
 *  C6. A writer maps no hole: before mapping, a file with fewer blocks than bytes gets the
 *      blocks of its header page and user area (file-io.ts inv. F4), so no store can
 *      SIGBUS on a full disk; no room for them is OutOfSpaceError with the file's bytes
 *      unchanged. Read-only opens skip this: a PROT_READ mapping never stores, and reading
 *      a hole allocates nothing. Growth only adds written pages (inv. F2).
 *  C8. One lock per file, whatever the path that names it: the lock, the file and its
 *      `.creating` temporary are addressed by the path with every symlink resolved (of the
 *      file, or of its directory for a file not created yet: `canonicalPath`), so a second
 *      writer through a symlink to the file or to a directory above it meets the first one's
 *      lock, and a reader through one sees the live writer (`Region.liveWriter`, by which
 *      readers trust the writer's published state: txn/publish.ts pub. 3). Hard links cannot be resolved to
 *      one path: a writer open of a file with more than one link is RegionLockedError (each
 *      link would have its own lock), taken after the lock and the `.creating` cleanup (a
 *      crashed create leaves the file linked twice), with nothing changed. (Before session
 *      10 both were accepted: two writers, the first one's commits lost and the file damaged.)
 *      A name given to the file after a writer opened it (a rename, a move to another
 *      directory, a link then an unlink) is kept out by the file's writer record (lock.ts
 *      inv. L10), read and written right after the hard-link check.
 *  C9. A path that is a symbolic link to nothing (dangling, however many links deep) is
 *      RegionNotFoundError naming the missing target, with nothing created (`refuseDanglingLink`).
 *  C7. The path is looked up once, at open: a file deleted or replaced at its path (a rename
 *      over it, a backup put back) while it is open is still the file written, a file no path
 *      names any longer. `pathHolds` says whether the path still names the open file (same
 *      device and inode), for callers that must not report a write as landed when it did not
 *      reach the path (a container's point, container write.ts inv. 4b; a pool's commit,
 *      txn/engine.ts eng. 8).
 */
import fs from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { mmap } from './mmap.js'
import {
  CorruptionError, FileSystemError, NotARegionError, PmemError, OutOfSpaceError, RegionExistsError, RegionLockedError, RegionNotFoundError,
} from './errors.js'
import {
  decodeHeader, hasRegionMagic, HEADER_SIZE, HEADER_STRUCT_SIZE, type RegionHeader,
} from './header.js'
import { checkPath, type ResolvedOpenOptions } from './open-options.js'
import { createRegionFile, removeCreateLeftover } from './region-create.js'
import { RegionLock } from './lock.js'
import { claimWriterRecord, clearWriterRecord, recordedLiveWriter, type WriterClaim } from './writer-record.js'
import {
  allocateHoles, errnoOf, fsyncDir, isSpaceError, looksSparse, readAt,
} from './file-io.js'

/** An open region file: descriptor, decoded header and (for writers) the lock. */
export interface RegionFile {
  readonly displayPath: string
  readonly absPath: string
  readonly fd: number
  readonly header: RegionHeader
  readonly lock: RegionLock | null
  readonly readOnly: boolean
  /** True when this open created the file (its user area is all zero). */
  readonly created: boolean
  /** Writers: the writer record this open wrote at header offset 1024 and what it overwrote (lock.ts inv. L10); null when none (readers, or too long a lock path). */
  readonly writerClaim: WriterClaim | null
}

const LOCK_HINT = 'close the other writer first, or open with { readOnly: true }'

/** Opens (and, as the options say, creates) a region file. The caller maps it and eventually calls `closeRegionFile`. */
export function openRegionFile(displayPath: string, o: ResolvedOpenOptions, onLockLost: (err: Error) => void): RegionFile {
  const absPath = canonicalPath(displayPath)
  refuseDanglingLink(displayPath, absPath, o.readOnly ? 'a read-only open never creates' : 'open the target with { size } to create the file there, or remove the link') // inv. C9
  if (o.readOnly) return openExisting(displayPath, absPath, null)
  const lock = acquireLock(absPath, displayPath, 'Cannot open region', LOCK_HINT, onLockLost)
  try {
    removeCreateLeftover(absPath) // inv. C1: garbage of a crashed create
    const st = statPath(displayPath, absPath, 'Cannot open region')
    let created = false
    if (st === undefined) {
      if (!o.create || o.size === undefined) {
        throw new RegionNotFoundError(`Cannot open region "${displayPath}": the file does not exist; pass { size } to create it`)
      }
      createRegionFile(absPath, displayPath, o.size)
      created = true
    } else if (o.exclusive) {
      throw new RegionExistsError(`Cannot create region "${displayPath}": the file already exists; open it without { exclusive: true } or delete it first`)
    }
    return { ...openExisting(displayPath, absPath, lock), created }
  } catch (e) {
    lock.release('unwritten') // and its asides directory, when this open made it (lock.ts inv. L8)
    throw e
  }
}

/**
 * Inv. C8: `path` made absolute with every symlink resolved: the file's real path, or for a
 * path where nothing is yet, its directory's real path and the name (a dangling symlink or
 * a missing directory: the path as given, made absolute; the open reports what is wrong).
 */
export function canonicalPath(path: string): string {
  const absPath = resolve(path)
  try { return fs.realpathSync(absPath) } catch { /* nothing there yet, or not reachable */ }
  try { return join(fs.realpathSync(dirname(absPath)), basename(absPath)) } catch { return absPath }
}

/**
 * Inv. C9: a path that is a symbolic link to nothing (`canonicalPath` leaves it unresolved) is
 * RegionNotFoundError naming where the link points, before the lock is taken: nothing is
 * created, neither through the link (its target would have another lock than the link's
 * name, inv. C8) nor beside it. (Before session 11 a create said "another program created
 * the file meanwhile", as linking `.creating` to the link's name met the link.)
 */
function refuseDanglingLink(displayPath: string, absPath: string, hint: string): void {
  let at = absPath
  for (let hops = 0; hops < 40; hops++) {
    let st: fs.Stats | undefined
    try { st = fs.lstatSync(at, { throwIfNoEntry: false }) } catch { return } // ENOTDIR, EACCES...: the open says what is wrong
    if (st === undefined) {
      if (hops === 0) return // nothing at the path: not a link
      const via = hops > 1 ? ` (through ${hops} links)` : ''
      throw new RegionNotFoundError(`Cannot open region "${displayPath}": it is a symbolic link to "${at}"${via}, which does not exist (a dangling link); nothing was created: ${hint}`)
    }
    if (!st.isSymbolicLink()) return // the link resolves (or it is no link): the open goes on
    let target: string
    try { target = fs.readlinkSync(at) } catch { return }
    at = resolve(dirname(at), target)
  }
}

/** Takes the writer lock; a missing directory is RegionNotFoundError. */
function acquireLock(absPath: string, displayPath: string, action: string, hint: string, onLost: (err: Error) => void): RegionLock {
  try {
    return RegionLock.acquire(absPath, displayPath, action, hint, onLost)
  } catch (e) {
    if (e instanceof PmemError) throw e // RegionLockedError and friends
    const code = errnoOf(e)
    const dir = dirname(absPath)
    if ((code === 'ENOENT' || code === 'ENOTDIR') && !fs.existsSync(dir)) {
      throw new RegionNotFoundError(`${action} "${displayPath}": directory "${dir}" does not exist`)
    }
    if (isSpaceError(e)) {
      throw new OutOfSpaceError(`${action} "${displayPath}": no space left to create its lock directory in "${dir}" (${code}); free disk space`)
    }
    if (code === 'EMFILE' || code === 'ENFILE') {
      throw new FileSystemError(`${action} "${displayPath}": cannot take its lock in "${dir}": no file descriptor is free (${code}); raise the limit (ulimit -n) or close files, then open it again`, code, { cause: e })
    }
    if (code !== undefined) {
      throw new FileSystemError(`${action} "${displayPath}": cannot create its lock directory in "${dir}" (${code}); the directory must be writable`, code, { cause: e })
    }
    throw e
  }
}

/** Opens an existing file and validates its header against its size (inv. H2, H3). */
function openExisting(displayPath: string, absPath: string, lock: RegionLock | null): RegionFile {
  const readOnly = lock === null
  const hint = readOnly ? '; a read-only open never creates' : '; pass { size } to create it'
  const fd = openFd(displayPath, absPath, readOnly, 'Cannot open region', hint)
  let writerClaim: WriterClaim | null = null
  try {
    const [header, fileSize] = readHeader(fd, displayPath, readOnly)
    if (!readOnly) refuseHardLinks(fd, displayPath)
    if (lock !== null) writerClaim = claimWriterRecord(fd, lock, displayPath) ?? null // lock.ts inv. L10: before anything else is changed
    // a longer file (inv. H3) is not trimmed here: a refusal above the region (a pool or
    // container that does not fit what the header announces) must leave it as found; a
    // writer trims it at close once it wrote (Region inv. R9)
    if (!readOnly) allocateSparseFile(fd, displayPath, header)
    return { displayPath, absPath, fd, header, lock, readOnly, created: false, writerClaim }
  } catch (e) {
    if (writerClaim !== null) clearWriterRecord(fd, writerClaim) // the old bytes back, when still ours (inv. L10)
    fs.closeSync(fd)
    throw e
  }
}

/** RegionLockedError when the file has other names a second writer could lock beside (inv. C8). */
function refuseHardLinks(fd: number, displayPath: string): void {
  const links = fs.fstatSync(fd).nlink
  if (links > 1) {
    throw new RegionLockedError(`Cannot open region "${displayPath}" for writing: the file has ${links} hard links, and the writer lock is kept beside one name only, so a writer through another name would not see it; nothing was changed. Remove the other links (a backup should be a copy), or open with { readOnly: true }`)
  }
}

/**
 * Reads and decodes the header, with the file size. A reader (no lock) may race with the
 * writer's header rewrite in grow and read a mix of both; it retries once before reporting
 * corruption (the rewrite is one 64-byte write, so a second read sees one version).
 */
function readHeader(fd: number, displayPath: string, retry: boolean): [RegionHeader, number] {
  for (let attempt = 0; ; attempt++) {
    const st = fs.fstatSync(fd)
    if (!st.isFile()) throw notAFile('Cannot open region', displayPath, st)
    try {
      return [decodeHeader(readAt(fd, HEADER_STRUCT_SIZE, 0), displayPath, st.size), st.size]
    } catch (e) {
      if (!retry || attempt > 0 || !(e instanceof CorruptionError)) throw e
    }
  }
}

/**
 * Reads the header of an open region file again (a reader follows a writer's growth), with
 * the retry a reader needs against a concurrent header rewrite (see `readHeader`).
 */
export function rereadHeader(file: RegionFile): RegionHeader {
  return readHeader(file.fd, file.displayPath, true)[0]
}

/** Opens the regular file at `absPath` (inv. C5); every refusal is a typed error. */
function openFd(displayPath: string, absPath: string, readOnly: boolean, action: string, missingHint: string): number {
  const before = statPath(displayPath, absPath, action)
  if (before === undefined) throw new RegionNotFoundError(`${action} "${displayPath}": the file does not exist${missingHint}`)
  if (!before.isFile()) throw notAFile(action, displayPath, before)
  let fd: number
  try {
    fd = fs.openSync(absPath, (readOnly ? fs.constants.O_RDONLY : fs.constants.O_RDWR) | fs.constants.O_NONBLOCK)
  } catch (e) {
    const code = errnoOf(e)
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new RegionNotFoundError(`${action} "${displayPath}": the file does not exist${missingHint}`)
    }
    if (code === 'EISDIR') throw new NotARegionError(`${action} "${displayPath}": it is a directory`)
    throw osError(action, displayPath, e)
  }
  const st = fs.fstatSync(fd)
  if (!st.isFile()) {
    fs.closeSync(fd)
    throw notAFile(action, displayPath, st) // swapped in after the stat
  }
  return fd
}

/** The device and inode of each open file, fstat'ed once (a pool asks `pathHolds` at every sync commit: txn/engine.ts eng. 8). */
const openInodes = new WeakMap<RegionFile, { readonly dev: bigint; readonly ino: bigint }>()

/**
 * Inv. C7: whether the path of `file` still names the file it has open: 'same', 'deleted'
 * (nothing there now), or 'replaced' (another file: a rename over it, or the path re-created).
 * One stat (and one fstat, the first time); an error of the stat itself (EACCES on a directory...) counts as
 * 'same' (nothing says the file moved).
 */
export function pathHolds(file: RegionFile): 'same' | 'deleted' | 'replaced' {
  let own = openInodes.get(file)
  if (own === undefined) { own = fs.fstatSync(file.fd, { bigint: true }); openInodes.set(file, own) } // an open descriptor keeps its inode
  let now: fs.BigIntStats | undefined
  try { now = fs.statSync(file.absPath, { bigint: true, throwIfNoEntry: false }) } catch (e) {
    return errnoOf(e) === 'ENOTDIR' ? 'deleted' : 'same'
  }
  if (now === undefined) return 'deleted'
  return now.ino === own.ino && now.dev === own.dev ? 'same' : 'replaced'
}

/** `stat` of the path (following symlinks); undefined when nothing is there (inv. C5). */
function statPath(displayPath: string, absPath: string, action: string): fs.Stats | undefined {
  try {
    return fs.statSync(absPath, { throwIfNoEntry: false })
  } catch (e) {
    if (errnoOf(e) === 'ENOTDIR') return undefined
    throw osError(action, displayPath, e)
  }
}

/** NotARegionError for something that is not a regular file, saying what it is (inv. C5). */
function notAFile(action: string, displayPath: string, st: fs.Stats): NotARegionError {
  const what = st.isDirectory() ? 'a directory'
    : st.isFIFO() ? 'a FIFO (named pipe)'
    : st.isSocket() ? 'a socket'
    : st.isCharacterDevice() ? 'a character device'
    : st.isBlockDevice() ? 'a block device'
    : 'not a regular file'
  return new NotARegionError(`${action} "${displayPath}": it is ${what}, not a persistent-memory region file; nothing was read or changed`)
}

/** FileSystemError for an operating-system refusal of the path, e.g. ELOOP (inv. C5). */
function osError(action: string, displayPath: string, e: unknown): unknown {
  const code = errnoOf(e)
  if (code === undefined) return e
  const why = code === 'ELOOP' ? 'too many levels of symbolic links (a symlink loop?)' : (e as Error).message
  return new FileSystemError(`${action} "${displayPath}": ${why} (${code})${fdLimitHint(code)}`, code, { cause: e })
}

/** What to do about errno `code` when it says no file descriptor is free (EMFILE, ENFILE), or ''. */
function fdLimitHint(code: string): string {
  return code === 'EMFILE' || code === 'ENFILE' ? '; no file descriptor is free: raise the limit (ulimit -n) or close files, then try again' : ''
}

/**
 * Inv. C6: a writer's file with holes gets its blocks (file-io.ts inv. F4) before it is
 * mapped; no room for them is OutOfSpaceError, the file's bytes unchanged.
 */
function allocateSparseFile(fd: number, displayPath: string, header: RegionHeader): void {
  const st = fs.fstatSync(fd)
  if (!looksSparse(st)) return
  const size = HEADER_SIZE + header.userSize
  try {
    allocateHoles(fd, 0, size)
  } catch (e) {
    if (!isSpaceError(e)) throw e
    throw new OutOfSpaceError(
      `Cannot open region "${displayPath}" for writing: the file has holes (${st.blocks * 512} of ${size} bytes allocated, ` +
      `as a sparse copy has) and there is no room to allocate them (${errnoOf(e)}); free disk space, ` +
      `or open it read-only; its content is unchanged`)
  }
}

/**
 * Maps the user area (file offset 4096) of `file`: shared, read-only or read-write
 * (inv. C3). Running out of address space or memory is `OutOfSpaceError`.
 */
export function mapUserArea(file: RegionFile, userSize: number): Buffer {
  const prot = file.readOnly ? mmap.PROT_READ : 3 // PROT_READ | PROT_WRITE
  try {
    // MADV_RANDOM: a fault reads one page, never a readahead batch that would land in a
    // large folio (then an msync of one dirty page writes the whole folio, inv. F1).
    return mmap.map(userSize, prot, mmap.MAP_SHARED, file.fd, HEADER_SIZE, mmap.MADV_RANDOM)
  } catch (e) {
    // The binding reports "mmap failed, <errno>"; 12 is ENOMEM.
    if (/failed, 12$/.test(String((e as Error).message))) {
      throw new OutOfSpaceError(`Cannot map region "${file.displayPath}" (${userSize} bytes): out of memory or address space (ENOMEM)`)
    }
    throw e
  }
}

/** Closes the descriptor and releases the lock of `file`. */
export function closeRegionFile(file: RegionFile): void {
  if (file.writerClaim !== null) clearWriterRecord(file.fd, file.writerClaim) // inv. L10, best effort
  fs.closeSync(file.fd)
  file.lock?.release('unwritten') // an open that failed (lock.ts inv. L8)
}

/** Validates the header of the region file at `path` against its size, without locking or mapping. */
export function readRegionHeader(path: unknown): RegionHeader {
  checkPath(path, 'Cannot check region')
  const file = openExisting(path, canonicalPath(path), null)
  fs.closeSync(file.fd)
  return file.header
}

/** Deletes a region file, its stale lock directory and any leftover of a crashed create; refused while a live writer has the file open under this or another name (inv. C8, lock.ts inv. L10). */
export function deleteRegionFile(path: unknown): void {
  checkPath(path, 'Cannot delete region')
  const absPath = resolve(path)
  const real = canonicalPath(path)     // inv. C8: the lock of the file, whichever path names it
  const lock = acquireLock(real, path, 'Cannot delete region', 'close it first', () => {})
  let deleted = false
  try {
    removeCreateLeftover(real)
    const fd = openFd(path, absPath, true, 'Cannot delete region', '')
    let start: Uint8Array
    let writer: string | null
    try { start = readAt(fd, 8, 0); writer = recordedLiveWriter(fd) } finally { fs.closeSync(fd) }
    if (writer !== null) { // lock.ts inv. L10: the file a live writer opened under another name
      throw new RegionLockedError(`Cannot delete region "${path}": the same file is open for writing under another name (it was renamed or moved while open); nothing was deleted. Close that writer first`)
    }
    if (!hasRegionMagic(start)) {
      throw new NotARegionError(`Cannot delete region "${path}": the file is not a persistent-memory region; nothing was deleted`)
    }
    fs.unlinkSync(absPath)
    fsyncDir(dirname(absPath))
    deleted = true
  } finally {
    lock.release(deleted ? 'deleted' : 'unwritten') // the asides directory goes with the file (lock.ts inv. L8)
  }
}

/** Runs `step`; an operating-system error that escapes it becomes a FileSystemError naming the action. */
export function typedOsErrors<T>(action: string, step: () => T): T {
  try {
    return step()
  } catch (e) {
    if (e instanceof PmemError) throw e
    const code = (e as NodeJS.ErrnoException | undefined)?.code
    if (typeof code !== 'string') throw e
    throw new FileSystemError(`${action}: ${(e as Error).message}${fdLimitHint(code)}`, code, { cause: e })
  }
}
