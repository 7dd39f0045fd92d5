/**
 * Round trips: random graphs of every supported kind (shared references, cycles, sparse
 * arrays, registered classes, binary data, unsupported values) persist and come back as the
 * same graph, identity included, in a fresh container opened on the image a process crash
 * leaves (no close, no final flush beyond what the point made durable).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { assertSameGraph, buildGraph, cloneGraph, graphRecipe, CLASSES } from './graph-kit.js'

test('a random graph restores as the same graph (values, sharing, cycles, prototypes)', async () => {
  await fc.assert(fc.asyncProperty(graphRecipe(14), async recipe => {
    const graph = buildGraph(recipe)
    const expected = cloneGraph(graph)
    const region = simRegion()
    const c = Container.openRegion(region, { init: () => graph, classes: CLASSES, chunkSize: 512 })
    await c.persist()
    const fresh = Container.openRegion(region.crash(1), { classes: CLASSES })
    assertSameGraph(fresh.unwrap(fresh.root), expected)
  }), { numRuns: 150 })
})

test('every unsupported value is reported in dropped with its path, and comes back as null', async () => {
  const region = simRegion()
  class Socket { fd = 3 }
  const c = Container.openRegion(region, { init: () => ({ a: { f: () => 1 }, list: [1, Symbol('x')], m: new Map<unknown, unknown>([['k', new WeakMap()]]), s: new Socket(), p: Promise.resolve() }) })
  await c.persist()
  const paths = c.dropped.map(d => `${d.path}: ${d.reason}`).sort()
  assert.deepEqual(paths, [
    'root.a.f: function', 'root.list[1]: symbol', 'root.m.get("k"): WeakMap', 'root.p: Promise', 'root.s: instance of unregistered class Socket',
  ])
  const fresh = Container.openRegion(region.crash(2))
  assert.deepEqual(fresh.unwrap(fresh.root), { a: { f: null }, list: [1, null], m: new Map([['k', null]]), s: null, p: null })
})

test('primitives keep their exact value: -0, NaN, bigint, undefined, lone surrogates', async () => {
  const region = simRegion()
  const values = [-0, NaN, 0, 2 ** 53, -1, 127, 128, -(2 ** 31), 2 ** 31, 1.5, 10n ** 30n, -(10n ** 30n), 0n, undefined, null, '\ud800', 'é', '€'.repeat(40), 'x'.repeat(300), true, false]
  const c = Container.openRegion(region, { init: () => ({ values }) })
  await c.persist()
  const fresh = Container.openRegion(region.crash(3))
  const got = (fresh.unwrap(fresh.root) as { values: unknown[] }).values
  assert.equal(got.length, values.length)
  values.forEach((v, i) => assert.ok(Object.is(got[i], v), `value ${i}: ${String(got[i])} !== ${String(v)}`))
})

test('a linked list a million nodes deep persists and restores (no recursion)', async () => {
  const region = simRegion(1 << 22)
  let head: { next: unknown; i: number } | null = null
  for (let i = 0; i < 1_000_000; i++) head = { next: head, i }
  const c = Container.openRegion(region, { init: () => ({ head }) })
  await c.persist()
  const fresh = Container.openRegion(region.crash(4))
  let n = 0
  for (let p = (fresh.unwrap(fresh.root) as { head: { next: unknown } | null }).head; p !== null; p = p.next as never) n++
  assert.equal(n, 1_000_000)
})
