/**
 * verify.ts inv. V2 at every position of the list of exposed objects: whatever an object's
 * place in the walk (first, last, in the middle of a run of objects of other kinds), a
 * mutation of it of any kind the comparisons see (prototype, value, a symbol-keyed or a
 * non-enumerable property, extensibility) is found by the next point, each exposed object
 * is compared once per point, and a point with nothing changed writes nothing. Guards the
 * walk's order and the cheap checks of own properties beyond the body (verify-compare.ts
 * `noExtras`: plain objects have loose ids, loose-ids.ts, and take `getOwnPropertyNames`
 * and `getOwnPropertySymbols`; the rest `Reflect.ownKeys`).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { assertSameGraph, cloneGraph } from './graph-kit.js'

/** 100 exposed objects of mixed kinds (the root and the list come first). */
function graph(): { list: unknown[] } {
  const list: unknown[] = []
  for (let i = 0; i < 100; i++) {
    switch (i % 5) {
      case 0: list.push({ i, s: `s${i}` }); break
      case 1: list.push([i, `e${i}`]); break
      case 2: list.push(new Map<unknown, unknown>([['k', i]])); break
      case 3: list.push([i + 0.5, i + 1.5]); break       // numbers only: an S_NUMS shadow
      default: list.push({ i, x: 1.25 * i })
    }
  }
  return { list }
}

type Mutation = (o: unknown, i: number) => void

const mutations: [string, Mutation][] = [
  // (a Map keeps its prototype: one without it could not be iterated by the comparison of the restore)
  ['prototype', (o, i) => { if (o instanceof Map) o.set('k', -i); else Object.setPrototypeOf(o, null) }],
  ['value', (o, i) => {
    if (o instanceof Map) o.set('k', -i)
    else if (Array.isArray(o)) o[0] = -i - 0.25
    else (o as Record<string, unknown>).i = -i
  }],
  ['symbol key', (o) => { (o as Record<symbol, unknown>)[Symbol.for('verify-blocks')] = 1 }],
  // (arrays: their non-enumerable named properties are not looked at, props.ts; a value changes instead)
  ['non-enumerable key', (o, i) => { if (Array.isArray(o)) o[0] = -i - 0.25; else Object.defineProperty(o, 'hidden', { value: i, enumerable: false, writable: true, configurable: true }) }],
  ['preventExtensions', (o) => { Object.preventExtensions(o) }],
]

for (const [what, mutate] of mutations) {
  test(`verify.ts inv. V2: a ${what} change of any one exposed object, at every position of the list, is found by the next point`, async () => {
    const region = simRegion(1 << 22)
    const g = graph()
    const c = Container.openRegion(region, { init: () => g })
    await c.persist()
    const idle = await c.persist()
    assert.equal(idle.objects, 0, 'nothing changed: nothing written')
    assert.equal(idle.verified, 102, 'the root, the list and its 100 elements are compared')
    for (let i = 0; i < g.list.length; i++) {
      mutate(g.list[i], i)
      const s = await c.persist()
      assert.equal(s.objects, 1, `the change of element ${i} was found (and nothing else was written)`)
      assert.equal(s.verified, 102, `point ${i}: every exposed object compared once`)
    }
    assert.equal((await c.persist()).objects, 0, 'nothing changed since: nothing written')
    const want = cloneGraph(g)
    const f = Container.openRegion(region.crash(1))
    assertSameGraph(f.unwrap(f.root), want)
    for (let i = 0; i < g.list.length; i++) {
      const o = (f.unwrap(f.root) as { list: unknown[] }).list[i] as object
      if (what === 'prototype' && !(g.list[i] instanceof Map)) assert.equal(Object.getPrototypeOf(o), null, `element ${i}: its prototype persisted`)
      if (what === 'preventExtensions') assert.equal(Object.isExtensible(o), false, `element ${i}: not extensible after the restore`)
      if (what === 'symbol key') assert.equal((o as Record<symbol, unknown>)[Symbol.for('verify-blocks')], 1, `element ${i}: its symbol-keyed property persisted`)
      if (what === 'non-enumerable key' && !Array.isArray(o)) {
        const d = Object.getOwnPropertyDescriptor(o, 'hidden')
        assert.equal(d?.value, i, `element ${i}: its non-enumerable property persisted`)
        assert.equal(d?.enumerable, false)
      }
    }
  })
}

test('verify.ts inv. V2: several changes in one point, next to each other and apart, are all found', async () => {
  const region = simRegion(1 << 22)
  const g = graph()
  const c = Container.openRegion(region, { init: () => g })
  await c.persist()
  const picks = [0, 1, 29, 30, 31, 32, 33, 62, 63, 64, 65, 97, 98, 99]
  for (const i of picks) {
    const o = g.list[i]
    mutations[i % 2 === 0 ? 0 : 1][1](o, i)
  }
  const s = await c.persist()
  assert.equal(s.objects, picks.length, 'every changed element was written, and only those')
  const f = Container.openRegion(region.crash(1))
  assertSameGraph(f.unwrap(f.root), cloneGraph(g))
})
