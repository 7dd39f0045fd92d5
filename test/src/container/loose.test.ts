/**
 * Loose ids (identity.ts inv. 3): plain objects of shapes no other object shares get their id
 * in a Map instead of a private-field stamp (loose-ids.ts). These tests build
 * graphs whose plain objects all have keys of their own, so most ids are loose, and check
 * that identity (shared references, cycles) survives the first point, later points and a
 * restore, and that the table forgets a loose id when it frees it.
 */
import { test } from 'node:test'
import { BigMap } from '../../../src/container/big-map.js'
import assert from 'node:assert/strict'
import { simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { Restorer } from '../../../src/container/decode.js'
import { Encoder, joinBatch } from '../../../src/container/encode.js'
import { ObjectTable } from '../../../src/container/identity.js'
import { ShapeTrie } from '../../../src/container/shapes.js'
import { ClassRegistry } from '../../../src/container/classes.js'
import { RefStore } from '../../../src/container/refs.js'
import { DateTable } from '../../../src/container/dates.js'
import { DirtySet } from '../../../src/container/dirty.js'
import { BinaryTable } from '../../../src/container/binary.js'
import { encodeFromRoot } from '../../../src/container/walk.js'

type Node = Record<string, unknown>

/** `n` plain objects, each with a key of its own; each also refers to a shared object and to its neighbour (a cycle closes the ring). */
function manyShapes(n: number): { root: { items: Node[]; shared: Node }; items: Node[]; shared: Node } {
  const shared: Node = { shared: true }
  const items: Node[] = []
  for (let i = 0; i < n; i++) items.push({ [`k${i}`]: i, shared })
  for (let i = 0; i < n; i++) items[i].next = items[(i + 1) % n]
  return { root: { items, shared }, items, shared }
}

function encoder(table: ObjectTable): Encoder {
  return new Encoder({ table, shapes: new ShapeTrie(), classes: new ClassRegistry(), excluded: new WeakSet(), anyExcluded: false, anyProxies: false, refs: new RefStore(), dropped: new BigMap(), segments: new Map(), dates: new DateTable(), dirty: new DirtySet(), viewsOf: new Map(), verifier: null, states: new Map(), binaries: new BinaryTable(), inspect: true, attributes: false })
}

test('inv. 3: plain objects of shapes of their own get loose ids, and sharing and cycles restore', () => {
  const { root, items } = manyShapes(500)
  const table = new ObjectTable()
  const enc = encoder(table)
  const rootId = encodeFromRoot(enc, table, root)
  assert.ok(table.looseCount > 400, `expected most of the 500 objects loose, got ${table.looseCount}`)
  for (const o of items) assert.equal(table.objects[table.idOf(o)], o)
  assert.equal(new Set(items.map(o => table.idOf(o))).size, items.length)
  const log = joinBatch(enc.output())
  const back = new ObjectTable()
  back.reset(table.highWater)
  const got = new Restorer(log, log.length, table.highWater, 'loose', new ClassRegistry(), (o, id) => back.bind(o, id)).run(rootId) as typeof root
  assert.equal(got.items.length, 500)
  for (let i = 0; i < 500; i++) {
    assert.equal(got.items[i][`k${i}`], i)
    assert.equal(got.items[i].shared, got.shared, `items[${i}].shared is the one shared object`)
    assert.equal(got.items[i].next, got.items[(i + 1) % 500], `items[${i}].next is items[${(i + 1) % 500}]`)
  }
})

test('inv. 3: a freed loose id leaves the Map, and a stale stamp does not hide a loose id', () => {
  const t = new ObjectTable()
  const a = { a: 1 }, b = { b: 1 }
  const ia = t.assign(a, true)
  assert.equal(t.idOf(a), ia)
  assert.equal(t.looseCount, 1)
  t.release(ia)
  assert.equal(t.idOf(a), 0)
  assert.equal(t.looseCount, 0, 'release removes the loose entry (else the Map keeps the freed object alive)')
  const ib = t.assign(b)           // stamped
  t.release(ib)
  const c = { c: 1 }
  assert.equal(t.assign(c), ib, 'the freed id is reused')
  const ib2 = t.assign(b, true)    // loose now; its stamp names an id that is c's
  assert.notEqual(ib2, ib)
  assert.equal(t.idOf(b), ib2)
  assert.equal(t.idOf(c), ib)
  t.release(ib2)
  assert.equal(t.idOf(b), 0)
  const ib3 = t.assign(b)          // stamped again
  assert.equal(t.idOf(b), ib3)
  assert.equal(t.looseCount, 0)
})

test('a graph of many shapes keeps its identity through later points, an exclusion and a restore', async () => {
  const { root, items, shared } = manyShapes(200)
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => root })
  const first = await c.persist()
  assert.equal(first.objects, 203, 'one record per object: the root, the array, the shared object and the 200 items (fewer than SEGMENT_MIN: no SEGMENT records)')
  items[7].k7 = 'seven'                  // a raw object of the first life, compared at the next point
  items[8].next = shared
  const extra: Node = { extraKey: 1, back: items[9] }
  items[9].extra = extra
  await c.persist()
  c.exclude(items[10].next as object)    // items[11]: freed, so items[10].next comes back null
  await c.persist()
  const fresh = Container.openRegion(region.crash(1))
  const got = fresh.unwrap(fresh.root) as typeof root
  assert.equal(got.items.length, 200)
  assert.equal(got.items[7].k7, 'seven')
  assert.equal(got.items[8].next, got.shared)
  assert.equal((got.items[9].extra as Node).back, got.items[9])
  assert.equal(got.items[10].next, null)
  for (let i = 0; i < 200; i++) {
    if (i === 8 || i === 10 || i === 11) continue
    assert.equal(got.items[i].shared, got.shared)
    assert.equal(got.items[i].next, got.items[(i + 1) % 200], `items[${i}].next`)
  }
})

test('objects of shapes of their own are written with their keys inline (DICT) and restore with the same keys in order', async () => {
  // Keys Object.prototype has, '__proto__' as an own key, index-like keys, a shared first key; every object its own key list.
  const tricky = ['constructor', '0', '7', 'x y', '', 'toString']
  const objs: Node[] = []
  for (let i = 0; i < 300; i++) {
    const o: Node = {}
    const keys = i % 3 === 0 ? ['common', `u${i}`, ...tricky.slice(i % 4)] : i % 3 === 1 ? [`u${i}`, 'common'] : ['common', 'z', `u${i}`]
    for (const k of keys) Object.defineProperty(o, k, { value: `${k}:${i}`, writable: true, enumerable: true, configurable: true })
    if (i % 5 === 0) Object.defineProperty(o, '__proto__', { value: i, writable: true, enumerable: true, configurable: true })
    objs.push(o)
  }
  const twins = Array.from({ length: 20 }, (_, i) => ({ twinA: i, twinB: `t${i}` }))   // a shape seen again in a point of varied shapes
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ objs, twins }) })
  await c.persist()
  const fresh = Container.openRegion(region.crash(1))
  const got = fresh.unwrap(fresh.root) as { objs: Node[]; twins: typeof twins }
  for (let i = 0; i < objs.length; i++) {
    assert.equal(Object.getPrototypeOf(got.objs[i]), Object.prototype, `objs[${i}]: prototype`)
    assert.deepEqual(Reflect.ownKeys(got.objs[i]), Reflect.ownKeys(objs[i]), `objs[${i}]: keys in order`)
    for (const k of Object.keys(objs[i])) assert.equal(Object.getOwnPropertyDescriptor(got.objs[i], k)?.value, objs[i][k], `objs[${i}].${k}`)
  }
  assert.deepEqual(got.twins, twins)
  for (const t of got.twins) assert.deepEqual(Object.keys(t), ['twinA', 'twinB'])
})
