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
 *  F4. A file with holes (a sparse copy: `cp --sparse=always`, `rsync -S`, a restored
 *      backup) gets its blocks before it is mapped for writing: `allocateHoles` rewrites
 *      every 4 KiB page that may hold a hole with its own bytes (one 4 KiB write per page,
 *      inv. F1), then fsyncs. A hole lies in an all-zero file-system block, and blocks are
 *      at least one 512-byte sector, so a page without an all-zero aligned sector has no
 *      hole and is left alone. Rewriting a page with the bytes it holds changes no byte,
 *      even if torn or cut short by ENOSPC: the file's content is the same whether the
 *      allocation completes or fails.
 */
import fs from 'node:fs'
import { PAGE_SIZE } from './bounds.js'

const ZERO_PAGE = new Uint8Array(PAGE_SIZE)

/** Writes zeros over file bytes `[from, to)` (page aligned), one 4 KiB write per page (inv. F1, F2). */
export function fillZeros(fd: number, from: number, to: number): void {
  for (let pos = from; pos < to; pos += PAGE_SIZE) writeFull(fd, to - pos >= PAGE_SIZE ? ZERO_PAGE : ZERO_PAGE.subarray(0, to - pos), pos)
}

/**
 * True when the file `st` describes has fewer bytes allocated than its size: it has holes
 * (or its file system compresses or deduplicates, which a byte count cannot tell apart).
 */
export function looksSparse(st: fs.Stats): boolean {
  return st.blocks * 512 < st.size
}

/**
 * Inv. F4: gives every page of `[from, to)` (page aligned) its blocks, leaving the content
 * unchanged, then fsyncs. Returns the number of pages rewritten. Space errors propagate
 * (see `isSpaceError`); the file's bytes are the same either way.
 */
export function allocateHoles(fd: number, from: number, to: number): number {
  const page = new Uint8Array(PAGE_SIZE)
  let rewritten = 0
  for (let pos = from; pos < to; pos += PAGE_SIZE) {
    const bytes = page.subarray(0, Math.min(PAGE_SIZE, to - pos))
    if (readInto(fd, bytes, pos) < bytes.length || !hasZeroSector(bytes)) continue
    writeFull(fd, bytes, pos)
    rewritten++
  }
  if (rewritten > 0) fs.fsyncSync(fd)
  return rewritten
}

/** Whether `bytes` has an all-zero 512-byte aligned sector (where a hole may lie, inv. F4). */
function hasZeroSector(bytes: Uint8Array): boolean {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2)
  for (let s = 0; s < words.length; s += 128) {
    let or = 0
    for (let i = s; i < s + 128 && i < words.length; i++) or |= words[i]!
    if (or === 0) return true
  }
  return false
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
  return out.subarray(0, readInto(fd, out, position))
}

/** Fills `out` from file offset `position`; returns the bytes read (fewer at EOF). */
function readInto(fd: number, out: Uint8Array, position: number): number {
  let done = 0
  while (done < out.length) {
    const n = fs.readSync(fd, out, done, out.length - done, position + done)
    if (n === 0) break
    done += n
  }
  return done
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
export function isSpaceError(e: unknown): boolean { return isSpaceErrno(errnoOf(e)) }

/** Whether errno `code` means no room: a full disk, a quota, or the file-size limit. */
export function isSpaceErrno(code: string | undefined): boolean {
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
