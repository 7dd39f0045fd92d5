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
import { assertSameGraph, buildGraph, cloneGraph, graphRecipe, CLASSES, Point } from './graph-kit.js'

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

// A new user's idioms (trust20, session 9): values and keys the format must keep exactly, and
// mutations of them through raw references (first life) and through proxies (a later full or
// lazy life), each life restored full and lazily from the image a process crash leaves.
test('a new user\'s idioms: lone surrogates, odd keys, -0/NaN in Maps and Sets, holes, views sharing a buffer, resizable buffers, freeze after a point, delete and re-add, across lives full and lazy', async () => {
  const build = (): Record<string, unknown> => {
    const shared = { shared: true }, keyObj = { k: 1 }
    const ab = new ArrayBuffer(32)
    const u8 = new Uint8Array(ab); u8.set([1, 2, 3, 250])
    const f64 = new Float64Array(ab, 8, 2); f64[0] = -0; f64[1] = NaN
    const cyc = new Map<string, unknown>(); cyc.set('self', cyc)
    const sparse: unknown[] = [1, , 3]; sparse[10] = 'ten'
    const tail = [1, 2]; tail.length = 5
    const nullProto = Object.create(null) as Record<string, unknown>; nullProto.a = 1; nullProto.__proto__ = 'own'
    const rab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(8, { maxByteLength: 64 })
    const re = /a(b)?/gimsuy; re.lastIndex = 2
    return {
      shared, again: shared, m: new Map<unknown, unknown>([[keyObj, keyObj], [-0, 'negzero'], [NaN, 'nan'], ['\uD800', 'lone']]),
      s: new Set<unknown>([-0, NaN, -Infinity, 'a\uDC00b', keyObj]), cyc, ab, u8, f64, dv: new DataView(ab, 24, 8), sub: u8.subarray(2, 6),
      buf: Buffer.alloc(6, 'b'), rab, strs: ['\uD800', 'a\uDC00b', 'x'.repeat(70_000), 'ž日本語🙂', '\u0000\uFFFF'],
      nums: { nz: -0, nan: NaN, inf: Infinity, big: 2n ** 80n, nbig: -(2n ** 70n) }, sparse, tail, nullProto,
      weird: JSON.parse('{"__proto__":1,"":2,"0":3,"01":4,"-0":5,"4294967295":6,"1e3":7,"\\ud800":8}'),
      date: new Date(86_400_000), bad: new Date(NaN), re, pt: new Point(1, 2), pts: [new Point(3, 4)],
    }
  }
  const region = simRegion(4 << 20)
  const raw = build() as Record<string, any>
  const c = Container.openRegion(region, { classes: CLASSES, init: () => raw })
  await c.persist()
  raw.shared.after = 1
  raw.m.set(-0, 'changed'); raw.m.delete(NaN); raw.m.set({ nk: 1 }, raw.shared)
  raw.s.delete(-0); raw.s.add(0.5)
  raw.u8[0] = 99; raw.f64[1] = -0; raw.dv.setInt32(4, 77); raw.buf[0] = 80
  raw.sparse.length = 0; raw.tail.splice(1, 1, 'x', 'y')
  delete raw.weird['']; raw.weird[''] = 'readded'
  Object.freeze(raw.pt); Object.seal(raw.pts)
  raw.nums.nz = 0; raw.nums.z = -0
  raw.date.setTime(5); raw.re.lastIndex = 0
  raw.rab.resize(16); new Uint8Array(raw.rab)[15] = 15
  await c.persist()
  const img = region.crash(1)
  for (const lazy of [false, true]) {
    const r = Container.openRegion(img.crash(1), { classes: CLASSES, lazy })
    assertSameGraph(r.unwrap(r.root), raw)
  }
  for (const lazy of [false, true]) {
    const region2 = img.crash(2)
    const w = Container.openRegion(region2, { classes: CLASSES, lazy })
    const r = w.root as Record<string, any>
    r.m.set(r.shared, r.cyc); r.m.set(-0, 'again'); r.m.delete('\uD800'); r.m.set('\uD800', 'back')
    r.s.add(r.m); r.s.delete(NaN); r.s.add(NaN)
    r.cyc.set('other', r.s)
    r.u8[1] = 42; r.f64[0] = Infinity; r.sub[3] = 7
    r.strs[0] = '\uDC00\uD800'; r.strs.splice(1, 2); r.strs.length = 10
    r.sparse[5] = 'five'; r.tail.length = 0
    r.weird.__proto__ = 'x'; delete r.weird.a; r.weird.a = 'last'
    r.nums.big = -(2n ** 200n); Object.freeze(r.nums)
    r.date.setTime(-1); r.bad.setTime(7); r.re.lastIndex = 1
    r.rab.resize(4)
    const p = w.persist()
    r.between = 'set between persist() and its promise'
    await p
    await w.persist()
    const expected = w.unwrap(w.root)
    const back = Container.openRegion(region2.crash(3), { classes: CLASSES, lazy: !lazy })
    assertSameGraph(back.unwrap(back.root), expected)
  }
})
