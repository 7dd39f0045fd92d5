/**
 * Sparse region files (regions/region-file.ts inv. C6, file-io.ts inv. F4): a byte-identical
 * copy whose zero pages are holes (`cp --sparse=always`, `rsync -S`, a restored backup)
 * gets every block when it is opened for writing, so a store into a former hole cannot
 * SIGBUS on a full disk; when the disk cannot hold the blocks the open is OutOfSpaceError
 * and the file's bytes are unchanged. Read-only opens leave the file as it is.
 * The real full disk is a 1 MiB tmpfs mounted in a private mount namespace (root only;
 * skipped with the reason elsewhere).
 */
import { describe, it, afterEach, mock } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { RECORD_OFFSET } from '../../regions/writer-record.js'
import { Region } from '../../regions/region.js'
import { HEADER_SIZE } from '../../regions/header.js'
import { lockDirOf } from '../../regions/lock.js'
import { OutOfSpaceError } from '../../regions/errors.js'
import { fileDigest, startWrappedChild, sysError, useTempDirs } from './fixtures/helpers.js'
import { pattern } from './fixtures/pattern.js'

const tempDir = useTempDirs('pmem-sparse-')
const PAGES = 64

afterEach(() => { mock.restoreAll() })

/** A region of PAGES pages with data in a few of them, and a sparse copy of it; returns the copy's path. */
function sparseCopy(): string {
  const dir = tempDir()
  const path = join(dir, 'r.pm')
  const r = Region.open(path, { size: PAGES * 4096 })
  r.bytes.set(pattern(4096, 1), 3 * 4096)
  r.bytes.set(pattern(100, 2), 10 * 4096 + 2000) // a page that is mostly zeros
  r.close()
  const copy = join(dir, 'copy.pm')
  execFileSync('cp', ['--sparse=always', path, copy])
  const st = fs.statSync(copy)
  assert.ok(st.blocks * 512 < st.size / 2, `cp --sparse=always made holes (${st.blocks * 512} of ${st.size} bytes allocated)`)
  assert.deepEqual(fileDigest(copy), fileDigest(path))
  return copy
}

function allocatedBytes(path: string): number { return fs.statSync(path).blocks * 512 }

describe('sparse region files (inv. C6, F4)', () => {
  it('a sparse copy opened for writing gets every block; its bytes are unchanged', () => {
    const copy = sparseCopy()
    const before = fileDigest(copy)
    const r = Region.open(copy)
    assert.ok(allocatedBytes(copy) >= HEADER_SIZE + PAGES * 4096, `${allocatedBytes(copy)} bytes allocated`)
    assert.deepEqual(r.bytes.slice(3 * 4096, 4 * 4096), pattern(4096, 1))
    r.close()
    assert.deepEqual(fileDigest(copy), before)
    const writes = mock.method(fs, 'writeSync')
    Region.open(copy).close()
    assert.equal(writes.mock.calls.filter(c => (c.arguments as unknown[])[4] !== RECORD_OFFSET).length, 0, 'a file without holes is not rewritten (only its writer record is written and zeroed: lock.ts inv. L10)')
  })

  it('no room for the blocks (ENOSPC, after some pages): OutOfSpaceError, bytes unchanged, no lock left', () => {
    const copy = sparseCopy()
    const before = fileDigest(copy)
    const write = fs.writeSync
    let writes = 0
    mock.method(fs, 'writeSync', (...args: unknown[]) => {
      if (args[4] !== RECORD_OFFSET && ++writes > 5) throw sysError('ENOSPC') // the writer record (lock.ts inv. L10) overwrites allocated header bytes
      return (write as (...a: unknown[]) => number)(...args)
    })
    assert.throws(() => Region.open(copy), (e: unknown) => {
      assert.ok(e instanceof OutOfSpaceError, String(e))
      assert.match(e.message, /^Cannot open region ".*copy\.pm" for writing: the file has holes \(\d+ of 266240 bytes allocated.*\(ENOSPC\).*content is unchanged/)
      return true
    })
    mock.restoreAll()
    assert.deepEqual(fileDigest(copy), before)
    assert.equal(fs.existsSync(lockDirOf(copy)), false)
    Region.open(copy).close() // room again: it opens
  })

  it('a read-only open leaves a sparse file as it is', () => {
    const copy = sparseCopy()
    const allocated = allocatedBytes(copy)
    const r = Region.open(copy, { readOnly: true })
    assert.deepEqual(r.bytes.slice(3 * 4096, 4 * 4096), pattern(4096, 1))
    assert.ok(r.bytes.subarray(4 * 4096, 10 * 4096).every(b => b === 0), 'holes read as zeros')
    r.close()
    assert.equal(allocatedBytes(copy), allocated)
  })

  const TMPFS_PROBE = ['unshare', '--mount', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$1"', 'sh']
  const canMount = ((): boolean => {
    try { execFileSync(TMPFS_PROBE[0]!, [...TMPFS_PROBE.slice(1), tempDir()], { stdio: 'ignore', timeout: 20_000 }); return true } catch { return false }
  })()
  it('a real full disk: the writer gets OutOfSpaceError, not SIGBUS, and the bytes are unchanged', {
    skip: canMount ? false : 'cannot mount a tmpfs in a private mount namespace here (needs root: unshare --mount, mount -t tmpfs)',
  }, async () => {
    const copy = sparseCopy()
    const disk = tempDir()
    // A 1 MiB tmpfs: the sparse copy takes a few pages, a filler file the rest. The writer runs
    // twice: with the disk full (no room even for the lock directory), then with 16 KiB freed
    // (room for the lock, not for the holes).
    const script = 'D=$1 S=$2; shift 2; mount -t tmpfs -o size=1m tmpfs "$D" && cp --sparse=always "$S" "$D/r.pm" && ' +
      '{ dd if=/dev/zero of="$D/fill" bs=4096 2>/dev/null; "$@"; truncate -s -16384 "$D/fill" && exec "$@"; }'
    const child = startWrappedChild(['unshare', '--mount', 'sh', '-c', script, 'sh', disk, copy], {}, 'store-all', join(disk, 'r.pm'))
    const r = await child.exited
    const lines: Array<Record<string, unknown>> = []
    for (;;) { try { lines.push(await child.nextLine()) } catch { break } }
    assert.equal(r.signal, null, `the writer was killed by ${r.signal}; it printed ${JSON.stringify(lines)}`)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(lines.length, 6, JSON.stringify(lines))
    const original = fileDigest(copy).sha256
    assert.deepEqual(lines.filter(l => 'before' in l || 'after' in l).map(l => l.before ?? l.after), [original, original, original, original], 'the bytes never change')
    assert.equal(lines[1]?.error, 'OutOfSpaceError', JSON.stringify(lines))
    assert.match(String(lines[1]?.message), /no space left to create its lock directory/)
    assert.equal(lines[4]?.error, 'OutOfSpaceError', JSON.stringify(lines))
    assert.match(String(lines[4]?.message), /the file has holes .*ENOSPC/)
  })
})
