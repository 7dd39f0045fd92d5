/**
 * Durable file primitives for region files: zero-filling in 4 KiB writes, full writes,
 * fsync of a directory, and recognising "no space" errors.
 *
 * Invariants:
 *  F1. Region bytes are written one 4 KiB page per write call, never in larger writes:
 *      large writes put the file in large page-cache folios, and an msync of one 4 KiB
 *      page then writes back the whole folio (measured 2.5x slower, 256x the bytes).
 *  F2. Filling with zeros (not ftruncate, which leaves holes) allocates every block up
 *      front, so a full disk fails here with ENOSPC instead of a SIGBUS on a later store.
 *  F3. Every call goes through the `fs` module object at call time, so tests can inject
 *      faults (for example ENOSPC) with `mock.method(fs, 'writeSync', ...)`.
 */
import fs from 'node:fs'
import { PAGE_SIZE } from './bounds.js'

const ZERO_PAGE = new Uint8Array(PAGE_SIZE)

/** Writes zeros over file bytes `[from, to)` (page aligned), one 4 KiB write per page (inv. F1, F2). */
export function fillZeros(fd: number, from: number, to: number): void {
  for (let pos = from; pos < to; pos += PAGE_SIZE) writeFull(fd, to - pos >= PAGE_SIZE ? ZERO_PAGE : ZERO_PAGE.subarray(0, to - pos), pos)
}

/** Writes all of `bytes` at file offset `position`, looping over short writes. */
export function writeFull(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0
  while (done < bytes.length) {
    done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done)
  }
}

/** Reads up to `length` bytes at `position`; returns the bytes actually read (fewer at EOF). */
export function readAt(fd: number, length: number, position: number): Uint8Array {
  const out = new Uint8Array(length)
  let done = 0
  while (done < length) {
    const n = fs.readSync(fd, out, done, length - done, position + done)
    if (n === 0) break
    done += n
  }
  return out.subarray(0, done)
}

/** Makes a create, rename or unlink in directory `dir` durable (fsync of the directory). */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } catch (e) {
    // Some file systems cannot fsync a directory; there is nothing more we can do there.
    if (errnoOf(e) !== 'EINVAL' && errnoOf(e) !== 'EISDIR') throw e
  } finally {
    fs.closeSync(fd)
  }
}

/** True for errors that mean "the disk, quota or file-size limit is full". */
export function isSpaceError(e: unknown): boolean {
  const code = errnoOf(e)
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG'
}

/** The `code` of a Node system error (`'ENOENT'`, ...), or undefined. */
export function errnoOf(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined
  const code = (e as { code?: unknown }).code
  return typeof code === 'string' ? code : undefined
}

/** Unlinks `file`, ignoring a file that is already gone. */
export function unlinkIfExists(file: string): void {
  try {
    fs.unlinkSync(file)
  } catch (e) {
    if (errnoOf(e) !== 'ENOENT') throw e
  }
}
