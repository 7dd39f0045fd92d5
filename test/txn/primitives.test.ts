// Unit and fuzz tests of the layer-2 primitives used on their own: atomic word write, redo
// log records (rec. 1), log control block and pool superblock decoders.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { SimRegion, PmemError, MisalignedError, OutOfRangeError, InvalidArgumentError } from '../../regions/index.js'
import {
  atomicWrite64, readWord64, RecordBuilder, decodeRecord, forEachEntry, wordsOf, RedoLog, TxEngine,
} from '../../txn/index.js'

test('atomicWrite64 stores an aligned word durably and rejects bad use', () => {
  const sim = SimRegion.create({ size: 4096 })
  atomicWrite64(sim, 8, 0x1122334455667788n)
  assert.equal(readWord64(sim.crash(1), 8), 0x1122334455667788n, 'durable in every crash image')
  assert.throws(() => atomicWrite64(sim, 4, 1n), MisalignedError)
  assert.throws(() => atomicWrite64(sim, 4096, 1n), OutOfRangeError)
  assert.throws(() => atomicWrite64(sim, 0, -1n), InvalidArgumentError)
  atomicWrite64(sim, 16, 5n, { flush: false })
  const seen = new Set([...sim.crashImages()].map(img => readWord64(img, 16)))
  assert.deepEqual([...seen].sort(), [0n, 5n], 'an unflushed word is old or new, never torn')
})

function sampleRecord(): { bytes: Uint8Array; seq: number; seed: number } {
  const b = new RecordBuilder(1 << 16)
  b.buf[b.entry(100, 3)] = 7
  b.f64[b.entry(200, 8) >>> 3] = 1.5
  b.entry(300, 50, true)
  return { bytes: b.seal(42, 99).slice(), seq: 42, seed: 99 }
}

test('rec. 1: a sealed record decodes with its entries; any wrong seq or seed fails', () => {
  const { bytes, seq, seed } = sampleRecord()
  const w = wordsOf(bytes)
  const rec = decodeRecord(w, 0, w.length, seq, seed)
  assert.ok(rec)
  const seen: Array<[number, number, number]> = []
  forEachEntry(w, rec, (t, l, d) => seen.push([t, l, d < 0 ? -1 : d === -1 ? -1 : new DataView(bytes.buffer).getFloat64(d, true)]))
  assert.deepEqual(seen.map(([t, l]) => [t, l]), [[100, 3], [200, 8], [300, 50]])
  assert.equal(seen[1]![2], 1.5)
  assert.equal(seen[2]![2], -1, 'zero fill carries no data')
  assert.equal(decodeRecord(w, 0, w.length, seq + 1, seed), null)
  assert.equal(decodeRecord(w, 0, w.length, seq, seed + 1), null)
})

test('rec. 1: every single-bit flip and every truncation of a record is rejected', () => {
  const { bytes, seq, seed } = sampleRecord()
  fc.assert(fc.property(fc.nat({ max: bytes.length * 8 - 1 }), bit => {
    const m = bytes.slice()
    m[bit >>> 3]! ^= 1 << (bit & 7)
    const w = wordsOf(m)
    assert.equal(decodeRecord(w, 0, w.length, seq, seed), null)
  }), { numRuns: 300 })
  for (let n = 0; n < bytes.length; n += 8) {
    const w = wordsOf(bytes.slice(0, n))
    assert.equal(decodeRecord(w, 0, w.length, seq, seed), null)
  }
})

test('record decoder never throws or hangs on random bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 512 }).map(a => a.slice(0, a.length & ~3)), fc.nat(), (bytes, seq) => {
    const w = wordsOf(bytes)
    assert.equal(decodeRecord(w, 0, w.length, seq, 0), null)
  }), { numRuns: 500 })
})

test('log control block and pool superblock: damage gives a typed error, never another exception', () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  TxEngine.create(sim, { logSize: 16 * 1024 }).close()
  const good = sim.volatileImage()
  fc.assert(fc.property(fc.nat({ max: 31 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, x, inLog) => {
    const img = good.slice()
    img[(inLog ? 4096 : 0) + at]! ^= x
    const r = SimRegion.fromImage(img)
    try { TxEngine.open(r).close(); assert.fail('damage was not detected') } catch (e) {
      assert.ok(e instanceof PmemError, `expected a PmemError, got ${e}`)
      assert.match((e as Error).message, /"sim"/)
    }
  }), { numRuns: 300 })
  assert.throws(() => RedoLog.open(SimRegion.create({ size: 16384 }), 4096, 8192), { code: 'ERR_PMEM_CORRUPT' })
})

test('a transaction larger than the log is refused before anything is applied', () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  const eng = TxEngine.create(sim, { logSize: 8192 })
  const before = sim.volatileImage()
  assert.throws(() => eng.transaction(tx => tx.writeBytes(eng.dataOffset, new Uint8Array(5000))), { code: 'ERR_PMEM_TX_TOO_LARGE' })
  assert.deepEqual(sim.volatileImage(), before)
  eng.transaction(tx => tx.zero(eng.dataOffset, 40000)) // zero fills are logged without data
})

test('group commits of one turn share one flush', async () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  const eng = TxEngine.create(sim, { logSize: 16 * 1024 })
  const before = sim.flushCount
  await Promise.all(Array.from({ length: 20 }, (_, i) => eng.transaction(tx => tx.writeU32(eng.dataOffset + 4 * i, i), { durability: 'group' })))
  assert.equal(sim.flushCount - before, 1)
  assert.equal(eng.reader().readU32(eng.dataOffset + 4 * 19), 19)
})
