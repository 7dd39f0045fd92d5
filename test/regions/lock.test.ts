/**
 * Tests of regions/lock.ts, lock-owner.ts and lock-keeper.ts: the single-writer lock
 * (inv. L1-L7), its owner record (inv. O1-O3), takeover of locks whose holder is dead, the
 * mtime rule for holders whose pid means nothing here (other PID namespace or boot, other
 * host, old records), compromise reporting without throwing, release at exit and on
 * SIGTERM/SIGINT (inv. K3), and that a held lock never keeps a process alive.
 * Real PID namespaces: lock-pidns.test.ts.
 */
import { describe, it, afterEach, mock } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { Worker } from 'node:worker_threads'
import { RegionLock, lockDirOf, lockTiming, processStart, readLockOwner } from '../../regions/lock.js'
import { RegionLockedError } from '../../regions/errors.js'
import { deadPid, runChild, startChild, useTempDirs } from './fixtures/helpers.js'

const tempDir = useTempDirs('pmem-lock-test-')
const noop = (): void => {}
const defaults = { ...lockTiming }

/** This process's PID namespace and boot id, as an owner record of ours records them (inv. O1). */
const here = {
  host: os.hostname(),
  pidns: fs.readlinkSync('/proc/self/ns/pid'), // these tests need Linux
  boot: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
}

function acquire(file: string, onCompromised: (err: Error) => void = noop): RegionLock {
  return RegionLock.acquire(file, file, 'Cannot open region', 'close it', onCompromised)
}

/** Fakes a lock directory left by someone else, with `owner` as its owner record (or none). */
function fakeLock(file: string, owner?: object, ageMs = 0): void {
  const dir = lockDirOf(file)
  fs.mkdirSync(dir)
  if (owner !== undefined) fs.writeFileSync(join(dir, 'owner'), JSON.stringify(owner))
  if (ageMs > 0) {
    const t = new Date(Date.now() - ageMs)
    fs.utimesSync(dir, t, t)
  }
}

function assertLocked(file: string, pid: number | undefined, re: RegExp): void {
  assert.throws(() => acquire(file), (e: unknown) => {
    assert.ok(e instanceof RegionLockedError, String(e))
    assert.equal(e.holderPid, pid)
    assert.ok(e.message.startsWith(`Cannot open region "${file}": file is locked by `), e.message)
    assert.match(e.message, re)
    return true
  })
}

afterEach(() => {
  mock.restoreAll()
  Object.assign(lockTiming, defaults)
})

describe('RegionLock', () => {
  it('acquire writes an owner record (pid, host, start, pidns, boot, token, thread) into <file>.lock; release removes both', () => {
    const file = join(tempDir(), 'a.pm')
    const lock = acquire(file)
    assert.deepEqual(fs.readdirSync(lockDirOf(file)), ['owner'])
    const { token, ...rest } = readLockOwner(file) ?? {}
    assert.deepEqual(rest, { pid: process.pid, start: processStart(process.pid), ...here, thread: 0 })
    assert.match(token ?? '', /^[0-9a-f]{16}$/)
    lock.release()
    lock.release() // idempotent
    assert.equal(fs.existsSync(lockDirOf(file)), false)
    acquire(file).release()
  })

  it('inv. L1: a second acquire in this process is RegionLockedError naming this process', () => {
    const file = join(tempDir(), 'a.pm')
    const lock = acquire(file)
    assertLocked(file, process.pid, new RegExp(`process ${process.pid} \\(this process\\); close it$`))
    lock.release()
  })

  it('inv. L2: a live holder keeps its lock even when its mtime looks stale', () => {
    const file = join(tempDir(), 'a.pm')
    const lock = acquire(file)
    const old = new Date(Date.now() - 60_000)
    fs.utimesSync(lockDirOf(file), old, old)
    assertLocked(file, process.pid, /this process/)
    lock.release()
  })

  it('inv. L1: a lock whose holder is dead is taken over at once', async () => {
    const file = join(tempDir(), 'a.pm')
    fakeLock(file, { pid: await deadPid(), ...here })
    const lock = acquire(file)
    assert.equal(readLockOwner(file)?.pid, process.pid)
    lock.release()
    assert.deepEqual(fs.readdirSync(join(file, '..')), ['a.pm.lock.asides'], 'no lock directory left')
    assert.deepEqual(fs.readdirSync(`${lockDirOf(file)}.asides`), [], 'nor any aside copy (inv. L8)')
  })

  it('inv. L1: a killed holder that is not yet reaped (zombie) counts as dead', async (t) => {
    if (!fs.existsSync('/proc/self/stat')) return t.skip('needs /proc')
    // The background subshell exits only once its parent shell has exec'd into `sleep`, which
    // never reaps it. (It used to be a `sleep 0.3`: a shell held up 0.3 s before its exec on a
    // loaded machine reaped it itself, and the test read /proc of a pid that was gone.)
    const sh = spawn('sh', ['-c', '(while [ "$(cat /proc/$$/comm)" != sleep ]; do sleep 0.01; done) & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] })
    const zombie = Number(await new Promise<string>(resolve => sh.stdout.once('data', (d: Buffer) => resolve(d.toString()))))
    try {
      while (!fs.readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z ')) await new Promise(r => setTimeout(r, 10))
      const file = join(tempDir(), 'a.pm')
      fakeLock(file, { pid: zombie, ...here })
      acquire(file).release()
    } finally {
      sh.kill('SIGKILL')
    }
  })

  it('inv. L1: a reused pid (same pid, other start time) counts as dead', () => {
    const file = join(tempDir(), 'a.pm')
    fakeLock(file, { pid: process.pid, start: '1', ...here })
    acquire(file).release()
  })

  it('inv. L3: a takeover that raced with a new live holder puts its lock back', async () => {
    const file = join(tempDir(), 'a.pm')
    fakeLock(file, { pid: await deadPid(), ...here })
    const live = JSON.stringify({ pid: process.pid, start: processStart(process.pid), ...here })
    const rename = fs.renameSync
    mock.method(fs, 'renameSync', (from: string, to: string) => {
      if (from === lockDirOf(file) && fs.readFileSync(join(from, 'owner'), 'utf8') !== live) {
        // Between our judgement and our rename, the dead lock is replaced by a live one.
        fs.rmSync(from, { recursive: true })
        fakeLock(file, JSON.parse(live) as object)
      }
      rename(from, to)
    })
    assertLocked(file, process.pid, /this process/)
    mock.restoreAll()
    assert.equal(fs.readFileSync(join(lockDirOf(file), 'owner'), 'utf8'), live)
    assert.deepEqual(fs.readdirSync(join(file, '..')), ['a.pm.lock'], 'nothing left aside')
  })

  it('inv. L8: leftovers of older versions\' crashed or raced takeovers beside the file (<file>.lock.stale-<pid>-<hex>) are removed by the next writer when provably stale; nothing foreign or live is', async () => {
    const dir = tempDir()
    const file = join(dir, 'a.pm')
    const dead = { pid: await deadPid(), ...here }
    const live = { pid: process.pid, start: processStart(process.pid), ...here }
    const aside = (tag: string) => `${lockDirOf(file)}.stale-4242-${tag}`
    const make = (path: string, owner: object | undefined, ageMs: number, extra?: string) => {
      fs.mkdirSync(path)
      if (owner !== undefined) fs.writeFileSync(join(path, 'owner'), JSON.stringify(owner))
      if (extra !== undefined) fs.writeFileSync(join(path, extra), 'data')
      const t = new Date(Date.now() - ageMs)
      fs.utimesSync(path, t, t)
    }
    make(aside('0000000a'), dead, 0)                  // a dead holder's record: removed (crash between rename and rmdir)
    make(aside('0000000b'), undefined, 60_000)         // empty and old: removed
    make(aside('0000000c'), undefined, 0)              // empty and fresh (a takeover emptying it now): kept
    make(aside('0000000d'), live, 60_000)              // a live holder's record (a put-back that lost its race): kept
    make(aside('0000000e'), dead, 60_000, 'notes.txt') // other entries: someone's, kept
    fs.writeFileSync(aside('0000000f'), 'a file')      // not a directory: kept
    make(`${lockDirOf(file)}.stale-x`, dead, 60_000)   // not our name pattern: kept
    make(join(dir, 'b.pm.lock.stale-4242-0000000a'), dead, 60_000) // another file's: kept
    fs.mkdirSync(join(dir, 'target'))
    fs.symlinkSync(join(dir, 'target'), `${lockDirOf(file)}.stale-4242-00000010`) // a symlink: kept
    const lock = acquire(file)
    lock.release()
    assert.deepEqual(fs.readdirSync(dir).sort(), [
      'a.pm.lock.asides', 'a.pm.lock.stale-4242-0000000c', 'a.pm.lock.stale-4242-0000000d', 'a.pm.lock.stale-4242-0000000e', 'a.pm.lock.stale-4242-0000000f',
      'a.pm.lock.stale-4242-00000010', 'a.pm.lock.stale-x', 'b.pm.lock.stale-4242-0000000a', 'target',
    ])
    assert.deepEqual(fs.readdirSync(join(dir, 'target')), [])
  })

  it('a lock without owner record is held until its mtime is stale', () => {
    const file = join(tempDir(), 'a.pm')
    fakeLock(file)
    assertLocked(file, undefined, /another process \(lock directory ".*a\.pm\.lock" has no owner record yet\)/)
    fs.rmdirSync(lockDirOf(file))
    fakeLock(file, undefined, lockTiming.staleMs + 5_000)
    acquire(file).release()
  })

  it('inv. L9: at every file-system step of an acquisition the lock path holds nothing or a whole lock; before, a process killed between its mkdir and its record left an empty lock that refused every writer for staleMs', () => {
    const file = join(tempDir(), 'a.pm')
    const lockDir = lockDirOf(file)
    const seen: string[] = []
    const state = (): string => fs.existsSync(lockDir) ? (fs.existsSync(join(lockDir, 'owner')) ? 'whole' : 'EMPTY') : 'none'
    for (const name of ['mkdirSync', 'writeFileSync', 'renameSync'] as const) {
      const real = fs[name] as (...a: unknown[]) => unknown
      mock.method(fs, name, (...a: unknown[]) => { seen.push(`${name}:${state()}`); const r = real(...a); seen.push(`after ${name}:${state()}`); return r })
    }
    const lock = acquire(file)
    mock.restoreAll()
    assert.ok(seen.length >= 6, seen.join(' '))
    assert.ok(seen.every(s => !s.endsWith('EMPTY')), `an empty lock directory was visible: ${seen.join(' ')}`)
    assert.equal(seen[seen.length - 1], 'after renameSync:whole')
    assert.deepEqual(fs.readdirSync(join(file, '..')).sort(), ['a.pm.lock', 'a.pm.lock.asides'], 'no unfinished directory left')
    assert.deepEqual(fs.readdirSync(`${lockDirOf(file)}.asides`), [])
    lock.release()
  })

  it('inv. L8: a writer taking the lock removes older versions\' unfinished .new- directories beside the file of killed makers once stale, and only those that hold at most an owner record', async () => {
    const dir = tempDir()
    const file = join(dir, 'a.pm')
    const old = new Date(Date.now() - lockTiming.staleMs - 5_000)
    const mk = (name: string, files: string[], stale: boolean): void => {
      fs.mkdirSync(join(dir, name))
      for (const f of files) fs.writeFileSync(join(dir, name, f), 'x')
      if (stale) fs.utimesSync(join(dir, name), old, old)
    }
    mk('a.pm.lock.new-1-aaaaaaaa', ['owner'], true)     // killed before its rename: swept
    mk('a.pm.lock.new-2-bbbbbbbb', [], true)            // killed before its record: swept
    mk('a.pm.lock.new-3-cccccccc', ['owner'], false)    // a maker that may still be running: kept
    mk('a.pm.lock.new-4-dddddddd', ['owner', 'notes'], true)   // not ours (inv. L3): kept
    mk('b.pm.lock.new-5-eeeeeeee', ['owner'], true)     // another file's: kept
    fakeLock(file, { pid: await deadPid(), start: 1, ...here })
    acquire(file).release()
    assert.deepEqual(fs.readdirSync(dir).sort(), ['a.pm.lock.asides', 'a.pm.lock.new-3-cccccccc', 'a.pm.lock.new-4-dddddddd', 'b.pm.lock.new-5-eeeeeeee'])
  })

  it('an unreadable owner record counts as no record', () => {
    const file = join(tempDir(), 'a.pm')
    fakeLock(file, { pid: -1, host: os.hostname() })
    assertLocked(file, undefined, /no owner record/)
  })

  it('inv. O4: a holder that is another thread of this process (a worker, terminated or not) is held until its mtime is stale; before, a terminated worker\'s lock was held until the process exited', () => {
    const file = join(tempDir(), 'a.pm')
    const worker = { pid: process.pid, start: processStart(process.pid), ...here, token: 'abcd', thread: 7 }
    fakeLock(file, worker)
    assertLocked(file, process.pid, /worker thread 7 of this process/)
    fs.rmSync(lockDirOf(file), { recursive: true })
    fakeLock(file, worker, lockTiming.staleMs + 5_000)
    acquire(file).release()
    fakeLock(file, { ...worker, thread: 0 }, lockTiming.staleMs + 5_000)     // this thread's own record: its pid is alive, it is held
    assertLocked(file, process.pid, /\(this process\)/)
  })

  it('inv. O4, a real worker: its lock refuses this thread while it lives; once terminate() ended it (releasing nothing), the lock is taken over when stale', async () => {
    const file = join(tempDir(), 'w.pm')
    const lockJs = new URL('../../regions/lock.js', import.meta.url).href
    const w = new Worker(`
      const { parentPort, workerData } = require('node:worker_threads')
      import(workerData.lockJs).then(({ RegionLock }) => {
        RegionLock.acquire(workerData.file, workerData.file, 'Cannot open region', 'close it', () => {})
        parentPort.postMessage('locked')
        setInterval(() => {}, 1000)
      })`, { eval: true, workerData: { file, lockJs } })
    await new Promise(r => w.once('message', r))
    assertLocked(file, process.pid, /worker thread \d+ of this process/)
    await w.terminate()
    assert.equal(fs.existsSync(lockDirOf(file)), true, 'terminate() released nothing')
    Object.assign(lockTiming, { staleMs: 300 })
    await new Promise(r => setTimeout(r, 400))
    acquire(file).release()
  })

  it('a holder on another host is trusted until its mtime is stale', () => {
    const file = join(tempDir(), 'a.pm')
    fakeLock(file, { pid: 4127, host: 'elsewhere' })
    assertLocked(file, 4127, /process 4127 on host "elsewhere"/)
    fs.rmSync(lockDirOf(file), { recursive: true })
    fakeLock(file, { pid: 4127, host: 'elsewhere' }, lockTiming.staleMs + 5_000)
    acquire(file).release()
  })

  it('inv. O1, L1: a holder of another PID namespace or boot is judged by mtime, never by a pid that names another process here', async () => {
    const file = join(tempDir(), 'a.pm')
    // The pid and start time of a live process of ours, but recorded in another namespace or boot:
    // a pid check would find "it" alive (or, for pid 1, a different start time: "dead").
    for (const other of [{ pidns: 'pid:[1]' }, { boot: '00000000-0000-0000-0000-000000000000' }]) {
      for (const pid of [1, await deadPid()]) {
        fakeLock(file, { pid, start: '1', ...here, ...other })
        assertLocked(file, pid, pid === 1 && other.pidns ? /process 1 of another PID namespace or boot \(pid:\[1\]\); close it$/ : /process \d+ /)
        fs.rmSync(lockDirOf(file), { recursive: true })
        fakeLock(file, { pid, start: '1', ...here, ...other }, lockTiming.staleMs + 5_000)
        acquire(file).release()
      }
    }
  })

  it('inv. O1: an owner record of an earlier version (no pidns, no boot) is judged by mtime', async () => {
    const file = join(tempDir(), 'a.pm')
    const old = { pid: await deadPid(), host: os.hostname() }
    fakeLock(file, old)
    assertLocked(file, old.pid, /a record without PID namespace, judged by its refresh time/)
    fs.rmSync(lockDirOf(file), { recursive: true })
    fakeLock(file, old, lockTiming.staleMs + 5_000)
    acquire(file).release()
  })

  it('inv. L4, O3: release leaves alone a lock directory whose record is no longer ours', () => {
    const file = join(tempDir(), 'a.pm')
    const lock = acquire(file)
    const foreign = JSON.stringify({ pid: process.pid, start: processStart(process.pid), ...here, token: '0123456789abcdef' })
    fs.writeFileSync(join(lockDirOf(file), 'owner'), foreign) // taken over by a same-pid process of another namespace
    lock.release()
    assert.equal(fs.readFileSync(join(lockDirOf(file), 'owner'), 'utf8'), foreign)
  })

  it('a missing directory is reported as the fs error (callers map it)', () => {
    const file = join(tempDir(), 'missing', 'a.pm')
    assert.throws(() => acquire(file), (e: NodeJS.ErrnoException) => e.code === 'ENOENT')
  })

  it('inv. L4, L5: a lost lock is reported through the callback, never thrown, and never removed again', async () => {
    Object.assign(lockTiming, { staleMs: 2_000, updateMs: 1_000 })
    const file = join(tempDir(), 'a.pm')
    let lock!: RegionLock
    const keepAlive = setInterval(noop, 100) // the lock's own timer is unref'd
    const reported = await new Promise<Error>(resolve => {
      lock = acquire(file, err => {
        resolve(err)
        throw new Error('a throwing callback must not escape the timer')
      })
      fs.rmSync(lockDirOf(file), { recursive: true })
    }).finally(() => clearInterval(keepAlive))
    assert.equal((reported as NodeJS.ErrnoException).code, 'ECOMPROMISED')
    assert.equal(lock.compromised, true)
    const next = acquire(file) // someone else's lock now
    lock.release() // must not remove `next`
    assert.equal(readLockOwner(file)?.pid, process.pid)
    next.release()
    assert.equal(fs.existsSync(lockDirOf(file)), false)
  })

  it('inv. L6, K1: a worker thread refreshes the mtime even while the event loop is blocked', async () => {
    Object.assign(lockTiming, { staleMs: 2_000, updateMs: 300 })
    const file = join(tempDir(), 'a.pm')
    const dir = lockDirOf(file)
    let lost: Error | undefined
    const lock = acquire(file, err => { lost = err })
    const old = new Date(Date.now() - 60_000)
    fs.utimesSync(dir, old, old) // looks stale to a contender that judges by mtime
    const refreshed = (): boolean => fs.statSync(dir).mtimeMs > Date.now() - 30_000
    const until = Date.now() + 15_000
    while (!refreshed() && Date.now() < until) { /* a long synchronous stretch, like a loop of sync commits */ }
    assert.ok(refreshed(), 'the mtime was refreshed while this thread never yielded')
    await new Promise(resolve => setTimeout(resolve, 500)) // any report of a lost lock would arrive here
    assert.equal(lost, undefined, 'a blocked event loop is not a lost lock')
    assert.equal(lock.compromised, false)
    assertLocked(file, process.pid, /process/)
    lock.release()
    assert.equal(fs.existsSync(dir), false, 'release removes the directory')
    acquire(file).release()
  })

  it('inv. K3: a holder killed by SIGTERM or SIGINT releases its lock and still dies of the signal', async () => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const file = join(tempDir(), 'a.pm')
      const child = startChild('lock-and-wait', file)
      assert.equal((await child.nextLine()).ready, true)
      assert.equal(fs.existsSync(lockDirOf(file)), true)
      child.proc.kill(sig)
      const r = await child.exited
      assert.equal(r.signal, sig, r.stderr)
      assert.equal(fs.existsSync(lockDirOf(file)), false, `released at ${sig}`)
    }
  })

  it('inv. L5: a held lock does not keep the process alive, and is released at exit', async () => {
    const file = join(tempDir(), 'a.pm')
    const r = await runChild('lock-and-exit', file)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.lines[0]?.ready, true)
    assert.equal(fs.existsSync(lockDirOf(file)), false)
  })

  it('processStart reads this process start time on Linux', () => {
    if (!fs.existsSync('/proc/self/stat')) return
    assert.match(processStart(process.pid) ?? '', /^\d+$/)
    assert.equal(processStart(2 ** 30), undefined)
  })
})
