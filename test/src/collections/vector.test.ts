// Vector against an array model (push, pop, set, clear; structs with strings), and under
// crashTest over several lives; segments come and go as the length crosses their starts
// (vec inv. 1), and pm.check validates them after every recovery.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { PersistentMemory, SimRegion, t } from '../../../src/index.js'
import { crashTest } from '../../../src/testing/index.js'

const Item = t.struct({ x: t.f64, label: t.string })
type It = { x: number; label: string }
type Op = { push: It; times: number } | { pop: number } | { set: number; v: It } | { clear: true }
const itemArb = fc.record({ x: fc.double({ noNaN: true }), label: fc.oneof(fc.string({ maxLength: 4 }), fc.string({ minLength: 16, maxLength: 30 })) })
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ push: itemArb, times: fc.integer({ min: 1, max: 40 }) }), weight: 4 },
  { arbitrary: fc.record({ pop: fc.integer({ min: 1, max: 30 }) }), weight: 3 },
  { arbitrary: fc.record({ set: fc.nat(), v: itemArb }), weight: 2 },
  { arbitrary: fc.constant({ clear: true as const }), weight: 1 },
)
function step(m: It[], op: Op): It[] {
  if ('push' in op) return [...m, ...Array<It>(op.times).fill(op.push)]
  if ('pop' in op) return m.slice(0, Math.max(0, m.length - op.pop))
  if ('set' in op) return m.length === 0 ? m : m.map((x, i) => (i === op.set % m.length ? op.v : x))
  return []
}
type V = ReturnType<typeof open>
const open = (pm: PersistentMemory) => pm.vector('v', Item)
function run(pm: PersistentMemory, v: V, op: Op, d: 'sync' | 'none' | 'group'): unknown {
  return pm.transaction(() => {
    if ('push' in op) for (let i = 0; i < op.times; i++) v.push(op.push)
    else if ('pop' in op) for (let i = 0; i < op.pop; i++) v.pop()
    else if ('set' in op) { if (v.length > 0) v.set(op.set % v.length, op.v) }
    else v.clear()
  }, { durability: d })
}
const norm = (xs: It[]) => xs.map(x => ({ x: Object.is(x.x, -0) ? 0 : x.x, label: x.label }))

test('vector equals an array model; get, length and iteration agree; pm.check validates it', async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(opArb, fc.constantFrom('sync' as const, 'none' as const, 'group' as const)), { maxLength: 25 }), async ops => {
    const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 1 << 20 }), { logSize: 128 * 1024 })
    const v = open(pm)
    let m: It[] = []
    for (const [op, d] of ops) {
      await run(pm, v, op, d)
      m = step(m, op)
      assert.equal(v.length, m.length)
      assert.deepEqual(norm([...v]), norm(m))
      if (m.length > 0) assert.deepEqual(norm([v.get(m.length - 1)!]), norm([m[m.length - 1]!]))
      assert.equal(v.get(m.length), undefined)
    }
    assert.deepEqual(pm.check({ reachability: true }).problems, [])
    pm.close()
  }), { numRuns: Number(process.env.PMEM_COLLECTION_RUNS ?? 30) })
})

test('vector over three lives of crashes (during recovery too) equals an array model after a committed prefix', async () => {
  await crashTest({
    setup: open,
    operation: fc.tuple(opArb, fc.constantFrom('sync' as const, 'none' as const, 'group' as const)),
    run: (pm, v, [op, d]) => run(pm, v, op, d),
    model: { init: () => [] as It[], step: (m, [op]) => norm(step(m, op)) },
    read: (_pm, v) => norm([...v]),
    size: 512 * 1024, logSize: 64 * 1024, maxOps: 10, runs: Number(process.env.PMEM_COLLECTION_RUNS ?? 20),
  })
})
