/**
 * barrier.ts inv. 7 with `track: 'barriers'` (barrier-override.ts): instances of Map and Set
 * subclasses that override a member the proxy answers itself (`set`, `add`, `get`, `size`,
 * `keys`) or reach the built-in through `super` are still handed out behind proxies, and
 * behave as their class says: the proxy calls those members on the real instance and marks
 * it changed, so an ordinary (not full) point persists what they did. The oracle is the same
 * operations on a raw model graph outside any container (override-kit.ts). The default mode
 * hands such instances out raw (class-proxy.test.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { types } from 'node:util'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Container } from '../../../src/container/index.js'
import { simRegion } from './setup.js'
import type { SimRegion } from '../../../regions/index.js'
import { CLASSES, Counted, Recent, Tags, Writes, init, ops, summary, type Graph } from './override-kit.js'

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'override-child.js')
const tmp = (): string => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-override-')), 'o.pmc')

/** The file's state as a fresh process restores it, fully and lazily. */
function inChild(file: string): { full: unknown; lazy: unknown } {
  return JSON.parse(execFileSync(process.execPath, [child, file]).toString().trim()) as { full: unknown; lazy: unknown }
}

test('inv. 7, track: \'barriers\': overrides of set, add, get, size and keys, own methods calling them or super, run as their class says through c.root in three lives (the first, a full and a lazy restore), and ordinary points persist what they change (a fresh process restores it fully and lazily)', async () => {
  const file = tmp()
  const want = init()
  for (let life = 1; life <= 3; life++) {
    const c = life === 1
      ? Container.open<Graph>(file, { classes: CLASSES, track: 'barriers', init })
      : Container.open<Graph>(file, { classes: CLASSES, track: 'barriers', lazy: life === 3 })
    if (life === 1) await c.persist()          // the first point is full: the changes below go to an ordinary one
    const r = c.root
    assert.ok(types.isProxy(r.m) && r.m instanceof Counted && r.tags instanceof Tags && r.lru instanceof Recent, `life ${life}: proxies, of their classes`)
    assert.equal(r.m, c.root.m, 'one proxy per object')
    assert.deepEqual(ops(r, life), ops(want, life), `life ${life}: what the operations return, as the classes say`)
    assert.ok(types.isProxy(r.later) && r.later === c.root.later, `life ${life}: the instance handed in raw is read back as a proxy`)
    assert.ok(types.isProxy(r.m.get('b')), 'a value read through an override-free member is a proxy')
    assert.ok(types.isProxy(r.lru.get('p')) && want.lru.get('p') !== undefined, 'a value an override returns is handed out as a proxy (the model too: get moves the key)')
    const st = await c.persist()
    assert.equal(st.full, false, `life ${life}: an ordinary point`)
    assert.deepEqual(summary(c.unwrap(c.root)), summary(want), `life ${life}: the graph in memory`)
    await c.close()
    const got = inChild(file)
    assert.deepEqual(got.full, summary(want), `life ${life}: a fresh process, full restore`)
    assert.deepEqual(got.lazy, summary(want), `life ${life}: a fresh process, lazy restore`)
  }
  Container.delete(file)
})

/** An async method reaching the built-in after an await: its mutation happens after the call returns. */
class Slow extends Map<string, number> {
  async putLater(k: string, v: number): Promise<this> { await null; await null; return super.set(k, v) }
}

test('barrier-override.ts inv. O1: an async method of such a class marks its instance again when its promise settles, so a mutation made after an await persists at the next ordinary point even if a point ran in between', async () => {
  const region = simRegion()
  const c = Container.openRegion<{ s: Slow }>(region, { classes: [Slow], track: 'barriers', init: () => ({ s: new Slow() }) })
  await c.persist()
  const s = c.root.s
  const pending = s.putLater('a', 1)
  const between = await c.persist()           // starts before the method's mutation
  const got = await pending
  assert.equal(got, s, 'the promise resolves with the proxy')
  const after = await c.persist()
  assert.equal(after.full, false)
  assert.ok(after.objects >= 1, `the Map was written again (between: ${between.objects}, after: ${after.objects})`)
  await c.close()
  const r = Container.openRegion<{ s: Slow }>(region, { classes: [Slow], track: 'barriers' })
  assert.deepEqual([...r.unwrap(r.root).s], [['a', 1]])
  await r.close()
})

test('barrier-override.ts inv. O4: once closed, an override of a built-in mutator throws RegionClosedError before running; on a read-only container reads through overrides work and mutators throw ReadOnlyError', async () => {
  const file = tmp()
  const c = Container.open<Graph>(file, { classes: CLASSES, track: 'barriers', init })
  ops(c.root, 1)
  await c.persist()
  const m = c.root.m, tags = c.root.tags
  await c.close()
  assert.throws(() => m.set('late', { n: 0 }), { name: 'RegionClosedError' })
  assert.throws(() => tags.add('late'), { name: 'RegionClosedError' })
  assert.throws(() => m.setMany([['late', { n: 0 }]]), { name: 'RegionClosedError' })
  assert.deepEqual([m.sets, tags.adds, m.has('late')], [3, 3, false], 'nothing ran')
  const ro = Container.open<Graph>(file, { classes: CLASSES, track: 'barriers', readOnly: true })
  const r = ro.root
  assert.equal(r.lru.get('q')!.n, 2, 'an override of get runs (its reordering stays in memory)')
  assert.deepEqual([r.m.total, r.tags.size], [11, 30])
  assert.throws(() => r.m.set('x', { n: 1 }), { name: 'ReadOnlyError' })
  assert.throws(() => { r.lru.get('p')!.n = 0 }, { name: 'ReadOnlyError' }, 'a value an override returns is a proxy that refuses writes')
  await ro.close()
  Container.delete(file)
})

/** Accessors without super: a getter reading the entries, a setter writing an object the instance holds. */
class Tally extends Map<string, { n: number }> {
  meta = { label: '' }
  get total(): number { let s = 0; for (const v of this.values()) s += v.n; return s }
  set label(s: string) { this.meta.label = s }
}
class Labels extends Set<{ n: number }> {
  meta = { label: '' }
  get total(): number { let s = 0; for (const v of this) s += v.n; return s }
  set label(s: string) { this.meta.label = s }
}

test('barrier-traps.ts: accessors of Map and Set subclasses run with the proxy as this, as methods do (in every mode; before, a getter read unfilled values of a lazy restore, NaN, and what a setter wrote through this was lost)', async () => {
  for (const track of ['all', 'barriers'] as const) {
    for (const lazy of [false, true]) {
      const region = simRegion()
      const c0 = Container.openRegion<any>(region, { classes: [Tally, Labels], track, init: () => ({ t: new Tally([['a', { n: 1 }], ['b', { n: 2 }]]), s: new Labels([{ n: 3 }, { n: 4 }]) }) })
      await c0.persist()
      await c0.close()
      const c = Container.openRegion<any>(region, { classes: [Tally, Labels], track, lazy })
      const what = `${track}, ${lazy ? 'lazy' : 'full'}`
      assert.deepEqual([c.root.t.total, c.root.s.total], [3, 7], `${what}: the getters`)
      c.root.t.label = 'T'
      c.root.s.label = 'S'
      const st = await c.persist()
      assert.equal(st.full, false)
      await c.close()
      const f = Container.openRegion<any>(region, { classes: [Tally, Labels] })
      assert.deepEqual([f.root.t.meta.label, f.root.s.meta.label], ['T', 'S'], `${what}: what the setters wrote persisted`)
      await f.close()
    }
  }
})

test('barrier-override.ts under the crash model: what the overrides changed persists through a crash at any flush of a point or of a recovery, several lives deep (full and lazy restores)', async () => {
  const replay = (lives: number[]): unknown => { const g = init(); for (const l of lives) ops(g, l); return summary(g) }
  let region: SimRegion = simRegion(1 << 22)
  const c1 = Container.openRegion<Graph>(region, { classes: CLASSES, track: 'barriers', init })
  await c1.persist()
  ops(c1.root, 1)
  await c1.persist()
  await c1.close()
  const committed = new Map<number, number[]>([[c1.version, [1]]])     // version -> the lives whose operations it holds
  let durableAtStart = c1.version
  for (let life = 2; life <= 4; life++) {
    const images: { img: SimRegion; durable: number }[] = []
    let c: Container<Graph> | null = null
    region.onFlush = () => {       // two images per flush (each dirty sector kept or lost at random)
      for (let k = 0; k < 2; k++) images.push({ img: region.crash(life * 1000 + images.length), durable: c?.version ?? durableAtStart })
    }
    c = Container.openRegion<Graph>(region, { classes: CLASSES, track: 'barriers', lazy: life === 3 })     // a recovery: its flushes are crash points too
    assert.ok(c.version >= durableAtStart && committed.has(c.version), `life ${life}: opened version ${c.version}`)
    for (const v of [...committed.keys()]) if (v > c.version) committed.delete(v)
    const applied = committed.get(c.version)!
    ops(c.root, life)
    const one = await c.persist()
    committed.set(one.version, [...applied, life])
    ops(c.root, life + 10)              // a second point in the same life
    const st = await c.persist()
    assert.ok(!one.full && !st.full, 'ordinary points')
    committed.set(st.version, [...applied, life, life + 10])
    region.onFlush = undefined
    await c.close()
    images.push({ img: region.crash(life), durable: st.version })
    assert.ok(images.length >= 8, `life ${life}: ${images.length} crash images`)
    const next = images.length >> 1
    let newest = 0
    for (const [i, { img, durable }] of images.entries()) {
      if (i === next) continue        // the next life recovers from it
      const f = Container.openRegion<Graph>(img, { classes: CLASSES, track: 'barriers' })
      assert.ok(f.version >= durable && committed.has(f.version), `life ${life}, crash image ${i}: version ${f.version}, durable ${durable}`)
      assert.deepEqual(summary(f.unwrap(f.root)), replay(committed.get(f.version)!), `life ${life}, crash image ${i} (version ${f.version})`)
      newest = Math.max(newest, f.version)
      await f.close()
    }
    assert.equal(newest, st.version, `life ${life}: the last image restores the life's point`)
    region = images[next].img
    durableAtStart = images[next].durable
  }
})

test('barrier-override.ts: an instance whose prototype is changed through its proxy (to Map.prototype, to null) is answered by what it is now', async () => {
  const region = simRegion()
  const c = Container.openRegion<any>(region, { classes: CLASSES, track: 'barriers', init: () => ({ a: new Counted(), b: new Counted() }) })
  await c.persist()
  const { a, b } = c.root
  a.set('X', { n: 1 })
  Object.setPrototypeOf(a, Map.prototype)
  a.set('Y', { n: 2 })                        // the built-in's set now: no count, no lower-casing
  Object.setPrototypeOf(b, null)
  b.set('Z', { n: 3 })                        // no prototype: the Map proxy's own set, as for any Map proxy (was a TypeError of the members' WeakMap)
  assert.deepEqual([[...a.keys()], a.sets], [['x', 'Y'], 1])
  await c.persist()
  await c.close()
  const r = Container.openRegion<any>(region, { classes: CLASSES, track: 'barriers' })
  const rb = r.unwrap(r.root.b)
  assert.deepEqual([[...r.root.a.keys()], r.root.a instanceof Counted, Object.getPrototypeOf(rb), [...Map.prototype.keys.call(rb)]], [['x', 'Y'], false, null, ['Z']])
  await r.close()
})

/** Members whose body runs on the real instance after the call returned: after an await, between a generator's steps. */
class Later extends Map<string, { n: number; child?: { n: number } }> {
  async bumpLater(k: string): Promise<void> { await null; await null; super.get(k)!.n += 100 }
  *bumpEach(): Generator<string> { for (const [k, v] of super.entries()) { v.n += 10; yield k } }
  /** Writes one level below what the built-in hands out. */
  bumpChildren(): void { for (const v of super.values()) if (v.child !== undefined) v.child.n++ }
}

test('watch.ts inv. W3, track: \'barriers\': an async method writing what super.get returned after its awaits, and a generator between its steps, with a point in between, persist at the next ordinary point (each step and each unsettled call is watched again after a point)', async () => {
  const region = simRegion()
  const c = Container.openRegion<{ l: Later }>(region, { classes: [Later], track: 'barriers', init: () => ({ l: new Later([['a', { n: 1 }], ['b', { n: 2 }]]) }) })
  await c.persist()
  const l = c.root.l
  const it = l.bumpEach()
  assert.deepEqual(it.next(), { done: false, value: 'a' })
  const p1 = await c.persist()               // the generator wrote 'a' only
  assert.deepEqual([...it], ['b'])            // writes 'b', reached raw after the point forgot what was watched
  const p2 = await c.persist()
  const pending = l.bumpLater('a')
  const p3 = await c.persist()               // the async body has not written yet
  await pending
  const p4 = await c.persist()
  assert.ok([p1, p2, p3, p4].every(p => !p.full) && p2.verified > 0 && p4.verified > 0, `ordinary points, comparing what was reached raw (${p2.verified}, ${p4.verified})`)
  await c.close()
  const r = Container.openRegion<{ l: Later }>(region, { classes: [Later], track: 'barriers' })
  assert.deepEqual([...r.unwrap(r.root).l].map(([k, v]) => [k, v.n]), [['a', 111], ['b', 12]])
  await r.close()
})

test('watch.ts inv. W1, track: \'barriers\': a persisted object stored through a proxy into an object a call reached raw is watched too, so a later call writing it raw persists (the instance itself was already watched: its walk stops there)', async () => {
  const region = simRegion()
  const c = Container.openRegion<any>(region, { classes: [Later], track: 'barriers', init: () => ({ l: new Later([['a', { n: 1 }]]), other: { n: 50 } }) })
  await c.persist()
  const l = c.root.l
  l.bumpChildren()                           // watches l and what it reaches: the value of 'a'
  l.get('a').child = c.root.other            // through the proxy of a watched object: `other` is watched
  l.bumpChildren()                           // writes `other` raw; l was watched already
  const st = await c.persist()
  assert.equal(st.full, false)
  await c.close()
  const r = Container.openRegion<any>(region, { classes: [Later], track: 'barriers' })
  const raw = r.unwrap(r.root)
  assert.equal(raw.other.n, 51)
  assert.equal(Map.prototype.get.call(raw.l, 'a').child, raw.other, 'one object, shared')
  await r.close()
})

test('barrier-override.ts inv. O7, track: \'barriers\': an arrow-function field is listed in dropped (functions cannot persist) and comes back null; called through the proxy in its life, what it wrote persists (a frozen instance\'s too: its field is handed out as it is, and the read watches the instance)', async () => {
  const region = simRegion()
  const c = Container.openRegion<Graph & { frozen: Writes }>(region, { classes: CLASSES, track: 'barriers', init: () => ({ ...init(), frozen: Object.freeze(new Writes([['y', { n: 0 }]])) }) })
  await c.persist()
  assert.deepEqual(c.dropped.filter(d => d.path.startsWith('root.arrow')), [{ path: 'root.arrow.bumpArrow', reason: 'function' }])
  c.root.arrow.bumpArrow('z')
  const f = c.root.frozen.bumpArrow
  assert.equal(f, c.unwrap(c.root.frozen).bumpArrow, 'a non-writable, non-configurable property: the proxy must hand out its value itself')
  f('y')
  assert.equal((await c.persist()).full, false)
  await c.close()
  const r = Container.openRegion<Graph & { frozen: Writes }>(region, { classes: CLASSES, track: 'barriers' })
  assert.deepEqual([r.root.arrow.get('z')!.n, r.root.frozen.get('y')!.n], [3, 3])
  assert.equal(r.root.arrow.bumpArrow, null, 'the field holds what was persisted for it: null')
  await r.close()
})

test('barrier-override.ts inv. O6 in the default mode too: a restored instance of a Map or Set subclass without members of its own is proxied; a set override and methods reaching the built-in given to the prototypes later run as the classes say (before: the Map proxy answered set itself, and the built-in refused the proxy), and what they write persists (the call exposes the instance)', async () => {
  class Late extends Map<string, { n: number }> {}
  class LateSet extends Set<{ n: number }> {}
  const region = simRegion()
  const c0 = Container.openRegion<any>(region, { classes: [Late, LateSet], init: () => ({ m: new Late([['a', { n: 1 }]]), s: new LateSet([{ n: 1 }]) }) })
  await c0.persist()
  await c0.close()
  const c = Container.openRegion<any>(region, { classes: [Late, LateSet] })
  const { m, s } = c.root
  assert.ok(types.isProxy(m) && types.isProxy(s), 'proxied: nothing of their classes needed the real instance')
  Late.prototype.set = function (this: Late, k: string, v: { n: number }): Late { return Map.prototype.set.call(this, k.toUpperCase(), v) as Late }
  ;(Late.prototype as any).bump = function (this: Late, k: string): void { (Map.prototype.get.call(this, k) as { n: number }).n += 10 }
  ;(LateSet.prototype as any).grow = function (this: LateSet): void { for (const v of Set.prototype.values.call(this) as Iterable<{ n: number }>) v.n += 5 }
  m.set('b', { n: 2 })
  m.bump('a')
  s.grow()
  assert.equal((await c.persist()).full, false)
  await c.close()
  const r = Container.openRegion<any>(region, { classes: [Late, LateSet] })
  const raw = r.unwrap(r.root)
  assert.deepEqual([...Map.prototype.entries.call(raw.m)].map(([k, v]) => [k, v.n]), [['a', 11], ['B', 2]])
  assert.deepEqual([...Set.prototype.values.call(raw.s)].map(v => (v as { n: number }).n), [6])
  await r.close()
})

/** A method giving what the built-in hands out properties beyond their bodies. */
class Marks extends Map<string, object> {
  hide(): void { for (const v of super.values()) { Object.defineProperty(v, 'hidden', { value: 1, enumerable: false, writable: true, configurable: true }); (v as Record<symbol, number>)[Symbol.for('mark')] = 2 } }
}

test('watch.ts, track: \'barriers\': a non-enumerable property and a Symbol.for key given raw to a value the built-in handed out persist at the next ordinary point (a value captured without inspecting its own properties, its plain flag set, is still checked for them)', async () => {
  const region = simRegion()
  const c = Container.openRegion<{ m: Marks }>(region, { classes: [Marks], track: 'barriers', init: () => ({ m: new Marks([['a', { n: 1 }]]) }) })
  await c.persist()
  await c.close()
  const d = Container.openRegion<{ m: Marks }>(region, { classes: [Marks], track: 'barriers' })      // restored: the value's plain flag is set
  d.root.m.hide()
  assert.equal((await d.persist()).full, false)
  await d.close()
  const r = Container.openRegion<{ m: Marks }>(region, { classes: [Marks], track: 'barriers' })
  const v = Map.prototype.get.call(r.unwrap(r.root).m, 'a') as Record<string | symbol, unknown>
  assert.deepEqual([Object.getOwnPropertyDescriptor(v, 'hidden')?.enumerable, v.hidden, v[Symbol.for('mark')]], [false, 1, 2])
  await r.close()
})

/** Arrow-function fields of a plain class: their `this` is the real instance. */
class Counter {
  n = 0
  items: { n: number }[] = []
  inc = (): void => { this.n++ }
  bumpAll = (): void => { for (const i of this.items) i.n++ }
  later = (): Promise<void> => Promise.resolve().then(() => { this.items[0].n += 100 })
}

test('barrier-override.ts inv. O7, track: \'barriers\', any class: arrow-function fields read through a proxy run on the real instance and what they write persists at the next ordinary point (before: lost); one function per field, so === holds between reads', async () => {
  const region = simRegion()
  const c = Container.openRegion<{ k: Counter }>(region, { classes: [Counter], track: 'barriers', init: () => { const k = new Counter(); k.items.push({ n: 1 }, { n: 2 }); return { k } } })
  await c.persist()
  const k = c.root.k
  assert.equal(k.inc, c.root.k.inc, 'one function per field')
  k.inc(); k.inc(); k.bumpAll()
  const p = k.later()
  assert.equal((await c.persist()).full, false)
  await p
  assert.equal((await c.persist()).full, false)
  await c.close()
  const r = Container.openRegion<{ k: Counter }>(region, { classes: [Counter], track: 'barriers' })
  const raw = r.unwrap(r.root).k
  assert.deepEqual([raw.n, raw.items.map(i => i.n), raw.inc], [2, [102, 3], null])
  await r.close()
})

test('barrier-traps.ts read, track: \'barriers\': a function that is an own property of two objects runs on the object it was read from', async () => {
  const shared = function (this: { n: number }): void { this.n++ }
  const region = simRegion()
  const c = Container.openRegion<any>(region, { track: 'barriers', init: () => ({ a: { n: 0, f: shared }, b: { n: 10, f: shared } }) })
  await c.persist()
  c.root.a.f()
  c.root.b.f()
  await c.persist()
  await c.close()
  const r = Container.openRegion<any>(region, { track: 'barriers' })
  assert.deepEqual([r.root.a.n, r.root.b.n], [1, 11])
  await r.close()
})
