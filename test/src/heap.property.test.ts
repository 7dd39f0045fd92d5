// Property test of the persistent heap across crashes, over several lives (crashTest, see
// src/testing/crash-lives.ts): random transactions allocate (tagging both ends of the block),
// free, and abort, with every durability; crash images are taken at flush points, at the end
// and during recovery. After every recovery the heap validates (heap inv. 1-2, checkHeap),
// every allocated block is reachable from the slot table and no pointer dangles (the
// reachability walk), and the slots hold exactly the blocks of a committed prefix with their
// tags: no leak, no block handed out twice, nothing partial. Then the recovered pool goes on
// allocating and freeing, and crashes again. PMEM_HEAP_RUNS sets the number of runs (default 40).
//
// A second test runs sub-transactions that allocate, free and throw inside the crashed
// transactions (eng. 7: they leave nothing), and gives each recovered image a second life.
// Both free neighbouring blocks, so merges, splits and a lowered top happen inside crashed
// transactions, and checkHeap after every recovery holds the heap to inv. 1-4 (no two
// neighbouring free blocks, every free block in its bin's doubly linked list).
// Coalescing tests: any allocations freed in any order give every byte back (top returns to
// where it started), and random 8 B..4 KiB churn keeps the heap within 1.5x of the live bytes
// (PMEM_HEAP_CHURN sets the number of operations).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { SimRegion } from '../../regions/index.js'
import { PersistentMemory, t, type PmTx } from '../../src/index.js'
import { crashTest } from '../../src/testing/index.js'

const SLOTS = 24
const Item = t.struct({ tag: t.u32, size: t.u32 })
type Op = { allocs: number[]; frees: number[]; abort: boolean; durability: 'sync' | 'none' | 'group'; failing: { allocs: number[]; frees: number[] } | null }
const opArb: fc.Arbitrary<Op> = fc.record({
  allocs: fc.array(fc.integer({ min: 12, max: 3000 }), { maxLength: 3 }),
  frees: fc.array(fc.nat(), { maxLength: 2 }),
  abort: fc.integer({ min: 0, max: 7 }).map(n => n === 0),
  durability: fc.constantFrom('sync' as const, 'none' as const, 'group' as const),
  failing: fc.option(fc.record({ allocs: fc.array(fc.integer({ min: 1, max: 3000 }), { maxLength: 2 }), frees: fc.array(fc.nat(), { maxLength: 2 }) }), { freq: 3 }),
})
type Slot = { tag: number; size: number } | null
type Model = { slots: Slot[]; nextTag: number }

const setup = (pm: PersistentMemory) => ({
  slots: pm.persistent('slots', t.array(t.ptr(Item), SLOTS)),
  nextTag: pm.persistent('nextTag', t.u32),
})
type Vars = ReturnType<typeof setup>

/** The model: allocations fill the first empty slots, frees empty the f-th full slot. */
function step(m: Model, op: Op): Model {
  if (op.abort) return m
  const slots = [...m.slots]
  let tag = m.nextTag
  for (const size of op.allocs) {
    const i = slots.indexOf(null)
    if (i >= 0) slots[i] = { tag: tag++, size }
  }
  for (const f of op.frees) {
    const full = slots.flatMap((s, i) => (s === null ? [] : [i]))
    if (full.length > 0) slots[full[f % full.length]!] = null
  }
  return { slots, nextTag: tag }
}

/** The same, on the pool: each block holds its tag and size at the start and its tag at the end. */
function apply(tx: PmTx, v: Vars, op: Op): void {
  const slots = tx.view(v.slots)
  let tag = tx.view(v.nextTag).value
  for (const size of op.allocs) {
    let i = 0
    while (i < SLOTS && slots.get(i) !== 0) i++
    if (i === SLOTS) continue
    const off = tx.alloc(size)
    for (let w = 0; w + 4 <= size; w += 4) if (tx.readU32(off + w) !== 0) throw new Error(`alloc(${size}) returned ${off}, not zeroed at +${w} (heap inv. 3)`)
    tx.writeU32(off, tag)
    tx.writeU32(off + 4, size)
    tx.writeU32(off + ((size - 4) & ~3), tag)
    slots.set(i, off)
    tag++
  }
  for (const f of op.frees) {
    const full = [...slots].flatMap((p, i) => (p === 0 ? [] : [i]))
    if (full.length === 0) break
    const i = full[f % full.length]!
    tx.free(slots.get(i))
    slots.set(i, 0)
  }
  tx.view(v.nextTag).value = tag
}

function read(pm: PersistentMemory, v: Vars): Model {
  return pm.read(tx => ({
    nextTag: tx.view(v.nextTag).value,
    slots: [...tx.view(v.slots)].map(p => {
      if (p === 0) return null
      const tag = tx.readU32(p), size = tx.readU32(p + 4)
      return tx.readU32(p + ((size - 4) & ~3)) === tag ? { tag, size } : { tag: -1, size } // -1: overwritten by an overlapping block
    }),
  }))
}

test('heap: three lives of crashes (during recovery too) keep the allocator consistent and equal to a committed prefix', async () => {
  await crashTest({
    setup, operation: opArb, read, lives: 3, opsAfterRecovery: 6, maxOps: 12,
    model: { init: () => ({ slots: Array<Slot>(SLOTS).fill(null), nextTag: 0 }), step },
    run: (pm, v, op) => {
      const fn = (tx: PmTx) => { apply(tx, v, op); if (op.abort) throw new Error('abort') }
      if (op.abort) { assert.throws(() => pm.transaction(fn), /abort/); return }
      return op.durability === 'group' ? pm.transaction(fn, { durability: 'group' }) : pm.transaction(fn, { durability: op.durability })
    },
    size: 160 * 1024, logSize: 16 * 1024, runs: Number(process.env.PMEM_HEAP_RUNS ?? 40),
  })
})

/** A sub-transaction that allocates, writes, frees some of `live` and throws; the caller catches (eng. 7). */
function failingSub(pm: PersistentMemory, live: number[], sub: { allocs: number[]; frees: number[] }): void {
  assert.throws(() => pm.transaction(tx => {
    for (const size of sub.allocs) tx.writeU32(tx.alloc(size), 0xdead)
    const left = live.slice()
    for (const f of sub.frees) if (left.length > 0) tx.free(left.splice(f % left.length, 1)[0]!)
    throw new Error('sub-transaction fails')
  }), /sub-transaction fails/)
}

type BlockModel = Map<number, { size: number; tag: number }>

test('heap: crash anywhere keeps the allocator consistent and equal to a committed prefix', async () => {
  await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 15 }), fc.nat(), async (ops, seed) => {
    const sim = SimRegion.create({ size: 128 * 1024 })
    const pm = PersistentMemory.fromRegion(sim, { logSize: 16 * 1024 })
    const count = pm.persistent('count', t.u64)
    const models: BlockModel[] = [new Map()]
    let durable = 0, k = seed
    const captures: Array<{ img: SimRegion; durable: number; committed: number }> = []
    sim.onFlush = () => {
      if (captures.length < 8 && ((k = (k * 1103515245 + 12345) >>> 0) % 4) === 0) captures.push({ img: sim.crash(k), durable, committed: models.length - 1 })
    }
    const pending: Promise<unknown>[] = []
    let tag = 1
    for (const op of ops) {
      const next: BlockModel = new Map(models[models.length - 1])
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
  const guard = pm.transaction(tx => tx.alloc(16)) // keeps off from being the last block
  pm.transaction(tx => tx.free(off))
  assert.throws(() => pm.transaction(tx => tx.free(off)), /double free/)
  pm.transaction(tx => tx.free(guard)) // the last block: top goes back below both (heap inv. 1)
  assert.throws(() => pm.transaction(tx => tx.free(guard)), /not the start of an allocation .*freed already/)
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

test('heap full at maxSize (or without growth): OutOfSpaceError saying which limit, nothing changed, the pool still usable', () => {
  for (const maxSize of [undefined, 256 * 1024]) {
    const sim = SimRegion.create({ size: 64 * 1024 })
    const pm = PersistentMemory.fromRegion(sim, { logSize: 8192, maxSize })
    const kept = pm.transaction(tx => { const o = tx.alloc(1000); tx.writeU32(o, 77); return o })
    const before = sim.volatileImage()
    assert.throws(() => pm.transaction(tx => tx.alloc(300 * 1024)), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_PMEM_OUT_OF_SPACE')
      if (maxSize === undefined) assert.match(e.message, /heap is full .*open the file with a larger size, or with maxSize to let it grow/)
      else assert.match(e.message, /heap is full .*past its maxSize \(at most 2147479552 bytes, the largest region\)/) // it said "allow growth" with growth allowed
      return true
    })
    assert.deepEqual(sim.volatileImage(), before, 'the failed transaction changed nothing')
    assert.equal(pm.read(tx => tx.readU32(kept)), 77)
    pm.transaction(tx => tx.free(pm.transaction(t2 => t2.alloc(4000))))
    assert.deepEqual(pm.check().problems, [])
  }
})

test('open checks the heap header: damage is a CorruptionError naming the file', () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  const pm = PersistentMemory.fromRegion(sim, { logSize: 8192 })
  pm.transaction(tx => tx.alloc(64))
  pm.close()
  const base = pm.engine.dataOffset
  for (const [at, value] of [[8, 3n], [8, 1n << 40n], [16, 5n], [32, 5n], [56, 7n]] as const) {
    const img = sim.volatileImage()
    new DataView(img.buffer).setBigUint64(base + at, value, true)
    assert.throws(() => PersistentMemory.fromRegion(SimRegion.fromImage(img)), (e: Error & { code?: string }) =>
      e.code === 'ERR_PMEM_CORRUPT' && /"sim"/.test(e.message))
  }
})

test('heap inv. 1-2 (coalescing): any allocations freed in any order, in any grouping, give every byte back', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 40 }), fc.nat(), fc.integer({ min: 1, max: 5 }), (sizes, seed, per) => {
    const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 512 * 1024 }), { logSize: 64 * 1024 })
    const top0 = pm.read(tx => Number(tx.readBigU64(pm.heap.base + 8)))
    const live = pm.transaction(tx => sizes.map(s => tx.alloc(s, s % 3 === 0 ? 64 : 8)))
    let k = seed
    while (live.length > 0) {
      pm.transaction(tx => {
        for (let i = 0; i < per && live.length > 0; i++) { k = (k * 1103515245 + 12345) >>> 0; tx.free(live.splice(k % live.length, 1)[0]!) }
      })
      const r = pm.check()
      assert.deepEqual(r.problems, [], 'heap inv. 1-4 hold after every free')
      // some allocations in between reuse the merged blocks
      if (k % 5 === 0) live.push(pm.transaction(tx => tx.alloc(1 + (k % 3000))))
    }
    const r = pm.check()
    assert.equal(r.heap!.blocks, 0, 'every block merged and given back')
    assert.equal(pm.read(tx => Number(tx.readBigU64(pm.heap.base + 8))), top0, 'top is back where it started')
  }), { numRuns: 60 })
})

/** Random allocations and frees of 8 B..4 KiB; top stays within 1.5x of the live bytes (the space bound). */
export function churn(ops: number, seed: number): { live: number; used: number } {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 8 << 20 }), { logSize: 256 * 1024 })
  const blocks: Array<[number, number]> = []
  let k = seed, liveBytes = 0, worst = 0
  const rand = () => (k = (k * 1103515245 + 12345) >>> 0) / 2 ** 32
  for (let i = 0; i < ops; i += 5) {
    pm.transaction(tx => {
      for (let j = 0; j < 5; j++) {
        if (blocks.length < 1000 && (blocks.length < 500 || rand() < 0.5)) {
          const size = 8 + Math.floor(rand() * rand() * 4088)
          blocks.push([tx.alloc(size), size]); liveBytes += size
        } else {
          const [off, size] = blocks.splice(Math.floor(rand() * blocks.length), 1)[0]!
          tx.free(off); liveBytes -= size
        }
      }
    })
    if (i > 5000) worst = Math.max(worst, (pm.read(tx => Number(tx.readBigU64(pm.heap.base + 8))) - pm.heap.base) / liveBytes)
  }
  assert.deepEqual(pm.check().problems, [])
  return { live: liveBytes, used: worst }
}

test('heap space: random allocations and frees of 8 B..4 KiB keep the heap within 1.5x of the live bytes (PMEM_HEAP_CHURN ops, default 15,000)', t => {
  const { used } = churn(Number(process.env.PMEM_HEAP_CHURN ?? 15_000), 7)
  t.diagnostic(`worst heap size / live bytes: ${used.toFixed(3)}`)
  assert.ok(used <= 1.5, `the heap reached ${used.toFixed(3)}x the live bytes`)
})
