/**
 * Tests of the mmap-backed Region (regions/region.ts, regions/region-file.ts): creation
 * (durable, 4 KiB writes, all-or-nothing, inv. C1), open semantics, delete, checked views
 * (inv. R4), flush and flushAsync (checked against /proc/self/smaps dirty pages), grow,
 * read-only open, the writer lock across processes, failure paths (ENOSPC, msync/fdatasync
 * errors, lost lock: inv. R6), and that bad input changes nothing on disk (inv. R5, C4).
 */
import { describe, it, afterEach, mock } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { Region } from '../../regions/region.js'
import { mmap } from '../../regions/mmap.js'
import { flushThreadTesting } from '../../regions/flush-worker.js'
import { crc32c } from '../../regions/checksum.js'
import { HEADER_SIZE, MAX_USER_SIZE, decodeHeader } from '../../regions/header.js'
import { lockDirOf, lockTiming, readLockOwner } from '../../regions/lock.js'
import { RECORD_OFFSET } from '../../regions/writer-record.js'
import {
  BrokenError, CorruptionError, FileSystemError, InvalidArgumentError, MisalignedError, NotARegionError, OutOfRangeError,
  OutOfSpaceError, PmemError, ReadOnlyError, RegionClosedError, RegionExistsError, RegionLockedError,
  RegionNotFoundError,
} from '../../regions/errors.js'
import { deadPid, fileDigest, mappedDirtyKb, mappingsOf, runChild, startChild, sysError, useTempDirs } from './fixtures/helpers.js'
import { pattern, sha256 } from './fixtures/pattern.js'
import { open, t } from '../../src/index.js'

const tempDir = useTempDirs()
const lockDefaults = { ...lockTiming }

afterEach(() => {
  mock.restoreAll()
  Object.assign(lockTiming, lockDefaults)
})

/** A fresh path in a fresh temporary directory. */
function freshPath(name = 'r.pm'): string { return join(tempDir(), name) }

/** Creates a region of `size` bytes at a fresh path. */
function create(size = 4 * 4096): { path: string; region: Region } {
  const path = freshPath()
  return { path, region: Region.open(path, { size }) }
}

/** Asserts that `fn` throws `cls` with a message naming `path`. */
function throwsFor(fn: () => unknown, cls: new (...a: never[]) => PmemError, path: string, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`)
    assert.ok(e.message.includes(`"${path}"`), `message must name the file: ${e.message}`)
    if (re) assert.match(e.message, re)
    return true
  })
}

/** Records every fs.writeSync (`write <length>@<position>`) and fs.fsyncSync (`fsync`) until mocks are restored. */
function recordFileWrites(): string[] {
  const events: string[] = []
  const write = fs.writeSync
  const fsync = fs.fsyncSync
  mock.method(fs, 'writeSync', (...args: unknown[]) => {
    events.push(`write ${args[3] as number}@${args[4] as number}`)
    return (write as (...a: unknown[]) => number)(...args)
  })
  mock.method(fs, 'fsyncSync', (fd: number) => { events.push('fsync'); fsync(fd) })
  return events
}

function headerOf(path: string) {
  const bytes = fs.readFileSync(path)
  return decodeHeader(bytes.subarray(0, 64), path, bytes.length)
}

describe('Region.open: creation', () => {
  it('creates a zeroed user area of size rounded up to 4096 after a 4096-byte header', () => {
    const { path, region } = create(10_000)
    assert.equal(region.size, 12_288)
    assert.equal(fs.statSync(path).size, HEADER_SIZE + 12_288)
    assert.match(region.id, /^[0-9a-f]{32}$/)
    assert.ok(Math.abs(region.createdAt.getTime() - Date.now()) < 60_000)
    assert.ok(region.unsafeBytes().every(b => b === 0))
    assert.deepEqual(headerOf(path), Region.check(path))
    assert.equal(Region.check(path).id, region.id)
    assert.deepEqual(fs.readdirSync(join(path, '..')).sort(), ['r.pm', 'r.pm.lock', 'r.pm.lock.asides'])
    region.close()
    assert.deepEqual(fs.readdirSync(join(path, '..')).sort(), ['r.pm', 'r.pm.lock.asides'], 'the lock is gone; its asides directory stays (lock.ts inv. L8)')
  })

  it('gives every region a different id', () => {
    const a = create(), b = create()
    assert.notEqual(a.region.id, b.region.id)
    a.region.close(); b.region.close()
  })

  it('inv. F1, F2: writes the file in 4 KiB writes and allocates every block (no holes)', () => {
    const lengths: number[] = []
    const original = fs.writeSync
    mock.method(fs, 'writeSync', (...args: unknown[]) => {
      if (args[4] !== RECORD_OFFSET) lengths.push(args[3] as number) // the open's writer record (lock.ts inv. L10) is no file content
      return (original as (...a: unknown[]) => number)(...args)
    })
    const { path, region } = create(64 * 4096)
    mock.restoreAll()
    assert.equal(lengths.length, 65)
    assert.ok(lengths.every(n => n === 4096), `write sizes ${[...new Set(lengths)]}`)
    assert.ok(fs.statSync(path).blocks * 512 >= fs.statSync(path).size, 'file must not be sparse')
    region.close()
  })

  it('inv. C1: fsyncs the file and then its directory', () => {
    const synced: number[] = []
    const original = fs.fsyncSync
    mock.method(fs, 'fsyncSync', (fd: number) => { synced.push(fd); original(fd) })
    const { region } = create()
    assert.ok(synced.length >= 2, 'file and directory fsync')
    region.close()
  })

  it('inv. C1: a crash in the middle of creation leaves no file under the region name', async () => {
    const path = freshPath()
    const r = await runChild('crash-create', path, '20')
    assert.equal(r.signal, 'SIGKILL', r.stderr)
    assert.equal(fs.existsSync(path), false)
    assert.equal(fs.existsSync(`${path}.creating`), true)
    throwsFor(() => Region.open(path), RegionNotFoundError, path)
    throwsFor(() => Region.open(path, { readOnly: true }), RegionNotFoundError, path)
    const region = Region.open(path, { size: 4096 }) // the dead child's lock is taken over at once
    assert.equal(fs.existsSync(`${path}.creating`), false)
    region.close()
  })

  it('a full disk at creation is OutOfSpaceError and leaves nothing behind', () => {
    let calls = 0
    const original = fs.writeSync
    mock.method(fs, 'writeSync', (...args: unknown[]) => {
      if (++calls === 10) throw sysError('ENOSPC')
      return (original as (...a: unknown[]) => number)(...args)
    })
    const path = freshPath()
    throwsFor(() => Region.open(path, { size: 64 * 4096 }), OutOfSpaceError, path, /no space left \(ENOSPC\)/)
    mock.restoreAll()
    assert.deepEqual(fs.readdirSync(join(path, '..')), [])
  })

  it('inv. C1: creation never replaces a file another program created meanwhile', () => {
    const path = freshPath()
    const link = fs.linkSync
    mock.method(fs, 'linkSync', (from: string, to: string) => {
      fs.writeFileSync(to, 'precious')
      link(from, to)
    })
    throwsFor(() => Region.open(path, { size: 4096 }), RegionExistsError, path, /created the file meanwhile/)
    mock.restoreAll()
    assert.equal(fs.readFileSync(path, 'utf8'), 'precious')
    assert.deepEqual(fs.readdirSync(join(path, '..')), ['r.pm'])
  })

  it('inv. C3, F1: maps exactly the user area, shared, at file offset 4096, with MADV_RANDOM', { skip: mappingsOf('/') === undefined }, () => {
    const { path, region } = create(3 * 4096)
    const [m] = mappingsOf(path)!.filter(x => x.offset !== 0) // a writer also maps its header page (the claim word, writer-claim.ts)
    assert.ok(m, 'the region file is mapped')
    assert.deepEqual([m.perms, m.offset, m.sizeKb], ['rw-s', 4096, 12])
    assert.ok(m.vmFlags.includes('rr'), `MADV_RANDOM (no readahead into large folios): ${m.vmFlags.join(' ')}`)
    region.close()
    const ro = Region.open(path, { readOnly: true })
    const ms = mappingsOf(path)!.filter(x => x.perms === 'r--s')
    assert.equal(ms.length, 1, 'read-only regions map PROT_READ, shared')
    ro.close()
  })

  it('exclusive: creates a missing file, refuses an existing one with RegionExistsError', () => {
    const path = freshPath()
    Region.open(path, { size: 4096, exclusive: true }).close()
    const before = fileDigest(path)
    throwsFor(() => Region.open(path, { size: 4096, exclusive: true }), RegionExistsError, path)
    assert.deepEqual(fileDigest(path), before)
    assert.equal(fs.existsSync(lockDirOf(path)), false)
  })
})

describe('Region.open: existing files', () => {
  it('opens an existing region with its own size; size only matters at creation', () => {
    const { path, region } = create(8192)
    region.bytes[100] = 7
    region.close()
    const again = Region.open(path, { size: 1 << 20 })
    assert.equal(again.size, 8192)
    assert.equal(again.bytes[100], 7)
    again.close()
    const plain = Region.open(path)
    assert.equal(plain.size, 8192)
    plain.close()
  })

  it('a missing file without size, with create: false, or read-only is RegionNotFoundError', () => {
    const path = freshPath()
    throwsFor(() => Region.open(path), RegionNotFoundError, path, /does not exist; pass \{ size \} to create it/)
    throwsFor(() => Region.open(path, { size: 4096, create: false }), RegionNotFoundError, path)
    throwsFor(() => Region.open(path, { readOnly: true }), RegionNotFoundError, path, /read-only open never creates/)
    const nested = join(path, '..', 'no-such-dir', 'x.pm')
    throwsFor(() => Region.open(nested, { size: 4096 }), RegionNotFoundError, nested, /directory ".*no-such-dir" does not exist/)
    assert.deepEqual(fs.readdirSync(join(path, '..')), [], 'no lock directory left behind')
  })

  it('a file that is not ours is NotARegionError and stays untouched', () => {
    const path = freshPath()
    fs.writeFileSync(path, 'hello, this is a text file\n'.repeat(400))
    const before = fileDigest(path)
    throwsFor(() => Region.open(path), NotARegionError, path, /wrong magic/)
    throwsFor(() => Region.open(path, { readOnly: true }), NotARegionError, path)
    throwsFor(() => Region.delete(path), NotARegionError, path, /nothing was deleted/)
    assert.deepEqual(fileDigest(path), before)
    fs.writeFileSync(path, '')
    throwsFor(() => Region.open(path), NotARegionError, path, /empty/)
    const dir = join(path, '..', 'adir')
    fs.mkdirSync(dir)
    throwsFor(() => Region.open(dir, { readOnly: true }), NotARegionError, dir, /directory/)
  })

  it('inv. H2: a truncated region is CorruptionError naming the expected and actual sizes', () => {
    const { path, region } = create(4 * 4096)
    region.close()
    fs.truncateSync(path, HEADER_SIZE + 3 * 4096 + 100)
    throwsFor(() => Region.open(path), CorruptionError, path, /announces 20480 bytes .* file has 16484/)
    throwsFor(() => Region.open(path, { readOnly: true }), CorruptionError, path)
    throwsFor(() => Region.check(path), CorruptionError, path)
  })

  it('a damaged header is CorruptionError', () => {
    const { path, region } = create()
    region.close()
    const fd = fs.openSync(path, 'r+')
    fs.writeSync(fd, Uint8Array.of(0xee), 0, 1, 30) // inside the id
    fs.closeSync(fd)
    throwsFor(() => Region.open(path), CorruptionError, path, /checksum mismatch/)
  })

  it('inv. H3, R9: a file longer than its header (interrupted grow) opens at the header size; a writer trims it at close once it wrote, an open alone changes nothing', () => {
    const { path, region } = create(2 * 4096)
    region.bytes[5] = 9
    region.close()
    fs.appendFileSync(path, new Uint8Array(3 * 4096))
    const ro = Region.open(path, { readOnly: true })
    assert.equal(ro.size, 8192)
    ro.close()
    assert.equal(fs.statSync(path).size, HEADER_SIZE + 5 * 4096, 'read-only open changes nothing')
    const bytes = fs.readFileSync(path)
    const idle = Region.open(path)
    assert.equal(idle.size, 8192)
    assert.equal(idle.bytes[5], 9)
    idle.close()
    assert.deepEqual(fs.readFileSync(path), bytes, 'a writer that never wrote (its open refused above the region, say) leaves the file as found')
    const rw = Region.open(path)
    rw.bytes[6] = 1
    rw.flush()
    rw.close()
    assert.equal(fs.statSync(path).size, HEADER_SIZE + 2 * 4096, 'a writer that flushed trims the tail at close')
  })

  it('inv. H3: a pool whose header announces less than the file holds is refused with every byte unchanged (the refusal happens above the region, after its open)', () => {
    const { path, region } = create(64 * 4096)
    region.close()
    const pm = open(path)
    pm.hashMap('m', t.u32, t.u32).put(1, 1)
    pm.close()
    const b = fs.readFileSync(path)
    b.writeUInt32LE(4096, 16) // user-area size 4096, resealed: a well-formed header that says less
    b.writeUInt32LE(crc32c(b.subarray(0, 60)), 60)
    fs.writeFileSync(path, b)
    assert.throws(() => open(path), { code: 'ERR_PMEM_CORRUPT' })
    assert.deepEqual(fs.readFileSync(path), b, 'nothing written, nothing trimmed')
  })
})

describe('one writer per file, whatever the path (inv. C8)', () => {
  it('a second writer through a symlink to the file, or to its directory, is RegionLockedError; a reader through one sees the live writer', () => {
    const dir = tempDir()
    const file = join(dir, 'one.pm')
    const r = Region.open(file, { size: 4096 })
    fs.symlinkSync(file, join(dir, 'link.pm'))
    fs.symlinkSync(dir, join(dir, 'dirlink'))
    for (const other of [join(dir, 'link.pm'), join(dir, 'dirlink', 'one.pm')]) {
      assert.throws(() => Region.open(other), { code: 'ERR_PMEM_LOCKED' }, other)
      const reader = Region.open(other, { readOnly: true })
      assert.notEqual(reader.liveWriter(), null, `a reader through ${other} sees the writer`)
      reader.close()
    }
    assert.throws(() => Region.delete(join(dir, 'link.pm')), { code: 'ERR_PMEM_LOCKED' })
    r.close()
    const again = Region.open(join(dir, 'link.pm'))
    assert.throws(() => Region.open(file), { code: 'ERR_PMEM_LOCKED' }, 'and the other way round')
    again.close()
  })

  it('a writer open of a file with another hard link is RegionLockedError (each path would have its own lock), nothing changed; read-only opens work', () => {
    const dir = tempDir()
    const file = join(dir, 'one.pm')
    Region.open(file, { size: 4096 }).close()
    fs.linkSync(file, join(dir, 'hard.pm'))
    const before = fileDigest(file)
    assert.throws(() => Region.open(join(dir, 'hard.pm')), (e: Error) => (e as { code?: string }).code === 'ERR_PMEM_LOCKED' && /2 hard links/.test(e.message))
    assert.throws(() => Region.open(file), { code: 'ERR_PMEM_LOCKED' })
    assert.deepEqual(fileDigest(file), before)
    assert.deepEqual(fs.readdirSync(dir).sort(), ['hard.pm', 'one.pm', 'one.pm.lock.asides'], 'no lock left behind (the asides directory is the first open\'s)')
    Region.open(file, { readOnly: true }).close()
    fs.unlinkSync(join(dir, 'hard.pm'))
    Region.open(file).close()
  })
})

describe('pathHolds (inv. C7)', () => {
  it('says whether the path still names the open file: same, replaced (renamed over), deleted', () => {
    const file = join(tempDir(), 'moved.pm')
    const r = Region.open(file, { size: 4096 })
    assert.equal(r.pathHolds(), 'same')
    fs.copyFileSync(file, file + '.copy')
    fs.renameSync(file + '.copy', file)
    assert.equal(r.pathHolds(), 'replaced', 'a copy renamed over it is another file')
    fs.unlinkSync(file)
    assert.equal(r.pathHolds(), 'deleted')
    r.close()
    assert.throws(() => r.pathHolds(), { code: 'ERR_PMEM_CLOSED' })
  })
})

describe('Region.open: argument checks (inv. C4)', () => {
  const bad: Array<[string, unknown, unknown]> = [
    ['empty path', '', { size: 4096 }],
    ['non-string path', 42, { size: 4096 }],
    ['path with NUL', 'a\0b', { size: 4096 }],
    ['options not an object', 'X', 'big'],
    ['unknown option', 'X', { size: 4096, readonly: true }],
    ['size zero', 'X', { size: 0 }],
    ['negative size', 'X', { size: -4096 }],
    ['fractional size', 'X', { size: 4096.5 }],
    ['string size', 'X', { size: '4096' }],
    ['size above the mmap limit', 'X', { size: MAX_USER_SIZE + 1 }],
    ['readOnly not boolean', 'X', { readOnly: 'yes' }],
    ['create without size', 'X', { create: true }],
    ['readOnly with create', 'X', { size: 4096, readOnly: true, create: true }],
    ['exclusive with create: false', 'X', { size: 4096, exclusive: true, create: false }],
    ['exclusive without size', 'X', { exclusive: true }],
  ]
  for (const [what, path, options] of bad) {
    it(`${what} is InvalidArgumentError and creates nothing`, () => {
      const dir = tempDir()
      const p = path === 'X' ? join(dir, 'r.pm') : path
      assert.throws(() => Region.open(p as string, options as object), InvalidArgumentError)
      assert.deepEqual(fs.readdirSync(dir), [])
    })
  }

  it('a size above the maximum names the limit', () => {
    const path = freshPath()
    throwsFor(() => Region.open(path, { size: 2 ** 32 }), InvalidArgumentError, path, /maximum region size of 2147479552 bytes/)
  })
})

describe('Region.delete and Region.check', () => {
  it('deletes the file, a stale lock directory and a leftover of a crashed create', async () => {
    const { path, region } = create()
    region.close()
    fs.mkdirSync(lockDirOf(path))
    const here = { pidns: fs.readlinkSync('/proc/self/ns/pid'), boot: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() }
    fs.writeFileSync(join(lockDirOf(path), 'owner'), JSON.stringify({ pid: await deadPid(), host: (await import('node:os')).hostname(), ...here }))
    fs.writeFileSync(`${path}.creating`, 'PMEMRGN\0partial') // a create's first write is the header
    Region.delete(path)
    assert.deepEqual(fs.readdirSync(join(path, '..')), [])
  })

  it('inv. C1: a file of someone else\'s under "<file>.creating" is never removed (only an empty one or one starting with the magic is a leftover)', () => {
    const { path, region } = create()
    region.close()
    const tmp = `${path}.creating`
    fs.writeFileSync(tmp, 'notes about the region\n')
    Region.open(path).close()
    const fresh = freshPath()
    fs.writeFileSync(`${fresh}.creating`, 'more notes\n')
    throwsFor(() => Region.open(fresh, { size: 4096 }), RegionExistsError, fresh, /temporary name .* holds a file that is not a leftover/)
    assert.equal(fs.existsSync(fresh), false)
    Region.delete(path)
    assert.equal(fs.readFileSync(tmp, 'utf8'), 'notes about the region\n', 'kept by open and by delete')
    assert.equal(fs.readFileSync(`${fresh}.creating`, 'utf8'), 'more notes\n', 'kept by a refused create')
    fs.writeFileSync(`${fresh}.creating`, '') // a create killed right after its open: removed
    Region.open(fresh, { size: 4096 }).close()
    assert.equal(fs.existsSync(`${fresh}.creating`), false)
  })

  it('refuses with RegionLockedError while a writer has it open, and deletes nothing', () => {
    const { path, region } = create()
    throwsFor(() => Region.delete(path), RegionLockedError, path, new RegExp(`process ${process.pid}`))
    assert.ok(fs.existsSync(path))
    region.close()
    Region.delete(path)
    assert.equal(fs.existsSync(path), false)
  })

  it('deletes a region open read-only elsewhere (the mapping stays valid)', () => {
    const { path, region } = create()
    region.close()
    const ro = Region.open(path, { readOnly: true })
    Region.delete(path)
    assert.equal(ro.bytes[0], 0)
    ro.close()
  })

  it('a missing file is RegionNotFoundError; a bad path InvalidArgumentError', () => {
    const path = freshPath()
    throwsFor(() => Region.delete(path), RegionNotFoundError, path)
    assert.throws(() => Region.delete(''), InvalidArgumentError)
    assert.throws(() => Region.check(7 as unknown as string), InvalidArgumentError)
    throwsFor(() => Region.check(path), RegionNotFoundError, path)
  })
})

describe('views', () => {
  it('bytes and typed views alias the same user area', () => {
    const { region } = create()
    const f = region.view(Float64Array, 8, 2)
    f[1] = 1.5
    const dv = region.view(DataView, 16, 8)
    assert.equal(dv.getFloat64(0, true), 1.5)
    assert.deepEqual([...region.bytes.subarray(16, 24)], [...new Uint8Array(new Float64Array([1.5]).buffer)])
    region.view(BigUint64Array, 4096, 1)[0] = 2n ** 64n - 1n
    assert.equal(region.view(Uint32Array, 4100, 1)[0], 0xffffffff)
    region.view(Int32Array, 0, 1)[0] = -2
    assert.equal(region.view(Uint16Array, 2, 1)[0], 0xffff)
    assert.equal(region.bytes.length, region.size)
    assert.ok(region.bytes instanceof Uint8Array)
    assert.equal(region.unsafeBytes()[16 + 7], region.bytes[23])
    region.close()
  })

  it('any in-range aligned view over any offset reads what bytes wrote', () => {
    const { region } = create(2 * 4096)
    fc.assert(fc.property(fc.nat({ max: 2 * 4096 / 8 - 1 }), fc.float64Array({ minLength: 1, maxLength: 8 }), (slot, values) => {
      const n = Math.min(values.length, 1024 - slot)
      const v = region.view(Float64Array, slot * 8, n)
      v.set(values.subarray(0, n))
      assert.deepEqual(new Float64Array(region.unsafeBytes().slice(slot * 8, slot * 8 + n * 8).buffer), Float64Array.from(values.subarray(0, n)))
    }), { numRuns: 200 })
    region.close()
  })

  it('rejects bad views: misaligned, out of range, unsupported type', () => {
    const { path, region } = create()
    throwsFor(() => region.view(Float64Array, 4, 1), MisalignedError, path)
    throwsFor(() => region.view(Uint8Array, region.size - 1, 2), OutOfRangeError, path)
    assert.throws(() => region.view(Uint8Array, -1, 1), InvalidArgumentError)
    throwsFor(() => region.view(Array as never, 0, 1), InvalidArgumentError, path)
    region.close()
  })
})

describe('close (inv. R4)', () => {
  it('is idempotent, releases the lock, and keeps path, id, size readable', () => {
    const { path, region } = create()
    region.close()
    region.close()
    assert.equal(region.closed, true)
    assert.equal(region.path, path)
    assert.equal(region.size, 4 * 4096)
    assert.match(region.id, /^[0-9a-f]{32}$/)
    assert.equal(fs.existsSync(lockDirOf(path)), false)
    Region.open(path).close()
  })

  it('every checked view throws RegionClosedError after close: indexing, methods, DataView getters', () => {
    const { path, region } = create()
    const bytes = region.bytes
    const u8 = region.view(Uint8Array, 0, 16)
    const f64 = region.view(Float64Array, 0, 2)
    const dv = region.view(DataView, 0, 16)
    u8[0] = 1
    region.close()
    throwsFor(() => bytes[0], RegionClosedError, path)
    throwsFor(() => { u8[0] = 2 }, RegionClosedError, path)
    throwsFor(() => u8.fill(0), RegionClosedError, path)
    throwsFor(() => u8.subarray(0, 1), RegionClosedError, path)
    throwsFor(() => u8.length, RegionClosedError, path)
    throwsFor(() => f64[1], RegionClosedError, path)
    throwsFor(() => [...f64], RegionClosedError, path)
    throwsFor(() => dv.getUint8(0), RegionClosedError, path)
    throwsFor(() => dv.setFloat64(0, 1), RegionClosedError, path)
  })

  it('every method of a closed region throws RegionClosedError (flushAsync rejects)', async () => {
    const { path, region } = create()
    region.close()
    throwsFor(() => region.bytes, RegionClosedError, path)
    throwsFor(() => region.view(Uint8Array, 0, 1), RegionClosedError, path)
    throwsFor(() => region.unsafeBytes(), RegionClosedError, path)
    throwsFor(() => region.flush(), RegionClosedError, path)
    throwsFor(() => region.grow(1 << 20), RegionClosedError, path)
    await assert.rejects(region.flushAsync(), RegionClosedError)
  })

  it('makes the data durable and readable by the next open', () => {
    const { path, region } = create()
    region.bytes.set(pattern(100, 3), 50)
    region.close()
    const again = Region.open(path, { readOnly: true })
    assert.deepEqual(again.unsafeBytes().slice(50, 150), pattern(100, 3))
    again.close()
  })
})

describe('flush and flushAsync', () => {
  const smaps = mappedDirtyKb('/') !== undefined

  it('flush writes back the pages covering the range (dirty pages in smaps drop)', { skip: !smaps }, () => {
    const { path, region } = create(16 * 4096)
    const u = region.unsafeBytes()
    u[10] = 1; u[5 * 4096 + 3] = 1; u[9 * 4096] = 1
    assert.equal(mappedDirtyKb(path), 12)
    region.flush(4, 3)
    assert.equal(mappedDirtyKb(path), 8, 'only page 0 written back')
    region.flush(5 * 4096 + 4095, 1)
    assert.equal(mappedDirtyKb(path), 4)
    region.flush()
    assert.equal(mappedDirtyKb(path), 0)
    region.close()
  })

  it('flushAsync writes back the pages covering the range, and resolves when they are durable', { skip: !smaps }, async () => {
    const { path, region } = create(16 * 4096)
    const u = region.unsafeBytes()
    u[0] = 1; u[7 * 4096] = 1
    assert.equal(mappedDirtyKb(path), 8)
    const p = region.flushAsync(0, 1)
    assert.ok(p instanceof Promise)
    await p
    assert.equal(mappedDirtyKb(path), 4, 'only page 0 written back: other dirty pages are not made durable too')
    await region.flushAsync()
    assert.equal(mappedDirtyKb(path), 0)
    region.close()
  })

  it('prepareFlushAsync is a harmless hint: flushAsync works after it; read-only and closed regions ignore it', async () => {
    const { path, region } = create(4 * 4096)
    region.prepareFlushAsync()
    region.prepareFlushAsync()
    region.bytes.set(pattern(4096, 3), 4096)
    await region.flushAsync(4096, 4096)
    assert.deepEqual(fs.readFileSync(path).subarray(HEADER_SIZE + 4096, HEADER_SIZE + 8192), Buffer.from(pattern(4096, 3)))
    region.close()
    region.prepareFlushAsync()
    const ro = Region.open(path, { readOnly: true })
    ro.prepareFlushAsync()
    ro.close()
  })

  it('flushed data is in the file: reopen and compare', async () => {
    const { path, region } = create(4 * 4096)
    region.bytes.set(pattern(4096, 1), 0)
    region.flush(0, 4096)
    region.bytes.set(pattern(4096, 2), 8192)
    await region.flushAsync(8192, 4096)
    const fileBytes = fs.readFileSync(path)
    assert.deepEqual(fileBytes.subarray(HEADER_SIZE, HEADER_SIZE + 4096), Buffer.from(pattern(4096, 1)))
    assert.deepEqual(fileBytes.subarray(HEADER_SIZE + 8192, HEADER_SIZE + 12288), Buffer.from(pattern(4096, 2)))
    region.close()
  })

  it('flushAsync does no blocking flush on the main thread (the msync runs in a worker)', { skip: !smaps }, async () => {
    const { path, region } = create(8 * 4096)
    const fdatasync = mock.method(fs, 'fdatasync')
    const fdatasyncSync = mock.method(fs, 'fdatasyncSync')
    const msync = mock.method(mmap, 'sync')
    const calls = Array.from({ length: 6 }, (_, i) => { region.bytes[i * 4096] = i + 1; return region.flushAsync(i * 4096, 1) })
    await Promise.all(calls)
    assert.equal(fdatasync.mock.callCount() + fdatasyncSync.mock.callCount() + msync.mock.callCount(), 0)
    assert.equal(mappedDirtyKb(path), 0, 'all six pages durable')
    region.close()
  })

  it('close while flushAsync runs: the flush still resolves and the descriptor closes after it', async () => {
    const { path, region } = create()
    region.bytes[0] = 1
    const pending = [region.flushAsync(), region.flushAsync()]
    region.close()
    await Promise.all(pending)
    Region.open(path).close()
  })

  it('checks the range: a zero length flushes nothing, bad ranges throw (flushAsync rejects)', async () => {
    const { path, region } = create(2 * 4096)
    const msync = mock.method(mmap, 'sync')
    region.flush(100, 0)
    await region.flushAsync(8192, 0)
    assert.equal(msync.mock.callCount(), 0)
    throwsFor(() => region.flush(8193), OutOfRangeError, path)
    throwsFor(() => region.flush(0, 8193), OutOfRangeError, path)
    throwsFor(() => region.flush(-1), InvalidArgumentError, path)
    throwsFor(() => region.flush(0, 1.5), InvalidArgumentError, path)
    throwsFor(() => region.flush('0' as unknown as number), InvalidArgumentError, path)
    await assert.rejects(region.flushAsync(0, 9000), OutOfRangeError)
    const promise = region.flushAsync(-5)
    assert.ok(promise instanceof Promise, 'argument errors are rejections, not throws')
    await assert.rejects(promise, InvalidArgumentError)
    region.flush(4095, 2)
    assert.deepEqual(msync.mock.calls.map(c => [c.arguments[1], c.arguments[2]]), [[0, 8192]], 'rounded out to pages')
    region.close()
  })
})

describe('grow', () => {
  it('keeps data and offsets, extends the file durably, and updates the header', () => {
    const { path, region } = create(2 * 4096)
    region.bytes.set(pattern(8192, 5))
    region.grow(5 * 4096 + 1)
    assert.equal(region.size, 6 * 4096)
    assert.equal(fs.statSync(path).size, HEADER_SIZE + 6 * 4096)
    assert.equal(headerOf(path).userSize, 6 * 4096)
    assert.deepEqual(region.unsafeBytes().slice(0, 8192), pattern(8192, 5))
    assert.ok(region.unsafeBytes().subarray(8192).every(b => b === 0))
    region.view(Float64Array, 6 * 4096 - 8, 1)[0] = 3.25
    region.close()
    const again = Region.open(path)
    assert.equal(again.size, 6 * 4096)
    assert.equal(again.view(Float64Array, 6 * 4096 - 8, 1)[0], 3.25)
    assert.deepEqual(again.unsafeBytes().slice(0, 8192), pattern(8192, 5))
    again.close()
  })

  it('extends in 4 KiB writes, file first, then the 64-byte header, each fsynced', () => {
    const { region } = create(4096)
    const events = recordFileWrites()
    region.grow(3 * 4096)
    assert.deepEqual(events, ['write 4096@8192', 'write 4096@12288', 'fsync', 'write 64@0', 'fsync'])
    region.close()
  })

  it('invalidates old checked views (remap); new views and unsafeBytes see the same data', () => {
    const { path, region } = create(4096)
    const old = region.view(Uint8Array, 0, 8)
    const oldBytes = region.bytes
    old[3] = 33
    region.grow(8192)
    throwsFor(() => old[3], RegionClosedError, path)
    throwsFor(() => oldBytes.length, RegionClosedError, path)
    assert.equal(region.bytes[3], 33)
    assert.equal(region.unsafeBytes().length, 8192)
    region.close()
  })

  it('the same size does nothing (views stay valid); smaller is InvalidArgumentError', () => {
    const { path, region } = create(2 * 4096)
    const v = region.bytes
    region.grow(2 * 4096 - 100)
    region.grow(2 * 4096)
    assert.equal(v[0], 0)
    throwsFor(() => region.grow(4096), InvalidArgumentError, path, /never shrink/)
    throwsFor(() => region.grow(-1), InvalidArgumentError, path)
    throwsFor(() => region.grow(NaN), InvalidArgumentError, path)
    throwsFor(() => region.grow(MAX_USER_SIZE + 1), OutOfSpaceError, path, /maximum user-area size is 2147479552/)
    assert.equal(region.size, 2 * 4096)
    region.close()
  })

  it('a full disk is OutOfSpaceError and leaves file, header, data and views unchanged', () => {
    const { path, region } = create(2 * 4096)
    region.bytes[1] = 11
    region.flush()
    const before = fileDigest(path)
    const view = region.bytes
    let calls = 0
    const original = fs.writeSync
    mock.method(fs, 'writeSync', (...args: unknown[]) => {
      if (++calls === 3) throw sysError('ENOSPC')
      return (original as (...a: unknown[]) => number)(...args)
    })
    throwsFor(() => region.grow(10 * 4096), OutOfSpaceError, path, /no space left/)
    mock.restoreAll()
    assert.deepEqual(fileDigest(path), before)
    assert.equal(region.size, 2 * 4096)
    assert.equal(view[1], 11)
    assert.equal(region.broken, false)
    region.grow(3 * 4096)
    assert.equal(region.size, 3 * 4096)
    region.close()
  })

  it('inv. R7: reserveAsync allocates past the user area in the flush thread; grow then only writes the header', async () => {
    const { path, region } = create(2 * 4096)
    region.bytes.set(pattern(8192, 3))
    await region.reserveAsync(6 * 4096 - 100)
    assert.equal(region.size, 2 * 4096, 'a reservation does not change the user area')
    assert.equal(fs.statSync(path).size, HEADER_SIZE + 6 * 4096, 'the file was extended')
    assert.equal(headerOf(path).userSize, 2 * 4096)
    const events = recordFileWrites()
    region.grow(4 * 4096)
    assert.deepEqual(events, ['write 64@0', 'fsync'], 'the reserved pages are not written again')
    events.length = 0
    region.grow(7 * 4096)
    assert.deepEqual(events, ['write 4096@28672', 'fsync', 'write 64@0', 'fsync'], 'only the part past the reservation is filled')
    mock.restoreAll()
    assert.equal(region.size, 7 * 4096)
    assert.deepEqual(region.unsafeBytes().slice(0, 8192), pattern(8192, 3))
    assert.ok(region.unsafeBytes().subarray(8192).every(b => b === 0))
    region.close()
    const again = Region.open(path)
    assert.equal(again.size, 7 * 4096)
    assert.deepEqual(again.unsafeBytes().slice(0, 8192), pattern(8192, 3))
    again.close()
  })

  it('inv. R7: grow waits for a reservation under way; close shuts the flush thread out (W6) and trims an unused one', async () => {
    const { path, region } = create(4096)
    void region.reserveAsync(64 * 4096)
    region.grow(3 * 4096)             // synchronously, while the flush thread may still be writing
    assert.equal(region.size, 3 * 4096)
    assert.ok(fs.statSync(path).size >= HEADER_SIZE + 3 * 4096)
    region.bytes.set(pattern(3 * 4096, 4))
    const p = region.reserveAsync(128 * 4096)
    region.close()                    // closes the gate first (W6): the thread writes no more; then trims
    await p
    assert.equal(fs.statSync(path).size, HEADER_SIZE + 3 * 4096, 'close trimmed the unused reservation')
    const again = Region.open(path)
    assert.deepEqual(again.unsafeBytes().slice(), pattern(3 * 4096, 4))
    again.close()
  })

  it('W4: a reservation that does not start at the end of the file writes nothing, and grow does the work itself', async () => {
    const { path, region } = create(2 * 4096)
    fs.appendFileSync(path, new Uint8Array(4096))     // another writer moved the end of the file
    await region.reserveAsync(8 * 4096)
    assert.equal(fs.statSync(path).size, HEADER_SIZE + 3 * 4096, 'nothing written: no hole was made')
    fs.truncateSync(path, HEADER_SIZE + 2 * 4096)
    region.grow(4 * 4096)
    assert.equal(fs.statSync(path).size, HEADER_SIZE + 4 * 4096)
    region.close()
  })

  it('inv. R7, W5: an append stream writes past the user area with a CRC per block; grow over it keeps the bytes', async () => {
    const { path, region } = create(2 * 4096)
    region.bytes.set(pattern(8192, 1))
    const at = region.reservedEnd + 1000               // not page-aligned: the gap is zero-filled
    const block = 512
    const s = region.appendStream(at, block)
    assert.ok(s !== null)
    assert.equal(region.reservedEnd, -1, 'unknown while the stream is open')
    assert.equal(region.appendStream(at + 100_000, block), null, 'one stream at a time')
    const data = pattern(3 * 4096 + 77, 8)
    s.write(data.subarray(0, 100)); s.write(data.subarray(100, 5000)); s.write(data.subarray(5000))
    assert.equal(s.written, data.length)
    const crcs = await s.end()
    assert.ok(crcs !== null)
    const padded = new Uint8Array(Math.ceil(data.length / block) * block)
    padded.set(data)
    assert.equal(crcs.length, padded.length / block)
    for (let i = 0; i < crcs.length; i++) assert.equal(crcs[i], crc32c(padded, i * block, (i + 1) * block), `block ${i}`)
    assert.equal(region.size, 2 * 4096, 'the user area is unchanged')
    assert.equal(fs.statSync(path).size % 4096, 0, 'the stream ends on a page')
    const end = at + data.length
    region.grow(end)
    const bytes = region.unsafeBytes()
    assert.deepEqual(bytes.slice(0, 8192), pattern(8192, 1))
    assert.ok(bytes.subarray(8192, at).every(b => b === 0), 'the gap reads zeros')
    assert.deepEqual(bytes.slice(at, end), data)
    region.close()
    const again = Region.open(path)
    assert.deepEqual(again.unsafeBytes().slice(at, end), data)
    again.close()
  })

  it('W5: a stream that does not start at the end of the file fails, keeps nothing, and grow fills zeros itself', async () => {
    const { path, region } = create(2 * 4096)
    fs.appendFileSync(path, new Uint8Array(4096))     // another writer moved the end of the file
    const s = region.appendStream(region.reservedEnd, 4096)!
    s.write(pattern(8192, 2))
    assert.equal(await s.end(), null)
    assert.equal(fs.statSync(path).size, HEADER_SIZE + 3 * 4096, 'nothing written')
    fs.truncateSync(path, HEADER_SIZE + 2 * 4096)
    region.grow(4 * 4096)
    assert.ok(region.unsafeBytes().subarray(8192).every(b => b === 0))
    region.close()
  })

  it('inv. R7: a discarded stream is zero-filled again, so a grow over it reads zeros', async () => {
    const { region } = create(4096)
    const s = region.appendStream(region.reservedEnd + 512, 4096)!
    s.write(pattern(3 * 4096, 7))
    s.discard()
    assert.ok((await s.end()) !== null, 'the stream itself succeeded')
    region.grow(5 * 4096)
    assert.ok(region.unsafeBytes().subarray(4096).every(b => b === 0), 'no byte of the stream shows')
    region.close()
  })

  it('inv. R7: grow ends an open stream and waits for it; arguments are checked', async () => {
    const { path, region } = create(4096)
    throwsFor(() => region.appendStream(0, 512), InvalidArgumentError, path, /before the end of the reserved space/)
    throwsFor(() => region.appendStream(4096, 0), InvalidArgumentError, path)
    const s = region.appendStream(4096, 4096)!
    s.write(pattern(4096, 6))
    region.grow(2 * 4096)
    assert.deepEqual(region.unsafeBytes().slice(4096), pattern(4096, 6))
    assert.ok((await s.end()) !== null)
    region.close()
  })

  it('reserveAsync checks its argument and does nothing on a read-only region', async () => {
    const { path, region } = create(4096)
    throwsFor(() => region.reserveAsync(-1), InvalidArgumentError, path)
    region.close()
    const ro = Region.open(path, { readOnly: true })
    await ro.reserveAsync(16 * 4096)
    assert.equal(fs.statSync(path).size, HEADER_SIZE + 4096)
    ro.close()
  })

  it('grown data is seen by a child process', async () => {
    const { path, region } = create(4096)
    region.grow(3 * 4096)
    region.bytes.set(pattern(3 * 4096, 9))
    region.close()
    const r = await runChild('read', path)
    assert.deepEqual(r.lines[0], { sha256: sha256(pattern(3 * 4096, 9)), size: 3 * 4096 })
  })
})

describe('read-only open', () => {
  it('reads the data; every write path throws ReadOnlyError and the file is unchanged', async () => {
    const { path, region } = create(2 * 4096)
    region.bytes.set(pattern(64, 4))
    region.close()
    const before = fileDigest(path)
    const ro = Region.open(path, { readOnly: true })
    assert.equal(ro.readOnly, true)
    assert.deepEqual(ro.unsafeBytes().slice(0, 64), pattern(64, 4))
    assert.equal(ro.bytes[3], pattern(64, 4)[3])
    const u8 = ro.view(Uint8Array, 0, 16)
    const dv = ro.view(DataView, 0, 16)
    const f64 = ro.view(Float64Array, 0, 2)
    assert.equal(dv.getUint8(3), pattern(64, 4)[3])
    assert.equal(u8.slice(0, 4).length, 4)
    throwsFor(() => { ro.bytes[0] = 1 }, ReadOnlyError, path)
    throwsFor(() => { u8[0] = 1 }, ReadOnlyError, path)
    throwsFor(() => { f64[0] = 1 }, ReadOnlyError, path)
    throwsFor(() => u8.fill(1), ReadOnlyError, path)
    throwsFor(() => u8.set([1]), ReadOnlyError, path)
    throwsFor(() => u8.copyWithin(0, 1), ReadOnlyError, path)
    throwsFor(() => u8.reverse(), ReadOnlyError, path)
    throwsFor(() => u8.sort(), ReadOnlyError, path)
    throwsFor(() => { u8.subarray(2, 4)[0] = 1 }, ReadOnlyError, path)
    throwsFor(() => dv.setUint8(0, 1), ReadOnlyError, path)
    throwsFor(() => dv.setFloat64(0, 1), ReadOnlyError, path)
    throwsFor(() => dv.setBigUint64(0, 1n), ReadOnlyError, path)
    throwsFor(() => Object.defineProperty(u8, 0, { value: 1 }), ReadOnlyError, path)
    throwsFor(() => ro.flush(), ReadOnlyError, path)
    throwsFor(() => ro.grow(1 << 20), ReadOnlyError, path)
    await assert.rejects(ro.flushAsync(), ReadOnlyError)
    ro.close()
    assert.deepEqual(fileDigest(path), before)
  })

  it('works while a writer holds the lock, and sees its stores through the shared page cache', () => {
    const { path, region } = create()
    const ro = Region.open(path, { readOnly: true })
    region.bytes[42] = 42
    assert.equal(ro.bytes[42], 42)
    ro.close()
    region.close()
  })

  it('a store through unsafeBytes() of a read-only region cannot modify the file (SIGSEGV)', async () => {
    const { path, region } = create()
    region.close()
    const before = fileDigest(path)
    const r = await runChild('write-read-only', path)
    assert.equal(r.signal, 'SIGSEGV')
    assert.deepEqual(r.lines, [{ ready: true }])
    assert.deepEqual(fileDigest(path), before)
  })
})

describe('writer lock', () => {
  it('a second writer in this process gets RegionLockedError naming the file and this pid', () => {
    const { path, region } = create()
    throwsFor(() => Region.open(path), RegionLockedError, path, new RegExp(`locked by process ${process.pid} \\(this process\\)`))
    assert.throws(() => Region.open(path), (e: RegionLockedError) => e.holderPid === process.pid)
    region.close()
  })

  it('two processes: the child holds it (error names its pid); after SIGKILL the parent opens at once', async () => {
    const { path, region } = create()
    region.close()
    const child = startChild('hold', path)
    try {
      const ready = await child.nextLine()
      assert.equal(ready.pid, child.proc.pid)
      throwsFor(() => Region.open(path), RegionLockedError, path, new RegExp(`locked by process ${child.proc.pid}; `))
      assert.throws(() => Region.open(path), (e: RegionLockedError) => e.holderPid === child.proc.pid)
      throwsFor(() => Region.delete(path), RegionLockedError, path)
      Region.open(path, { readOnly: true }).close()
      child.proc.kill('SIGKILL')
      assert.equal((await child.exited).signal, 'SIGKILL')
      assert.equal(readLockOwner(path)?.pid, child.proc.pid, 'the dead child left its lock behind')
      const region2 = Region.open(path) // no waiting for the stale timeout
      assert.equal(readLockOwner(path)?.pid, process.pid)
      region2.close()
    } finally {
      child.proc.kill('SIGKILL')
    }
  })

  it('an open region does not keep its process alive; its lock is released at exit', async () => {
    const { path, region } = create()
    region.close()
    const r = await runChild('open-and-exit', path)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(fs.existsSync(lockDirOf(path)), false)
    const again = Region.open(path)
    assert.equal(again.bytes[0], 42)
    again.close()
  })

  it('inv. R6: a lost lock breaks the region: methods throw BrokenError, views throw, close works', async () => {
    Object.assign(lockTiming, { staleMs: 2_000, updateMs: 1_000 })
    const { path, region } = create()
    const view = region.bytes
    const warned = new Promise<Error>(resolve => process.once('warning', resolve))
    const keepAlive = setInterval(() => {}, 100)
    fs.rmSync(lockDirOf(path), { recursive: true })
    const warning = await warned.finally(() => clearInterval(keepAlive))
    assert.match(warning.message, /is broken: its lock was lost/)
    assert.equal(region.broken, true)
    throwsFor(() => region.flush(), BrokenError, path, /lock .* was lost/)
    throwsFor(() => region.grow(1 << 20), BrokenError, path)
    throwsFor(() => region.bytes, BrokenError, path)
    throwsFor(() => view[0], RegionClosedError, path)
    await assert.rejects(region.flushAsync(), BrokenError)
    const other = Region.open(path) // the lock is free again
    region.close() // must not remove the other writer's lock
    assert.equal(readLockOwner(path)?.pid, process.pid)
    assert.ok(fs.existsSync(lockDirOf(path)))
    other.close()
  })
})

describe('I/O failures (inv. R6)', () => {
  it('a failed msync breaks the region', () => {
    const { path, region } = create()
    mock.method(mmap, 'sync', () => { throw new Error('msync failed, 5') })
    throwsFor(() => region.flush(), BrokenError, path, /msync failed/)
    mock.restoreAll()
    throwsFor(() => region.flush(), BrokenError, path)
    throwsFor(() => region.view(Uint8Array, 0, 1), BrokenError, path)
    region.close()
    assert.equal(region.closed, true)
    Region.open(path).close()
  })

  it('a failed asynchronous msync rejects flushAsync with BrokenError and breaks the region', async () => {
    const { path, region } = create()
    region.bytes[0] = 1
    flushThreadTesting.inject('sync', { op: 'msync', action: 'errno', code: 'EIO' })
    await assert.rejects(region.flushAsync(), (e: unknown) => e instanceof BrokenError && e.message.includes(`"${path}"`) && /msync failed.*EIO/.test(e.message))
    assert.equal(region.broken, true)
    region.close()
  })

  it('a failed fdatasync at close still closes and releases, then throws BrokenError', () => {
    const { path, region } = create()
    mock.method(fs, 'fdatasyncSync', () => { throw sysError('EIO') })
    throwsFor(() => region.close(), BrokenError, path, /fdatasync at close failed/)
    mock.restoreAll()
    assert.equal(region.closed, true)
    Region.open(path).close()
  })
})

describe('data across processes', () => {
  it('a region written and closed here is read identically by a child', async () => {
    const { path, region } = create(8 * 4096)
    region.bytes.set(pattern(8 * 4096, 77))
    region.close()
    const r = await runChild('read', path)
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.lines[0], { sha256: sha256(pattern(8 * 4096, 77)), size: 8 * 4096 })
  })

  it('a region written and closed by a child is read identically here', async () => {
    const { path, region } = create(8 * 4096)
    region.close()
    const r = await runChild('write', path, '1234')
    assert.equal(r.code, 0, r.stderr)
    const again = Region.open(path, { readOnly: true })
    assert.equal(sha256(again.unsafeBytes()), sha256(pattern(8 * 4096, 1234)))
    again.close()
  })
})

describe('bad input changes nothing on disk (inv. R5)', () => {
  it('a battery of bad calls leaves the file byte-for-byte identical', async () => {
    const { path, region } = create(2 * 4096)
    region.bytes.set(pattern(8192, 8))
    region.flush()
    const before = fileDigest(path)
    const attempts: Array<() => unknown> = [
      () => region.view(Float64Array, 3, 1),
      () => region.view(Uint8Array, 0, 8193),
      () => region.view(Object as never, 0, 1),
      () => region.flush(0, 1e9),
      () => region.grow(10),
      () => region.grow(-4096),
      () => region.grow(2 ** 40),
      () => region.grow('big' as unknown as number),
      () => Region.open(path),
      () => Region.open(path, { size: 4096, exclusive: true }),
      () => Region.open(path, { bogus: 1 } as object),
      () => Region.delete(path),
    ]
    for (const attempt of attempts) assert.throws(attempt, PmemError)
    await assert.rejects(region.flushAsync(1e9), PmemError)
    assert.deepEqual(fileDigest(path), before)
    assert.equal(region.size, 8192)
    assert.equal(region.broken, false)
    region.close()
  })
})

describe('operating-system refusals are typed', () => {
  it('a directory where no lock can be created gives FileSystemError naming the file and the errno', () => {
    for (const p of ['/proc/pm-test.pm', '/sys/kernel/pm-test.pm']) {
      if (!fs.existsSync(p.slice(0, p.lastIndexOf('/')))) continue
      assert.throws(() => Region.open(p, { size: 4096 }), (e: unknown) =>
        e instanceof FileSystemError && typeof e.errno === 'string' && e.message.includes(`"${p}"`))
    }
  })
})
