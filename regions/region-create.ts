/**
 * Creating a region file (region-file.ts inv. C1): the whole file is written under the
 * temporary name `<file>.creating` (header page, then zeros), fsynced, linked to its name
 * without ever replacing an existing file, and the directory fsynced; a leftover of a
 * crashed create (empty, or starting with the region magic) is removed by the next writer,
 * anything else under that name is someone else's and stays. Callers hold the region's
 * lock (inv. C2) and pass the file's real path (inv. C8).
 */
import fs from 'node:fs'
import { dirname } from 'node:path'
import { randomBytes } from 'node:crypto'
import { OutOfSpaceError, RegionExistsError } from './errors.js'
import { encodeHeader, FORMAT_VERSION, hasRegionMagic, HEADER_SIZE, type RegionHeader } from './header.js'
import { errnoOf, fillZeros, fsyncDir, isSpaceError, readAt, unlinkIfExists, writeFull } from './file-io.js'

export function creatingPathOf(absPath: string): string { return `${absPath}.creating` }

/**
 * Inv. C1: removes `<file>.creating` left by a crashed create: a regular file that is empty or
 * starts with the region magic (the header is its first write). Anything else under that name
 * is someone else's file and stays (a create then fails on it, naming it).
 */
export function removeCreateLeftover(absPath: string): void {
  const tmp = creatingPathOf(absPath)
  let fd: number
  try { fd = fs.openSync(tmp, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW) } catch { return }
  let ours: boolean
  try {
    const st = fs.fstatSync(fd)
    ours = st.isFile() && (st.size === 0 || hasRegionMagic(readAt(fd, 8, 0)))
  } finally { fs.closeSync(fd) }
  if (ours) unlinkIfExists(tmp)
}

/** A fresh header for a new region of `userSize` bytes. */
export function newHeader(userSize: number): RegionHeader {
  return {
    version: FORMAT_VERSION, headerSize: HEADER_SIZE, userSize,
    id: randomBytes(16).toString('hex'), flags: 0, createdAt: Date.now(),
  }
}

/** Inv. C1: writes the whole file under a temporary name, fsyncs, then links it into place. */
export function createRegionFile(absPath: string, displayPath: string, userSize: number): void {
  const tmp = creatingPathOf(absPath)
  let fd: number
  try {
    fd = fs.openSync(tmp, 'wx')
  } catch (e) {
    if (errnoOf(e) !== 'EEXIST') throw e
    throw new RegionExistsError(`Cannot create region "${displayPath}": its temporary name "${tmp}" holds a file that is not a leftover of a region being created; nothing was changed. Move it away`)
  }
  try {
    writeFull(fd, encodeHeader(newHeader(userSize)), 0)
    fillZeros(fd, HEADER_SIZE, HEADER_SIZE + userSize)
    fs.fsyncSync(fd)
  } catch (e) {
    fs.closeSync(fd)
    unlinkIfExists(tmp)
    if (isSpaceError(e)) {
      throw new OutOfSpaceError(`Cannot create region "${displayPath}" of ${userSize} bytes: no space left (${errnoOf(e)}); free disk space or choose a smaller size`)
    }
    throw e
  }
  fs.closeSync(fd)
  publish(tmp, absPath, displayPath)
  fsyncDir(dirname(absPath))
}

/** Gives `tmp` the name `absPath` without ever replacing an existing file (link, then unlink). */
function publish(tmp: string, absPath: string, displayPath: string): void {
  try {
    fs.linkSync(tmp, absPath)
  } catch (e) {
    const code = errnoOf(e)
    if (code === 'EEXIST') {
      unlinkIfExists(tmp)
      throw new RegionExistsError(`Cannot create region "${displayPath}": another program created the file meanwhile`)
    }
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e
    fs.renameSync(tmp, absPath) // file systems without hard links
    return
  }
  fs.unlinkSync(tmp)
}
