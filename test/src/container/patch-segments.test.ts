/**
 * Large Maps and Sets held raw (the init graph) whose point comparison found only some values
 * changed, or entries appended: only the segments holding them are encoded again
 * (verify.ts inv. V4, patch-segments.ts inv. P1-P3). Each point is restored from a crash
 * image of the region and compared with the graph it persisted.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { assertSameGraph, cloneGraph } from './graph-kit.js'

test('patch-segments.ts inv. P1: a Map value changed re-encodes its segment only (a getter of an untouched segment is not read); the restore has every entry', async () => {
  const region = simRegion(1 << 22)
  const m = new Map<string, unknown>(Array.from({ length: 3000 }, (_, i) => [`k${i}`, `v${i}`]))
  const c = Container.openRegion(region, { init: () => ({ m }) })
  await c.persist()
  // The encoder reads a Map through forEach: count the entries it visits by the keys it writes.
  const points: number[] = []
  for (const [k, v] of [['k5', 'changed'], ['k2999', 7], ['k1500', null]] as const) {
    m.set(k, v)
    const s = await c.persist()
    points.push(s.objects)
    const f = Container.openRegion(region.crash(1))
    assertSameGraph(f.unwrap(f.root), cloneGraph({ m }))
  }
  assert.deepEqual(points, [2, 2, 2], 'one SEGMENTED and one SEGMENT record per point')
  m.set('new', 'appended'); m.set('k7', 'and a change')
  assert.ok((await c.persist()).objects >= 3, 'the appended entry and the change')
  assert.equal((await c.persist()).objects, 0, 'nothing changed since: nothing written')
  const f = Container.openRegion(region.crash(1))
  assertSameGraph(f.unwrap(f.root), cloneGraph({ m }))
  await c.close()
})

test('verify.ts inv. V4: a getter run by the snapshot that changes a kept segment after the comparison is persisted by the next point (patch-segments.ts inv. P1)', async () => {
  const region = simRegion(1 << 22)
  const m = new Map<string, unknown>(Array.from({ length: 3000 }, (_, i) => [`k${i}`, i]))
  let arm = false
  // Compared after the Map (a later id): when armed, its getter changes an entry of a segment
  // the Map's patch keeps, after the comparison found the Map's other change.
  const late = { get sneaky() { if (arm) { arm = false; m.set('k2990', 'late') } return 1 } }
  const c = Container.openRegion(region, { init: () => ({ m, late }) })
  await c.persist()
  arm = true
  m.set('k1', 'first')
  await c.persist()
  assert.equal(arm, false, 'the getter ran during the point')
  await c.persist()
  assert.equal((await c.persist()).objects, 0, 'everything persisted')
  const f = Container.openRegion(region.crash(1))
  const got = (f.unwrap(f.root) as { m: Map<string, unknown> }).m
  assert.equal(got.get('k1'), 'first')
  assert.equal(got.get('k2990'), 'late', 'the change made after the comparison was persisted by a later point')
  assertSameGraph(got, m)
  await c.close()
})

test('verify.ts inv. V4: random changes of large Maps and Sets held raw, each point restored and compared (fast-check)', async () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('set' as const), at: fc.nat(), v: fc.oneof(fc.string({ maxLength: 6 }), fc.double(), fc.constantFrom(-0, NaN, 0, null, undefined, true)) }),
    fc.record({ k: fc.constant('many' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 200 }) }),
    fc.record({ k: fc.constantFrom('add' as const, 'delete' as const, 'object' as const, 'readd' as const, 'setAdd' as const, 'setDelete' as const, 'persist' as const), at: fc.nat() }),
  )
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 10 }), fc.integer({ min: 300, max: 2000 }), async (ops, n) => {
    const region = simRegion(1 << 22)
    const g = {
      m: new Map<unknown, unknown>(Array.from({ length: n }, (_, i) => [i % 5 === 0 ? i : `k${i}`, `v${i}`])),
      s: new Set<unknown>(Array.from({ length: n }, (_, i) => (i % 3 === 0 ? i : `s${i}`))),
    }
    const c = Container.openRegion(region, { init: () => g })
    await c.persist()
    for (const o of ops) {
      const keys = [...g.m.keys()], vals = [...g.s]
      const key = keys[o.at % keys.length]
      if (o.k === 'set') g.m.set(key, o.v)
      else if (o.k === 'many') for (let i = 0; i < o.n; i++) g.m.set(keys[(o.at + i * 13) % keys.length], `m${o.at}.${i}`)
      else if (o.k === 'add') g.m.set(`new${o.at}`, o.at)
      else if (o.k === 'delete') g.m.delete(key)
      else if (o.k === 'object') g.m.set(key, { o: o.at })
      else if (o.k === 'readd') { const v = g.m.get(key); g.m.delete(key); g.m.set(key, v) }
      else if (o.k === 'setAdd') g.s.add(`add${o.at}`)
      else if (o.k === 'setDelete') g.s.delete(vals[o.at % vals.length])
      else { await c.persist(); continue }
      const want = cloneGraph(g)
      await c.persist()
      const f = Container.openRegion(region.crash(1))
      assertSameGraph(f.unwrap(f.root), want)
    }
    await c.close()
  }), { numRuns: 12, seed: 16 })
})

test('patch-segments.ts inv. P3: a value that cannot persist in a segment the patch would keep is still reported in dropped after a change elsewhere', async () => {
  const region = simRegion(1 << 22)
  const m = new Map<string, unknown>(Array.from({ length: 3000 }, (_, i) => [`k${i}`, i]))
  m.set('k2900', () => 'a function')
  const s = new Set<unknown>(Array.from({ length: 3000 }, (_, i) => i))
  s.add(Symbol('local'))
  const c = Container.openRegion(region, { init: () => ({ m, s }) })
  await c.persist()
  const before = c.dropped.map(d => d.path).sort()
  assert.equal(before.length, 2, 'the function and the symbol')
  m.set('k3', 'changed'); s.add('appended')
  await c.persist()
  assert.deepEqual(c.dropped.map(d => d.path).sort(), before)
  await c.close()
})
