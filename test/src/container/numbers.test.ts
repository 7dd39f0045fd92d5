/**
 * Large arrays of numbers held raw (the init graph): their shadow is one Float64Array
 * (shadow.ts S_NUMS, written by encode-bodies.ts `segmentedArray`, compared by verify.ts
 * `sameNums`), not a boxed value per element. Every raw change of such an array must still
 * be found by the next point (verify.ts inv. V2), and an unchanged one must write nothing.
 * When only some numbers changed, only the segments holding them are encoded again
 * (verify.ts inv. V4, encode-bodies.ts `patchNumbers`).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { runs, simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { assertSameGraph, cloneGraph } from './graph-kit.js'

test('S_NUMS shadows (verify.ts inv. V2): every raw change of a large number array is persisted, an unchanged one writes nothing', async () => {
  const region = simRegion(1 << 23)
  const g = {
    doubles: Array.from({ length: 800 }, (_, i) => i / 7) as unknown[],
    ints: Array.from({ length: 800 }, (_, i) => i * 3) as unknown[],
    mixed: Array.from({ length: 700 }, (_, i) => (i === 600 ? 'text' : i + 0.5)) as unknown[],   // a non-number part-way: the S_ARRAY fallback
    zeros: Array.from({ length: 400 }, () => 0) as unknown[],
    nans: Array.from({ length: 400 }, () => NaN) as unknown[],
  }
  const c = Container.openRegion(region, { init: () => g })
  await c.persist()
  assert.equal((await c.persist()).objects, 0, 'NaN equals NaN, nothing changed: nothing written')
  const steps: [string, () => void][] = [
    ['a double changed', () => { g.doubles[634] = 0.125 }],
    ['an int changed to a double', () => { g.ints[7] = 7.5 }],
    ['0 became -0', () => { g.zeros[399] = -0 }],
    ['-0 became 0 again', () => { g.zeros[399] = 0 }],
    ['NaN became 0', () => { g.nans[0] = 0 }],
    ['a number became a string', () => { g.doubles[799] = '799' }],
    ['a number became an object', () => { g.ints[0] = { boxed: 0 } }],
    ['a named key added', () => { (g.zeros as unknown as Record<string, unknown>).label = 'named' }],
    ['an element deleted (a hole)', () => { delete g.nans[200] }],
    ['shortened', () => { g.mixed.length = 650 }],
    ['a number of the fallback part changed', () => { g.mixed[620] = -1 }],
    ['pushed', () => { g.ints.push(1e300) }],
    ['the string back to a number', () => { g.doubles[799] = 799 / 7 }],
  ]
  for (const [what, step] of steps) {
    step()
    const want = cloneGraph(g)
    const s = await c.persist()
    assert.ok(s.objects > 0, `the point found the change: ${what}`)
    assert.equal((await c.persist()).objects, 0, `nothing changed since: nothing written (${what})`)
    const f = Container.openRegion(region.crash(1))
    assertSameGraph(f.unwrap(f.root), want)
  }
  g.doubles[5] = g.doubles[5] as number    // the same value stored again
  assert.equal((await c.persist()).objects, 0, 'the same number stored again is no change')
  await c.close()
})

test('verify.ts inv. V4: a change of a few numbers re-encodes only their segments (an element of an untouched segment is not read by the encoder)', async () => {
  const region = simRegion(1 << 22)
  const a = Array.from({ length: 2000 }, (_, i) => i * 1.5) as number[]
  let reads = 0
  Object.defineProperty(a, 1999, { get: () => { reads++; return 42.5 }, enumerable: true, configurable: true })
  const c = Container.openRegion(region, { init: () => ({ a }) })
  await c.persist()
  const point = async (change: () => void): Promise<number> => {
    change()
    const before = reads
    const s = await c.persist()
    assert.ok(s.objects > 0, 'the change was found')
    return reads - before
  }
  // The point's comparison reads the accessor once and the encoder's check for holes once
  // (encode-bodies.ts indexKeys); encoding the last segment again would read it a third time.
  assert.ok(await point(() => { a[3] = -1 }) <= 2, 'the last segment was not encoded again')
  assert.ok(await point(() => { a[1000] = 0.25; a[1001] = -0 }) <= 2, 'nor after two more changes')
  assert.ok(await point(() => { a[1990] = 7 }) <= 2, 'a change in the last segment is a PATCH part of that element: the rest of the segment is not read either (patch-record.ts writeVerifiedNumbers)')
  const before = reads
  await c.persist({ full: true })
  assert.ok(reads > before, 'a full point reads it (the counts above are right)')
  const f = Container.openRegion(region.crash(1))
  const got = f.unwrap(f.root).a as number[]
  assert.equal(got.length, 2000)
  assert.equal(got[3], -1); assert.equal(got[1000], 0.25); assert.ok(Object.is(got[1001], -0)); assert.equal(got[1990], 7); assert.equal(got[1999], 42.5)
  assert.equal(got[1500], 2250)
  await c.close()
})

test('verify.ts inv. V4: random changes of large number arrays held raw, each point restored and compared (fast-check)', async () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('num' as const), at: fc.nat(), v: fc.oneof(fc.double(), fc.integer(), fc.constantFrom(-0, NaN, 0)) }),
    fc.record({ k: fc.constant('many' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 300 }), v: fc.double({ noNaN: true }) }),
    fc.record({ k: fc.constantFrom('str' as const, 'push' as const, 'pop' as const, 'hole' as const, 'named' as const, 'persist' as const), at: fc.nat() }),
  )
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), fc.integer({ min: 300, max: 2000 }), async (ops, n) => {
    const region = simRegion(1 << 22)
    const g = { xs: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? i : i / 3)) as unknown[], ys: Array.from({ length: 400 }, (_, i) => i) as unknown[] }
    const c = Container.openRegion(region, { init: () => g })
    await c.persist()
    for (const o of ops) {
      const xs = g.xs, len = xs.length
      if (o.k === 'num') xs[o.at % len] = o.v
      else if (o.k === 'many') for (let i = 0; i < o.n; i++) xs[(o.at + i * 7) % len] = o.v + i
      else if (o.k === 'str') xs[o.at % len] = 's' + o.at
      else if (o.k === 'push') xs.push(o.at)
      else if (o.k === 'pop') xs.pop()
      else if (o.k === 'hole') delete xs[o.at % len]
      else if (o.k === 'named') (xs as unknown as Record<string, unknown>).named = o.at
      else { await c.persist(); continue }
      g.ys[o.at % 400] = o.at / 7
      const want = cloneGraph(g)
      await c.persist()
      const f = Container.openRegion(region.crash(1))
      assertSameGraph(f.unwrap(f.root), want)
    }
    await c.close()
  }), runs(6, 16))
})
