/**
 * Large arrays of numbers held raw (the init graph): their shadow is one Float64Array
 * (shadow.ts S_NUMS, written by encode-bodies.ts `segmentedArray`, compared by verify.ts
 * `sameNums`), not a boxed value per element. Every raw change of such an array must still
 * be found by the next point (verify.ts inv. V2), and an unchanged one must write nothing.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { assertSameGraph, cloneGraph } from './graph-kit.js'

test('S_NUMS shadows (verify.ts inv. V2): every raw change of a large number array is persisted, an unchanged one writes nothing', async () => {
  const region = simRegion(1 << 23)
  const g = {
    doubles: Array.from({ length: 3000 }, (_, i) => i / 7) as unknown[],
    ints: Array.from({ length: 3000 }, (_, i) => i * 3) as unknown[],
    mixed: Array.from({ length: 1000 }, (_, i) => (i === 600 ? 'text' : i + 0.5)) as unknown[],   // a non-number part-way: the S_ARRAY fallback
    zeros: Array.from({ length: 400 }, () => 0) as unknown[],
    nans: Array.from({ length: 400 }, () => NaN) as unknown[],
  }
  const c = Container.openRegion(region, { init: () => g })
  await c.persist()
  assert.equal((await c.persist()).objects, 0, 'NaN equals NaN, nothing changed: nothing written')
  const steps: [string, () => void][] = [
    ['a double changed', () => { g.doubles[1234] = 0.125 }],
    ['an int changed to a double', () => { g.ints[7] = 7.5 }],
    ['0 became -0', () => { g.zeros[399] = -0 }],
    ['-0 became 0 again', () => { g.zeros[399] = 0 }],
    ['NaN became 0', () => { g.nans[0] = 0 }],
    ['a number became a string', () => { g.doubles[2999] = '2999' }],
    ['a number became an object', () => { g.ints[0] = { boxed: 0 } }],
    ['a named key added', () => { (g.zeros as unknown as Record<string, unknown>).label = 'named' }],
    ['an element deleted (a hole)', () => { delete g.nans[200] }],
    ['shortened', () => { g.mixed.length = 900 }],
    ['a number of the fallback part changed', () => { g.mixed[800] = -1 }],
    ['pushed', () => { g.ints.push(1e300) }],
    ['the string back to a number', () => { g.doubles[2999] = 2999 / 7 }],
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
