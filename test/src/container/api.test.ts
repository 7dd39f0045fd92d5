/**
 * The container API on files and on SimRegion: open/persist/close/reopen, versions,
 * delete, exclude, registered classes, proxies, unsupported values, misuse errors.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { simRegion } from './setup.js'
import { Container, UnknownClassError } from '../../../src/container/index.js'
import { BrokenError, CorruptionError, InvalidArgumentError, NotARegionError, PmemError, Region, RegionClosedError, RegionNotFoundError, SimRegion } from '../../../regions/index.js'
import { Point } from './graph-kit.js'
import { SLOT_SIZE } from '../../../txn/shadow-format.js'

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-'))

test('open creates with init, persist writes, reopen restores; versions and delete', async () => {
  const file = path.join(tmp(), 'state.pmc')
  const c = Container.open(file, { init: () => ({ users: new Map(), log: [] as unknown[] }) })
  c.root.users.set('ada', { name: 'Ada', friends: [] })
  const s1 = await c.persist()
  assert.equal(s1.version, 1)
  assert.ok(s1.objects >= 4 && s1.bytes > 0 && s1.blockedMs >= 0)
  c.root.users.get('ada').friends.push(c.root.users.get('ada'))
  c.root.log.push('x')
  const s2 = await c.persist()
  assert.equal(s2.version, 2)
  assert.ok(s2.objects <= 3, `only the changed objects are written, got ${s2.objects}`)
  assert.deepEqual(c.check(), { ok: true, problems: [] })
  await c.close()
  const again = Container.open(file)
  const ada = again.root.users.get('ada')
  assert.equal(ada.name, 'Ada')
  assert.ok(ada.friends[0] === ada, 'cycle keeps its identity through proxies')
  await again.close()
  const vs = Container.versions(file)
  assert.deepEqual(vs.map(v => v.version), [1, 2])
  assert.ok(vs[1].written < vs[0].written)
  const old = Container.open(file, { version: 1 })
  assert.deepEqual(old.unwrap(old.root), { users: new Map([['ada', { name: 'Ada', friends: [] }]]), log: [] })
  await old.close()
  Container.delete(file)
  assert.equal(fs.existsSync(file), false)
})

test('a new container that was never persisted needs init; bad arguments give typed errors', async () => {
  const dir = tmp()
  assert.throws(() => Container.open(path.join(dir, 'missing.pmc')), (e: Error) => e.name === 'RegionNotFoundError')
  assert.throws(() => Container.open(path.join(dir, 'x.pmc'), { init: () => 5 as never }), InvalidArgumentError)
  assert.throws(() => Container.open(path.join(dir, 'y.pmc'), { init: () => ({}), keepVersions: 0 }), InvalidArgumentError)
  const c = Container.openRegion(simRegion(), { init: () => ({}) })
  assert.throws(() => { c.root = null as never }, InvalidArgumentError)
  await c.close()
  assert.throws(() => c.persist(), RegionClosedError)
  assert.throws(() => c.root, RegionClosedError)
  assert.ok(RegionNotFoundError)
})

test('a file that is not a container is refused with NotARegionError', async () => {
  const dir = tmp()
  const junk = path.join(dir, 'junk.pmc')
  fs.writeFileSync(junk, Buffer.alloc(8192, 7))
  assert.throws(() => Container.open(junk), NotARegionError)
  const plain = path.join(dir, 'plain.pm')
  Region.open(plain, { size: 65536 }).close()
  assert.throws(() => Container.open(plain), (e: Error) => e instanceof NotARegionError || e.name === 'RegionNotFoundError')
})

test('proxies: stable identity, Map/Set/Date methods, stored proxies are unwrapped', async () => {
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ m: new Map<string, { n: number }>(), s: new Set<unknown>(), d: new Date(0), list: [{ n: 1 }] }) })
  await c.persist()
  const r = c.root
  assert.ok(r.m === c.root.m && r.list[0] === c.root.list[0])
  r.m.set('a', r.list[0])
  r.m.get('a')!.n = 5
  r.s.add(r.list[0])
  assert.ok(r.s.has(r.list[0]))
  r.d.setFullYear(2001)
  for (const [, v] of r.m) v.n++
  await c.persist()
  const fresh = Container.openRegion(region.crash(5))
  const f = fresh.unwrap(fresh.root)
  assert.equal(f.m.get('a'), f.list[0])
  assert.equal(f.list[0].n, 6)
  assert.ok(f.s.has(f.list[0]))
  assert.equal(new Date(f.d).getFullYear(), 2001)
})

test('a freed id reused by a new object never captures a re-attached old object', async () => {
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ a: { x: 1 } as object | undefined, b: undefined as object | undefined, c: undefined as object | undefined }) })
  await c.persist()
  const old = c.root.a
  delete c.root.a
  await c.persist({ full: true })
  c.root.b = { y: 2 }
  await c.persist()
  c.root.c = old
  await c.persist()
  const fresh = Container.openRegion(region.crash(6))
  assert.deepEqual(fresh.unwrap(fresh.root), { b: { y: 2 }, c: { x: 1 } })
})

test('exclude: never followed, restored as null; excluding a persisted object takes effect', async () => {
  const region = simRegion()
  const cache = { big: 'x'.repeat(100) }
  const c = Container.openRegion(region, { init: () => ({ cache, keep: { a: 1 } as object }) })
  c.exclude(cache)
  await c.persist()
  assert.deepEqual(c.dropped, [])
  let f = Container.openRegion(region.crash(1))
  assert.deepEqual(f.unwrap(f.root), { cache: null, keep: { a: 1 } })
  c.exclude(c.root.keep)
  await c.persist()
  f = Container.openRegion(region.crash(2))
  assert.deepEqual(f.unwrap(f.root), { cache: null, keep: null })
  assert.throws(() => c.exclude(c.root), InvalidArgumentError)
})

test('registered classes come back with their prototype; an unknown class is a typed error', async () => {
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ p: new Point(3, 4) }) })
  c.register(Point)
  await c.persist()
  const f = Container.openRegion(region.crash(1), { classes: [Point] })
  const p = f.root.p as Point
  assert.equal(p.norm(), 5)
  assert.ok(f.unwrap(p) instanceof Point)
  assert.throws(() => Container.openRegion(region.crash(2)), UnknownClassError)
})

test('an object whose prototype becomes unregistered is dropped (null), with its path', async () => {
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ a: { v: 1 }, again: null as unknown }) })
  c.root.again = c.root.a
  await c.persist()
  Object.setPrototypeOf(c.root.a, new (class Weird {})())
  await c.persist()
  assert.deepEqual(c.dropped.map(d => d.path), ['root.a'])
  const f = Container.openRegion(region.crash(1))
  assert.deepEqual(f.unwrap(f.root), { a: null, again: null })
})

test('persist() blocks only for the snapshot; mutations during the write belong to the next point', async () => {
  const region = simRegion(1 << 22)
  const c = Container.openRegion(region, { init: () => ({ items: Array.from({ length: 20000 }, (_, i) => ({ i, s: 'item' + i })) }) })
  const p1 = c.persist()
  c.root.items[0].i = -1
  const p2 = c.persist()
  c.root.items[1].i = -2
  assert.equal(c.pending, 2)
  const [s1, s2] = await Promise.all([p1, p2])
  assert.equal(s2.version, s1.version + 1)
  assert.equal(s2.objects, 1)
  const f = Container.openRegion(region.crash(1))
  assert.equal(f.root.items[0].i, -1)
  assert.equal(f.root.items[1].i, 1)
  await c.sync()
})

test('a damaged newest version falls back to the previous one and says so', async () => {
  const file = path.join(tmp(), 'damaged.pmc')
  const c = Container.open(file, { init: () => ({ n: 1, pad: 'p'.repeat(5000) }), chunkSize: 4096 })
  await c.persist()
  c.root.n = 2
  c.root.pad = 'q'.repeat(5000)
  await c.persist()
  await c.close()
  const before = fs.readFileSync(file)
  const at = before.lastIndexOf(Buffer.from('q'.repeat(64)))
  assert.ok(at > 0)
  const damaged = Buffer.from(before)
  damaged[at] ^= 0xff
  fs.writeFileSync(file, damaged)
  const warnings: string[] = []
  const onWarn = (w: Error): void => { warnings.push(w.message) }
  process.on('warning', onWarn)
  const f = Container.open(file)
  await new Promise(r => setImmediate(r))
  process.off('warning', onWarn)
  assert.equal(f.root.n, 1)
  assert.ok(f.fellBack !== null && f.fellBack.from === 2 && f.fellBack.to === 1, JSON.stringify(f.fellBack))
  assert.ok(warnings.some(w => w.includes('damaged')))
  f.root.n = 3
  await f.persist()
  await f.close()
  const g = Container.open(file)
  assert.equal(g.root.n, 3)
  assert.equal(g.fellBack, null)
  await g.close()
  assert.ok(CorruptionError)
})

test('a damaged newest metadata slot falls back to the previous version and says so', async () => {
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ n: 1 }) })
  await c.persist()
  c.root.n = 2
  const { version } = await c.persist()
  const image = region.crash(1)
  const slot = (version % 2) * SLOT_SIZE
  image.unsafeBytes()[slot + 100] ^= 0xff
  const f = Container.openRegion(image)
  assert.equal(f.root.n, 1)
  assert.ok(f.fellBack !== null && f.fellBack.from === version && f.fellBack.to === version - 1, JSON.stringify(f.fellBack))
})

test('large collections are segmented: one change rewrites a segment, not the collection', async () => {
  const region = simRegion(1 << 23)
  const users = new Map<number, { n: number }>()
  for (let i = 0; i < 100_000; i++) users.set(i, { n: i })
  const list = Array.from({ length: 100_000 }, (_, i) => i)
  const c = Container.openRegion(region, { init: () => ({ users, list, tags: new Set(list) }) })
  const first = await c.persist()
  assert.ok(first.bytes > 1_000_000)
  c.root.users.set(5, { n: -5 })                          // replace a value
  c.root.users.delete(50_000)                             // delete in the middle
  c.root.users.set(200_000, { n: 1 })                     // append
  c.root.list.splice(10, 0, -1)                           // insert near the front
  c.root.list[99_000] = -2
  c.root.tags.delete(70_000)
  const p = await c.persist()
  assert.ok(p.bytes < 40_000, `a point with 6 changes in collections of 100,000 entries wrote ${p.bytes} bytes`)
  const f = Container.openRegion(region.crash(3))
  const r = f.unwrap(f.root)
  assert.equal(r.users.size, 100_000)
  assert.deepEqual(r.users.get(5), { n: -5 })
  assert.equal(r.users.has(50_000), false)
  assert.deepEqual([...r.users.keys()].slice(-2), [99_999, 200_000])
  assert.equal(r.list.length, 100_001)
  assert.deepEqual(r.list.slice(8, 13), [8, 9, -1, 10, 11])
  assert.equal(r.list[99_000], -2)
  assert.equal(r.tags.size, 99_999)
  assert.equal(r.tags.has(70_000), false)
})

test('a point that fails (disk full) rejects with a typed error and leaves the last version; the container goes on (write.ts inv. 4a)', async () => {
  const region = SimRegion.create({ size: 1 << 16, maxSize: 1 << 18, path: 'small.pmc' })
  const c = Container.openRegion(region, { init: () => ({ items: [] as string[] }) })
  await c.persist()
  const items = c.root.items
  for (let i = 0; i < 30000; i++) items.push('item number ' + i)
  await assert.rejects(c.persist(), (e: Error) => e instanceof PmemError && e.code === 'ERR_PMEM_OUT_OF_SPACE')
  await assert.rejects(c.sync(), (e: Error) => e instanceof PmemError && e.code === 'ERR_PMEM_OUT_OF_SPACE')
  assert.equal(c.root.items.length, 30000, 'the root still reads (before session 13: BrokenError)')
  const f = Container.openRegion(region.crash(1))
  assert.deepEqual(f.unwrap(f.root), { items: [] })
})

test('an earlier version reopened and persisted becomes the newest version; the root can be replaced', async () => {
  const file = path.join(tmp(), 'rollback.pmc')
  const c = Container.open(file, { init: () => ({ step: 1 }) })
  await c.persist()
  c.root.step = 2
  await c.persist()
  await c.close()
  const old = Container.open(file, { version: 1 })
  assert.equal(old.root.step, 1)
  old.root.note = 'rolled back'
  const s = await old.persist()
  assert.equal(s.version, 3)
  assert.ok(s.full)
  old.root = { replaced: true } as never
  await old.persist()
  await old.close()
  const f = Container.open(file)
  assert.deepEqual(f.unwrap(f.root), { replaced: true })
  await f.close()
  const g = Container.open(file, { version: 3 })
  assert.deepEqual(g.unwrap(g.root), { step: 1, note: 'rolled back' })
  await g.close()
})

test('after a reopen, a change in a large Map still writes one segment', async () => {
  const region = simRegion(1 << 23)
  const m = new Map<number, string>()
  for (let i = 0; i < 50_000; i++) m.set(i, 'v' + i)
  const c = Container.openRegion(region, { init: () => ({ m }) })
  await c.persist()
  const image = region.crash(1)
  const again = Container.openRegion(image)
  again.root.m.set(25_000, 'changed')
  const s = await again.persist()
  assert.ok(s.bytes < 5000, `wrote ${s.bytes} bytes`)
  const f = Container.openRegion(image.crash(2))
  assert.equal(f.root.m.get(25_000), 'changed')
  assert.equal(f.root.m.size, 50_000)
})

test('compaction drops superseded records and unreachable objects', async () => {
  const region = simRegion(1 << 22)
  const c = Container.openRegion(region, { init: () => ({ items: [] as object[], n: 0 }), compactFactor: 1.5 })
  await c.persist()
  let compacted = false
  for (let round = 0; round < 40 && !compacted; round++) {
    c.root.items = Array.from({ length: 200 }, (_, i) => ({ round, i, pad: 'x'.repeat(40) }))
    c.root.n = round
    compacted = (await c.persist()).compacted
  }
  assert.ok(compacted, 'no point compacted')
  assert.ok(c.lastPoint!.bytes < 200 * 80 * 3, `the compacted log of ${c.lastPoint!.bytes} bytes holds more than about two generations of items`)
  const f = Container.openRegion(region.crash(1))
  const items = (f.unwrap(f.root) as { items: { round: number }[]; n: number })
  assert.equal(items.items.length, 200)
  assert.equal(items.items[0].round, items.n)
})

test('getters that change their object while it is encoded still give a consistent record', async () => {
  const region = simRegion()
  const mk = (): Record<string, unknown> => {
    const o: Record<string, unknown> = { a: 1, b: 2, c: 3 }
    Object.defineProperty(o, 'g', { enumerable: true, configurable: true, get() { delete o.c; o.d = 4; return 'got' } })
    return o
  }
  const c = Container.openRegion(region, { init: () => ({ first: { a: 0, b: 0, c: 0, g: 0 }, list: [mk(), mk()] }) })
  await c.persist()
  const f = Container.openRegion(region.crash(1))
  const list = (f.unwrap(f.root) as { list: Record<string, unknown>[] }).list
  for (const o of list) assert.equal(o.g, 'got')
  assert.equal(list.length, 2)
})

test('frozen objects can be read through the proxies and persist', async () => {
  const region = simRegion()
  const inner = { x: 1 }
  const c = Container.openRegion(region, { init: () => ({ frozen: Object.freeze({ inner, list: Object.freeze([inner]) }), open: { y: 2 } }) })
  assert.equal(c.root.frozen.inner.x, 1)
  assert.equal(c.root.frozen.list[0], c.root.frozen.inner)
  c.root.open.y = 3
  await c.persist()
  const f = Container.openRegion(region.crash(1))
  const r = f.unwrap(f.root) as { frozen: { inner: object; list: object[] }; open: { y: number } }
  assert.equal(r.frozen.list[0], r.frozen.inner)
  assert.equal(r.open.y, 3)
})

test('dropped paths through large (segmented) collections name the collection entries', async () => {
  const region = simRegion(1 << 22)
  const list = Array.from({ length: 1000 }, (_, i) => ({ i, cb: i === 700 ? (): number => 1 : null }))
  const c = Container.openRegion(region, { init: () => ({ list }) })
  await c.persist()
  assert.deepEqual(c.dropped.map(d => d.path), ['root.list[700].cb'])
})

test('Node Buffers persist as Buffers; typed arrays sharing a buffer keep sharing it', async () => {
  const region = simRegion()
  const ab = new ArrayBuffer(16)
  const c = Container.openRegion(region, { init: () => ({ b: Buffer.from('hello'), u: new Uint8Array(ab, 0, 8), f: new Float64Array(ab, 8, 1) }) })
  c.root.f[0] = 1.5
  await c.persist()
  const image = region.crash(1)
  const f = Container.openRegion(image)
  const r = f.unwrap(f.root) as { b: Buffer; u: Uint8Array; f: Float64Array }
  assert.ok(Buffer.isBuffer(r.b))
  assert.equal(r.b.toString(), 'hello')
  assert.equal(r.b.buffer.byteLength, 5, 'a pooled Buffer persists its own bytes only, not the pool')
  assert.equal(r.u.buffer, r.f.buffer)
  assert.equal(r.f[0], 1.5)
  new Float64Array(f.root.u.buffer, 8, 1)[0] = 2.5     // through a view the program made itself
  f.root.b[0] = 0x6a
  const s = await f.persist()
  assert.ok(s.objects <= 3, 'only the ArrayBuffer and the Buffer (with its own bytes) changed')
  const g = Container.openRegion(image.crash(2))
  const gr = g.unwrap(g.root) as { f: Float64Array; b: Buffer }
  assert.equal(gr.f[0], 2.5)
  assert.equal(gr.b.toString(), 'jello')
})

test('a container created and closed before its first point can be reopened with init, or deleted', async () => {
  const file = path.join(tmp(), 'never.pmc')
  const c = Container.open(file, { init: () => ({ a: 1 }) })
  await c.close()
  assert.deepEqual(Container.versions(file), [])
  const again = Container.open(file, { init: () => ({ b: 2 }) })
  assert.equal(again.root.b, 2)
  await again.close()
  Container.delete(file)
  assert.equal(fs.existsSync(file), false)
})

test('a detached ArrayBuffer persists as empty, with its views', async () => {
  const region = simRegion()
  const ab = new ArrayBuffer(8)
  const c = Container.openRegion(region, { init: () => ({ ab, v: new Uint8Array(ab, 2, 4) }) })
  await c.persist()
  structuredClone(ab, { transfer: [ab] })
  await c.persist()
  const f = Container.openRegion(region.crash(1))
  const r = f.unwrap(f.root) as { ab: ArrayBuffer; v: Uint8Array }
  assert.equal(f.fellBack, null)
  assert.equal(r.ab.byteLength, 0)
  assert.equal(r.v.length, 0)
  assert.equal(r.v.buffer, r.ab)
})

test('a getter that throws fails the point synchronously; the next point is full and consistent', async () => {
  const region = simRegion()
  let fail = false
  const tricky = { get x(): number { if (fail) throw new Error('getter failed'); return 1 } }
  const c = Container.openRegion(region, { init: () => ({ list: [] as object[], n: 0 }) })
  await c.persist()
  fail = true
  c.root.list.push({ fresh: { deeper: true } }, tricky)
  c.root.n = 1
  assert.throws(() => c.persist(), /getter failed/)
  fail = false
  const s = await c.persist()
  assert.ok(s.full)
  const f = Container.openRegion(region.crash(1))
  assert.deepEqual(f.unwrap(f.root), { list: [{ fresh: { deeper: true } }, { x: 1 }], n: 1 })
})

test('a revoked proxy in the graph is dropped, not a failed point', async () => {
  const region = simRegion()
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  const c = Container.openRegion(region, { init: () => ({ p: proxy, ok: 1 }) })
  await c.persist()
  assert.deepEqual(c.dropped.map(d => `${d.path}: ${d.reason}`), ['root.p: revoked proxy'])
  const f = Container.openRegion(region.crash(1))
  assert.deepEqual(f.unwrap(f.root), { p: null, ok: 1 })
})

test('a program proxy whose getPrototypeOf trap throws is dropped with that reason, not called revoked', async () => {
  const region = simRegion()
  const p = new Proxy({}, { getPrototypeOf() { throw new RangeError('no proto') } })
  const c = Container.openRegion(region, { init: () => ({ p, ok: 1 }) })
  await c.persist()
  assert.deepEqual(c.dropped.map(d => `${d.path}: ${d.reason}`), ['root.p: proxy whose getPrototypeOf trap threw (no proto)'])
  const f = Container.openRegion(region.crash(1))
  assert.deepEqual(f.unwrap(f.root), { p: null, ok: 1 })
})

test('a large full point streams its records to the file while it encodes; a large change reserves space; a small one neither', async () => {
  const file = path.join(tmp(), 'large.pmc')
  const reserved: number[] = []
  const streamed: number[] = []
  const reserve = Region.prototype.reserveAsync
  const stream = Region.prototype.appendStream
  Region.prototype.reserveAsync = function (this: Region, n: number) { reserved.push(n); return reserve.call(this, n) }
  Region.prototype.appendStream = function (this: Region, at: number, block: number) { streamed.push(at); return stream.call(this, at, block) }
  try {
    const rows = Array.from({ length: 40_000 }, (_, i) => ({ i, name: 'row ' + i + ' '.repeat(150 + i % 50), tags: ['a' + (i % 7)], at: new Date(i) }))
    // streamThreshold 6 MiB: the full point at the end decides with two buffers (8 MiB) sealed, clear of the
    // free space the earlier points leave (about 4.1-4.5 MiB, as much as the 2 MiB default's first sealed buffer)
    const c = Container.open(file, { init: () => ({ rows }), streamThreshold: 6 << 20 })
    const st = await c.persist()
    assert.ok(st.bytes > 8 << 20, `the point is large (${st.bytes} bytes)`)
    assert.equal(streamed.length, 1, 'the first point was streamed')
    for (let i = 0; i < 30_000; i++) c.root.rows[i].name = 'new ' + i + '.'.repeat(200)   // about 7 MB of records
    const big = await c.persist()
    assert.ok(big.bytes > 5 << 20 && !big.full, `a large change (${big.bytes} bytes)`)
    assert.equal(streamed.length, 1, 'a point that appends is not streamed')
    assert.ok(reserved.length >= 2, 'space was reserved while it encoded, and once more for its write')
    reserved.length = 0
    for (let i = 0; i < 3000; i++) c.root.rows[i * 13].name = 'changed ' + i + '.'.repeat(150)   // about 600 KB of records
    const small = await c.persist()
    assert.ok(small.bytes > 256 << 10 && small.bytes < 1 << 20, `a small point (${small.bytes} bytes)`)
    assert.deepEqual(reserved, [], 'a small point reserves nothing')
    const full = await c.persist({ full: true })
    assert.equal(streamed.length, 2, 'a full point is streamed')
    assert.ok(full.full)
    await c.close()
    const size = fs.statSync(file).size
    const written = st.bytes + big.bytes + small.bytes + full.bytes
    assert.ok(size < written * 2, `the file (${size} bytes) holds the versions kept (${written} bytes written) with at most one growth step of slack`)
    const again = Container.open<{ rows: typeof rows }>(file)
    assert.equal(again.root.rows.length, 40_000)
    assert.equal(again.root.rows[13 * 7].name, 'changed 7' + '.'.repeat(150))
    assert.equal(again.root.rows[29_999].name, 'new 29999' + '.'.repeat(200))
    assert.equal(again.root.rows[39_999].name, rows[39_999].name)
    assert.equal(again.root.rows[123].at.getTime(), 123)
    assert.equal(again.root.rows[5].tags, again.root.rows[5].tags)
    assert.deepEqual(again.check(), { ok: true, problems: [] })
    await again.close()
  } finally {
    Region.prototype.reserveAsync = reserve
    Region.prototype.appendStream = stream
  }
})

test('a getter that throws while a full point is streaming gives the stream up: the space reads zeros, the next point is consistent', async () => {
  const file = path.join(tmp(), 'thrown.pmc')
  const streams: { discarded: boolean }[] = []
  const stream = Region.prototype.appendStream
  Region.prototype.appendStream = function (this: Region, at: number, block: number) {
    const s = stream.call(this, at, block)
    if (s === null) return s
    const entry = { discarded: false }
    streams.push(entry)
    const discard = s.discard
    return Object.assign(s, { discard: () => { entry.discarded = true; discard() } })
  }
  try {
    let fail = true
    const rows: object[] = Array.from({ length: 20_000 }, (_, i) => ({ i, text: String(i).padEnd(250, '.') }))
    rows[19_999] = { get x(): number { if (fail) throw new Error('getter failed'); return 1 } }   // encoded last (discovery order)
    const c = Container.open(file, { init: () => ({ rows }) })
    assert.throws(() => c.persist(), /getter failed/)
    assert.deepEqual(streams, [{ discarded: true }], 'the stream was opened, then given up')
    fail = false
    const s = await c.persist()
    assert.ok(s.full)
    await c.close()
    const again = Container.open<{ rows: { i: number; text: string }[] }>(file)
    assert.equal(again.root.rows.length, 20_000)
    assert.deepEqual(again.unwrap(again.root.rows[19_999]), { x: 1 })
    assert.equal(again.root.rows[0].text, '0'.padEnd(250, '.'))
    assert.deepEqual(again.check(), { ok: true, problems: [] })
    await again.close()
  } finally {
    Region.prototype.appendStream = stream
  }
})

test('a streamed point whose stream fails rejects with BrokenError and leaves the last version', async () => {
  const file = path.join(tmp(), 'failed-stream.pmc')
  const stream = Region.prototype.appendStream
  try {
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ i, text: String(i).padEnd(250, '.') }))
    const c = Container.open(file, { init: () => ({ rows, v: 1 }) })
    await c.persist()
    Region.prototype.appendStream = function (this: Region, at: number, block: number) {
      const s = stream.call(this, at, block)
      if (s === null) return s
      return Object.assign(s, { end: async () => { s.discard(); return null } })   // as if the disk had failed
    }
    c.root.v = 2
    await assert.rejects(c.persist({ full: true }), (e: unknown) => e instanceof BrokenError && /could not write the records/.test(e.message))
    assert.throws(() => c.persist(), BrokenError)
    await c.close()
    Region.prototype.appendStream = stream
    const again = Container.open<{ rows: { text: string }[]; v: number }>(file)
    assert.equal(again.root.v, 1)
    assert.equal(again.root.rows[19_999].text, '19999'.padEnd(250, '.'))
    await again.close()
  } finally {
    Region.prototype.appendStream = stream
  }
})

test('repeated large full points reuse the chunks of versions that left the window: the file stops growing', async () => {
  const file = path.join(tmp(), 'repeat.pmc')
  const rows = Array.from({ length: 20_000 }, (_, i) => ({ i, text: String(i).padEnd(250, '.') }))
  const c = Container.open(file, { init: () => ({ rows }), keepVersions: 2 })
  const sizes: number[] = []
  let bytes = 0
  for (let k = 0; k < 7; k++) {
    c.root.rows[k].text = 'changed ' + k
    bytes = (await c.persist({ full: true })).bytes
    sizes.push(fs.statSync(file).size)
  }
  await c.close()
  assert.ok(bytes > 4 << 20)
  assert.ok(sizes[6] <= sizes[3], `the file keeps growing: ${sizes.join(', ')}`)
  assert.ok(sizes[6] < bytes * 5, `the file (${sizes[6]} bytes) is not a few logs of ${bytes} bytes`)
  const again = Container.open<{ rows: { text: string }[] }>(file)
  assert.equal(again.root.rows[6].text, 'changed 6')
  await again.close()
})

test('streamed first points restore exactly at every chunk size, with one retained version or several', async () => {
  const dir = tmp()
  const rows = Array.from({ length: 20_000 }, (_, i) => ({ i, text: String(i).padEnd(250, '.'), at: new Date(i), tags: ['a', 'b'] }))   // about 6 MB: streamed (points under 4 MiB never seal a second buffer)
  for (const [chunkSize, keepVersions] of [[512, 1], [4096, 3], [65536, 2], [1 << 20, 1]] as const) {
    const file = path.join(dir, `c${chunkSize}.pmc`)
    let streamed = 0
    const stream = Region.prototype.appendStream
    Region.prototype.appendStream = function (this: Region, at: number, block: number) { streamed++; return stream.call(this, at, block) }
    try {
      const c = Container.open(file, { init: () => ({ rows, shared: rows[7] }), chunkSize, keepVersions })
      const st = await c.persist()
      assert.equal(streamed, 1, `chunk size ${chunkSize}: the first point was streamed`)
      c.root.rows[3].text = 'x'
      await c.persist()
      await c.close()
      assert.ok(st.bytes > 3 << 20)
    } finally {
      Region.prototype.appendStream = stream
    }
    const again = Container.open<{ rows: typeof rows; shared: (typeof rows)[number] }>(file)
    assert.equal(again.root.rows.length, 20_000, `chunk size ${chunkSize}`)
    assert.equal(again.root.rows[3].text, 'x')
    assert.equal(again.root.rows[19_999].text, rows[19_999].text)
    assert.equal(again.root.rows[500].at.getTime(), 500)
    assert.equal(again.unwrap(again.root.shared), again.unwrap(again.root.rows[7]), 'identity kept')
    assert.deepEqual(again.check(), { ok: true, problems: [] })
    await again.close()
  }
})

test('only the container\'s own proxies are unwrapped: not another container\'s, not a program\'s proxy over one of them, not a throwing one', async () => {
  const a = Container.openRegion(simRegion(), { init: () => ({ o: { n: 1 }, m: new Map([['k', 1]]), s: new Set([1]) }) })
  const b = Container.openRegion(simRegion(), { init: () => ({ held: null as unknown }) })
  const fromA = a.root.o
  assert.equal(a.unwrap(fromA), a.unwrap(a.root).o, 'its own proxy: the target')
  assert.equal(a.unwrap(a.root.m), a.unwrap(a.root).m, 'Map proxies too')
  assert.equal(a.unwrap(a.root.s), a.unwrap(a.root).s, 'Set proxies too')
  assert.equal(b.unwrap(fromA), fromA, 'another container\'s proxy is not b\'s')
  const forwarding = new Proxy(fromA, {})
  assert.equal(a.unwrap(forwarding), forwarding, 'a program\'s proxy that forwards to one of a\'s is not a\'s')
  const throwing = new Proxy({}, { get() { throw new Error('no such key') } })
  assert.equal(a.unwrap(throwing), throwing, 'a proxy whose get trap throws is not a\'s, and unwrap does not throw')
  a.root.o = a.root.o                               // storing a's own proxy stores its target
  assert.equal(a.unwrap(a.root).o, a.unwrap(fromA))
  b.root.held = fromA                               // b keeps a's proxy as it is (a plain-object proxy, persisted by its traps)
  assert.equal(b.unwrap(b.root).held, fromA)
})
