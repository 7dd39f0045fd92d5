/**
 * The claim word (regions/writer-claim.ts, lock.ts inv. L11): one writer per FILE even when
 * two writers open it under two names at the same moment. Before session 16 both read "no
 * writer record" before either wrote one and both went on (lock.ts inv. L10's "not closed"
 * case); the seam `claimSeam.beforeSwap` holds a writer at that moment, so the race is
 * reproduced every run, in both orders, with real processes.
 */
import { describe, it, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { join } from 'node:path'
import { Region } from '../../regions/region.js'
import { lockTiming } from '../../regions/lock.js'
import { readWriterRecord } from '../../regions/writer-record.js'
import { CLAIM_OFFSET, wordOf } from '../../regions/writer-claim.js'
import { startChild, startWrappedChild, useTempDirs, type Child } from './fixtures/helpers.js'

const tempDir = useTempDirs('pmem-writer-claim-')
const timing = { ...lockTiming }
const children: Child[] = []
afterEach(async () => {
  Object.assign(lockTiming, timing)
  for (const c of children.splice(0)) { if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL'); await c.exited }
})
const child = (mode: string, ...args: string[]): Child => { const c = startChild(mode, ...args); children.push(c); return c }

/** The claim word of the file at `path`, read through the file (not a mapping). */
function wordAt(path: string): bigint {
  const fd = fs.openSync(path, 'r')
  try { const b = Buffer.alloc(8); fs.readSync(fd, b, 0, 8, CLAIM_OFFSET); return b.readBigInt64LE(0) } finally { fs.closeSync(fd) }
}
function setWord(path: string, w: bigint): void {
  const fd = fs.openSync(path, 'r+')
  try { const b = Buffer.alloc(8); b.writeBigInt64LE(w); fs.writeSync(fd, b, 0, 8, CLAIM_OFFSET) } finally { fs.closeSync(fd) }
}
function recordOf(path: string): ReturnType<typeof readWriterRecord> {
  const fd = fs.openSync(path, 'r')
  try { return readWriterRecord(fd) } finally { fs.closeSync(fd) }
}

describe('the claim word: one writer per file under two names at once (lock.ts inv. L11)', () => {
  it('a compare-and-swap on the mapped word is atomic across processes (what the claim relies on)', async () => {
    const file = join(tempDir(), 'count.pm')
    Region.open(file, { size: 4096 }).close()
    const a = child('count', file, '100000'), b = child('count', file, '100000')
    assert.deepEqual(await a.nextLine(), { done: true })
    assert.deepEqual(await b.nextLine(), { done: true })
    assert.equal(wordAt(file), 200_000n, 'no increment lost between the two processes')
  })

  it('two processes opening one file under two names, both past the record before either claims: exactly one writer, in either order', async () => {
    const dir = tempDir()
    await Promise.all(['b', 'a'].map(async (winner, i) => {
      const first = join(dir, `first${i}.pm`), second = join(dir, `second${i}.pm`)
      const goA = join(dir, `go-a${i}`), goB = join(dir, `go-b${i}`)
      Region.open(first, { size: 4096 }).close()
      const A = child('claim-race', first, goA)
      assert.deepEqual(await A.nextLine(), { judged: true }, 'A holds its path lock and found no record')
      fs.renameSync(first, second) // the file has a second name now, with no lock beside it
      const B = child('claim-race', second, goB)
      assert.deepEqual(await B.nextLine(), { judged: true }, 'B found no record either: the two are racing')
      const [W, L, goW, goL, wonName, lostName] = winner === 'a' ? [A, B, goA, goB, first, second] : [B, A, goB, goA, second, first]
      fs.writeFileSync(goW, '')
      const won = await W.nextLine()
      assert.equal(won.opened, true, `race ${i}: the first to swap its claim in opens`)
      fs.writeFileSync(goL, '')
      const lost = await L.nextLine()
      assert.equal(lost.locked, true, `race ${i}: the other is refused, not a second writer (${JSON.stringify(lost)})`)
      assert.ok(String(lost.message).includes(`under another name, "${wonName}"`), `race ${i}: it names the winner's name: ${String(lost.message)}`)
      const rec = recordOf(second)
      assert.equal(rec?.lockDir, `${wonName}.lock`, `race ${i}: the record is the winner's`)
      assert.equal(wordAt(second), wordOf(rec!.token), `race ${i}: and so is the claim word`)
      assert.ok(!fs.existsSync(`${lostName}.lock`), `race ${i}: the refused writer released its path lock`)
    }))
  })

  it('three lives: a writer SIGKILLed leaves its claim and record; the next writer, under a new name, takes them over at once, and a rival under another name is refused', async () => {
    let name = join(tempDir(), 'life0.pm')
    Region.open(name, { size: 4096 }).close()
    const slow = { PMEM_TEST_LOCK_TIMING: '600000,1000' } // a wait for a stale claim would outlast the test
    for (let life = 1; life <= 3; life++) {
      const holder = startWrappedChild([], slow, 'hold', name)
      children.push(holder)
      assert.equal((await holder.nextLine()).ready, true, `life ${life}: the writer opened, taking over the killed one's claim without waiting`)
      const rec = recordOf(name)
      assert.equal(rec?.lockDir, `${name}.lock`)
      assert.equal(wordAt(name), wordOf(rec!.token), `life ${life}: its claim word names its record`)
      const next = join(name, '..', `life${life}.pm`)
      fs.renameSync(name, next)
      const rival = startWrappedChild([], slow, 'try-open', next)
      children.push(rival)
      assert.equal((await rival.nextLine()).locked, true, `life ${life}: a writer through the new name is refused`)
      holder.proc.kill('SIGKILL')
      await holder.exited
      assert.equal(wordAt(next), wordOf(rec!.token), `life ${life}: the killed writer's claim stays in the file`)
      name = next
    }
    const r = Region.open(name)
    r.close()
    assert.equal(wordAt(name), 0n, 'a writer that closes gives its claim up')
  })

  it('a claim with no record (a writer killed between its swap and its record) is waited for, up to staleMs, then taken over; a copy\'s claim is not waited for', () => {
    const dir = tempDir()
    const file = join(dir, 'a.pm')
    Region.open(file, { size: 4096 }).close()
    assert.equal(wordAt(file), 0n, 'a created file is unclaimed')
    setWord(file, wordOf('00000000deadbeef'))
    Object.assign(lockTiming, { staleMs: 400, updateMs: 100 })
    let t = performance.now()
    const r = Region.open(file)
    assert.ok(performance.now() - t >= 400, 'the open waited for the record of the claim it found')
    const mine = wordAt(file)
    assert.equal(mine, wordOf(recordOf(file)!.token), 'then took the file over')
    const copy = join(dir, 'copy.pm')
    fs.copyFileSync(file, copy) // a copy of an open file carries its claim and record
    r.close()
    assert.equal(wordAt(file), 0n)
    Object.assign(lockTiming, { staleMs: 600_000, updateMs: 1_000 })
    t = performance.now()
    const c = Region.open(copy)
    assert.ok(performance.now() - t < 300_000, 'the copy\'s claim names a record of another file: not waited for')
    assert.notEqual(wordAt(copy), mine)
    c.close()
    assert.equal(wordAt(copy), mine, 'the copy\'s claim is put back as found, as its record is (they name another file)')
    t = performance.now()
    Region.open(copy).close()
    assert.ok(performance.now() - t < 300_000, 'and is still not waited for')
  })

  it('a claim waited out over a dead writer\'s record of this file is given back as 0, not as found: the next writer does not wait again', async () => {
    const file = join(tempDir(), 'a.pm')
    Region.open(file, { size: 4096 }).close()
    const holder = child('hold', file)
    assert.equal((await holder.nextLine()).ready, true)
    holder.proc.kill('SIGKILL')
    await holder.exited
    assert.ok(recordOf(file) !== undefined, 'the killed writer\'s record stays')
    setWord(file, wordOf('00000000deadbeef')) // a second writer killed between its swap and its record
    Object.assign(lockTiming, { staleMs: 400, updateMs: 100 })
    let t = performance.now()
    Region.open(file).close()
    assert.ok(performance.now() - t >= 400, 'waited for the claim with no record')
    assert.equal(wordAt(file), 0n, 'the dead claim is not put back')
    Object.assign(lockTiming, { staleMs: 600_000, updateMs: 1_000 })
    t = performance.now()
    Region.open(file).close()
    assert.ok(performance.now() - t < 300_000)
  })

  it('an open whose record write fails gives its claim back: the next writer does not wait for it', () => {
    const file = join(tempDir(), 'a.pm')
    Region.open(file, { size: 4096 }).close()
    const io = fs as { writeSync: typeof fs.writeSync }
    const original = io.writeSync
    let armed = true
    io.writeSync = ((fd: number, buf: Uint8Array, off: number, len: number, pos: number) => {
      if (armed && pos === 1024) { armed = false; throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }) }
      return original(fd, buf, off, len, pos)
    }) as typeof fs.writeSync
    try { assert.throws(() => Region.open(file), /EIO/) } finally { io.writeSync = original }
    assert.equal(armed, false, 'the record write was the one that failed')
    assert.equal(wordAt(file), 0n, 'no claim left behind')
    Object.assign(lockTiming, { staleMs: 600_000, updateMs: 1_000 })
    const t = performance.now()
    Region.open(file).close()
    assert.ok(performance.now() - t < 300_000)
  })

  it('a refused writer changes neither the claim word nor the record; a reader writes neither', () => {
    const dir = tempDir()
    const file = join(dir, 'a.pm'), other = join(dir, 'b.pm')
    const w = Region.open(file, { size: 4096 })
    const word = wordAt(file), rec = recordOf(file)
    fs.renameSync(file, other)
    Object.assign(lockTiming, { staleMs: 600_000, updateMs: 1_000 })
    assert.throws(() => Region.open(other), /under another name/)
    const r = Region.open(other, { readOnly: true })
    assert.equal(r.liveWriter(), w.writerToken, 'a reader under the new name sees the writer')
    r.close()
    assert.equal(wordAt(other), word)
    assert.deepEqual(recordOf(other), rec)
    w.close()
    assert.equal(wordAt(other), 0n)
  })
})
