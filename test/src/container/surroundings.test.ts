/**
 * A container and what surrounds it (session 10's trust pass, trust21): the file it was
 * opened at deleted or replaced while it is open, a full disk under a streamed point, other
 * containers in the same process. Each test is a loss or a wrong answer found by a new
 * user's script, shrunk; what held is listed in the container README ("Beside other
 * processes, containers and async code").
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Container } from '../../../src/container/index.js'
import { BrokenError, FileSystemError } from '../../../regions/index.js'
import { OTHER_PROXY } from '../../../src/container/kinds.js'
import { simRegion } from './setup.js'

const here = path.dirname(fileURLToPath(import.meta.url))

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-around-'))

test('write.ts inv. 4b: a point committed after the container file was replaced at its path (rename over it) rejects with FileSystemError instead of resolving; the file at the path is left as it is', async () => {
  const dir = tmp()
  const file = path.join(dir, 'state.pmc')
  const c = Container.open(file, { init: () => ({ n: 1 }) })
  await c.persist()
  // a backup put back while the program runs: a copy of version 1 renamed over the path
  fs.copyFileSync(file, file + '.bak')
  fs.renameSync(file + '.bak', file)
  const before = fs.readFileSync(file)
  c.root.n = 2
  await assert.rejects(c.persist(), (e: Error) => e instanceof FileSystemError && /replaced/.test(e.message) && e.message.includes(file))
  assert.throws(() => c.persist(), BrokenError)
  await c.close()
  assert.ok(fs.readFileSync(file).equals(before), 'the file at the path is not written')
  const again = Container.open(file)
  assert.deepEqual(again.unwrap(again.root), { n: 1 }, 'it holds the version it held; the program was told its point did not land there')
  await again.close()
})

test('write.ts inv. 4b: a point committed after the container file was deleted rejects with FileSystemError (errno ENOENT); nothing is created at the path', async () => {
  const dir = tmp()
  const file = path.join(dir, 'state.pmc')
  for (const lazy of [false, true]) {
    const c = Container.open(file, { init: () => ({ n: 1, items: [] as number[] }) })
    await c.persist()
    await c.close()
    const d = Container.open(file, { lazy })
    fs.unlinkSync(file)
    d.root.n = 2
    d.root.items.push(1, 2, 3)
    await assert.rejects(d.persist(), (e: Error) => e instanceof FileSystemError && e.errno === 'ENOENT' && /deleted/.test(e.message))
    await assert.rejects(d.sync(), BrokenError)
    await d.close()
    assert.equal(fs.existsSync(file), false)
    assert.equal(fs.existsSync(file + '.lock'), false, 'the lock is released')
  }
})

test('refresh.ts: a read-only container whose file was deleted and created again, or replaced by a rename, rejects refresh() with FileSystemError instead of resolving with the old file\'s version forever', async () => {
  const dir = tmp()
  const file = path.join(dir, 'state.pmc')
  const w = Container.open(file, { init: () => ({ gen: 'old' }) })
  await w.persist()
  await w.close()
  const reader = Container.open(file, { readOnly: true })
  assert.equal(await reader.refresh(), 1, 'the same file: nothing newer')
  Container.delete(file)
  const w2 = Container.open(file, { init: () => ({ gen: 'new' }) })
  await w2.persist()
  w2.root.gen = 'newer'
  await w2.persist()
  await w2.close()
  await assert.rejects(reader.refresh(), (e: Error) => e instanceof FileSystemError && /replaced/.test(e.message))
  assert.equal(reader.root.gen, 'old', 'it still shows the version it held')
  await reader.close()
  const again = Container.open(file, { readOnly: true })
  fs.unlinkSync(file)
  await assert.rejects(again.refresh(), (e: Error) => e instanceof FileSystemError && e.errno === 'ENOENT')
  await again.close()
})

test('backing.ts inv. B3: two containers opened on one region object: the first to persist writes, a point of the other is RegionLockedError (before: both wrote, and one\'s committed points were written over by the other\'s)', async () => {
  const region = simRegion()
  const a = Container.openRegion(region, { init: () => ({ who: 'a', n: 0 }) })
  await a.persist()
  const b = Container.openRegion(region)                       // reading is fine (tests read older versions this way)
  assert.deepEqual(b.unwrap(b.root), { who: 'a', n: 0 })
  b.root.who = 'b'
  assert.throws(() => b.persist(), { code: 'ERR_PMEM_LOCKED' })
  a.root.n = 5
  await a.persist()
  await a.close()
  assert.throws(() => b.persist(), (e: Error) => (e as { code?: string }).code === 'ERR_PMEM_LOCKED' && /committed version 2/.test(e.message), 'stale: A committed after B restored')
  await b.close()
  const c = Container.openRegion(region)
  assert.deepEqual(c.unwrap(c.root), { who: 'a', n: 5 }, 'A\'s points are all there')
  c.root.who = 'c'
  await c.persist()                                             // alone and up to date: it writes
  await c.close()
  const d = Container.openRegion(region.crash(1))
  assert.deepEqual(d.unwrap(d.root), { who: 'c', n: 5 })
  assert.deepEqual(d.check(), { ok: true, problems: [] })
})

test('region-file.ts inv. C8: a second writer of the same container through a symlink or a hard link is refused (before: accepted, the first writer\'s points lost and the file damaged)', async () => {
  const dir = tmp()
  const file = path.join(dir, 'state.pmc')
  const c = Container.open(file, { init: () => ({ n: 0 }) })
  await c.persist()
  fs.symlinkSync(file, path.join(dir, 'sym.pmc'))
  assert.throws(() => Container.open(path.join(dir, 'sym.pmc')), { code: 'ERR_PMEM_LOCKED' })
  fs.linkSync(file, path.join(dir, 'hard.pmc'))
  assert.throws(() => Container.open(path.join(dir, 'hard.pmc')), { code: 'ERR_PMEM_LOCKED' })
  c.root.n = 10
  await c.persist()
  await c.close()
  fs.unlinkSync(path.join(dir, 'hard.pmc'))
  const again = Container.open(path.join(dir, 'sym.pmc'))
  assert.deepEqual(again.unwrap(again.root), { n: 10 })
  assert.deepEqual(again.check(), { ok: true, problems: [] })
  await again.close()
})

test('write.ts inv. 4a: a streamed full point that meets a full disk (ulimit -f: EFBIG) rejects with OutOfSpaceError naming the cause, as an appended point does, and is lost, not fatal: the file keeps its last version and the container goes on', () => {
  const dir = tmp()
  const file = path.join(dir, 'full.pmc')
  // 6144 blocks: 3 or 6 MiB by the shell's unit, below the 7 MB the streamed point writes
  const r = spawnSync('sh', ['-c', 'ulimit -f 6144 && exec "$@"', 'sh', process.execPath, path.join(here, 'space-child.js'), file], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, string | number>
  assert.equal(out.first, 1)
  assert.match(String(out.streamed), /^OutOfSpaceError ERR_PMEM_OUT_OF_SPACE .*EFBIG/, 'before: BrokenError "a full disk or an I/O error", no cause')
  assert.match(String(out.after), /^OutOfSpaceError/, 'the container goes on (inv. 4a; before session 14: BrokenError), and the next point, full, is still too large')
  assert.equal(out.freed, 'full', 'once the program dropped most rows, the next point (full: the lost ones were) fits')
  assert.equal(out.close, 'ok')
  const c = Container.open(file)
  assert.equal(c.root.n, 2, 'the change made before the lost points')
  assert.equal(c.root.rows.length, 10)
  assert.deepEqual(c.check(), { ok: true, problems: [] })
  void c.close()
})

test('two containers in one process: what of container A stored into container B persists in B, and what a later change through A does there (default mode, and track: \'barriers\' for B)', async () => {
  for (const track of ['all', 'barriers'] as const) {
    const regionA = simRegion()
    const first = Container.openRegion(regionA, { init: () => ({ o: { n: 1, list: [1] }, m: new Map([['k', 1]]), s: new Set([1]) }) })
    await first.persist()
    const a = Container.openRegion(regionA.crash(1))           // restored: A hands out proxies
    const regionB = simRegion()
    const b = Container.openRegion(regionB, { track, init: () => ({}) as Record<string, any> })
    b.root.o = a.root.o                                        // a plain object through A's proxy: B persists what its traps show
    b.root.m = a.root.m                                        // a Map through A's proxy: cannot persist in B (its target is A's)
    b.root.shared = a.unwrap(a.root.s)                         // A's raw Set: one object held by both
    await b.persist()
    assert.deepEqual(b.dropped, [{ path: 'root.m', reason: OTHER_PROXY }], 'the reason says what to do (before: "proxy")')
    a.root.o.n = 2
    a.root.o.list.push(2)
    a.root.s.add(2)
    await a.persist()
    assert.notEqual(b.unwrap(b.root).o, a.unwrap(a.root).o, 'B holds A\'s proxy, not its target')
    const aRawO = a.unwrap(a.root.o)
    await a.close()
    assert.equal(b.root.o.n, 2, 'B still reads A\'s objects after A closed')
    await b.persist({ full: track === 'barriers' })            // B is not told of changes made through A: with track: 'barriers' only a full point sees them
    const again = Container.openRegion(regionB.crash(1))
    const r = again.unwrap(again.root)
    assert.deepEqual(r.o, { n: 2, list: [1, 2] }, 'the change made through A reaches B')
    assert.equal(r.m, null)
    assert.deepEqual([...r.shared], [1, 2])
    assert.notEqual(r.o, aRawO, 'after a restore B has its own copy')
  }
})
