// SortedMap (B+tree) against a sorted-array model: random puts, deletes, clears and aborting
// transactions with small node capacity pressure (many entries per run, so leaves and internal
// nodes split, borrow and merge, btree inv. 1-4); getRange against the model's slice for random
// bounds, reverse, limit and offset; the same under crashTest over several lives.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { PersistentMemory, SimRegion, t } from '../../../src/index.js'
import { crashTest } from '../../../src/testing/index.js'

type Op = { put: number; v: string } | { del: number } | { bulk: number; count: number; remove: boolean } | { clear: true }
const keyArb = fc.integer({ min: -50, max: 250 })
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ put: keyArb, v: fc.oneof(fc.string({ maxLength: 5 }), fc.string({ minLength: 16, maxLength: 40 })) }), weight: 5 },
  { arbitrary: fc.record({ del: keyArb }), weight: 3 },
  { arbitrary: fc.record({ bulk: keyArb, count: fc.integer({ min: 1, max: 120 }), remove: fc.boolean() }), weight: 2 },
  { arbitrary: fc.constant({ clear: true as const }), weight: 1 },
)
type M = Array<[number, string]>
/** Keys are f64: the model orders them numerically (-0 is 0). */
function step(m: Map<number, string>, op: Op): void {
  if ('put' in op) m.set(op.put / 4, op.v)
  else if ('del' in op) m.delete(op.del / 4)
  else if ('clear' in op) m.clear()
  else for (let i = 0; i < op.count; i++) { const k = (op.bulk + i) / 4; if (op.remove) m.delete(k); else m.set(k, `bulk ${k} with a string past the inline size`) }
}
const sorted = (m: Map<number, string>): M => [...m].map(([k, v]): [number, string] => [k === 0 ? 0 : k, v]).sort((a, b) => a[0] - b[0])
/** Values of 248 bytes give nodes of capacity 4, so a few hundred entries make a tree of height 4-5: internal nodes split, borrow and merge too. */
const Wide = t.struct({ s: t.string, pad: t.bytes(232) })
type SM = ReturnType<typeof open>
const open = (pm: PersistentMemory) => pm.sortedMap('s', t.f64, Wide)
function run(pm: PersistentMemory, s: SM, op: Op, d: 'sync' | 'none' | 'group'): unknown {
  if ('put' in op) return s.put(op.put / 4, { s: op.v }, { durability: d })
  if ('del' in op) return s.delete(op.del / 4, { durability: d })
  if ('clear' in op) return s.clear({ durability: d })
  return pm.transaction(() => {
    for (let i = 0; i < op.count; i++) { const k = (op.bulk + i) / 4; if (op.remove) s.delete(k); else s.put(k, { s: `bulk ${k} with a string past the inline size` }) }
  }, { durability: d })
}
const entries = (it: Iterable<[number, { s: string }]>): M => [...it].map(([k, v]) => [k, v.s])

test('sortedMap equals a sorted-array model, getRange equals its slices, pm.check validates the tree', async () => {
  const bound = fc.option(fc.oneof(keyArb.map(k => k / 4), fc.constant(-Infinity), fc.constant(Infinity)), { nil: undefined })
  const range = fc.record({ start: bound, end: bound, reverse: fc.boolean(), limit: fc.option(fc.nat(40), { nil: undefined }), offset: fc.option(fc.nat(10), { nil: undefined }) })
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(opArb, fc.constantFrom('sync' as const, 'none' as const, 'group' as const)), { maxLength: 30 }), fc.array(range, { maxLength: 5 }), async (ops, ranges) => {
    const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 2 << 20 }), { logSize: 256 * 1024 })
    const s = open(pm)
    const model = new Map<number, string>()
    for (const [op, d] of ops) {
      await run(pm, s, op, d)
      step(model, op)
      const want = sorted(model)
      assert.deepEqual(entries(s.entries()), want)
      assert.equal(s.size, want.length)
      for (const k of [0, 0.25, 10, -12.5, 62]) assert.equal(s.get(k)?.s, model.get(k))
    }
    const all = sorted(model)
    for (const r of ranges) {
      let want = all.filter(([k]) => (r.start === undefined || k >= r.start) && (r.end === undefined || k < r.end))
      if (r.reverse) want = want.reverse()
      want = want.slice(r.offset ?? 0, r.limit === undefined ? undefined : (r.offset ?? 0) + r.limit)
      assert.deepEqual(entries(s.getRange(r)), want, JSON.stringify(r))
    }
    assert.deepEqual(pm.check({ reachability: true }).problems, [])
    assert.equal(pm.read(tx => tx.readU32(s.offset + 28)), 4, 'capacity 4')
    pm.close()
  }), { numRuns: Number(process.env.PMEM_COLLECTION_RUNS ?? 30) })
})

test('sortedMap: string keys in byte order, bigint keys numerically, ranges read in batches across commits', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 4 << 20 }), { logSize: 256 * 1024 })
  const s = pm.sortedMap('names', t.string, t.u32)
  const names = ['b', 'a', 'ä', 'Z', 'a-much-longer-name-than-fifteen', 'é', '', 'aa']
  names.forEach((n, i) => s.put(n, i))
  const bytes = (x: string) => Buffer.from(x, 'utf8')
  assert.deepEqual([...s.keys()], [...names].sort((x, y) => Buffer.compare(bytes(x), bytes(y))))
  assert.deepEqual([...s.getRange({ start: 'a', end: 'b' })].map(e => e[0]), ['a', 'a-much-longer-name-than-fifteen', 'aa'])
  const big = pm.sortedMap('big', t.u64, t.u8)
  for (let i = 0; i < 2000; i++) big.put(BigInt(i) * 7919n % 3000n, i % 256, { durability: 'none' })
  const keys = [...big.keys()]
  assert.deepEqual(keys, [...keys].sort((x, y) => (x < y ? -1 : 1)))
  assert.deepEqual([...big.getRange({ start: 10, end: 20n })].map(e => e[0]), [10n, 11n, 12n, 13n, 14n, 15n, 16n, 17n, 18n, 19n].filter(k => keys.includes(k)))
  // an iteration spanning several batches sees commits made between them, never an entry twice
  const it = big.getRange()
  const seen = [it.next().value![0]]
  big.delete(keys[1500]!) // in a later batch than the first (1,024 entries)
  for (const [k] of { [Symbol.iterator]: () => it }) seen.push(k)
  assert.equal(new Set(seen).size, seen.length)
  assert.equal(seen.length, keys.length - 1)
  for (let i = 0; i < 2000; i++) big.delete(BigInt(i) * 7919n % 3000n, { durability: 'none' })
  assert.equal(big.size, 0)
  assert.deepEqual(pm.check({ reachability: true }).problems, [])
})

test('sortedMap of capacity 4: 700 entries in random order make a tree of height 5; deleting them all in random order merges it back to nothing (btree inv. 1-4)', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 4 << 20 }), { logSize: 256 * 1024 })
  const s = open(pm)
  const keys = Array.from({ length: 700 }, (_, i) => (i * 337) % 700)
  keys.forEach(k => s.put(k, { s: `v${k}` }, { durability: 'none' }))
  assert.ok(pm.read(tx => tx.readU32(s.offset + 24)) >= 5, 'height')
  assert.deepEqual(pm.check().problems, [])
  keys.forEach((k, i) => {
    assert.equal(s.delete((k * 3) % 700, { durability: 'none' }), true)
    if (i % 97 === 0) assert.deepEqual(pm.check({ reachability: true }).problems, [], `after ${i + 1} deletes`)
  })
  const r = pm.check({ reachability: true })
  assert.deepEqual(r.problems, [])
  assert.equal(pm.read(tx => tx.readU32(s.offset + 24)), 0)
  assert.equal(r.heap!.allocated, 2, 'only the map header and its directory entry remain')
})

test('sortedMap over three lives of crashes (during recovery too) equals a sorted-array model after a committed prefix', async () => {
  await crashTest({
    setup: open,
    operation: fc.tuple(opArb, fc.constantFrom('sync' as const, 'none' as const, 'group' as const)),
    run: (pm, s, [op, d]) => run(pm, s, op, d),
    model: { init: () => [] as M, step: (m, [op]) => { const mm = new Map(m); step(mm, op); return sorted(mm) } },
    read: (_pm, s) => entries(s.entries()),
    size: 1 << 20, logSize: 256 * 1024, maxOps: 10, runs: Number(process.env.PMEM_COLLECTION_RUNS ?? 15),
  })
})
