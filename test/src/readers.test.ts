// Readers beside a live writer, with real processes and worker threads (txn/reader.ts,
// txn/publish.ts; the issue "readers"). The workload (fixtures/snapshot-kit.ts) makes a torn
// snapshot visible: one transaction writes one value into 16 pages and, every 40th, into a
// block of a region that grows. Before snapshots, a read-only open read a frozen overlay over
// live pages and saw half-applied transactions in almost every read, never saw new commits,
// and check() reported damage on a healthy live file.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { open, check } from '../../src/index.js'
import { commitValue, declare, readSnapshot } from './fixtures/snapshot-kit.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const WRITER = path.join(here, 'fixtures', 'snapshot-writer.js')
const READER = path.join(here, 'fixtures', 'snapshot-reader.js')
const FRESH = path.join(here, 'fixtures', 'snapshot-fresh.js')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-readers-'))
let n = 0
const tmp = () => path.join(dir, `p${n++}.pm`)

interface Child { proc: ChildProcess; lines: string[]; exited: Promise<number | null>; waitFor(pred: (line: string) => boolean): Promise<string> }

/** Children still running: killed when the file's tests end, so a failed assertion leaves no writer running forever. */
const children = new Set<ChildProcess>()
after(() => { for (const c of children) c.kill('SIGKILL') })

function run(script: string, args: string[]): Child {
  const proc = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(proc)
  proc.on('exit', () => children.delete(proc))
  const lines: string[] = []
  const waiters: Array<{ pred: (l: string) => boolean; resolve: (l: string) => void }> = []
  let err = ''
  let buf = ''
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString()
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      lines.push(line)
      for (const w of waiters.splice(0)) { if (w.pred(line)) w.resolve(line); else waiters.push(w) }
    }
  })
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>(resolve => proc.on('exit', code => {
    if (code !== 0 && code !== null) process.stderr.write(`child ${path.basename(script)} exited ${code}: ${err}\n`)
    resolve(code)
  }))
  return {
    proc, lines, exited,
    waitFor: pred => {
      const seen = lines.find(pred)
      if (seen !== undefined) return Promise.resolve(seen)
      return Promise.race([
        new Promise<string>(resolve => waiters.push({ pred, resolve })),
        exited.then(code => { throw new Error(`child ${path.basename(script)} exited (${code}) before printing the line waited for: ${err}`) }),
      ])
    },
  }
}

interface ReaderResult { reads: number; torn: number; samples: string[]; first: number; last: number; backwards: number; mode: string }

async function readerResult(c: Child): Promise<ReaderResult> {
  assert.equal(await c.exited, 0, 'the reader child exits normally')
  return JSON.parse(c.lines.find(l => l.startsWith('{'))!) as ReaderResult
}

/** Creates the pool with the workload's variables (and a first value), as the writer child would. */
async function createPool(file: string): Promise<void> {
  const pm = open(file, { size: 1 << 20, maxSize: 256 << 20 })
  const v = declare(pm)
  pm.transaction(tx => commitValue(tx, v, 1))
  pm.close()
}

/** Longer runs: PMEM_READERS_LONG=1 (more modes, rounds and time). */
const LONG = process.env.PMEM_READERS_LONG === '1'

const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex')

test('rd. 2, pub. 1-5: reader processes beside a writer of every durability (checkpoints, growth) never see a half-applied transaction, and follow its commits', async () => {
  for (const mode of LONG ? ['mix', 'sync', 'group', 'none'] : ['mix']) {
    const file = tmp()
    await createPool(file)
    const w = run(WRITER, [file, '0', mode])
    await w.waitFor(l => l === 'ready')
    const readers = [run(READER, [file, LONG ? '3000' : '800']), run(READER, [file, LONG ? '3000' : '800'])]
    const results = await Promise.all(readers.map(readerResult))
    w.proc.kill('SIGKILL')
    await w.exited
    for (const r of results) {
      assert.equal(r.torn, 0, `${mode}: ${r.torn} of ${r.reads} reads saw a half-applied transaction: ${r.samples.join('; ')}`)
      assert.equal(r.backwards, 0, 'snapshots never go back in time')
      assert.equal(r.mode, 'live')
      assert.ok(r.reads > 100, `${r.reads} reads`)
      assert.ok(r.last > r.first, `the reader saw new commits (${r.first} -> ${r.last})`)
    }
    assert.ok(fs.statSync(file).size > (1 << 20), 'the pool grew while the readers read')
  }
})

test('rd. 2-3: readers in worker threads see every commit that returned before their read began', async () => {
  const file = tmp()
  await createPool(file)
  const pm = open(file)
  const v = declare(pm)
  const shared = new Float64Array(new SharedArrayBuffer(16)) // [0]: newest commit returned, [1]: stop
  const workers = [0, 1].map(() => new Worker(FRESH, { workerData: { file, sab: shared.buffer } }))
  const messages = workers.map(w => {
    const got: unknown[] = []
    const waiters: Array<() => void> = []
    w.on('message', m => { got.push(m); for (const f of waiters.splice(0)) f() })
    w.on('error', e => { got.push(e); for (const f of waiters.splice(0)) f() })
    return (i: number) => new Promise<unknown>(resolve => { const check = () => { if (got.length > i) resolve(got[i]); else waiters.push(check) }; check() })
  })
  assert.deepEqual(await Promise.all(messages.map(m => m(0))), ['ready', 'ready'])
  let value = pm.read(tx => readSnapshot(tx, v).value)
  await pm.transaction(tx => commitValue(tx, v, ++value), { durability: 'group' }) // the flush thread is up
  const end = Date.now() + (LONG ? 3000 : 300), start = value
  const kinds = ['sync', 'none', 'group'] as const
  while (Date.now() < end || value < start + 60) {
    value++
    const x = value, d = kinds[value % 3]!
    if (d === 'group') await pm.transaction(tx => commitValue(tx, v, x), { durability: 'group' })
    else pm.transaction(tx => commitValue(tx, v, x), { durability: d })
    shared[0] = x // the commit returned (a group one: its promise resolved)
    if (value % 4 === 0) await new Promise(resolve => setTimeout(resolve, 1)) // let readers look at it (a none commit stays unflushed)
  }
  shared[1] = 1
  const results = await Promise.all(messages.map(m => m(1))) as Array<{ stale: number; torn: number; reads: number }>
  for (const r of results) {
    assert.equal(r.torn, 0)
    assert.equal(r.stale, 0, `${r.stale} of ${r.reads} reads missed a commit that had returned before they began`)
    assert.ok(r.reads > 50)
  }
  pm.close()
})

test('rd. 4-5: a writer SIGKILLed at random moments: its readers go on and read the last committed state; a SIGKILLed reader blocks nothing', async () => {
  const file = tmp()
  await createPool(file)
  for (let round = 0; round < (LONG ? 10 : 1); round++) {
    const w = run(WRITER, [file, '0', 'mix'])
    await w.waitFor(l => l === 'ready')
    const reader = run(READER, [file, '900'])
    const victim = run(READER, [file, '5000'])
    await victim.waitFor(l => l === 'ready')
    await new Promise(resolve => setTimeout(resolve, 100 + Math.random() * 200))
    victim.proc.kill('SIGKILL') // a reader killed mid-read
    await victim.exited
    const printed = Math.max(0, ...w.lines.filter(l => /^\d+$/.test(l)).map(Number))
    await w.waitFor(l => /^\d+$/.test(l) && Number(l) > printed) // the writer goes on committing after a reader was killed
    w.proc.kill('SIGKILL') // the writer killed mid-commit
    await w.exited
    const r = await readerResult(reader)
    assert.equal(r.torn, 0, r.samples.join('; '))
    assert.equal(r.backwards, 0)
    // A new reader (no writer now: it reads as recovery would, writing nothing) agrees with the recovery.
    const before = sha(file)
    const ro = open(file, { readOnly: true })
    const seen = ro.read(tx => readSnapshot(tx, declare(ro)))
    assert.equal(ro.engine.readerMode, 'static')
    ro.close()
    assert.equal(sha(file), before, 'rd. 5: the reader changed nothing in the file')
    assert.equal(seen.torn, null)
    assert.ok(seen.value >= r.last, `the last committed state (${seen.value}) is not older than what a reader saw (${r.last})`)
    const rw = open(file)
    assert.deepEqual(rw.read(tx => readSnapshot(tx, declare(rw))), seen, 'a reader of a crashed writer sees what recovery then gives')
    rw.close()
  }
})

test('rd. 4: a reader opened while no writer runs follows a writer that starts later', async () => {
  const file = tmp()
  await createPool(file)
  const ro = open(file, { readOnly: true })
  const v = declare(ro)
  const first = ro.read(tx => readSnapshot(tx, v))
  assert.equal(ro.engine.readerMode, 'static')
  const w = run(WRITER, [file, '0', 'mix'])
  await w.waitFor(l => /^\d+$/.test(l))
  const later = ro.read(tx => readSnapshot(tx, v))
  assert.equal(ro.engine.readerMode, 'live')
  assert.equal(later.torn, null)
  assert.ok(later.value > first.value, `${later.value} > ${first.value}`)
  w.proc.kill('SIGKILL')
  await w.exited
  ro.close()
})

test('check(path) on a live file under load never reports damage', async () => {
  const file = tmp()
  await createPool(file)
  const w = run(WRITER, [file, '0', 'mix'])
  await w.waitFor(l => l === 'ready')
  const end = Date.now() + (LONG ? 5000 : 800)
  let checks = 0
  while (Date.now() < end || checks < 4) {     // a time and a count: a loaded machine makes each check slower, not fewer
    const r = check(file, { reachability: true })
    assert.deepEqual(r.problems, [], `check ${checks} of a healthy live file`)
    assert.equal(r.ok, true)
    checks++
  }
  w.proc.kill('SIGKILL')
  await w.exited
  assert.equal(check(file, { reachability: true }).ok, true, 'and after the writer was killed')
})
