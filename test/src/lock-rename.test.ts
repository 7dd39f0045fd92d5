// One writer per FILE, whatever its name (regions/lock.ts inv. L10, regions/writer-record.ts):
// the path lock `<file>.lock` is keyed by name, so before session 12 a file renamed (or moved to
// another directory, or linked then unlinked) while a writer had it open got a second writer
// through its new name, with a lock of its own, recovering over and committing into the first
// one's redo log: acknowledged commits lost (the first writer's path check, txn/engine.ts
// eng. 8, stops it only up to pathTiming.writerMs later, and a bare Region never).
import { test, after, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { open, check, t, pathTiming, Region, BrokenError, RegionLockedError } from '../../src/index.js'
import { decodeHeader } from '../../regions/header.js'
import { decodeWriterRecord, encodeWriterRecord, readWriterRecord, RECORD_OFFSET } from '../../regions/writer-record.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-lock-rename-'))
after(() => fs.rmSync(root, { recursive: true, force: true }))
let n = 0
const newDir = (): string => { const d = path.join(root, `d${n++}`); fs.mkdirSync(d); return d }
const child = fileURLToPath(new URL('./fixtures/names-child.js', import.meta.url))
const kids = new Set<Kid>()
afterEach(async () => { for (const k of kids) await kill(k) }) // a failed assertion leaves no child holding the test

interface Kid { p: ChildProcessByStdio<Writable, Readable, null>; next(): Promise<string>; commit(): Promise<string>; dead: Promise<void> }
/** A names-child writer of `file` (fixtures/names-child.ts); pathTiming.writerMs huge: its own path check never saves it. */
function start(file: string): Kid {
  const p = spawn(process.execPath, [child, file, '1000000000'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines: string[] = []
  let wake: (() => void) | null = null
  let ended = false
  const dead = new Promise<void>(r => p.on('exit', () => { ended = true; kids.delete(kid); wake?.(); r() }))
  createInterface({ input: p.stdout }).on('line', l => { lines.push(l); wake?.() })
  const next = async (): Promise<string> => {
    while (lines.length === 0) {
      if (ended) return 'exited'
      await new Promise<void>(r => { wake = r })
      wake = null
    }
    return lines.shift()!
  }
  const kid: Kid = { p, next, dead, commit: async () => { p.stdin.write('c\n'); return next() } }
  kids.add(kid)
  return kid
}
async function kill(k: Kid): Promise<void> { if (k.p.exitCode === null && k.p.signalCode === null) k.p.kill('SIGKILL'); await k.dead }

function counterAt(file: string): { counter: bigint; words: Set<bigint> } {
  const pm = open(file, { readOnly: true })
  try {
    const c = pm.persistent('counter', t.u64), w = pm.persistent('words', t.array(t.u64, 64))
    return pm.read(tx => ({ counter: tx.readBigU64(c.offset), words: new Set(Array.from({ length: 64 }, (_, i) => tx.readBigU64(w.offset + 8 * i))) }))
  } finally { pm.close() }
}
const lockedBy = (other: string, pid: number) => (e: unknown): boolean =>
  e instanceof RegionLockedError && e.holderPid === pid && e.message.includes(`under another name, "${other}"`) && /nothing was changed/.test(e.message)

test('inv. L10: a file renamed while a writer (another process) has it open: a writer through the new name is refused, nothing changed; after the first one is SIGKILLed its stale record is taken over and every acknowledged commit is there', async () => {
  const dir = newDir()
  const a = path.join(dir, 'db.pm'), b = path.join(dir, 'db2.pm')
  const A = start(a)
  assert.match(await A.next(), /^ready \d+ 0$/)
  for (let i = 1; i <= 3; i++) assert.equal(await A.commit(), `ok ${i}`)
  fs.renameSync(a, b)
  const before = fs.readFileSync(b)
  assert.throws(() => open(b), lockedBy(a, A.p.pid!))
  assert.throws(() => Region.open(b), lockedBy(a, A.p.pid!), 'the bare region too')
  assert.deepEqual(fs.readFileSync(b), before, 'nothing was changed: no recovery ran, no record written')
  assert.ok(!fs.existsSync(`${b}.lock`), 'the refused open released its path lock')
  assert.throws(() => Region.delete(b), (e: unknown) => e instanceof RegionLockedError && /nothing was deleted/.test(e.message), 'nor is the file deleted under the new name')
  assert.deepEqual(fs.readFileSync(b), before)
  assert.equal(await A.commit(), 'ok 4', 'the first writer goes on alone')
  const r = Region.open(b, { readOnly: true })
  assert.notEqual(r.liveWriter(), null, 'a reader through the new name sees the live writer (by its record)')
  r.close()
  await kill(A)
  const pm = open(b) // A is dead: its record (naming db.pm.lock) is stale, taken over
  const c = pm.persistent('counter', t.u64)
  assert.equal(pm.read(tx => tx.readBigU64(c.offset)), 4n)
  pm.close()
  assert.deepEqual(fs.readFileSync(b).subarray(64, 4096), Buffer.alloc(4096 - 64), 'the dead writer\'s record is gone with its lock: zeros after the close')
  assert.equal(check(b).ok, true)
})

test('inv. L10: the file moved to another directory, or linked under a new name and its old name unlinked, while a writer holds it: refused under the new name; close puts back the bytes its record overwrote', () => {
  const d1 = newDir(), d2 = newDir()
  const a = path.join(d1, 'a.pm'), moved = path.join(d2, 'moved.pm'), linked = path.join(d2, 'linked.pm')
  const w = Region.open(a, { size: 4096 })
  fs.renameSync(a, moved)
  assert.throws(() => Region.open(moved), (e: unknown) => e instanceof RegionLockedError && e.message.includes(`"${a}"`) && /\(this process\)/.test(e.message))
  fs.linkSync(moved, linked)
  fs.unlinkSync(moved)
  assert.throws(() => Region.open(linked), (e: unknown) => e instanceof RegionLockedError && e.message.includes(`"${a}"`))
  const fd = fs.openSync(linked, 'r')
  assert.equal(readWriterRecord(fd)?.lockDir, `${a}.lock`, 'the writer record is in the file, naming the first name\'s lock')
  fs.closeSync(fd)
  w.close()
  assert.deepEqual(fs.readFileSync(linked).subarray(64, 4096), Buffer.alloc(4096 - 64), 'close zeroed the record: the reserved bytes are zeros again')
  const again = Region.open(linked)
  again.close()
})

test('inv. L10: a copy of an open file carries its record but is another file (another inode): it opens for writing beside the original', () => {
  const dir = newDir()
  const a = path.join(dir, 'a.pm'), copy = path.join(dir, 'copy.pm')
  const w = Region.open(a, { size: 4096 })
  fs.copyFileSync(a, copy)
  const fd = fs.openSync(copy, 'r')
  assert.equal(readWriterRecord(fd)?.lockDir, `${a}.lock`, 'the copy holds the original writer\'s record')
  fs.closeSync(fd)
  const c = Region.open(copy)
  c.close()
  w.close()
})

test('inv. L10: a damaged record, one naming a lock that holds another token, or one whose lock path is a file is ignored; a record never changes what the header decodes to (older versions read the 64-byte struct only)', () => {
  const dir = newDir()
  const a = path.join(dir, 'a.pm'), other = path.join(dir, 'other.pm')
  Region.open(a, { size: 4096 }).close()
  const o = Region.open(other, { size: 4096 }) // a live lock, with its own token
  const st = fs.statSync(a, { bigint: true })
  const good = encodeWriterRecord({ dev: st.dev, ino: st.ino, token: '0123456789abcdef', lockDir: `${other}.lock` })!
  const damaged = Uint8Array.from(good); damaged[50]! ^= 1
  const headerBefore = decodeHeader(fs.readFileSync(a), a)
  for (const [what, bytes] of [['another token', good], ['a bad CRC', damaged], ['random bytes', Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 255)]] as const) {
    const fd = fs.openSync(a, 'r+')
    fs.writeSync(fd, bytes, 0, bytes.length, RECORD_OFFSET)
    fs.closeSync(fd)
    assert.deepEqual(decodeHeader(fs.readFileSync(a), a), headerBefore, `${what}: the header decodes the same`)
    assert.equal(Region.check(a).id, headerBefore.id)
    const w = Region.open(a) // not refused
    w.close()
  }
  assert.equal(decodeWriterRecord(damaged), undefined)
  o.close()
})

test('inv. L10 crash test: writers under alternating names (rename, link + unlink), SIGKILLed while committing and during open/recovery, several lives: a writer under the new name is refused while the old one lives, none ever opens beside a live one, every acknowledged commit is found', async () => {
  const dir = newDir()
  let cur = path.join(dir, 'n0.pm')
  let acked = 0n
  let rng = 12345
  const rand = (k: number): number => { rng = (rng * 1103515245 + 12345) % 2147483648; return rng % k }
  for (let life = 0; life < 4; life++) {
    const A = start(cur)
    const first = await A.next()
    assert.match(first, /^ready \d+ \d+$/, `life ${life}: the writer of ${cur} opens`)
    assert.ok(BigInt(first.split(' ')[2]!) >= acked, `life ${life}: every acknowledged commit found (${first}, acked ${acked})`)
    acked = BigInt(first.split(' ')[2]!)
    for (let i = 0; i < 3; i++) { const l = await A.commit(); assert.match(l, /^ok \d+$/); acked = BigInt(l.slice(3)) }
    const next = path.join(dir, `n${life + 1}.pm`)
    if (life % 2 === 0) fs.renameSync(cur, next)
    else { fs.linkSync(cur, next); fs.unlinkSync(cur) }
    const B = start(next)
    assert.match(await B.next(), /^refused ERR_PMEM_LOCKED .*under another name/, `life ${life}: a writer under the new name while the old one lives`)
    await B.dead
    // SIGKILL the first writer with commits in flight
    A.p.stdin.write('c\n'.repeat(20))
    for (let i = rand(10); i > 0; i--) { const l = await A.next(); if (l.startsWith('ok ')) acked = BigInt(l.slice(3)) }
    await kill(A)
    for (;;) { const l = await A.next(); if (l === 'exited') break; if (l.startsWith('ok ')) acked = BigInt(l.slice(3)) }
    // a writer under the new name, SIGKILLed during its open (lock, record, recovery) or just after
    const C = start(next)
    await new Promise(r => setTimeout(r, 20 + rand(120)))
    await kill(C)
    cur = next
  }
  const end = counterAt(cur)
  assert.ok(end.counter >= acked, `every acknowledged commit found: ${end.counter} >= ${acked}`)
  assert.deepEqual([...end.words], [end.counter], 'no torn transaction: every word holds the counter')
  assert.equal(check(cur).ok, true)
})

test('eng. 10: a writer whose record another writer replaced (the simultaneous-open race inv. L10 leaves open) refuses its next sync commit with RegionLockedError and turns broken', () => {
  const saved = pathTiming.writerMs
  pathTiming.writerMs = 0
  try {
    const dir = newDir()
    const a = path.join(dir, 'a.pm'), other = path.join(dir, 'other.pm')
    const pm = open(a, { size: 1 << 20 })
    const c = pm.persistent('counter', t.u64)
    pm.persistent('words', t.array(t.u64, 64))
    pm.transaction(tx => tx.writeBigU64(c.offset, 1n))
    const st = fs.statSync(a, { bigint: true })
    // what the other writer (a live lock under another name) writes when both read no record first
    const theirs = encodeWriterRecord({ dev: st.dev, ino: st.ino, token: 'fedcba9876543210', lockDir: `${other}.lock` })!
    const fd = fs.openSync(a, 'r+')
    fs.writeSync(fd, theirs, 0, theirs.length, RECORD_OFFSET)
    fs.closeSync(fd)
    assert.throws(() => pm.transaction(tx => tx.writeBigU64(c.offset, 2n)), (e: unknown) => e instanceof RegionLockedError && /another writer opened the same file under another name/.test(e.message))
    assert.throws(() => pm.transaction(tx => tx.writeBigU64(c.offset, 3n)), BrokenError)
    pm.close()
    assert.equal(counterAt(a).counter, 1n, 'the refused commit wrote nothing')
  } finally { pathTiming.writerMs = saved }
})
