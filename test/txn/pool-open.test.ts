// Opening pools on real files (txn/pool.ts pool inv. 1, txn/engine.ts eng. 4, 6): a file
// that is not a valid pool is never formatted over, a failing open leaves every byte of the
// file as it was, and a transaction cannot write after its pool was closed under it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { open, check, t, Region, SimRegion, PersistentMemory } from '../../src/index.js'

const HEADER = 4096 // region header; the user area starts here in the file

function scratch(): { dir: string; file: (name: string) => string; done: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-pool-open-'))
  return { dir, file: n => path.join(dir, n), done: () => fs.rmSync(dir, { recursive: true, force: true }) }
}

/** A pool with a non-default log size and one variable holding 7, closed cleanly. */
function makePool(file: string): number {
  const pm = open(file, { size: 256 * 1024, logSize: 64 * 1024 })
  const v = pm.persistent('v', t.f64)
  pm.transaction(tx => tx.writeF64(v.offset, 7))
  pm.close()
  return v.offset
}

function expectUnchanged(file: string, before: Buffer, action: () => void, code: string): void {
  assert.throws(action, { code })
  assert.equal(Buffer.compare(fs.readFileSync(file), before), 0, `${path.basename(file)} changed`)
}

test('pool inv. 1: a zeroed superblock is CorruptionError, the file is unchanged and check() reports it', () => {
  const s = scratch()
  try {
    const f = s.file('a.pm')
    const off = makePool(f)
    const fd = fs.openSync(f, 'r+')
    fs.writeSync(fd, new Uint8Array(32), 0, 32, HEADER)
    fs.closeSync(fd)
    const before = fs.readFileSync(f)
    expectUnchanged(f, before, () => open(f), 'ERR_PMEM_CORRUPT')
    expectUnchanged(f, before, () => open(f, { size: 256 * 1024 }), 'ERR_PMEM_CORRUPT')
    const report = check(f)
    assert.equal(report.ok, false)
    assert.match(report.problems.join('\n'), /ERR_PMEM_CORRUPT: .*superblock is zeroed but a redo log follows it/)
    assert.equal(Buffer.compare(fs.readFileSync(f), before), 0)
    // the data is all still there: restoring the superblock brings the pool back
    const good = s.file('b.pm')
    makePool(good)
    const fd2 = fs.openSync(f, 'r+')
    fs.writeSync(fd2, fs.readFileSync(good).subarray(HEADER, HEADER + 32), 0, 32, HEADER)
    fs.closeSync(fd2)
    const pm = open(f)
    assert.equal(pm.read(tx => tx.readF64(off)), 7)
    pm.close()
  } finally { s.done() }
})

test('pool inv. 1: a region with data but no superblock is NotAPoolError, never formatted', () => {
  const s = scratch()
  try {
    const f = s.file('foreign.pm')
    const r = Region.open(f, { size: 64 * 1024 })
    r.bytes[40000] = 1
    r.flush()
    r.close()
    const before = fs.readFileSync(f)
    expectUnchanged(f, before, () => open(f), 'ERR_PMEM_NOT_A_POOL')
    expectUnchanged(f, before, () => open(f, { readOnly: true }), 'ERR_PMEM_NOT_A_POOL')
    assert.match(check(f).problems.join('\n'), /ERR_PMEM_NOT_A_POOL: .*holds data but no pool superblock/)
    // a region whose creation finished but whose pool was never formatted: all zero, formatted on a writable open
    const g = s.file('empty.pm')
    Region.open(g, { size: 64 * 1024 }).close()
    assert.match(check(g).problems.join('\n'), /ERR_PMEM_NOT_A_POOL: .*never formatted/)
    const pm = open(g)
    pm.persistent('x', t.u32)
    pm.close()
    assert.equal(check(g).ok, true)
  } finally { s.done() }
})

test('pool inv. 1: fromRegion formats a SimRegion.create() region, not a SimRegion.fromImage() one that holds data', () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  assert.equal(sim.created, true)
  const pm = PersistentMemory.fromRegion(sim, { logSize: 8192 })
  pm.persistent('x', t.u32)
  pm.close()
  const img = sim.durableImage()
  img.fill(0, 0, 32)
  const r = SimRegion.fromImage(img)
  assert.equal(r.created, false)
  assert.throws(() => PersistentMemory.fromRegion(r), { code: 'ERR_PMEM_CORRUPT' })
  assert.equal(Buffer.compare(r.volatileImage(), img), 0)
  const zero = SimRegion.fromImage(new Uint8Array(64 * 1024))
  PersistentMemory.fromRegion(zero).close() // all zero: nothing to lose, formatted
  const junk = new Uint8Array(64 * 1024)
  junk[60000] = 9
  assert.throws(() => PersistentMemory.fromRegion(SimRegion.fromImage(junk)), { code: 'ERR_PMEM_NOT_A_POOL' })
})

test('pool inv. 1: a crash at any flush of the format leaves a file that opens (formatted again) or is a pool', () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  const images: SimRegion[] = []
  sim.onFlush = () => { for (const img of sim.crashImages({ max: 8 })) images.push(img) }
  const pm = PersistentMemory.fromRegion(sim, { logSize: 8192 })
  pm.close()
  assert.ok(images.length > 4)
  for (const img of images) {
    const p = PersistentMemory.fromRegion(img)
    p.persistent('after', t.u32)
    p.close()
  }
})

test('eng. 4: a failing open (damaged log record) leaves the file byte for byte as it was', () => {
  const s = scratch()
  try {
    const f = s.file('live.pm')
    const pm = open(f, { size: 256 * 1024, logSize: 64 * 1024 })
    const v = pm.persistent('v', t.f64)
    for (let i = 1; i <= 3; i++) pm.transaction(tx => tx.writeF64(v.offset, i))
    const g = s.file('crashed.pm')
    fs.copyFileSync(f, g) // what a SIGKILL now leaves: the log holds the records, not yet truncated
    pm.close()
    const bytes = fs.readFileSync(g)
    const records: number[] = []
    for (let p = HEADER + 8192; p < HEADER + 4096 + 64 * 1024; p += 8) if (bytes.readUInt32LE(p) === 0x4f444552) records.push(p)
    assert.ok(records.length >= 3, `found ${records.length} records`)
    bytes[records[records.length - 1]! + 44]! ^= 1 // the newest record's data
    bytes.writeDoubleLE(0, HEADER + v.offset) // its data page not written back: a replay would change it
    fs.writeFileSync(g, bytes)
    expectUnchanged(g, bytes, () => open(g), 'ERR_PMEM_CORRUPT')
    assert.match(check(g).problems.join('\n'), /ERR_PMEM_CORRUPT: .*is damaged/)
    assert.equal(Buffer.compare(fs.readFileSync(g), bytes), 0)
  } finally { s.done() }
})

test('eng. 6: close() inside a transaction is refused; nothing of the transaction reaches the file', () => {
  const s = scratch()
  try {
    const f = s.file('close.pm')
    let pm = open(f, { size: 128 * 1024 })
    const v = pm.persistent('v', t.f64)
    let code: string | undefined
    assert.throws(() => pm.transaction(tx => { tx.writeF64(v.offset, 42); pm.close() }), (e: { code?: string }) => { code = e.code; return true })
    const stayedOpen = !pm.closed
    pm.close()
    pm = open(f)
    assert.equal(pm.read(tx => tx.readF64(v.offset)), 0, 'the transaction that threw is not in the file')
    pm.close()
    assert.equal(code, 'ERR_PMEM_TX_ACTIVE')
    assert.ok(stayedOpen, 'the refused close left the pool open')
  } finally { s.done() }
})
