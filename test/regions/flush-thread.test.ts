/**
 * Tests of the flush threads (regions/flush-thread.ts, flush-worker.ts, flush-windows.ts)
 * and of the Region methods that use them: the thread is a real module that runs under any
 * module type (`node --input-type=module`), keeps the process alive only while a request is
 * pending (W3), start-up and mapping errors are typed environment errors (W10), one request
 * never poisons another (W7), a dead thread is noticed at once (W8), close never lets a flush
 * thread write after it (W6), msyncs do not queue behind bulk writes (W9), and every size up
 * to the largest region maps and flushes (W2). Faults are injected with the test-only hooks of
 * flush-worker.ts (`flushThreadTesting`); a `hold` stands for a long write.
 */
import { describe, it, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { Region } from '../../regions/region.js'
import { mmap } from '../../regions/mmap.js'
import { HEADER_SIZE, MAX_USER_SIZE } from '../../regions/header.js'
import { BrokenError, FileSystemError, FlushThreadError, RegionLockedError } from '../../regions/errors.js'
import { windowsOf } from '../../regions/flush-windows.js'
import { MAX_WINDOW } from '../../regions/flush-protocol.js'
import { flushThreadTesting, flushTiming, msyncInWorker, newFileRef } from '../../regions/flush-worker.js'
import { mappedDirtyKb, useTempDirs } from './fixtures/helpers.js'
import { pattern } from './fixtures/pattern.js'

const tempDir = useTempDirs('pmem-flush-test-')
const timingDefaults = { ...flushTiming }
const LIBRARY = fileURLToPath(new URL('../../src/index.js', import.meta.url))
const FLUSH_CHILD = fileURLToPath(new URL('./fixtures/flush-child.js', import.meta.url))
const smaps = mappedDirtyKb('/') !== undefined

afterEach(() => {
  Object.assign(flushTiming, timingDefaults)
  flushThreadTesting.clearFaults()
})

function create(size = 4 * 4096): { path: string; region: Region } {
  const path = join(tempDir(), 'r.pm')
  return { path, region: Region.open(path, { size }) }
}

/**
 * A hold for the `hold` fault: `holding` resolves once the thread waits in it, `held()` is
 * true once it went on, `count()` is how many operations it held; `release()` lets it go.
 */
function newHold(): { buffer: SharedArrayBuffer; holding: Promise<void>; held(): boolean; count(): number; release(): void } {
  const buffer = new SharedArrayBuffer(12)
  const word = new Int32Array(buffer)
  const holding = new Promise<void>(resolve => {       // polled: a timer keeps the event loop alive meanwhile
    const timer = setInterval(() => { if (Atomics.load(word, 1) >= 1) { clearInterval(timer); resolve() } }, 5)
  })
  return {
    buffer, holding,
    held: () => Atomics.load(word, 2) >= 1,
    count: () => Atomics.load(word, 1),
    release() { Atomics.store(word, 0, 1); Atomics.notify(word, 0) },
  }
}

/** Runs `cmd args` with `input` on stdin; resolves with its exit code and output. */
function run(cmd: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env } })
    const killer = setTimeout(() => p.kill('SIGKILL'), 30_000)     // a child that never exits fails its test instead of hanging it
    let stdout = '', stderr = ''
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    p.on('exit', (code, signal) => { clearTimeout(killer); resolve({ code, signal, stdout, stderr }) })
    p.stdin.end(options.input ?? '')
  })
}

describe('the flush thread is a module that runs under any module type', () => {
  // Code that a user would type into `node --input-type=module -e`: the thread's code used
  // to be CommonJS in a string, evaluated as ESM there ("require is not defined").
  const code = `
    import { Region, open, t, Container } from ${JSON.stringify(LIBRARY)}
    const dir = process.env.PM_DIR
    const r = Region.open(dir + '/r.pm', { size: 8192 })
    r.bytes[0] = 7
    await r.flushAsync(0, 1)
    const pm = open(dir + '/p.pm', { size: 1 << 20 })
    const n = pm.persistent('n', t.u64)
    await Promise.all([1, 2, 3].map(() => pm.transaction(tx => tx.writeBigU64(n.offset, tx.readBigU64(n.offset) + 1n), { durability: 'group' })))
    const c = Container.open(dir + '/c.pmc', { init: () => ({ list: [1, 2, 3] }) })
    await c.persist()
    await c.close()
    console.log(JSON.stringify({ broken: r.broken, n: String(pm.read(tx => tx.readBigU64(n.offset))) }))
    pm.close()
    r.close()
  `

  it('node --input-type=module -e: flushAsync, a group commit and persist() succeed', async () => {
    const r = await run(process.execPath, ['--input-type=module', '-e', code], { env: { PM_DIR: tempDir() } })
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout.trim()), { broken: false, n: '3' })
    assert.doesNotMatch(r.stderr, /Warning/)
  })

  it('node --input-type=module with the code on stdin: the same', async () => {
    const r = await run(process.execPath, ['--input-type=module'], { input: code, env: { PM_DIR: tempDir() } })
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout.trim()), { broken: false, n: '3' })
  })
})

describe('W3: the flush threads keep the process alive only while a request is pending', () => {
  it('a process that started them (prepareFlushAsync) and closed its region exits by itself', async () => {
    const code = `import(${JSON.stringify(LIBRARY)}).then(({ Region }) => {
      const r = Region.open(process.env.PM_DIR + '/r.pm', { size: 4096 })
      r.prepareFlushAsync()
      r.close()
    })`
    const r = await run(process.execPath, ['-e', code], { env: { PM_DIR: tempDir() } })
    assert.deepEqual([r.code, r.signal], [0, null], r.stderr)
  })
})

describe('W10: a thread that cannot start is an environment error, not a broken region', () => {
  it('no free descriptor (EMFILE): FileSystemError warning with errno; flushAsync and a group commit fall back to fdatasync; the thread starts once descriptors are free', async () => {
    const r = await run('/bin/sh', ['-c', `ulimit -n 256 && exec "${process.execPath}" "${FLUSH_CHILD}" emfile "${tempDir()}"`])
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout.trim()) as Record<string, unknown>
    assert.ok((out.exhausted as number) > 0)
    assert.equal(out.flush, 'ok')
    assert.equal(out.commit, 'ok')
    assert.equal(out.broken, false)
    assert.equal(out.value, '5')
    assert.equal(out.laneWhileExhausted, 'dead')
    assert.equal(out.later, 'ok')
    assert.equal(out.laneAfter, 'running')
    const warnings = out.warnings as Array<{ name: string; code: string; errno: string; message: string }>
    assert.ok(warnings.length >= 1, 'a warning says why the thread could not start')
    for (const w of warnings) {
      assert.equal(w.name, 'FileSystemError')
      assert.equal(w.code, 'ERR_PMEM_FS')
      assert.equal(w.errno, 'EMFILE')
      assert.match(w.message, /could not start: no file descriptor is free \(EMFILE\)/)
    }
  })
})

describe('W10: a thread that goes online and then cannot open its modules', () => {
  it('with 0..10 descriptors free: every warning is FileSystemError EMFILE "could not start", every flush succeeds, the region is not broken', async () => {
    const r = await run('/bin/sh', ['-c', `ulimit -n 256 && exec "${process.execPath}" "${FLUSH_CHILD}" emfile-few "${tempDir()}"`])
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout.trim()) as { flushes: string[]; broken: boolean; warnings: Array<{ k: number; name: string; errno?: string; message: string }> }
    assert.deepEqual(out.flushes, Array(11).fill('ok'))
    assert.equal(out.broken, false)
    assert.ok(out.warnings.some(w => w.k === 0), 'with no descriptor free the thread cannot start')
    for (const w of out.warnings) {
      assert.deepEqual([w.k, w.name, w.errno], [w.k, 'FileSystemError', 'EMFILE'], w.message)
      assert.match(w.message, /could not start: no file descriptor is free \(EMFILE\)/)
    }
  })
})

describe('W10: a file the flush thread cannot map', () => {
  it('(ENOMEM) is an environment error: flushAsync falls back to fdatasync; the region is not broken', async () => {
    const { region } = create()
    flushThreadTesting.inject('sync', { op: 'map', action: 'errno', code: 'ENOMEM' })
    const file = newFileRef(fs.openSync(region.path, 'r+'))
    const result = await msyncInWorker(file, HEADER_SIZE + region.size, HEADER_SIZE, 4096)
    assert.ok(result instanceof FileSystemError && result.errno === 'ENOMEM', `expected FileSystemError ENOMEM, got ${String(result)}`)
    fs.closeSync(file.fd)
    flushThreadTesting.inject('sync', { op: 'map', action: 'errno', code: 'ENOMEM' })
    region.bytes[0] = 1
    await region.flushAsync()
    assert.equal(region.broken, false)
    await region.flushAsync()
    region.close()
  })
})

describe('W7: each request succeeds or fails on its own', { timeout: 30_000 }, () => {
  it('an exception in one msync fails that request only; the next ones succeed', async () => {
    const { region } = create()
    const file = newFileRef(fs.openSync(region.path, 'r+'))
    try {
      flushThreadTesting.inject('sync', { op: 'msync', action: 'throw' })
      await assert.rejects(msyncInWorker(file, HEADER_SIZE + region.size, HEADER_SIZE, 4096)!, /injected failure of msync/)
      for (let i = 0; i < 3; i++) assert.equal(await msyncInWorker(file, HEADER_SIZE + region.size, HEADER_SIZE + i * 4096, 4096), 'done')
    } finally {
      fs.closeSync(file.fd)
      region.close()
    }
  })

  it('a region whose msync failed is broken; another region flushes, reserves and streams after it', async () => {
    const a = create(), b = create()
    flushThreadTesting.inject('sync', { op: 'msync', action: 'throw' })
    await assert.rejects(a.region.flushAsync(), BrokenError)
    await b.region.flushAsync()
    flushThreadTesting.inject('bulk', { op: 'write', action: 'throw' })
    const s = b.region.appendStream(b.region.reservedEnd, 4096)!
    s.write(pattern(8192, 1))
    assert.equal(await s.end(), null, 'the stream with the exception failed')
    const again = b.region.appendStream(b.region.reservedEnd, 4096)!
    again.write(pattern(8192, 2))
    assert.equal((await again.end())?.length, 2, 'the next stream works')
    await b.region.reserveAsync(64 * 4096)
    b.region.grow(64 * 4096)
    await b.region.flushAsync()
    assert.equal(b.region.broken, false)
    a.region.close()
    b.region.close()
  })
})

describe('W8: a dead flush thread is noticed at once', { timeout: 60_000 }, () => {
  it('killed during a reservation: grow returns without waiting and does the work itself; the next request starts a new thread', async () => {
    const { path, region } = create(4096)
    flushTiming.waitMs = 15_000          // if the death went unnoticed, grow would fail after this, not sit for a minute
    const hold = newHold()
    flushThreadTesting.inject('bulk', { op: 'write', action: 'hold', hold: hold.buffer })
    const reserved = region.reserveAsync(64 * 4096)
    await hold.holding
    const generation = flushThreadTesting.state('bulk').generation
    void flushThreadTesting.terminate('bulk')
    region.grow(8 * 4096)
    assert.equal(region.size, 8 * 4096)
    assert.equal(region.broken, false)
    assert.ok(region.unsafeBytes().every(b => b === 0))
    await reserved
    await region.reserveAsync(16 * 4096)
    assert.ok(flushThreadTesting.state('bulk').generation > generation, 'a new thread took the next request')
    assert.equal(fs.statSync(path).size, HEADER_SIZE + 16 * 4096)
    region.close()
  })

  it('exiting inside a stream: grow returns, the stream resolves null, grow fills zeros', async () => {
    const { region } = create(4096)
    flushTiming.waitMs = 15_000
    flushThreadTesting.inject('bulk', { op: 'write', action: 'exit' })
    const s = region.appendStream(region.reservedEnd, 4096)!
    s.write(pattern(3 * 4096, 5))
    region.grow(4 * 4096)
    assert.equal(await s.end(), null)
    assert.ok(region.unsafeBytes().every(b => b === 0), 'nothing of the lost stream shows')
    region.close()
  })

  it('killed inside a stream, with its gate held: close returns at once and releases the lock', async () => {
    const { path, region } = create(4096)
    flushTiming.waitMs = 15_000
    const hold = newHold()
    flushThreadTesting.inject('bulk', { op: 'write', action: 'hold', hold: hold.buffer })
    const s = region.appendStream(region.reservedEnd, 4096)!
    s.write(pattern(4096, 6))
    await hold.holding
    void flushThreadTesting.terminate('bulk')
    region.close()
    assert.equal(await s.end(), null)
    const again = Region.open(path)                // the lock was released
    assert.equal(fs.statSync(path).size, HEADER_SIZE + 4096, 'close trimmed what the stream wrote')
    again.close()
  })

  it('killed with an msync pending: it fails with FlushThreadError, and flushAsync falls back to fdatasync', async () => {
    const { region } = create()
    const hold = newHold()
    flushThreadTesting.inject('sync', { op: 'msync', action: 'hold', hold: hold.buffer })
    const file = newFileRef(fs.openSync(region.path, 'r+'))
    const direct = msyncInWorker(file, HEADER_SIZE + region.size, HEADER_SIZE, 4096)!
    const flushed = region.flushAsync()
    await hold.holding
    await flushThreadTesting.terminate('sync')
    const result = await direct
    assert.ok(result instanceof FlushThreadError, `expected FlushThreadError, got ${String(result)}`)
    await flushed
    assert.equal(region.broken, false)
    await region.flushAsync()
    fs.closeSync(file.fd)
    region.close()
  })

  it('a thread that is alive but stuck: grow gives FlushThreadError after the bound and changes nothing; it works once the thread goes on', async () => {
    const { path, region } = create(4096)
    const hold = newHold()
    flushThreadTesting.inject('bulk', { op: 'write', action: 'hold', hold: hold.buffer })
    const reserved = region.reserveAsync(32 * 4096)
    await hold.holding
    flushTiming.waitMs = 100
    assert.throws(() => region.grow(8 * 4096), (e: unknown) => e instanceof FlushThreadError && e.message.includes(`"${path}"`) && /did not finish a reservation/.test(e.message))
    assert.equal(region.size, 4096)
    assert.equal(region.broken, false)
    hold.release()
    await reserved
    region.grow(8 * 4096)
    assert.equal(region.size, 8 * 4096)
    region.close()
  })
})

describe('W6: close never lets a flush thread write the file after it', { timeout: 30_000 }, () => {
  it('close waits for a write under way, then trims; nothing of the stream lands after close', async () => {
    const { path, region } = create(4096)
    const hold = newHold()
    flushThreadTesting.inject('bulk', { op: 'write', action: 'hold', hold: hold.buffer, holdMs: 300 })
    const s = region.appendStream(region.reservedEnd, 4096)!
    s.write(pattern(4 * 4096, 3))
    s.write(pattern(4 * 4096, 4))
    await hold.holding
    region.close()                                  // the thread is inside a write: close waits for it
    assert.ok(hold.held(), 'close returned only after the thread left its write')
    assert.equal(fs.statSync(path).size, HEADER_SIZE + 4096)
    assert.equal(await s.end(), null, 'the stream failed at the closed gate')
    assert.equal(fs.statSync(path).size, HEADER_SIZE + 4096, 'no write after close')
    const again = Region.open(path)
    again.close()
  })

  it('close bars a long job at its next write: it waits for the write under way, not for the job', async () => {
    for (let round = 0; round < 5; round++) {       // the thread re-enters within microseconds: each round is a race close must not need to win
      const { path, region } = create(4096)
      const hold = newHold()
      flushThreadTesting.inject('bulk', { op: 'write', action: 'hold', hold: hold.buffer, holdMs: 5, times: 1000 })
      const reserved = region.reserveAsync(4096 + 1000 * 4096)    // 1000 writes of 4 KiB, each held 5 ms
      await hold.holding
      const before = hold.count()
      region.close()
      const writes = hold.count()
      await reserved
      flushThreadTesting.clearFaults()
      // The write under way when `before` was read, and at most one the thread began before
      // close took the gate (the main thread may be descheduled between the two reads on a
      // loaded machine); not the job's 1000 (that would be close waiting for the job).
      assert.ok(writes - before <= 2, `round ${round}: close waited for ${writes - before} writes, not just the one under way`)
      assert.equal(hold.count(), writes, 'no write started after close')
      assert.equal(fs.statSync(path).size, HEADER_SIZE + 4096)
    }
  })

  it('close while an msync runs in the thread waits for it; the flush resolves', async () => {
    const { region } = create()
    const hold = newHold()
    flushThreadTesting.inject('sync', { op: 'msync', action: 'hold', hold: hold.buffer, holdMs: 200 })
    region.bytes[0] = 1
    const flushed = region.flushAsync()
    await hold.holding
    region.close()
    assert.ok(hold.held(), 'close returned only after the msync')
    await flushed
  })

  it('a write stuck past the bound: close throws FlushThreadError and keeps the lock until the write ends', async () => {
    const { path, region } = create(4096)
    const hold = newHold()
    flushThreadTesting.inject('bulk', { op: 'write', action: 'hold', hold: hold.buffer })
    const reserved = region.reserveAsync(16 * 4096)
    await hold.holding
    flushTiming.waitMs = 100
    assert.throws(() => region.close(), (e: unknown) => e instanceof FlushThreadError && e.message.includes(`"${path}"`))
    assert.equal(region.closed, true)
    assert.throws(() => Region.open(path), RegionLockedError, 'the lock is kept while the thread may write')
    hold.release()
    await reserved
    let reopened: Region | null = null
    for (let i = 0; i < 100 && reopened === null; i++) {
      await new Promise(resolve => setTimeout(resolve, 50))
      try { reopened = Region.open(path) } catch (e) { if (!(e instanceof RegionLockedError)) throw e }
    }
    assert.ok(reopened !== null, 'the lock was released once the write ended')
    assert.equal(fs.statSync(path).size, HEADER_SIZE + 4096, 'the unused reservation was trimmed')
    reopened.close()
  })
})

describe('W9: an msync does not queue behind a bulk write', { timeout: 30_000 }, () => {
  it('an msync of one region completes while a stream of another is under way', async () => {
    const a = create(4096), b = create()
    const hold = newHold()
    flushThreadTesting.inject('bulk', { op: 'write', action: 'hold', hold: hold.buffer })
    const s = a.region.appendStream(a.region.reservedEnd, 4096)!
    s.write(pattern(64 * 4096, 9))
    const order: string[] = []
    const ended = s.end().then(crcs => { order.push('bulk'); return crcs })
    await hold.holding
    const safety = setTimeout(() => hold.release(), 20_000)  // with one shared thread the msync would wait for this (20 s: a sync thread still starting on a loaded machine is no failure)
    b.region.bytes[0] = 1
    await b.region.flushAsync()
    order.push('msync')
    hold.release()
    clearTimeout(safety)
    assert.equal((await ended)?.length, 64)
    assert.deepEqual(order, ['msync', 'bulk'])
    a.region.close()
    b.region.close()
  })
})

describe('W2: mapping windows below 2^31 bytes', () => {
  it('windowsOf covers a range exactly, in order, each part inside one window and below 2^31', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 2 ** 31 / 4096 }), fc.integer({ min: 1, max: 2 ** 18 }), fc.nat(), fc.nat(),
      (pages, windowPages, a, b) => {
        const fileSize = pages * 4096
        const windowBytes = Math.min(windowPages * 4096, MAX_WINDOW)
        const offset = a % fileSize
        const length = b % (fileSize - offset + 1)
        const parts = windowsOf(offset, length, fileSize, windowBytes)
        let at = offset
        for (const p of parts) {
          assert.equal(p.start, p.index * windowBytes)
          assert.equal(p.start + p.from, at)
          assert.ok(p.length > 0 && p.from + p.length <= p.size)
          assert.ok(p.size <= windowBytes && p.start + p.size <= fileSize)
          assert.ok(p.start < 2 ** 31 && p.size < 2 ** 31)
          at += p.length
        }
        assert.equal(at, offset + length)
      }))
    const last = windowsOf(2 ** 31 - 4096, 4096, 2 ** 31, MAX_WINDOW)
    assert.deepEqual(last, [{ index: 1, start: 2 ** 30, size: 2 ** 30, from: 2 ** 30 - 4096, length: 4096 }])
  })

  it('an msync across windows writes back every dirty page of the range', { skip: !smaps }, async () => {
    flushThreadTesting.windowBytes = 8192            // for the threads started from now on
    await flushThreadTesting.terminate('sync')
    try {
      const { path, region } = create(16 * 4096)
      region.bytes.set(pattern(16 * 4096, 4))
      const dirty = mappedDirtyKb(fs.realpathSync(path))!
      assert.ok(dirty >= 60, `the pages are dirty (${dirty} kB)`)
      await region.flushAsync(4096 + 100, 10 * 4096)   // 11 pages, over 6 windows of 2 pages
      assert.equal(mappedDirtyKb(fs.realpathSync(path)), dirty - 11 * 4)
      await region.flushAsync()
      assert.equal(mappedDirtyKb(fs.realpathSync(path)), 0)
      region.close()
    } finally {
      flushThreadTesting.windowBytes = MAX_WINDOW
      await flushThreadTesting.terminate('sync')
    }
  })

  it('a file of 2^31 bytes (the largest region: header + 2 GiB - 4 KiB) flushes at its end and across its windows', async () => {
    const path = join(tempDir(), 'sparse.pm')
    const fd = fs.openSync(path, 'w+')
    try {
      fs.ftruncateSync(fd, HEADER_SIZE + MAX_USER_SIZE)      // sparse: nothing written but what we dirty
      const tail = mmap.map(8192, 3, mmap.MAP_SHARED, fd, 2 ** 31 - 8192)
      tail[8191] = 42
      const middle = mmap.map(8192, 3, mmap.MAP_SHARED, fd, 2 ** 30 - 4096)
      middle[0] = 1
      middle[4096] = 2
      const file = newFileRef(fd)
      assert.equal(await msyncInWorker(file, 2 ** 31, 2 ** 31 - 4096, 4096), 'done')
      assert.equal(await msyncInWorker(file, 2 ** 31, 2 ** 30 - 4096, 8192), 'done')
      assert.equal(await msyncInWorker(file, 2 ** 31, 0, 2 ** 31), 'done')
      const back = Buffer.alloc(1)
      fs.readSync(fd, back, 0, 1, 2 ** 31 - 1)
      assert.equal(back[0], 42)
    } finally {
      fs.closeSync(fd)
    }
  })

  it('a region of the largest size flushes asynchronously (PMEM_TEST_LARGE=1: writes 2 GiB)', { skip: process.env.PMEM_TEST_LARGE !== '1' }, async () => {
    const { region } = create(MAX_USER_SIZE)
    region.unsafeBytes()[MAX_USER_SIZE - 1] = 9
    await region.flushAsync(MAX_USER_SIZE - 1, 1)
    await region.flushAsync()
    assert.equal(region.broken, false)
    region.close()
  })
})
