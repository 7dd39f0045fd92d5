/**
 * Numbers of exposed objects' shadows kept outside the JavaScript heap (shadow.ts inv. S2):
 * a number that is not a small integer is stored in the shadow's `nums` with NUM in its slot,
 * and the comparators read them with a cursor in slot order (verify-compare.ts). These tests
 * change one number among several through a raw reference (a cursor out of step compares
 * the wrong number), re-encode enough objects to compact `nums`, and mix objects whose
 * for-in pass is undone after writing numbers (`truncate`); after each change the point must
 * persist it, and a point with no change must write nothing (no false positive).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { assertSameGraph, cloneGraph } from './graph-kit.js'

/** Runs each step (a raw mutation of `g`), persists, and checks a restore of the crash image; then a point with no change writes nothing. */
async function stepsPersist(g: object, steps: (() => void)[]): Promise<void> {
  const region = simRegion(1 << 23)
  const c = Container.openRegion(region, { init: () => g })
  await c.persist()
  assert.equal((await c.persist()).objects, 0, 'nothing changed yet: nothing written (numbers compared in step)')
  for (const [i, step] of steps.entries()) {
    step()
    const want = cloneGraph(g)
    const s = await c.persist()
    assert.ok(s.objects > 0, `step ${i}: the point found the change`)
    assert.equal((await c.persist()).objects, 0, `step ${i}: then nothing changed: nothing written`)
    const f = Container.openRegion(region.crash(1))
    assertSameGraph(f.unwrap(f.root), want)
  }
  await c.close()
}

test('shadow.ts inv. S2: one double changed among several, in objects, arrays, array extras, sparse arrays, Maps and Sets, persists', async () => {
  const arr = [0.5, 7, 1.5, 'x', 2.5, -0, NaN] as unknown[]
  ;(arr as unknown as Record<string, unknown>).extra = 4.25
  const sparse: unknown[] = []
  sparse[3] = 1.25; sparse[90] = 2.75; sparse[200] = 3.75
  const g = {
    o: { a: 0.5, b: 1.5, c: 2.5, d: 3, e: 1e300 } as Record<string, unknown>,
    n: Object.assign(Object.create(null) as Record<string, unknown>, { p: 0.1, q: 0.2, r: 0.3 }),
    wide: Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${i}`, i + 0.5])) as Record<string, number>,
    arr, sparse,
    m: new Map<unknown, unknown>([[0.5, 1.5], [2.5, 3.5], ['s', 4.5]]),
    s: new Set<unknown>([0.5, 1.5, 2.5]),
  }
  await stepsPersist(g, [
    () => { g.o.c = 2.75 },                         // the third number of five: the cursor must have passed a and b
    () => { g.o.c = 2.5; g.o.e = 1e301 },
    () => { g.o.d = 3.5 },                           // a small integer becomes a double
    () => { g.o.a = 1 },                             // and a double a small integer
    () => { g.n.r = 0.35 },                          // the generic loop (no for-in shape: null prototype)
    () => { g.wide.k70 = 70.25 },                    // more keys than a shape holds
    () => { g.arr[4] = 2.625 },
    () => { g.arr[5] = 0 },                          // -0 becomes 0
    () => { g.arr[6] = 0; g.arr[5] = -0 },           // NaN becomes 0
    () => { (g.arr as unknown as Record<string, unknown>).extra = 4.5 },
    () => { g.sparse[90] = 2.875 },
    () => { g.m.set(2.5, 3.625) },                   // a value after a double key
    () => { g.m.delete(0.5); g.m.set(0.75, 1.5) },   // a key
    () => { g.s.delete(1.5); g.s.add(1.75) },
  ])
})

test('shadow.ts inv. S2: numbers compacted after many re-encodes still compare in step', async () => {
  const items = Array.from({ length: 3000 }, (_, i) => ({ x: i + 0.5, y: -i - 0.25, u: 0.5, v: 1.5, w: 2.5, tag: 't' }))
  const still = Array.from({ length: 300 }, (_, i) => ({ x: i + 0.75, y: -i - 0.125, tag: 's' }))     // never re-encoded: their numbers move at each compaction
  const g = { items, still }
  const region = simRegion(1 << 24)
  const c = Container.openRegion(region, { init: () => g })
  await c.persist()
  for (let round = 1; round <= 8; round++) {                 // 15,000 numbers replaced per point: `nums` is compacted meanwhile
    for (const it of items) { it.x += 1; if (round === 1) delete (it as { w?: number }).w }   // fewer numbers: what follows moves when compacted
    const s = await c.persist()
    assert.equal(s.objects, 3000, `round ${round}: every item changed`)
  }
  assert.equal((await c.persist()).objects, 0, 'after the compactions nothing changed: nothing written')
  items[1234].y = 99.5
  assert.equal((await c.persist()).objects, 1, 'one second number changed: one record')
  items[2999].x = 0.125
  assert.equal((await c.persist()).objects, 1)
  still[150].y = 0.5
  assert.equal((await c.persist()).objects, 1, 'an object not re-encoded since before the compactions')
  const f = Container.openRegion(region.crash(1))
  assertSameGraph(f.unwrap(f.root), cloneGraph(g))
  await c.close()
})

test('shadow.ts inv. S2: a for-in pass undone after writing numbers (another shape with the same first key) leaves the slice\'s numbers in step', async () => {
  // Objects whose first key is that of a shape seen just before but whose later keys differ:
  // the encoder's for-in pass writes their first numbers, finds the mismatch and starts over
  // (encode-bodies.ts `objectForIn` / `undo`: the shadow is truncated to its prototype).
  const list: Record<string, number>[] = Array.from({ length: 200 }, (_, i): Record<string, number> => i % 2 === 0 ? { a: i + 0.5, b: 1.5, c: 2.5 } : { a: i + 0.5, b: 1.25, d: 3.5 })
  const g = { list }
  await stepsPersist(g, [
    () => { list[1].d = 3.75 },
    () => { list[2].c = 2.25 },
    () => { list[3].b = 1.125 },
  ])
})
