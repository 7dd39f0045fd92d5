/**
 * The container's lifecycle (the state table of lifecycle.ts): what each method does in
 * each state. A snapshot runs the program's getters, so the `snapshot` state is reached by
 * a getter that calls the container; a write is made to fail by a region too small for it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Container } from '../../../src/container/index.js'
import { BrokenError, PmemError, RegionClosedError, SimRegion, type RegionLike } from '../../../regions/index.js'
import { TransactionActiveError } from '../../../txn/index.js'
import { simRegion } from './setup.js'
import { flakyFlushes } from '../../regions/fixtures/helpers.js'

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-life-'))

/** Every retained version of the container in `region` restores, and the file checks. */
function everyVersionRestores(region: SimRegion): Record<number, unknown> {
  const image = region.crash(1)
  const c = Container.openRegion(image)
  const out: Record<number, unknown> = {}
  assert.deepEqual(c.check().problems, [])
  const versions = c.version
  void c.close()
  for (let v = 1; v <= versions; v++) {
    try {
      const old = Container.openRegion(region.crash(1), { version: v })
      out[v] = JSON.parse(JSON.stringify(old.unwrap(old.root)))
      void old.close()
    } catch (e) {
      if (/not retained/.test((e as Error).message)) continue
      throw e
    }
  }
  return out
}

/** A getter that runs `f` once, the first time the snapshot reads it. */
function trap(f: () => void): { readonly g: number } {
  let done = false
  return { get g() { if (!done) { done = true; f() } return 1 } }
}

test('snapshot state: persist from a getter the snapshot runs throws TransactionActiveError; every version restores (inv. 1)', async () => {
  // Before: the nested point committed a version whose list referenced an object with no record (CorruptionError on restore).
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ a: { x: 1 }, list: [] as unknown[] }) })
  await c.persist()
  const r = c.root
  let inner: unknown = null
  r.list.push(trap(() => {
    r.list.push({ n: 1 })
    try { void c.persist() } catch (e) { inner = e }
  }))
  r.a.x = 2
  const s = await c.persist()
  await c.persist()     // the { n: 1 } pushed by the getter goes into the next point
  const versions = everyVersionRestores(region)
  assert.deepEqual(versions[2], { a: { x: 2 }, list: [{ g: 1 }] })
  assert.deepEqual(versions[3], { a: { x: 2 }, list: [{ g: 1 }, { n: 1 }] })
  assert.ok(inner instanceof TransactionActiveError, `persist inside the snapshot: ${String(inner)}`)
  assert.equal(s.version, 2)
})

test('snapshot state: exclude from a getter throws TransactionActiveError; references to the object keep it (inv. 1, 2)', async () => {
  // Before: the id freed mid-snapshot went to a new object, and every reference to the
  // excluded object restored as that other object.
  const region = simRegion()
  const X = { name: 'X' }
  const c = Container.openRegion(region, { init: () => ({ first: X, list: [] as unknown[] }) as Record<string, unknown> })
  await c.persist()
  const r = c.root as Record<string, any>
  let inner: unknown = null
  r.first = r.first                       // the root is encoded first, then list2, then list
  r.list2 = [X]
  r.list.push(Object.assign(trap(() => { try { c.exclude(X) } catch (e) { inner = e } }), { after: { name: 'Y' } }))
  await c.persist()
  assert.deepEqual(everyVersionRestores(region)[2], { first: { name: 'X' }, list: [{ g: 1, after: { name: 'Y' } }], list2: [{ name: 'X' }] })
  assert.ok(inner instanceof TransactionActiveError, `exclude inside the snapshot: ${String(inner)}`)
  c.exclude(X)                            // outside a snapshot it is allowed: the next point is full
  const s = await c.persist()
  assert.ok(s.full)
  assert.deepEqual(everyVersionRestores(region)[3], { first: null, list: [{ g: 1, after: { name: 'Y' } }], list2: [null] })
})

test('snapshot state: close from a getter rejects with TransactionActiveError, the point commits, the container stays open', async () => {
  // Before: close went ahead and the point being taken failed on the closed region.
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ list: [] as unknown[] }) })
  await c.persist()
  const closing: { p: Promise<unknown> | null } = { p: null }
  c.root.list.push(trap(() => { closing.p = c.close().then(() => null, (e: unknown) => e) }))
  const s = await c.persist()
  assert.ok((await closing.p) instanceof TransactionActiveError)
  assert.equal(s.version, 2)
  c.root.list.push(2)                     // still open
  await c.persist()
  await c.close()
  assert.deepEqual(everyVersionRestores(region)[3], { list: [{ g: 1 }, 2] })
})

test('snapshot state: sync from a getter waits for the point being taken', async () => {
  // Before: it waited only for the points queued before, and resolved before this one was durable.
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ list: [] as unknown[] }) })
  await c.persist()
  let versionAtSync = -1
  const synced: { p: Promise<void> | null } = { p: null }
  c.root.list.push(trap(() => { synced.p = c.sync().then(() => { versionAtSync = c.version }) }))
  const point = c.persist()
  await synced.p
  assert.equal(versionAtSync, 2)
  await point
})

test('closing: a second close returns the promise of the first, so the file is closed when either resolves', async () => {
  // Before: the second call resolved at once, while the first still waited for the point (the lock was still held).
  const file = path.join(tmp(), 'close-twice.pmc')
  const c = Container.open(file, { init: () => ({ list: Array.from({ length: 2000 }, (_, i) => ({ i })) }) })
  const point = c.persist()
  const first = c.close()
  assert.equal(c.close(), first)
  assert.throws(() => c.persist(), RegionClosedError)      // closing refuses new points
  await c.close()
  const again = Container.open<{ list: unknown[] }>(file)  // the writer lock was released
  assert.equal(again.root.list.length, 2000)
  await again.close()
  assert.equal((await point).version, 1)
})

test('closing: close during a write waits for every queued point, in order; the file holds the last', async () => {
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ n: 0 }) })
  const points: Promise<{ version: number }>[] = []
  for (let i = 1; i <= 4; i++) { c.root.n = i; points.push(c.persist()) }
  assert.equal(c.pending, 4)
  await c.close()
  assert.equal(c.pending, 0)
  assert.deepEqual((await Promise.all(points)).map(p => p.version), [1, 2, 3, 4])
  assert.equal(c.version, 4)
  const f = Container.openRegion(region.crash(1))
  assert.deepEqual(f.unwrap(f.root), { n: 4 })
})

test('broken: a failed write (an I/O error at the flush) breaks the container; points queued behind it fail too; closing and closed still work', async () => {
  const sim = SimRegion.create({ size: 1 << 18, path: 'flaky.pmc' })
  let fail = false
  const region: RegionLike = flakyFlushes(sim, () => fail)
  const c = Container.openRegion(region, { init: () => ({ items: [] as string[], n: 0 }) })
  await c.persist()
  const items = c.root.items
  for (let i = 0; i < 300; i++) items.push('item number ' + i)
  fail = true
  const failing = c.persist()
  c.root.n = 1
  const queued = c.persist()              // queued behind the failing one
  await assert.rejects(failing, (e: Error) => e instanceof PmemError && /EIO/.test(e.message))
  await assert.rejects(queued, BrokenError)
  fail = false
  assert.equal(c.pending, 0)
  for (const [what, run] of [['persist', () => c.persist()], ['exclude', () => c.exclude({})], ['root', () => c.root], ['register', () => c.register(class A {})], ['check', () => c.check()]] as const) {
    assert.throws(run, BrokenError, `${what} when broken`)
  }
  await assert.rejects(c.sync(), BrokenError)
  assert.equal(c.version, 1)
  assert.ok(Array.isArray(c.dropped))
  await c.close()
  assert.throws(() => c.persist(), RegionClosedError)
  await assert.rejects(c.sync(), BrokenError)   // the failure is kept after close
  const f = Container.openRegion(sim.crash(1))
  assert.deepEqual(f.unwrap(f.root), { items: [], n: 0 })
})

test('lost (write.ts inv. 4a): a full disk before the commit loses the point and those queued behind it (OutOfSpaceError), not the container', async () => {
  const region = SimRegion.create({ size: 1 << 16, maxSize: 1 << 18, path: 'small.pmc' })
  const c = Container.openRegion(region, { init: () => ({ items: [] as string[], n: 0 }) })
  await c.persist()
  const items = c.root.items
  for (let i = 0; i < 30000; i++) items.push('item number ' + i)
  const failing = c.persist()
  c.root.n = 1
  const queued = c.persist()              // queued behind the failing one: its delta builds on it
  await assert.rejects(failing, (e: Error) => e instanceof PmemError && e.code === 'ERR_PMEM_OUT_OF_SPACE')
  await assert.rejects(queued, (e: Error) => e instanceof PmemError && e.code === 'ERR_PMEM_OUT_OF_SPACE' && /an earlier point was lost/.test(e.message))
  assert.equal(c.pending, 0)
  await assert.rejects(c.sync(), (e: Error) => e instanceof PmemError && e.code === 'ERR_PMEM_OUT_OF_SPACE')
  assert.equal(c.root.n, 1)
  items.length = 100
  assert.equal((await c.persist()).full, true)
  await c.sync()
  await c.close()
  const f = Container.openRegion(region.crash(1))
  assert.deepEqual(f.unwrap(f.root), { items: items.slice(), n: 1 })
})

test('closed: what still answers (version, lastPoint, pending, dropped, unwrap, sync, close) and what refuses', async () => {
  const region = simRegion()
  const first = Container.openRegion(region, { init: () => ({ f: () => 1, o: { a: 1 } }) })
  const s = await first.persist()
  await first.close()
  const c = Container.openRegion(region)     // a restore: its objects are handed out as proxies
  const o = c.root.o
  await c.close()
  assert.equal(c.version, s.version)
  assert.equal(first.lastPoint, s)
  assert.equal(c.lastPoint, null)
  assert.equal(c.pending, 0)
  assert.deepEqual(first.dropped, [{ path: 'root.f', reason: 'function' }])
  assert.deepEqual(c.dropped, [])
  assert.deepEqual(c.unwrap(o), { a: 1 })
  await c.sync()
  await c.close()
  assert.throws(() => { o.a = 2 }, RegionClosedError)
  assert.throws(() => c.root, RegionClosedError)
})

// Found by a long run of damage.test (session 7, PMEM_FC_SCALE=12, seed -503577980): 3,000
// opens and closes of restored containers in one chain of awaits ran out of a 4 GB heap. Each
// restore schedules its id stamping with setImmediate (tables.ts inv. T2), and that pending
// turn held the closed container's whole graph until the event loop turned, which a loop of
// awaits on SimRegions never does.
test('closeBegins: a closed container leaves no stamping turn pending, so a loop of opens and closes that never yields to the event loop holds no closed graph', async () => {
  const region = simRegion(1 << 22)
  const c0 = Container.openRegion(region, { init: () => ({ items: Array.from({ length: 20_000 }, (_, i) => ({ i, s: `item ${i}` })) }) })
  await c0.persist()
  await c0.close()
  const immediates = (): number => process.getActiveResourcesInfo().filter(r => r === 'Immediate').length
  const before = immediates()
  for (let i = 0; i < 3; i++) {
    const c = Container.openRegion(region.crash(i))
    assert.equal(c.root.items[7].s, 'item 7')
    assert.ok(immediates() > before, 'the restore stamps its ids in turns of the event loop (tables.ts inv. T2)')
    await c.close()
    assert.equal(immediates(), before, `after close ${i + 1}: no turn of the closed container pending (it would hold its graph)`)
  }
})
