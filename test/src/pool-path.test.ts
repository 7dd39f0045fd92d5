// A pool whose file is deleted, replaced (a backup renamed over it) or renamed away while it is
// open (txn/engine.ts eng. 8, 9; txn/engine-path.ts; regions/region-file.ts inv. C7). Before
// session 11 every commit after the replacement returned as durable and went to a file no path
// names: a reopen found none of them (or the backup's older state), and nothing said so.
import { test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { open, check, t, pathTiming, BrokenError, FileSystemError, RegionNotFoundError } from '../../src/index.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-path-'))
let n = 0
const tmp = (): string => path.join(dir, `p${n++}.pm`)
const saved = { ...pathTiming }
afterEach(() => { Object.assign(pathTiming, saved) })

/** A pool with a u64 `counter` at `value`, closed (so the file is a consistent backup). */
function pool(file: string, value: bigint): void {
  const pm = open(file, { size: 1 << 20 })
  const c = pm.persistent('counter', t.u64)
  pm.transaction(tx => tx.writeBigU64(c.offset, value))
  pm.close()
}
/** A new pool file with `counter` at `value`, reopened as a writer that checks its path at every commit. */
function checkedWriter(value: bigint): { file: string; pm: ReturnType<typeof open>; c: ReturnType<ReturnType<typeof open>['persistent']> } {
  pathTiming.writerMs = 0
  const file = tmp()
  pool(file, value)
  const pm = open(file)
  return { file, pm, c: pm.persistent('counter', t.u64) }
}
function counterAt(file: string): bigint {
  const pm = open(file, { readOnly: true })
  try { const c = pm.persistent('counter', t.u64); return pm.read(tx => tx.readBigU64(c.offset)) } finally { pm.close() }
}
const isFs = (errno?: string) => (e: unknown) => e instanceof FileSystemError && (errno === undefined || e.errno === errno)

test('eng. 8: a sync commit into a deleted file is refused, nothing of it written; then every call is BrokenError naming the cause', () => {
  const { file, pm, c } = checkedWriter(1n)
  pm.transaction(tx => tx.writeBigU64(c.offset, 2n))
  const held = fs.openSync(file, 'r') // the deleted file, to see what reached it
  fs.rmSync(file)
  assert.throws(() => pm.transaction(tx => tx.writeBigU64(c.offset, 3n)), (e: unknown) => isFs('ENOENT')(e) && /deleted.*refused before anything of it was written/.test((e as Error).message))
  assert.throws(() => pm.transaction(tx => tx.writeBigU64(c.offset, 4n)), (e: unknown) => e instanceof BrokenError && e.cause instanceof FileSystemError && /deleted/.test(e.message))
  assert.throws(() => pm.read(tx => tx.readBigU64(c.offset)), BrokenError)
  pm.close() // a broken pool closes without a word (the error was given)
  const orphan = path.join(dir, `orphan${n++}.pm`)
  fs.copyFileSync(`/proc/self/fd/${held}`, orphan)
  fs.closeSync(held)
  assert.equal(counterAt(orphan), 2n, 'the refused commit never reached the old file either')
  assert.throws(() => open(file, { readOnly: true }), RegionNotFoundError)
})

test('eng. 8: a backup renamed over the file: the next commit is refused and the backup is left as it was', () => {
  pathTiming.writerMs = 0
  const file = tmp()
  pool(file, 10n)
  const backup = `${file}.bak`
  fs.copyFileSync(file, backup)
  const bytes = fs.readFileSync(backup)
  const pm = open(file)
  const c = pm.persistent('counter', t.u64)
  pm.transaction(tx => tx.writeBigU64(c.offset, 11n))
  fs.renameSync(backup, file)
  assert.throws(() => pm.transaction(tx => tx.writeBigU64(c.offset, 12n)), (e: unknown) => isFs()(e) && (e as FileSystemError).errno === undefined && /replaced at its path/.test((e as Error).message))
  assert.throws(() => pm.flush(), BrokenError)
  pm.close()
  assert.deepEqual(fs.readFileSync(file), bytes, 'the file at the path is the backup, byte for byte')
  assert.equal(counterAt(file), 10n)
  assert.equal(check(file).ok, true)
})

test('eng. 8: within pathTiming.writerMs commits go on; flush() always looks, and names the seqs that may have gone to the old file', () => {
  pathTiming.writerMs = 1e9
  const file = tmp()
  pool(file, 0n)
  const pm = open(file)
  const c = pm.persistent('counter', t.u64)
  const seen = pm.engine.lastSeq
  pm.transaction(tx => tx.writeBigU64(c.offset, 1n)) // the first commit of an open looks, before its record is appended
  fs.rmSync(file)
  pm.transaction(tx => tx.writeBigU64(c.offset, 2n))
  pm.transaction(tx => tx.writeBigU64(c.offset, 3n))
  assert.throws(() => pm.flush(), (e: unknown) => isFs('ENOENT')(e) && (e as Error).message.includes(`seq ${seen + 1}..${seen + 3}, committed after the path was last seen`))
  assert.throws(() => pm.transaction(tx => tx.writeBigU64(c.offset, 4n)), BrokenError)
  pm.close()
})

test('eng. 8: group commits whose flush finds the path moved reject; none commits are refused at flush or reported by close', async () => {
  const { file, pm, c } = checkedWriter(0n)
  await pm.transaction(tx => tx.writeBigU64(c.offset, 1n), { durability: 'group' })
  const p = pm.transaction(tx => tx.writeBigU64(c.offset, 2n), { durability: 'group' })
  fs.rmSync(file) // before the shared flush completes (it starts after this synchronous code)
  await assert.rejects(p, (e: unknown) => e instanceof BrokenError && e.cause instanceof FileSystemError && /group commits up to seq/.test(e.message))
  pm.close()

  const file2 = tmp()
  pool(file2, 5n)
  const pm2 = open(file2)
  const c2 = pm2.persistent('counter', t.u64)
  pm2.transaction(tx => tx.writeBigU64(c2.offset, 6n))
  pm2.transaction(tx => tx.writeBigU64(c2.offset, 7n), { durability: 'none' }) // promises nothing until a flush
  const backup = `${file2}.bak`
  pool(backup, 100n)
  fs.renameSync(backup, file2)
  const last = pm2.engine.lastSeq
  assert.throws(() => pm2.close(), (e: unknown) => isFs()(e) && (e as Error).message.includes(`seq ${last}..${last}`) && /closed without a checkpoint/.test((e as Error).message))
  assert.equal(pm2.region.closed, true, 'the close still closed the region (and released the lock)')
  assert.equal(counterAt(file2), 100n)
  const again = open(file2) // the lock at the path was released
  again.close()
})

test('eng. 8: close() of a pool whose file was deleted closes quietly when every commit is durable (pmem serve removes a pool it created before closing it)', () => {
  pathTiming.writerMs = 1e9
  const file = tmp()
  const pm = open(file, { size: 1 << 20 })
  const c = pm.persistent('counter', t.u64)
  pm.transaction(tx => tx.writeBigU64(c.offset, 1n))
  fs.rmSync(file)
  pm.close()
  assert.equal(pm.region.closed, true)
  assert.equal(fs.existsSync(file), false)
  assert.equal(fs.existsSync(`${file}.lock`), false, 'the lock was released')
})

test('eng. 8: a file renamed away keeps every commit made before the rename; the path refuses the next one', () => {
  const { file, pm, c } = checkedWriter(0n)
  pm.transaction(tx => tx.writeBigU64(c.offset, 41n))
  pm.transaction(tx => tx.writeBigU64(c.offset, 42n), { durability: 'none' })
  const moved = `${file}.moved`
  fs.renameSync(file, moved)
  assert.throws(() => pm.transaction(tx => tx.writeBigU64(c.offset, 43n)), (e: unknown) => isFs('ENOENT')(e) && /'none' or 'group'\) were not made durable/.test((e as Error).message))
  pm.close()
  assert.equal(counterAt(moved), 42n, 'the none commit is in the page cache of the renamed file: its recovery replays it')
})

test('eng. 9: a read-only pool whose file was replaced stops reading the old file (FileSystemError, then BrokenError)', () => {
  const file = tmp()
  pool(file, 1n)
  const ro = open(file, { readOnly: true })
  const c = ro.persistent('counter', t.u64)
  assert.equal(ro.read(tx => tx.readBigU64(c.offset)), 1n)
  const next = `${file}.next`
  pool(next, 2n)
  fs.renameSync(next, file) // a new pool at the path, where the writers now write
  pathTiming.readerMs = 0
  assert.throws(() => ro.read(tx => tx.readBigU64(c.offset)), (e: unknown) => isFs()(e) && /since this read-only pool opened it/.test((e as Error).message))
  assert.throws(() => ro.read(tx => tx.readBigU64(c.offset)), BrokenError)
  ro.close()
  assert.equal(counterAt(file), 2n)
})

test('eng. 9: within pathTiming.readerMs a reader does not look (its reads cost no stat)', () => {
  const file = tmp()
  pool(file, 1n)
  pathTiming.readerMs = 1e9
  const ro = open(file, { readOnly: true }) // its open reads once, and looks
  const c = ro.persistent('counter', t.u64)
  fs.rmSync(file)
  assert.equal(ro.read(tx => tx.readBigU64(c.offset)), 1n)
  ro.close()
})

// ---- crash test: a writer process SIGKILLed around the replacement, several lives ----

const child = fileURLToPath(new URL('./fixtures/path-child.js', import.meta.url))

const alive = new Set<Writer>()
class Writer {
  readonly proc: ChildProcessWithoutNullStreams
  readonly #lines: string[] = []
  #wake: (() => void) | null = null
  constructor(file: string) {
    this.proc = spawn(process.execPath, [child, file])
    alive.add(this)
    this.proc.once('exit', () => alive.delete(this))
    createInterface({ input: this.proc.stdout }).on('line', l => { this.#lines.push(l); this.#wake?.() })
  }
  async line(): Promise<string> {
    while (this.#lines.length === 0) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw new Error('child exited')
      await new Promise<void>(r => { this.#wake = r; setTimeout(r, 50) })
    }
    return this.#lines.shift()!
  }
  async commit(): Promise<string> { this.proc.stdin.write('c\n'); return this.line() }
  async kill(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    await new Promise<void>(r => { this.proc.once('exit', () => r()); this.proc.kill('SIGKILL') })
  }
}

test('eng. 8 crash test: writers SIGKILLed around a backup renamed over their file, and during recovery, eight lives', async ctx => {
  ctx.after(() => { for (const w of alive) w.proc.kill('SIGKILL') }) // a failed assertion leaves no child behind
  const file = tmp()
  pool(file, 0n)
  let expect = 0n // the counter the next life must find
  for (let life = 0; life < 8; life++) {
    if (life % 3 === 1) { // crash during recovery: killed while opening
      const w = new Writer(file)
      await new Promise(r => setTimeout(r, life * 7))
      await w.kill()
    }
    const w = new Writer(file)
    assert.equal(await w.line(), `ready ${expect}`, `life ${life}: the path holds the backup's state, nothing of the commits made after it`)
    let v = expect
    for (let i = 0; i < 3; i++) assert.equal(await w.commit(), `ok ${++v}`)
    const backup = `${file}.bak`
    fs.copyFileSync(file, backup) // the writer is idle between commits: a consistent copy
    const atBackup = v
    for (let i = 0; i < 3; i++) assert.equal(await w.commit(), `ok ${++v}`)
    fs.renameSync(backup, file)
    if (life % 2 === 0) {
      assert.equal(await w.commit(), 'err ERR_PMEM_FS', `life ${life}: the commit after the replacement is refused`)
      assert.equal(await w.commit(), 'err ERR_PMEM_BROKEN')
    } else {
      w.proc.stdin.write('c\n') // killed while this commit runs, or before it
      await new Promise(r => setTimeout(r, life))
    }
    await w.kill()
    expect = atBackup
    assert.equal(counterAt(file), expect)
    const r = check(file)
    assert.equal(r.ok, true, r.problems.join('; '))
  }
})
