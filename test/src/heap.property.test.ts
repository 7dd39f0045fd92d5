// Property test of the persistent heap across crashes: random transactions allocate
// (writing a tag into the block), free, and abort, with every durability; crash images are
// taken at random flush points. After recovery the heap validates (heap inv. 1-2), a
// transaction counter names the recovered prefix, and the allocated blocks are exactly those
// of that prefix with their tags: no leak, no block handed out twice, nothing partial.
// Transactions also run sub-transactions that allocate, free and throw (eng. 4: they leave
// nothing), and each recovered image lives a second life: a transaction with a failing
// sub-transaction, another crash, another recovery.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { SimRegion } from '../../regions/index.js'
import { PersistentMemory, t, type PmTx } from '../../src/index.js'

type Op = { allocs: number[]; frees: number[]; abort: boolean; durability: 'sync' | 'none' | 'group'; failing: { allocs: number[]; frees: number[] } | null }
const opArb: fc.Arbitrary<Op> = fc.record({
  allocs: fc.array(fc.integer({ min: 1, max: 3000 }), { maxLength: 3 }),
  frees: fc.array(fc.nat(), { maxLength: 2 }),
  abort: fc.boolean().map(b => b && Math.random() < 0.25),
  durability: fc.constantFrom('sync' as const, 'none' as const, 'group' as const),
  failing: fc.option(fc.record({ allocs: fc.array(fc.integer({ min: 1, max: 3000 }), { maxLength: 2 }), frees: fc.array(fc.nat(), { maxLength: 2 }) }), { freq: 3 }),
})

/** A sub-transaction that allocates, writes, frees some of `live` and throws; the caller catches (eng. 4). */
function failingSub(pm: PersistentMemory, live: number[], sub: { allocs: number[]; frees: number[] }): void {
  assert.throws(() => pm.transaction(tx => {
    for (const size of sub.allocs) tx.writeU32(tx.alloc(size), 0xdead)
    const left = live.slice()
    for (const f of sub.frees) if (left.length > 0) tx.free(left.splice(f % left.length, 1)[0]!)
    throw new Error('sub-transaction fails')
  }), /sub-transaction fails/)
}

type Model = Map<number, { size: number; tag: number }>

test('heap: crash anywhere keeps the allocator consistent and equal to a committed prefix', async () => {
  await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 15 }), fc.nat(), async (ops, seed) => {
    const sim = SimRegion.create({ size: 128 * 1024 })
    const pm = PersistentMemory.fromRegion(sim, { logSize: 16 * 1024 })
    const count = pm.persistent('count', t.u64)
    const models: Model[] = [new Map()]
    let durable = 0, k = seed
    const captures: Array<{ img: SimRegion; durable: number; committed: number }> = []
    sim.onFlush = () => {
      if (captures.length < 8 && ((k = (k * 1103515245 + 12345) >>> 0) % 4) === 0) captures.push({ img: sim.crash(k), durable, committed: models.length - 1 })
    }
    const pending: Promise<unknown>[] = []
    let tag = 1
    for (const op of ops) {
      const next: Model = new Map(models[models.length - 1])
      const fn = (tx: PmTx) => {
        if (op.failing !== null) failingSub(pm, [...next.keys()], op.failing)
        for (const size of op.allocs) {
          const off = tx.alloc(size)
          assert.equal(tx.readU32(off), 0, 'a fresh allocation is zeroed')
          tx.writeU32(off, tag)
          next.set(off, { size, tag: tag++ })
        }
        const live = [...next.keys()]
        for (const f of op.frees) {
          if (live.length === 0) break
          const off = live.splice(f % live.length, 1)[0]!
          tx.free(off)
          next.delete(off)
        }
        tx.writeBigU64(count.offset, tx.readBigU64(count.offset) + 1n)
        if (op.abort) throw new Error('abort')
      }
      if (op.abort) { assert.throws(() => pm.transaction(fn), /abort/); continue }
      models.push(next)
      const idx = models.length - 1
      if (op.durability === 'group') pending.push(pm.transaction(fn, { durability: 'group' }).then(() => { durable = Math.max(durable, idx) }))
      else { pm.transaction(fn, { durability: op.durability }); if (op.durability === 'sync') durable = idx }
    }
    await Promise.all(pending)
    assert.deepEqual(pm.check().problems, [])
    captures.push({ img: sim.crash(k + 1), durable, committed: models.length - 1 })
    for (const c of captures) {
      const pm2 = PersistentMemory.fromRegion(c.img)
      const report = pm2.check()
      assert.deepEqual(report.problems, [], 'heap consistent after recovery')
      const n = Number(pm2.read(tx => tx.readBigU64(count.offset)))
      assert.ok(n >= c.durable && n <= c.committed, `recovered transaction ${n} outside [${c.durable}, ${c.committed}]`)
      const model = models[n]!
      assert.equal(report.heap!.allocated, model.size + 2 * 1 /* var block + entry */, 'allocated blocks = model + the counter variable')
      pm2.read(tx => { for (const [off, v] of model) assert.equal(tx.readU32(off), v.tag, `block ${off} holds its tag`) })
      // second life: free one block and allocate one around a failing sub-transaction, crash, recover
      const live = [...model.keys()]
      const fresh = pm2.transaction(tx => {
        if (live.length > 0) tx.free(live.pop()!)
        failingSub(pm2, live, { allocs: [64], frees: [0, 1] })
        const p = tx.alloc(40)
        tx.writeU32(p, 0xbeef)
        tx.writeBigU64(count.offset, BigInt(n + 1))
        return p
      })
      const pm3 = PersistentMemory.fromRegion(c.img.crash(k + 7))
      const again = pm3.check()
      assert.deepEqual(again.problems, [], 'heap consistent after the second recovery')
      assert.equal(Number(pm3.read(tx => tx.readBigU64(count.offset))), n + 1, 'the sync commit of the second life is durable')
      assert.equal(again.heap!.allocated, report.heap!.allocated - (model.size > 0 ? 1 : 0) + 1)
      assert.equal(pm3.read(tx => tx.readU32(fresh)), 0xbeef)
      pm3.close()
      pm2.close()
    }
    pm.close()
  }), { numRuns: 120 })
})

test('heap: bad frees are typed errors and change nothing', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 64 * 1024 }), { logSize: 8192 })
  const off = pm.transaction(tx => tx.alloc(100))
  for (const bad of [off + 16, 3, -1, 1e12, 'x']) {
    assert.throws(() => pm.transaction(tx => tx.free(bad as number)), { code: 'ERR_PMEM_INVALID_ARGUMENT' })
  }
  pm.transaction(tx => tx.free(off))
  assert.throws(() => pm.transaction(tx => tx.free(off)), /double free/)
  assert.throws(() => pm.transaction(tx => tx.alloc(0)), { code: 'ERR_PMEM_INVALID_ARGUMENT' })
  assert.throws(() => pm.transaction(tx => tx.alloc(8, 3)), { code: 'ERR_PMEM_INVALID_ARGUMENT' })
  assert.throws(() => pm.transaction(tx => tx.alloc(1 << 20)), { code: 'ERR_PMEM_OUT_OF_SPACE' })
  assert.deepEqual(pm.check().problems, [])
  const a = pm.transaction(tx => tx.alloc(100, 256))
  assert.equal(a % 256, 0)
  pm.transaction(tx => tx.free(a))
  assert.deepEqual(pm.check().problems, [])
})

test('heap grows the region when allowed', () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  const pm = PersistentMemory.fromRegion(sim, { logSize: 8192, maxSize: 1 << 20 })
  const off = pm.transaction(tx => tx.alloc(200 * 1024))
  assert.ok(sim.size > 200 * 1024 && off + 200 * 1024 <= sim.size)
  assert.deepEqual(pm.check().problems, [])
})

test('open checks the heap header: damage is a CorruptionError naming the file', () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  const pm = PersistentMemory.fromRegion(sim, { logSize: 8192 })
  pm.transaction(tx => tx.alloc(64))
  pm.close()
  const base = pm.engine.dataOffset
  for (const [at, value] of [[8, 3n], [8, 1n << 40n], [16, 5n], [40, 7n]] as const) {
    const img = sim.volatileImage()
    new DataView(img.buffer).setBigUint64(base + at, value, true)
    assert.throws(() => PersistentMemory.fromRegion(SimRegion.fromImage(img)), (e: Error & { code?: string }) =>
      e.code === 'ERR_PMEM_CORRUPT' && /"sim"/.test(e.message))
  }
})
