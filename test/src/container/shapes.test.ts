/**
 * Restore's shapes (shapes.ts): a shape is interpreted for its first COMPILE_AFTER objects
 * and compiled after, and both ways build the same objects (inv. 2), also for keys that
 * Object.prototype has.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { COMPILE_AFTER, shapeStats } from '../../../src/container/shapes.js'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const KEYS = ['a', 'b', 'name', '0', '7', 'constructor', 'toString', '__proto__', 'valueOf', 'x y', '']

/** Own keys in order, values, and prototypes, recursively (deepStrictEqual ignores key order). */
function same(got: unknown, want: unknown, at = 'root', seen = new Map<object, unknown>()): void {
  if (typeof want !== 'object' || want === null) { assert.ok(Object.is(got, want), `${at}: ${String(got)} !== ${String(want)}`); return }
  if (seen.has(want)) { assert.equal(got, seen.get(want), `${at}: the same object as before`); return }
  seen.set(want, got)
  assert.equal(Object.getPrototypeOf(got), Object.getPrototypeOf(want), `${at}: prototype`)
  assert.deepEqual(Reflect.ownKeys(got as object), Reflect.ownKeys(want), `${at}: keys in order`)
  for (const k of Reflect.ownKeys(want)) {
    const d = Object.getOwnPropertyDescriptor(got, k)!
    const e: PropertyDescriptor = Object.getOwnPropertyDescriptor(want, k)!
    assert.deepEqual([d.writable, d.enumerable, d.configurable, 'value' in d], [e.writable, e.enumerable, e.configurable, true], `${at}.${String(k)}: the same data property`)
    same(d.value, e.value, `${at}.${String(k)}`, seen)
  }
}

/** An object with own data properties `keys` (defined, so `__proto__` is an own key too). */
function withKeys(keys: readonly string[], v: (k: string) => unknown): object {
  const o = {}
  for (const k of keys) Object.defineProperty(o, k, { value: v(k), writable: true, enumerable: true, configurable: true })
  return o
}

test('shapes used fewer than COMPILE_AFTER times are interpreted, others compiled once (shapes.ts inv. 2)', async () => {
  const once = Array.from({ length: 200 }, (_, i) => ({ [`k${i}`]: i, [`j${i}`]: 'v' }))
  const many = Array.from({ length: 3 * COMPILE_AFTER }, (_, i) => ({ id: i, label: `n${i}`, next: null as unknown }))
  many.forEach((o, i) => { o.next = many[(i + 5) % many.length] })     // forward references: shells made before their records are filled
  const few = Array.from({ length: COMPILE_AFTER - 1 }, (_, i) => ({ p: i, q: i }))
  const graph = { once, many, few }
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => graph })
  await c.persist()
  const before = shapeStats.compiled
  const back = Container.openRegion(region.crash(1))
  const got = back.unwrap(back.root) as typeof graph
  assert.equal(shapeStats.compiled - before, 1, 'only the shape of `many` is compiled')
  same(got, graph)
  assert.equal((got.many[3]!.next as object), got.many[8], 'identity of forward references')
})

test('interpreted and compiled shapes build the same objects, keys of Object.prototype included (shapes.ts inv. 2)', async () => {
  const keyList = fc.uniqueArray(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 6 })
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(keyList, fc.integer({ min: 1, max: 2 * COMPILE_AFTER })), { maxLength: 8 }), async spec => {
    const list: object[] = []
    for (const [keys, n] of spec) for (let i = 0; i < n; i++) list.push(withKeys(keys, k => `${k}${i}`))
    const region = simRegion()
    const c = Container.openRegion(region, { init: () => ({ list }) })
    await c.persist()
    const back = Container.openRegion(region.crash(2))
    same(back.unwrap(back.root), { list })
  }), { numRuns: 60 })
})

test('a setter the program put on Object.prototype is not called by a restore (shapes.ts inv. 2)', async () => {
  const calls: unknown[] = []
  Object.defineProperty(Object.prototype, 'hooked', { set(v) { calls.push(v) }, get() { return 'from the prototype' }, configurable: true, enumerable: false })
  try {
    const few = [{ hooked: 1, n: 1 }, { hooked: 2, n: 2 }]
    const many = Array.from({ length: 3 * COMPILE_AFTER }, (_, i) => withKeys(['hooked', 'm'], k => `${k}${i}`))
    const region = simRegion()
    const c = Container.openRegion(region, { init: () => ({ few, many }) })
    await c.persist()
    const back = Container.openRegion(region.crash(3))
    same(back.unwrap(back.root), { few, many })
    assert.deepEqual(calls, [])
  } finally { delete (Object.prototype as Record<string, unknown>).hooked }
})

test('class instances and null-prototype objects get own data properties: no setter or read-only property of the prototype chain is reached (shapes.ts inv. 3)', async () => {
  const calls: unknown[] = []
  const own = (o: object, ...kv: [string, unknown][]): void => { for (const [k, v] of kv) Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true }) }
  class Guarded { constructor(i: number) { own(this, ['name', `g${i}`], ['fixed', i], ['n', i]) } }
  class Hooked { constructor(i: number) { own(this, ['hooked', i], ['name', `h${i}`]) } }
  Object.defineProperty(Guarded.prototype, 'name', { set(v) { calls.push(v) }, get() { return 'from the prototype' }, configurable: true })
  Object.defineProperty(Guarded.prototype, 'fixed', { value: -1, writable: false })
  Object.defineProperty(Hooked.prototype, 'name', { set(v) { calls.push(v) }, configurable: true })
  Object.defineProperty(Object.prototype, 'hooked', { set(v) { calls.push(v) }, get() { return 'from Object.prototype' }, configurable: true, enumerable: false })
  try {
    const few = Array.from({ length: 2 }, (_, i) => new Guarded(i))                         // interpreted
    const many = Array.from({ length: 3 * COMPILE_AFTER }, (_, i) => new Guarded(100 + i))  // compiled after COMPILE_AFTER
    const bare = Array.from({ length: 2 * COMPILE_AFTER }, (_, i) => Object.assign(Object.create(null) as object, { name: `b${i}`, n: i }))
    const hooked = Array.from({ length: 2 * COMPILE_AFTER }, (_, i) => new Hooked(i))     // a key of Object.prototype's: never compiled
    const odd = Array.from({ length: 2 }, (_, i) => withKeys(['__proto__', 'constructor', 'm'], k => `${k}${i}`))
    odd.forEach(o => Object.setPrototypeOf(o, Hooked.prototype))
    const graph = { few, many, bare, hooked, odd, cycle: [] as object[] }
    graph.cycle.push(graph.few[0]!, graph.many[0]!)
    const region = simRegion()
    const c = Container.openRegion(region, { init: () => graph, classes: [Guarded, Hooked] })
    await c.persist()
    calls.length = 0
    const back = Container.openRegion(region.crash(4), { classes: [Guarded, Hooked] })
    same(back.unwrap(back.root), graph)
    assert.deepEqual(calls, [], 'no setter called')
  } finally { delete (Object.prototype as Record<string, unknown>).hooked }
})

test('objects of shapes of their own (DICT records) never reach a setter the program put on Object.prototype', async () => {
  const calls: unknown[] = []
  Object.defineProperty(Object.prototype, 'hooked', { set(v) { calls.push(v) }, get() { return 'from the prototype' }, configurable: true, enumerable: false })
  try {
    const list = Array.from({ length: 200 }, (_, i) => withKeys([`k${i}`, 'hooked', `j${i}`], k => `${k}${i}`))
    const region = simRegion()
    const c = Container.openRegion(region, { init: () => ({ list }) })
    await c.persist()
    calls.length = 0
    const back = Container.openRegion(region.crash(5))
    same(back.unwrap(back.root), { list })
    assert.deepEqual(calls, [], 'no setter called')
  } finally { delete (Object.prototype as Record<string, unknown>).hooked }
})

test('inv. 3a: restored class instances of one shape share one V8 map after the first point stamps them (Object.create and stores, not setPrototypeOf)', () => {
  // Before: each id stamp added to an object whose map came from setPrototypeOf made a map
  // of its own (V8 caches no transition from such a map): 1 us an object, a map per object.
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'shape-maps-child.js')
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', child], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout), { sameMap: true, fast: true, item: true })
})

test('inv. 3a, lazy restore: a setter the program puts on a class prototype between two fills is not reached by the second fill', async () => {
  const calls: unknown[] = []
  class Late { constructor(public label: string, public n: number) {} }
  const region = simRegion()
  const c0 = Container.openRegion(region, { classes: [Late], init: () => ({ a: Array.from({ length: 3 * COMPILE_AFTER }, (_, i) => new Late(`a${i}`, i)), b: Array.from({ length: 3 * COMPILE_AFTER }, (_, i) => new Late(`b${i}`, i)) }) })
  await c0.persist()
  await c0.close()
  const c = Container.openRegion(region, { classes: [Late], lazy: true })
  try {
    assert.equal(c.root.a[5].label, 'a5')        // fills a: its instances made while the prototype is clean
    Object.defineProperty(Late.prototype, 'label', { set(v) { calls.push(v) }, get() { return 'from the prototype' }, configurable: true })
    const b = c.unwrap(c.root.b) as Late[]       // fills b after the program ran
    assert.deepEqual(calls, [], 'no setter called')
    assert.deepEqual(Object.getOwnPropertyDescriptor(b[7], 'label'), { value: 'b7', writable: true, enumerable: true, configurable: true })
    assert.ok(b[7] instanceof Late)
  } finally {
    delete (Late.prototype as unknown as Record<string, unknown>).label
    await c.close()
  }
})
