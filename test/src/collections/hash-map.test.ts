// HashMap against a Map model: random puts, deletes, clears and transactions (some aborting)
// with every durability, short (inline) and long (out-of-line) strings; then the same
// operations under crashTest over several lives (crash images at flushes, during recovery too,
// the reachability walk and pm.check's hmap/varlen invariants after every recovery). Bulk
// puts take the map past 64 entries, so buckets split (hmap inv. 1-3) inside crashed runs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { PersistentMemory, SimRegion, t, type HashMap, type KeyType, type StringType } from '../../../src/index.js'
import { crashTest } from '../../../src/testing/index.js'

const Rec = t.struct({ name: t.string, n: t.u32 })
type Op = { put: string; v: string; n: number } | { del: string } | { fill: number; count: number } | { clear: true }
  | { tx: Array<{ put: string; v: string; n: number } | { del: string }>; abort: boolean }

const key = fc.integer({ min: 0, max: 30 }).map(i => `k${i}${i % 4 === 0 ? '-a-key-longer-than-fifteen-bytes' : ''}`)
const val = fc.oneof(fc.string({ maxLength: 6 }), fc.string({ minLength: 16, maxLength: 60 }), fc.constant('ünïcødé ✓ 🎉'))
const putArb = fc.record({ put: key, v: val, n: fc.nat(1000) })
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: putArb, weight: 5 },
  { arbitrary: fc.record({ del: key }), weight: 3 },
  { arbitrary: fc.record({ fill: fc.nat(1000), count: fc.integer({ min: 1, max: 40 }) }), weight: 1 },
  { arbitrary: fc.constant({ clear: true as const }), weight: 1 },
  { arbitrary: fc.record({ tx: fc.array(fc.oneof(putArb, fc.record({ del: key })), { maxLength: 4 }), abort: fc.boolean() }), weight: 2 },
)
type M = Array<[string, { name: string; n: number }]>
type Map1 = HashMap<StringType & KeyType, typeof Rec>

function step(m: Map<string, { name: string; n: number }>, op: Op): void {
  if ('put' in op) m.set(op.put, { name: op.v, n: op.n })
  else if ('del' in op) m.delete(op.del)
  else if ('fill' in op) for (let i = 0; i < op.count; i++) m.set(`f${op.fill + i}`, { name: `filled ${op.fill + i} with a long enough name`, n: i })
  else if ('clear' in op) m.clear()
  else if (!op.abort) for (const o of op.tx) step(m, o)
}
const asModel = (m: Map<string, { name: string; n: number }>): M => [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))

function run(pm: PersistentMemory, h: Map1, op: Op, d: 'sync' | 'group' | 'none'): unknown {
  if ('put' in op) return h.put(op.put, { name: op.v, n: op.n }, { durability: d })
  if ('del' in op) return h.delete(op.del, { durability: d })
  if ('clear' in op) return h.clear({ durability: d })
  if ('fill' in op) return pm.transaction(() => { for (let i = 0; i < op.count; i++) h.put(`f${op.fill + i}`, { name: `filled ${op.fill + i} with a long enough name`, n: i }) }, { durability: d })
  const fn = () => {
    for (const o of op.tx) run(pm, h, o, d)
    if (op.abort) throw new Error('abort')
  }
  if (op.abort) { assert.throws(() => pm.transaction(fn), /abort/); return }
  return pm.transaction(fn, { durability: d })
}
const read = (h: Map1): M => asModel(new Map([...h.entries()].map(([k, v]) => [k, { name: v.name, n: v.n }])))

test('hashMap equals a Map model under random operations, and pm.check validates it after each', async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(opArb, fc.constantFrom('sync' as const, 'none' as const, 'group' as const)), { maxLength: 40 }), async ops => {
    const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 1 << 20 }), { logSize: 128 * 1024 })
    const h = pm.hashMap('m', t.string, Rec)
    const model = new Map<string, { name: string; n: number }>()
    for (const [op, d] of ops) {
      await run(pm, h, op, d)
      step(model, op)
      assert.deepEqual(read(h), asModel(model))
      assert.equal(h.size, model.size)
      for (const k of ['k1', 'k4-a-key-longer-than-fifteen-bytes', 'f3', 'nope']) {
        assert.deepEqual(h.get(k), model.get(k))
        assert.equal(h.has(k), model.has(k))
      }
    }
    const r = pm.check({ reachability: true })
    assert.deepEqual(r.problems, [])
    assert.equal(r.collections[0]!.count, model.size)
    pm.close()
  }), { numRuns: Number(process.env.PMEM_COLLECTION_RUNS ?? 40) })
})

test('hashMap over three lives of crashes (during recovery too) equals a Map model after a committed prefix', async () => {
  await crashTest({
    setup: pm => pm.hashMap('m', t.string, Rec),
    operation: fc.tuple(opArb, fc.constantFrom('sync' as const, 'none' as const, 'group' as const)),
    run: (pm, h, [op, d]) => run(pm, h, op, d),
    model: { init: () => [] as M, step: (m, [op]) => { const mm = new Map(m); step(mm, op); return asModel(mm) } },
    read: (_pm, h) => read(h),
    size: 512 * 1024, logSize: 64 * 1024, maxOps: 12, runs: Number(process.env.PMEM_COLLECTION_RUNS ?? 25),
  })
})

test('hashMap grows one bucket per put past one entry per bucket (hmap inv. 1, 3), and values of other key types', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 4 << 20 }), { logSize: 256 * 1024 })
  const h = pm.hashMap('ids', t.u64, t.f64)
  const level = () => pm.read(tx => [tx.readU32(h.offset + 16), tx.readU32(h.offset + 20)])
  pm.transaction(() => { for (let i = 0; i < 64; i++) h.put(BigInt(i) * 1000003n, i / 2) })
  assert.deepEqual(level(), [0, 0], '64 entries in 64 buckets: no split yet')
  h.put(7n, 0.5)
  assert.deepEqual(level(), [0, 1], 'the 65th entry splits exactly one bucket')
  for (let i = 64; i < 1000; i++) h.put(BigInt(i) * 1000003n, i / 2, { durability: 'none' })
  assert.equal(h.size, 1001)
  assert.deepEqual(level(), [3, 1001 - 512], 'buckets = entries')
  for (let i = 0; i < 1000; i++) assert.equal(h.get(BigInt(i) * 1000003n), i / 2)
  assert.deepEqual(pm.check({ reachability: true }).problems, [])
  const f = pm.hashMap('floats', t.f64, t.blob)
  f.put(-0, new Uint8Array([1, 2, 3]))
  assert.deepEqual(f.get(0), new Uint8Array([1, 2, 3]), '-0 and 0 are one key')
  f.put(Infinity, new Uint8Array(100).fill(7))
  assert.equal(f.get(Infinity)!.length, 100)
  assert.deepEqual(pm.check({ reachability: true }).problems, [])
})

test('hashMap.clear retires the table in a few writes; later writes free it a few entries at a time (hgarb inv. 1-2)', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 4 << 20 }), { logSize: 64 * 1024 })
  const h = pm.hashMap('m', t.string, t.string)
  const live0 = pm.read(tx => pm.heap.live(tx))
  for (let i = 0; i < 1200; i++) h.put(`key ${i}`, `a value longer than fifteen bytes ${i}`, { durability: 'none' })
  const seq = pm.engine.lastSeq
  h.clear() // a map of 1,200 entries would need far more than a 64 KiB log to free at once
  assert.equal(pm.engine.lastSeq, seq + 1, 'one transaction')
  assert.equal(h.size, 0)
  assert.equal(h.get('key 7'), undefined)
  assert.deepEqual(pm.check({ reachability: true }).problems, [], 'retired entries are owned and reachable, not leaks')
  h.put('a', 'first value after the clear, long enough')
  h.clear() // a second retired table while the first is not yet freed
  let writes = 0
  while (pm.read(tx => tx.readU32(h.offset + 24) + tx.readU32(h.offset + 28)) !== 0) {
    h.put(`k${writes % 7}`, 'x', { durability: 'none' })
    h.delete(`k${(writes + 3) % 7}`, { durability: 'none' })
    if (++writes % 300 === 0) assert.deepEqual(pm.check({ reachability: true }).problems, [])
  }
  assert.ok(writes >= 1200 / 8 && writes < 1200, `${writes} writes freed the retired tables`)
  for (let i = 0; i < 7; i++) h.delete(`k${i}`)
  assert.equal(pm.read(tx => pm.heap.live(tx)), live0, 'every retired block was freed')
  assert.deepEqual(pm.check({ reachability: true }).problems, [])
})

test('hashMap.sweep deletes what `dead` names a bounded part at a time; a pass misses no entry though buckets split meanwhile (hmap inv. 5)', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 4 << 20 }), { logSize: 256 * 1024 })
  const h = pm.hashMap('m', t.string, t.struct({ n: t.u32, s: t.string }))
  for (let i = 0; i < 300; i++) h.put(`key ${i}`, { n: i, s: `a value longer than fifteen bytes ${i}` }, { durability: 'none' })
  // a pass over the whole map in calls of 10 entries, while puts split buckets between the calls
  let cursor = 0, calls = 0, next = 300
  const seen = new Set<string>()
  do {
    const before = pm.engine.lastSeq
    cursor = h.sweep(cursor, 10, (k, v) => { seen.add(k); assert.equal(k, `key ${v.n}`); return v.n % 2 === 0 && v.n < 300 }) as number
    assert.equal(pm.engine.lastSeq, before + 1, 'one transaction per call')
    for (let j = 0; j < 3; j++, next++) h.put(`key ${next}`, { n: next, s: 'x' }, { durability: 'none' })
    assert.ok(++calls < 200, 'the pass ends')
  } while (cursor !== 0)
  for (let i = 0; i < 300; i++) assert.ok(seen.has(`key ${i}`), `key ${i} was missed by the pass`)
  for (let i = 0; i < next; i++) assert.equal(h.has(`key ${i}`), i >= 300 || i % 2 === 1, `key ${i}`)
  assert.equal(h.size, next - 150)
  assert.deepEqual(pm.check({ reachability: true }).problems, [])
  // { fields }: `dead` gets only those fields (the string is not read); bad ones change nothing
  const given: string[][] = []
  do cursor = h.sweep(cursor, 50, (_k, v) => { given.push(Object.keys(v)); return false }, { fields: ['n'], durability: 'none' }) as number
  while (cursor !== 0)
  assert.ok(given.length === h.size && given.every(f => f.length === 1 && f[0] === 'n'), 'only the field asked for')
  for (const fields of [['nope'], [], 'n', [1]]) {
    assert.throws(() => h.sweep(0, 10, () => true, { fields: fields as string[] }), { name: 'InvalidArgumentError' })
  }
  assert.equal(h.size, next - 150, 'a refused sweep deleted nothing')
  assert.throws(() => pm.hashMap('plain', t.string, t.u32).sweep(0, 1, () => true, { fields: ['n'] }), { name: 'InvalidArgumentError' })
  // inside a transaction it joins it: an abort keeps every entry
  assert.throws(() => pm.transaction(() => { h.sweep(0, 1000, () => true); throw new Error('abort') }), /abort/)
  assert.equal(h.size, next - 150)
  while (h.size > 0) h.sweep(0, 1000, () => true, { durability: 'none' })
  assert.deepEqual(pm.check({ reachability: true }).problems, [], 'no entry nor string leaked')
  assert.throws(() => h.sweep(-1, 1, () => true), { name: 'InvalidArgumentError' })
  assert.throws(() => h.sweep(0, 0, () => true), { name: 'InvalidArgumentError' })
  assert.deepEqual(pm.check({ reachability: true }).problems, [])
})
