/**
 * The asides directory of a lock (regions/lock.ts inv. L8, L9, L3): where lock makers make
 * their lock before renaming it into place and where takeovers move a dead lock before
 * removing it. Before session 17 both were made beside the file, so every writer open listed
 * the file's whole directory to find the leftovers of killed ones: open time grew with the
 * number of files beside the pool. Here: a writer open lists the directory once per file
 * (older versions' leftovers), never again; leftovers in the asides directory are swept when
 * provably stale; and writers SIGKILLed after each file-system step of making, taking over
 * and sweeping, many lives deep, leave nothing a later writer does not clean up, and never
 * a lock directory without its record.
 */
import { describe, it, afterEach, mock } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { RegionLock, asidesDirOf, lockDirOf, lockTiming, processStart } from '../../regions/lock.js'
import { Region } from '../../regions/region.js'
import { RegionLockedError } from '../../regions/errors.js'
import { deadPid, startWrappedChild, useTempDirs } from './fixtures/helpers.js'

const tempDir = useTempDirs('pmem-lock-asides-')
const defaults = { ...lockTiming }
afterEach(() => { mock.restoreAll(); Object.assign(lockTiming, defaults) })

const here = {
  host: os.hostname(),
  pidns: fs.readlinkSync('/proc/self/ns/pid'),
  boot: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
}
const acquire = (file: string): RegionLock => RegionLock.acquire(file, file, 'Cannot open region', 'close it', () => {})

/** Makes directory `path` holding `files` (an `owner` record is given as an object), `ageMs` old. */
function plant(path: string, files: Record<string, object | string>, ageMs = 0): void {
  fs.mkdirSync(path)
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(join(path, name), typeof body === 'string' ? body : JSON.stringify(body))
  if (ageMs > 0) { const t = new Date(Date.now() - ageMs); fs.utimesSync(path, t, t) }
}

/** Counts `fs.readdirSync` calls on `dir` while `fn` runs. */
function listingsOf(dir: string, fn: () => void): number {
  let n = 0
  const real = fs.readdirSync
  mock.method(fs, 'readdirSync', (...a: unknown[]) => { if (a[0] === dir) n++; return (real as (...b: unknown[]) => unknown)(...a) })
  try { fn() } finally { mock.restoreAll() }
  return n
}

describe('the asides directory of a lock (lock.ts inv. L8)', () => {
  it('a writer open lists the file\'s directory once (older versions\' leftovers), then never: open time does not grow with the files beside it', () => {
    const dir = tempDir()
    for (let i = 0; i < 50; i++) fs.writeFileSync(join(dir, `other${i}.txt`), '')
    const file = join(dir, 'p.pm')
    assert.equal(listingsOf(dir, () => Region.open(file, { size: 4096 }).close()), 1, 'the first writer sweeps the leftovers of older versions beside the file')
    for (let i = 0; i < 3; i++) {
      assert.equal(listingsOf(dir, () => Region.open(file).close()), 0, `writer open ${i + 2} lists the directory again`)
    }
    assert.equal(listingsOf(asidesDirOf(lockDirOf(file)), () => Region.open(file).close()), 1, 'it lists the asides directory instead')
  })

  it('provably stale leftovers in the asides directory are removed by the next writer; live, fresh and foreign ones are kept', async () => {
    const dir = tempDir()
    const file = join(dir, 'a.pm')
    acquire(file).release()
    const asides = asidesDirOf(lockDirOf(file))
    const dead = { pid: await deadPid(), ...here }
    const live = { pid: process.pid, start: processStart(process.pid), ...here }
    const old = lockTiming.staleMs + 5_000
    plant(join(asides, 'stale-7-0000000a'), { owner: dead })                 // takeover killed before its rmdir: removed
    plant(join(asides, 'new-7-0000000b'), { owner: dead })                   // maker killed before its rename: removed
    plant(join(asides, 'new-7-0000000c'), {}, old)                           // maker killed before its record, long ago: removed
    plant(join(asides, 'new-7-0000000d'), {})                                // a maker between mkdir and record now: kept
    plant(join(asides, 'new-7-0000000e'), { owner: live }, old)              // a live maker: kept
    plant(join(asides, 'stale-7-0000000f'), { owner: dead, notes: 'x' }, old) // other entries: not ours, kept
    plant(join(asides, 'stale-x'), { owner: dead }, old)                     // not our name pattern: kept
    fs.writeFileSync(join(asides, 'new-7-00000010'), 'a file')               // not a directory: kept
    acquire(file).release()
    assert.deepEqual(fs.readdirSync(asides).sort(), ['new-7-0000000d', 'new-7-0000000e', 'new-7-00000010', 'stale-7-0000000f', 'stale-x'])
  })

  it('inv. L3: something else at the asides path (a file, a symlink) refuses the writer by name, nothing changed; a refused open, or one that wrote nothing, removes the asides directory it made', () => {
    const dir = tempDir()
    const file = join(dir, 'a.pm')
    Region.open(file, { size: 4096 }).close()
    const asides = asidesDirOf(lockDirOf(file))
    fs.rmdirSync(asides)
    fs.mkdirSync(join(dir, 'elsewhere'))
    for (const make of [() => fs.writeFileSync(asides, 'notes'), () => fs.symlinkSync(join(dir, 'elsewhere'), asides)]) {
      make()
      const before = JSON.stringify(fs.readdirSync(dir).sort())
      assert.throws(() => Region.open(file), (e: unknown) => e instanceof RegionLockedError && e.message.includes(`"${asides}" is a `) && /nothing was changed/.test(e.message))
      assert.equal(JSON.stringify(fs.readdirSync(dir).sort()), before)
      assert.deepEqual(fs.readdirSync(join(dir, 'elsewhere')), [], 'nothing made through the link')
      fs.rmSync(asides)
    }
    const other = join(dir, 'b.pm')
    fs.writeFileSync(other, 'not a region')
    assert.throws(() => Region.open(other), { code: 'ERR_PMEM_NOT_A_REGION' })
    assert.ok(!fs.existsSync(asidesDirOf(lockDirOf(other))), 'the refused open left no asides directory')
    Region.open(file).close()
    assert.ok(!fs.existsSync(asides), 'an open that wrote nothing leaves nothing beside the file either (region.ts inv. R9)')
    const r = Region.open(file)
    r.flush()
    r.close()
    assert.ok(fs.existsSync(asides), 'one that wrote keeps it')
    Region.delete(file)
    assert.deepEqual(fs.readdirSync(dir).sort(), ['b.pm', 'elsewhere'], 'Region.delete removes the asides directory with the file')
  })

  it('writers SIGKILLed after each step of making, taking over and sweeping a lock, 19 lives: the lock path never holds a lock without its record, nothing is made beside the file, and the next writer removes every provably stale leftover and nothing live', async () => {
    const dir = tempDir()
    const file = join(dir, 'a.pm')
    const lockDir = lockDirOf(file)
    const asides = asidesDirOf(lockDir)
    const staleMs = 400
    lockTiming.staleMs = staleMs
    lockTiming.updateMs = 100
    const dead = { pid: await deadPid(), ...here }
    const live = { pid: process.pid, start: processStart(process.pid), ...here }
    // an older version's leftovers beside the file: two stale, one live, one foreign
    plant(`${lockDir}.new-1-aaaaaaaa`, { owner: dead }, 60_000)
    plant(`${lockDir}.stale-2-bbbbbbbb`, { owner: dead }, 60_000)
    plant(`${lockDir}.new-3-cccccccc`, { owner: live }, 60_000)
    plant(`${lockDir}.stale-4-dddddddd`, { owner: dead, notes: 'x' }, 60_000)
    const kept = ['a.pm.lock.new-3-cccccccc', 'a.pm.lock.stale-4-dddddddd']
    // the first three lives crash in the sweep of the older version's leftovers and around making the asides directory
    const steps = ['sweep emptied', 'legacy swept', 'asides made',
      ...[1, 2].flatMap(() => ['fresh made', 'owner written', 'sweep emptied', 'renamed into place', 'moved aside', 'end', 'aside emptied', 'sweep emptied'])]
    const killedAt = new Set<string>()
    for (const [life, step] of steps.entries()) {
      if (life === 3) { // the asides directory exists now: a live and a foreign entry in it, to be kept
        plant(join(asides, 'new-5-eeeeeeee'), { owner: live }, 60_000)
        plant(join(asides, 'stale-6-ffffffff'), { owner: dead, notes: 'x' }, 60_000)
      }
      if (step === 'aside emptied' || step === 'sweep emptied') await new Promise(r => setTimeout(r, staleMs)) // earlier empty leftovers are stale now
      const child = startWrappedChild([], { PMEM_TEST_LOCK_TIMING: `${staleMs},100` }, 'lock-crash', file, step)
      const lines: string[] = []
      child.proc.stdout!.on('data', (d: Buffer) => { lines.push(d.toString()) })
      const exit = await child.exited
      assert.equal(exit.signal, 'SIGKILL', `life ${life} (${step}): ${exit.stderr}`)
      if (lines.join('') === '') killedAt.add(step)
      const st = fs.lstatSync(lockDir, { throwIfNoEntry: false })
      if (st !== undefined) assert.deepEqual(fs.readdirSync(lockDir), ['owner'], `life ${life} (${step}): a lock directory without its record (inv. L9)`)
      const beside = fs.readdirSync(dir).filter(n => n !== 'a.pm.lock' && n !== 'a.pm.lock.asides' && !kept.includes(n))
      assert.ok(beside.every(n => n === 'a.pm.lock.new-1-aaaaaaaa' || n === 'a.pm.lock.stale-2-bbbbbbbb'), `life ${life} (${step}): made beside the file: ${beside.join(', ')}`)
      if (life >= 3) assert.ok(fs.existsSync(join(asides, 'new-5-eeeeeeee', 'owner')) && fs.existsSync(join(asides, 'stale-6-ffffffff', 'notes')), `life ${life} (${step}): a live or foreign aside was touched`)
    }
    assert.deepEqual([...new Set(steps)].filter(s => s !== 'end' && !killedAt.has(s)), [], 'every step was crashed at')
    await new Promise(r => setTimeout(r, staleMs + 100))
    const lock = acquire(file)
    assert.deepEqual(fs.readdirSync(dir).sort(), ['a.pm.lock', 'a.pm.lock.asides', ...kept], 'the older version\'s stale leftovers are gone, the others kept')
    assert.deepEqual(fs.readdirSync(asides).sort(), ['new-5-eeeeeeee', 'stale-6-ffffffff'], 'every stale aside of the killed lives is gone')
    lock.release()
    assert.ok(!fs.existsSync(lockDir))
  })
})
