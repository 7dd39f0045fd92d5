// Recovery across lives (txn/engine.ts eng. 4-6, redo-log.ts log inv. 4) on the crash
// simulator: the exact reproductions of the defects of issue "Trust I" items 1, 2 and 4.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SimRegion, PmemError } from '../../regions/index.js'
import { TxEngine, TransactionActiveError, hash32, type Tx } from '../../txn/index.js'

const LOG_BASE = 4096
const SECTOR = 512
const MEMO = 480

/** Three accounts of 100 and a memo area in a fresh engine; the log is empty afterwards. */
function bank(): { sim: SimRegion; eng: TxEngine; A: number; memo: number } {
  const sim = SimRegion.create({ size: 64 * 1024 })
  const eng = TxEngine.create(sim, { logSize: 16 * 1024 })
  const A = eng.dataOffset
  eng.transaction(tx => { for (let i = 0; i < 3; i++) tx.writeF64(A + 8 * i, 100) })
  eng.checkpoint()
  return { sim, eng, A, memo: A + 64 }
}

function transfer(tx: Tx, A: number, memo: number, from: number, to: number, amount: number, note: number): void {
  tx.writeF64(A + 8 * from, tx.readF64(A + 8 * from) - amount)
  tx.writeF64(A + 8 * to, tx.readF64(A + 8 * to) + amount)
  tx.writeBytes(memo, new Uint8Array(MEMO).fill(note))
}

function balances(eng: TxEngine, A: number): number[] {
  const r = eng.reader()
  return [0, 1, 2].map(i => r.readF64(A + 8 * i))
}

test('eng. 5, log inv. 4: no phantom transactions after two crashes (recovery that replays nothing still starts a new epoch)', () => {
  const { sim, eng, A, memo } = bank()
  const first = eng.log.tail
  eng.transaction(tx => transfer(tx, A, memo, 0, 1, 10, 1), { durability: 'none' }) // 552-byte record: sectors 0-1
  eng.transaction(tx => transfer(tx, A, memo, 0, 2, 10, 2), { durability: 'none' }) // sectors 1-2
  // power loss: only the first record's first sector is lost; the second record survives whole
  const firstSector = LOG_BASE + first - first % SECTOR
  const img = sim.volatileImage()
  img.set(sim.durableImage().subarray(firstSector, firstSector + SECTOR), firstSector)
  const life2 = SimRegion.fromImage(img)
  const e2 = TxEngine.open(life2)
  assert.equal(e2.recovered, 0, 'the first record is torn, so nothing is replayed')
  assert.deepEqual(balances(e2, A), [100, 100, 100])
  e2.transaction(tx => transfer(tx, A, memo, 0, 2, 10, 3)) // one durable transfer, same length, same offset
  const e3 = TxEngine.open(life2.processCrash())
  assert.equal(e3.recovered, 1, 'only the durable transfer of the second life is replayed')
  const b = balances(e3, A)
  assert.deepEqual(b, [90, 100, 110])
  assert.equal(b[0]! + b[1]! + b[2]!, 300)
})

test('eng. 5: a writable open of a clean log starts a new epoch at its first commit, not before (since session 17); a read-only open writes nothing', () => {
  const { sim, eng, A } = bank()
  eng.close()
  const epoch = TxEngine.open(SimRegion.fromImage(sim.durableImage(), { readOnly: true })).log.epoch
  const again = TxEngine.open(sim)
  assert.equal(again.recovered, 0)
  assert.equal(again.log.epoch, epoch, 'the open left the log as found')
  again.transaction(tx => tx.writeF64(A, 1))
  assert.equal(again.log.epoch, epoch + 1, 'the first commit truncated first')
  again.close()
})

test('eng. 5: lives that open a torn log and commit nothing leave it as found; a later life\'s commit still starts a new epoch, so the stale record is never replayed (four lives)', () => {
  const { sim, eng, A, memo } = bank()
  const first = eng.log.tail
  eng.transaction(tx => transfer(tx, A, memo, 0, 1, 10, 1), { durability: 'none' })
  eng.transaction(tx => transfer(tx, A, memo, 0, 2, 10, 2), { durability: 'none' })
  const firstSector = LOG_BASE + first - first % SECTOR
  const img = sim.volatileImage()
  img.set(sim.durableImage().subarray(firstSector, firstSector + SECTOR), firstSector)
  let life = SimRegion.fromImage(img)
  for (let idle = 0; idle < 2; idle++) { // lives 2 and 3: open, read, close, then a crash
    const e = TxEngine.open(life)
    assert.equal(e.recovered, 0)
    assert.deepEqual(balances(e, A), [100, 100, 100])
    e.close()
    life = life.crash(idle + 1)
  }
  const e4 = TxEngine.open(life)
  assert.equal(e4.recovered, 0, 'still torn: the idle lives changed nothing')
  e4.transaction(tx => transfer(tx, A, memo, 0, 2, 10, 3))
  const e5 = TxEngine.open(life.processCrash())
  assert.equal(e5.recovered, 1, 'only the durable transfer of life 4 is replayed, not the stale second record')
  assert.deepEqual(balances(e5, A), [90, 100, 110])
})

test('eng. 4: a failing recovery writes nothing: damaged record after good ones', () => {
  const { sim, eng, A, memo } = bank()
  eng.transaction(tx => transfer(tx, A, memo, 0, 1, 10, 1))
  eng.transaction(tx => transfer(tx, A, memo, 1, 2, 5, 2))
  eng.transaction(tx => transfer(tx, A, memo, 2, 0, 1, 3))
  const img = sim.processCrash().volatileImage()
  // the data area still shows the newest values (applied in place); damage the second record
  img[LOG_BASE + eng.log.tail - 700]! ^= 0x20
  const r = SimRegion.fromImage(img)
  let flushes = 0
  r.onFlush = () => { flushes++ }
  assert.throws(() => TxEngine.open(r), (e: unknown) => e instanceof PmemError && e.code === 'ERR_PMEM_CORRUPT')
  assert.equal(flushes, 0)
  assert.equal(Buffer.compare(r.volatileImage(), img), 0, 'no byte changed in memory')
  assert.equal(Buffer.compare(r.durableImage(), img), 0, 'no byte changed on the simulated disk')
})

test('eng. 4: a record writing outside the data area fails the open before anything is written', () => {
  const { sim, eng, A } = bank()
  eng.transaction(tx => tx.writeF64(A, 1))
  eng.transaction(tx => tx.writeF64(A + 8, 2))
  const img = sim.processCrash().volatileImage()
  // forge record 2 (48 bytes after record 1) to target offset 0, with valid checksums, as a buggy writer would
  const seed = TxEngine.open(SimRegion.fromImage(img, { readOnly: true })).log.seed
  const words = new Uint32Array(img.buffer)
  const rec2 = (LOG_BASE + 4104 + 48) >>> 2
  assert.equal(words[rec2], 0x4f444552)
  words[rec2 + 8] = 0 // the entry's target
  words[rec2 + 5] = hash32(words, rec2 + 8, rec2 + 12, seed)
  words[rec2 + 6] = hash32(words, rec2, rec2 + 6, seed)
  new Float64Array(img.buffer, A, 1)[0] = 0 // record 2's data page not yet written back: replaying it would change bytes
  const r = SimRegion.fromImage(img)
  assert.throws(() => TxEngine.open(r), /transaction 3 writes 8 bytes at 0, outside the data area/)
  assert.equal(Buffer.compare(r.durableImage(), img), 0)
  assert.equal(Buffer.compare(r.volatileImage(), img), 0, 'record 1 was not replayed either')
})

test('eng. 6: close inside a running transaction is refused and nothing of the transaction is written', () => {
  const { sim, eng, A } = bank()
  const before = sim.volatileImage()
  assert.throws(() => eng.transaction(tx => { tx.writeF64(A, 1); eng.close() }), TransactionActiveError)
  assert.equal(eng.closed, false)
  assert.equal(Buffer.compare(sim.volatileImage(), before), 0)
  // a region closed under a running transaction: the commit writes nothing
  assert.throws(() => eng.transaction(tx => { tx.writeF64(A, 2); sim.close() }), { code: 'ERR_PMEM_CLOSED' })
  assert.equal(Buffer.compare(sim.volatileImage(), before), 0)
})

test('eng. 6: close inside a running read function is refused (its reader would go on reading an unlocked file), on writable and read-only engines, nested too', () => {
  const { sim, eng, A } = bank()
  const reads: Array<[string, (f: () => void) => unknown]> = [
    ['read', f => eng.read(r => { f(); return r.readF64(A) })],
    ['readReused', f => eng.readReused(r => { f(); return r.readF64(A) })],
    ['read nested in readReused', f => eng.readReused(() => eng.read(r => { f(); return r.readF64(A) }))],
  ]
  for (const [what, read] of reads) {
    assert.throws(() => read(() => eng.close()), TransactionActiveError, what)
    assert.equal(eng.closed, false, what)
    assert.equal(read(() => {}), 100, `${what}: the engine still reads`)
  }
  eng.close()
  const ro = TxEngine.open(SimRegion.fromImage(sim.volatileImage(), { readOnly: true }))
  assert.throws(() => ro.read(r => { ro.close(); return r.readF64(A) }), TransactionActiveError, 'a read-only engine')
  assert.equal(ro.read(r => r.readF64(A)), 100)
  ro.close()
  assert.equal(ro.closed, true, 'close after the read returned works')
})
