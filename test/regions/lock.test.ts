/**
 * Tests of regions/lock.ts: the single-writer lock (inv. L1-L5), its owner record, takeover
 * of locks whose holder is dead, the mtime rule for unknown holders, compromise reporting
 * without throwing, and that a held lock never keeps a process alive.
 */
import { describe, it, afterEach, mock } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { RegionLock, lockDirOf, lockTiming, processStart, readLockOwner } from '../../regions/lock.js'
import { RegionLockedError } from '../../regions/errors.js'
import { deadPid, runChild, useTempDirs } from './fixtures/helpers.js'

const tempDir = useTempDirs('pmem-lock-test-')
const noop = (): void => {}
const defaults = { ...lockTiming }

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
  it('acquire writes an owner record (pid, host, start) into <file>.lock; release removes both', () => {
    const file = join(tempDir(), 'a.pm')
    const lock = acquire(file)
    assert.deepEqual(fs.readdirSync(lockDirOf(file)), ['owner'])
    assert.deepEqual(readLockOwner(file), { pid: process.pid, host: os.hostname(), start: processStart(process.pid) })
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
    fakeLock(file, { pid: await deadPid(), host: os.hostname() })
    const lock = acquire(file)
    assert.equal(readLockOwner(file)?.pid, process.pid)
    lock.release()
    assert.deepEqual(fs.readdirSync(join(file, '..')), [], 'no lock directory or aside copy is left')
  })

  it('inv. L1: a killed holder that is not yet reaped (zombie) counts as dead', async (t) => {
    if (!fs.existsSync('/proc/self/stat')) return t.skip('needs /proc')
    // The background `sleep 0.3` exits after its parent shell has exec'd into `sleep 3`, which
    // never reaps it. (With `sleep 0` the shell could reap it before the exec: no zombie.)
    const sh = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] })
    const zombie = Number(await new Promise<string>(resolve => sh.stdout.once('data', (d: Buffer) => resolve(d.toString()))))
    try {
      while (!fs.readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z ')) await new Promise(r => setTimeout(r, 10))
      const file = join(tempDir(), 'a.pm')
      fakeLock(file, { pid: zombie, host: os.hostname() })
      acquire(file).release()
    } finally {
      sh.kill('SIGKILL')
    }
  })

  it('inv. L1: a reused pid (same pid, other start time) counts as dead', () => {
    const file = join(tempDir(), 'a.pm')
    fakeLock(file, { pid: process.pid, host: os.hostname(), start: '1' })
    acquire(file).release()
  })

  it('inv. L3: a takeover that raced with a new live holder puts its lock back', async () => {
    const file = join(tempDir(), 'a.pm')
    fakeLock(file, { pid: await deadPid(), host: os.hostname() })
    const live = JSON.stringify({ pid: process.pid, host: os.hostname(), start: processStart(process.pid) })
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

  it('a lock without owner record is held until its mtime is stale', () => {
    const file = join(tempDir(), 'a.pm')
    fakeLock(file)
    assertLocked(file, undefined, /another process \(lock directory ".*a\.pm\.lock" has no owner record yet\)/)
    fs.rmdirSync(lockDirOf(file))
    fakeLock(file, undefined, lockTiming.staleMs + 5_000)
    acquire(file).release()
  })

  it('an unreadable owner record counts as no record', () => {
    const file = join(tempDir(), 'a.pm')
    fakeLock(file, { pid: -1, host: os.hostname() })
    assertLocked(file, undefined, /no owner record/)
  })

  it('a holder on another host is trusted until its mtime is stale', () => {
    const file = join(tempDir(), 'a.pm')
    fakeLock(file, { pid: 4127, host: 'elsewhere' })
    assertLocked(file, 4127, /process 4127 on host "elsewhere"/)
    fs.rmSync(lockDirOf(file), { recursive: true })
    fakeLock(file, { pid: 4127, host: 'elsewhere' }, lockTiming.staleMs + 5_000)
    acquire(file).release()
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

  it('inv. L6: an event loop blocked past the stale time keeps its lock', async () => {
    Object.assign(lockTiming, { staleMs: 2_000, updateMs: 1_000 })
    const file = join(tempDir(), 'a.pm')
    let lost: Error | undefined
    const lock = acquire(file, err => { lost = err })
    const until = Date.now() + 2_600
    while (Date.now() < until) { /* a long synchronous stretch, like a loop of sync commits */ }
    await new Promise(resolve => setTimeout(resolve, 1_500)) // proper-lockfile's late refresh fires here
    assert.equal(lost, undefined, 'a late refresh is not a lost lock')
    assert.equal(lock.compromised, false)
    assertLocked(file, process.pid, /process/)
    const before = fs.statSync(lockDirOf(file)).mtimeMs
    for (let waited = 0; fs.statSync(lockDirOf(file)).mtimeMs <= before && waited < 10_000; waited += 100) {
      await new Promise(resolve => setTimeout(resolve, 100)) // polled: timers run late on a loaded machine
    }
    assert.ok(fs.statSync(lockDirOf(file)).mtimeMs > before, 'the mtime is refreshed by our own timer')
    lock.release()
    assert.equal(fs.existsSync(lockDirOf(file)), false, 'release removes the directory')
    acquire(file).release()
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
