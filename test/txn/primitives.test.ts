// Unit and fuzz tests of the layer-2 primitives used on their own: atomic word write, redo
// log records (rec. 1), log control block and pool superblock decoders.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { SimRegion, PmemError, MisalignedError, OutOfRangeError, InvalidArgumentError, RegionClosedError, TransactionEndedError } from '../../regions/index.js'
import {
  atomicWrite64, readWord64, RecordBuilder, decodeRecord, forEachEntry, wordsOf, RedoLog, TxEngine, type Tx,
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
  fc.assert(fc.property(fc.nat({ max: 35 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, x, inLog) => {
    const img = good.slice()
    img[(inLog ? 4096 : 0) + (at % (inLog ? 36 : 32))]! ^= x // control block 36 bytes, superblock 32
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

test('rec. 5, log inv. 1: a record is never larger than the log holds (staging buffer longer than the limit): at every size around the capacity, refused with nothing changed or committed and recovered', () => {
  for (const logSize of [8192, 12288]) {
    const sim = SimRegion.create({ size: 64 * 1024 })
    const eng = TxEngine.create(sim, { logSize })
    const D = eng.dataOffset, cap = eng.log.capacity
    eng.transaction(tx => tx.writeBytes(D, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)))
    for (let n = cap - 80; n <= cap + 80; n += 8) {
      const data = new Uint8Array(n).fill(n & 255)
      eng.transaction(tx => tx.writeU8(D + 40 + (n & 63), 9)) // a small record first: the big one finds the log partly used
      const before = sim.volatileImage()
      let committed = true
      try { eng.transaction(tx => tx.writeBytes(D + 16384, data)) } catch (e) {
        assert.equal((e as PmemError).code, 'ERR_PMEM_TX_TOO_LARGE', `log ${logSize}, ${n} bytes`)
        assert.deepEqual(sim.volatileImage(), before, `log ${logSize}, ${n} bytes: refused with nothing changed`)
        committed = false
      }
      assert.deepEqual(eng.read(r => r.readBytes(D, 8)), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), `log ${logSize}, ${n} bytes: the data area's first bytes are untouched`)
      for (const img of [sim.processCrash(), sim.crash(n)]) {
        const again = TxEngine.open(img) // a record past the log's end was reported as damage here
        assert.deepEqual(again.read(r => r.readBytes(D, 8)), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))
        if (committed) assert.deepEqual(again.read(r => r.readBytes(D + 16384, n)), data, `log ${logSize}, ${n} bytes: committed and recovered`)
        again.close()
      }
      if (committed) assert.ok(n + 40 <= cap, `log ${logSize}: a record of ${n + 40} bytes committed, but the log holds ${cap}`)
    }
    eng.close()
  }
})

test('group commits of one turn share one flush', async () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  const eng = TxEngine.create(sim, { logSize: 16 * 1024 })
  const before = sim.flushCount
  await Promise.all(Array.from({ length: 20 }, (_, i) => eng.transaction(tx => tx.writeU32(eng.dataOffset + 4 * i, i), { durability: 'group' })))
  assert.equal(sim.flushCount - before, 1)
  assert.equal(eng.reader().readU32(eng.dataOffset + 4 * 19), 19)
})

test('eng. 5, 11: an open that finds no live record, a checkpoint and a close with nothing committed flush nothing (before session 17 the open and the close each wrote and msynced the control block); the first commit truncates before it appends; an open that replays truncates at once', () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  TxEngine.create(sim, { logSize: 16 * 1024 }).close()
  const controlOf = (img: SimRegion): string => Buffer.from(img.unsafeBytes().subarray(LOG_BASE, LOG_BASE + 64)).toString('hex')
  const control0 = controlOf(sim)
  const before = sim.flushCount
  let eng = TxEngine.open(sim)
  eng.checkpoint()
  eng.reader().readU32(eng.dataOffset)
  eng.close()
  assert.equal(sim.flushCount, before, 'an idle open, checkpoint and close flush nothing')
  assert.equal(controlOf(sim), control0, 'and leave the log as found')
  eng = TxEngine.open(sim)
  eng.transaction(tx => tx.writeU32(eng.dataOffset, 7))
  assert.notEqual(controlOf(sim), control0, 'the first commit truncated the log (a new epoch) before appending')
  const image = sim.crash(1) // a crash before the close: the commit replays
  eng.close()
  const afterClose = sim.flushCount
  const again = TxEngine.open(image)
  assert.equal(again.recovered, 1)
  assert.equal(again.reader().readU32(again.dataOffset), 7)
  const replayedControl = controlOf(image)
  again.close()
  assert.ok(image.flushCount > 0)
  assert.notEqual(replayedControl, control0)
  assert.ok(sim.flushCount >= afterClose)
  const third = TxEngine.open(image.crash(2))
  assert.equal(third.recovered, 0, 'the replaying open truncated: nothing replays twice')
  assert.equal(third.reader().readU32(third.dataOffset), 7)
  third.close()
})

// Record layout in these tests (log inv. 5): the log area starts at user offset 4096, its record
// area at 4096 + 4096; each 512-byte sector starts with an 8-byte stamp, so the first record of
// an epoch starts at log offset 4104. A one-f64 transaction is a 48-byte record.
const LOG_BASE = 4096
const FIRST = 4104

test('log inv. 6 (rec. 4): damage to an older durable record is reported via a later record\'s durable mark, even with its stamp gone', () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  const eng = TxEngine.create(sim, { logSize: 16 * 1024 })
  for (let i = 0; i < 5; i++) eng.transaction(tx => tx.writeF64(eng.dataOffset + 8 * i, i + 0.5))
  const image = sim.processCrash().volatileImage() // the log still holds all five records (no checkpoint yet)
  const recordAt = (k: number) => LOG_BASE + FIRST + 48 * (k - 1)
  for (const [what, at] of [['data', recordAt(2) + 40], ['header', recordAt(2) + 1]] as const) {
    const img = image.slice()
    img[at]! ^= 0x10
    img[LOG_BASE + 4096 + 4]! ^= 0xff // the sector's stamp tag too: the stamps alone would call it torn
    assert.throws(() => TxEngine.open(SimRegion.fromImage(img)), (e: unknown) => {
      assert.ok(e instanceof PmemError && e.code === 'ERR_PMEM_CORRUPT', `${what}: ${e}`)
      assert.match((e as Error).message, /transaction 2 at log offset 4152 is damaged, but transaction [345] .* shows it was durable/)
      return true
    })
  }
  assert.equal(TxEngine.open(SimRegion.fromImage(image)).recovered, 5)
})

test('log inv. 7: the search for log inv. 6 witnesses ends at the first sector another epoch stamped, so an open never reads the whole log area', () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  const eng = TxEngine.create(sim, { logSize: 16 * 1024 })
  for (let i = 0; i < 7; i++) eng.transaction(tx => tx.writeF64(eng.dataOffset + 8 * i, i + 0.5))
  const seed = eng.log.seed
  const image = sim.processCrash().volatileImage() // seven 48-byte records in the first sector
  const recordAt = (k: number) => LOG_BASE + FIRST + 48 * (k - 1)
  const sectorAt = (k: number) => LOG_BASE + 4096 + 512 * k
  const header7 = image.slice(recordAt(7), recordAt(7) + 32) // seq 7, durable mark past record 6's start
  // records 6 and 7 torn away (zeroed, the sector's stamp back at 5): the log ends after record 5
  image.fill(0, recordAt(6), recordAt(8))
  new DataView(image.buffer).setUint32(sectorAt(0), 5, true)
  const atSector = (k: number, tag: number) => {
    const img = image.slice()
    const dv = new DataView(img.buffer)
    dv.setUint32(sectorAt(k), 7, true)
    dv.setUint32(sectorAt(k) + 4, tag, true)
    img.set(header7, sectorAt(k) + 8)
    return img
  }
  // a witness in the sector right after, stamped by this epoch, is found (log inv. 6) ...
  assert.throws(() => TxEngine.open(SimRegion.fromImage(atSector(1, seed))), /transaction 6 at log offset 4344 is damaged, but transaction 7 .* shows it was durable/)
  // ... one past a sector this epoch never wrote (here a blank one) is not looked for: the open
  // reads only the last epoch's sectors (before, it read all of the log area at every open)
  const far = TxEngine.open(SimRegion.fromImage(atSector(20, seed)))
  assert.equal(far.recovered, 5)
  assert.equal(far.read(r => r.readF64(far.dataOffset + 32)), 4.5)
  far.close()
})

test('log inv. 5: damage to the newest durable record is reported by the stamps of its sectors, a torn one is dropped', () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  const eng = TxEngine.create(sim, { logSize: 16 * 1024 })
  const D = eng.dataOffset
  eng.transaction(tx => tx.writeF64(D, 1))
  eng.transaction(tx => { tx.writeF64(D + 8, 2); tx.writeBytes(D + 64, new Uint8Array(1200).fill(7)) }) // seq 2: 3 sectors
  const image = sim.durableImage() // commit returned: both records durable, no checkpoint
  const rec2 = LOG_BASE + FIRST + 48
  const rec2Len = 32 + 16 + 8 + 1200
  for (const at of [rec2 + 1, rec2 + 20, rec2 + 40, rec2 + 600, rec2 + rec2Len]) { // header, checksum, data in sectors 1..3
    const img = image.slice()
    img[at]! ^= 0x04
    const r = SimRegion.fromImage(img)
    assert.throws(() => TxEngine.open(r), (e: unknown) => {
      assert.ok(e instanceof PmemError && e.code === 'ERR_PMEM_CORRUPT', `flip at ${at}: ${e}`)
      assert.match((e as Error).message, /"sim".*transaction 2 at log offset 4152 is damaged, but its sectors carry stamps of this epoch/)
      return true
    })
    assert.ok(Buffer.compare(r.volatileImage(), img) === 0 && Buffer.compare(r.durableImage(), img) === 0, 'the failing open wrote nothing')
  }
  // torn: the same record, not yet durable, with its middle sector lost in a power loss
  const sim2 = SimRegion.create({ size: 64 * 1024 })
  const e2 = TxEngine.create(sim2, { logSize: 16 * 1024 })
  e2.transaction(tx => tx.writeF64(e2.dataOffset, 1))
  e2.transaction(tx => { tx.writeF64(e2.dataOffset + 8, 2); tx.writeBytes(e2.dataOffset + 64, new Uint8Array(1200).fill(7)) }, { durability: 'none' })
  const dirty = sim2.dirtySectors()
  assert.ok(dirty.length >= 3, 'the record spans several unflushed sectors')
  let torn = 0
  for (const img of sim2.crashImages({ max: 64 })) {
    const e = TxEngine.open(img) // never CorruptionError: a torn record has a sector with an older stamp
    assert.ok(e.recovered === 1 || e.recovered === 2)
    if (e.recovered === 1) { torn++; assert.equal(e.reader().readF64(e2.dataOffset + 8), 0) }
  }
  assert.ok(torn > 0)
})

test('log inv. 4, eng. 5: a record left from an earlier epoch is never replayed, even where the new chain expects its seq', () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  const eng = TxEngine.create(sim, { logSize: 16 * 1024 })
  const D = eng.dataOffset
  eng.transaction(tx => tx.writeU32(D, 1)) // seq 1, durable, 48 bytes at 4104
  eng.transaction(tx => tx.writeBytes(D + 8, new Uint8Array(600).fill(2)), { durability: 'none' }) // seq 2, 640 bytes, sectors 0-1
  const before3 = eng.log.tail
  eng.transaction(tx => tx.writeU32(D + 4, 3), { durability: 'none' }) // seq 3, in sector 1
  assert.equal(before3, 4800)
  // power loss: record 2's first sector lost, sector 1 (record 2's tail and record 3) kept
  const img = sim.durableImage()
  img.set(sim.volatileImage().subarray(LOG_BASE + 4608, LOG_BASE + 5120), LOG_BASE + 4608)
  const sim2 = SimRegion.fromImage(img)
  const e2 = TxEngine.open(sim2)
  assert.equal(e2.recovered, 1, 'record 1 is replayed again (idempotent); record 2 is torn, so the log ends there')
  assert.equal(e2.reader().readU32(D + 4), 0)
  // the new epoch's record 2 is sized so that the chain expects seq 3 exactly where the stale record 3 lies
  e2.transaction(tx => tx.writeBytes(D + 8, new Uint8Array(648).fill(9)), { durability: 'none' })
  assert.equal(e2.log.tail, before3, 'layout as intended: new record 2 ends where stale record 3 begins')
  const e3 = TxEngine.open(sim2.processCrash())
  assert.equal(e3.recovered, 1, 'only the new record 2 is replayed')
  assert.equal(e3.reader().readU32(D + 4), 0, 'the stale transaction 3 never comes back')
  assert.equal(e3.reader().readU8(D + 8), 9)
})

test('log inv. 5 layout: `free` is the largest record that `fits`; headers never straddle a sector; stamps name the last record', () => {
  const eng = TxEngine.create(SimRegion.create({ size: 64 * 1024 }), { logSize: 16 * 1024 })
  const mem = new Uint32Array(eng.region.unsafeBytes().buffer)
  for (let k = 0; eng.log.fits(37 * k + 48); k++) {
    const f = eng.log.free
    assert.ok(eng.log.fits(f) && !eng.log.fits(f + 8), `free ${f} at ${eng.log.tail}`)
    const at = eng.log.tail
    assert.ok(at % 512 >= 8 && 512 - at % 512 >= 32, `record start ${at} leaves its header whole in one sector`)
    eng.transaction(tx => tx.writeBytes(eng.dataOffset, new Uint8Array(37 * k + 1)), { durability: 'none' })
    const first = (LOG_BASE + at) & ~511
    assert.equal(mem[first >>> 2], eng.lastSeq, 'the stamp of the record\'s first sector names it')
    assert.equal(mem[(first >>> 2) + 1], eng.log.seed)
  }
})

test('readReused: one reader Tx reused across calls, ended outside fn, a nested call gets its own, each sees the latest commit', () => {
  const sim = SimRegion.create({ size: 1 << 20 })
  const engine = TxEngine.create(sim, { logSize: 64 * 1024 })
  const at = engine.dataOffset + 64
  engine.transaction(tx => tx.writeU32(at, 1))
  let kept: Tx | null = null
  assert.equal(engine.readReused(tx => { kept = tx; return tx.readU32(at) }), 1)
  assert.throws(() => kept!.readU32(at), TransactionEndedError, 'ended once fn returned')
  engine.transaction(tx => tx.writeU32(at, 2))
  let nested: Tx | null = null
  const seen = engine.readReused(tx => {
    assert.equal(tx, kept, 'the same Tx, reopened')
    const inner = engine.readReused(t2 => { nested = t2; return t2.readU32(at) })
    assert.notEqual(nested, tx, 'a nested read makes its own Tx')
    assert.equal(tx.readU32(at), 2, 'the outer Tx still reads after the nested one ended')
    return inner
  })
  assert.equal(seen, 2, 'reads the newest commit')
  assert.throws(() => kept!.readU32(at), TransactionEndedError)
  assert.throws(() => engine.readReused(() => { throw new Error('boom') }), /boom/)
  assert.throws(() => kept!.readU32(at), TransactionEndedError, 'ended after a throw too')
  assert.throws(() => engine.readReused(() => Promise.resolve(1)), InvalidArgumentError, 'a promise is refused, as read refuses it')
  assert.throws(() => engine.readReused(42 as never), InvalidArgumentError, 'a non-function is refused, as read refuses it')
  engine.close()
  assert.throws(() => engine.readReused(tx => tx.readU32(at)), RegionClosedError)
})
