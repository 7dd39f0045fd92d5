/**
 * Large Maps and Sets held raw (the init graph) whose point comparison found only some values
 * changed, or entries appended: only the segments holding them are encoded again
 * (verify.ts inv. V4, patch-segments.ts inv. P1-P3). Each point is restored from a crash
 * image of the region and compared with the graph it persisted.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { CrashLife, openCrashed, runs, simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { assertSameGraph, cloneGraph } from './graph-kit.js'
import { compareLazy } from './lazy-kit.js'
import { graphText } from './graph-json.js'

test('patch-segments.ts: a Map value changed writes one SEGMENTED and one SEGMENT record; appended entries and changes restore exactly', async () => {
  const region = simRegion(1 << 22)
  const m = new Map<string, unknown>(Array.from({ length: 3000 }, (_, i) => [`k${i}`, `v${i}`]))
  const c = Container.openRegion(region, { init: () => ({ m }) })
  await c.persist()
  const points: number[] = []
  for (const [k, v] of [['k5', 'changed'], ['k2999', 7], ['k1500', null]] as const) {
    m.set(k, v)
    const s = await c.persist()
    points.push(s.objects)
    const f = Container.openRegion(region.crash(1))
    assertSameGraph(f.unwrap(f.root), cloneGraph({ m }))
  }
  assert.deepEqual(points, [2, 2, 2], 'two records per point: since format 4 a PATCH part and the Map\'s PATCH record (patch-record.ts)')
  m.set('new', 'appended'); m.set('k7', 'and a change')
  assert.ok((await c.persist()).objects >= 2, 'the appended entry and the change (since format 4 a PATCH part and the Map\'s PATCH record, patch-record.ts)')
  assert.equal((await c.persist()).objects, 0, 'nothing changed since: nothing written')
  const f = Container.openRegion(region.crash(1))
  assertSameGraph(f.unwrap(f.root), cloneGraph({ m }))
  await c.close()
})

test('shadow.ts inv. S3: a Map and a Set of doubles, one entry changed or added, re-encode one segment; restored exactly', async () => {
  const region = simRegion(1 << 22)
  const m = new Map<number, number>(Array.from({ length: 3000 }, (_, i) => [i + 0.25, i / 7]))
  const s = new Set<number>(Array.from({ length: 3000 }, (_, i) => i * 1.5 + 0.1))
  const c = Container.openRegion(region, { init: () => ({ m, s }) })
  await c.persist()
  m.set(1500.25, -0)
  assert.equal((await c.persist()).objects, 2, 'one SEGMENTED and one SEGMENT record (doubles are not all seen as changed)')
  m.set(10.25, NaN)
  assert.equal((await c.persist()).objects, 2)
  s.add(0.5)
  assert.ok((await c.persist()).objects <= 3, 'the appended entry only')
  assert.equal((await c.persist()).objects, 0, 'nothing changed since: nothing written')
  const f = Container.openRegion(region.crash(1))
  assertSameGraph(f.unwrap(f.root), cloneGraph({ m, s }))
  assert.ok(Object.is((f.unwrap(f.root) as { m: Map<number, number> }).m.get(1500.25), -0))
  await c.close()
})

test('verify.ts inv. V4: a getter run by the snapshot that changes a kept segment after the comparison is persisted by the next point (patch-segments.ts inv. P1)', async () => {
  const region = simRegion(1 << 22)
  const m = new Map<string, unknown>(Array.from({ length: 3000 }, (_, i) => [`k${i}`, i]))
  let arm = false
  // Compared after the Map (a later id): when armed, its getter changes an entry of a segment
  // the Map's patch keeps, after the comparison found the Map's other change.
  const late = { get sneaky() { if (arm) { arm = false; m.set('k2990', 'late') } return 1 } }
  const c = Container.openRegion(region, { init: () => ({ m, late }) })
  await c.persist()
  arm = true
  m.set('k1', 'first')
  await c.persist()
  assert.equal(arm, false, 'the getter ran during the point')
  await c.persist()
  assert.equal((await c.persist()).objects, 0, 'everything persisted')
  const f = Container.openRegion(region.crash(1))
  const got = (f.unwrap(f.root) as { m: Map<string, unknown> }).m
  assert.equal(got.get('k1'), 'first')
  assert.equal(got.get('k2990'), 'late', 'the change made after the comparison was persisted by a later point')
  assertSameGraph(got, m)
  await c.close()
})

test('verify.ts inv. V4: random changes of large Maps and Sets held raw, each point restored and compared (fast-check)', async () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('set' as const), at: fc.nat(), v: fc.oneof(fc.string({ maxLength: 6 }), fc.double(), fc.constantFrom(-0, NaN, 0, null, undefined, true)) }),
    fc.record({ k: fc.constant('many' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 200 }) }),
    fc.record({ k: fc.constantFrom('add' as const, 'delete' as const, 'object' as const, 'readd' as const, 'setAdd' as const, 'setDelete' as const, 'persist' as const), at: fc.nat() }),
    fc.record({ k: fc.constantFrom('objAdd' as const, 'objKey' as const, 'setObj' as const, 'deleteMany' as const), at: fc.nat() }),     // PATCH parts with references and deletions (patch-record.ts inv. PR2, verify.ts inv. V4)
  )
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 10 }), fc.integer({ min: 300, max: 2000 }), async (ops, n) => {
    const region = simRegion(1 << 22)
    const g = {
      m: new Map<unknown, unknown>(Array.from({ length: n }, (_, i) => [i % 5 === 0 ? i : `k${i}`, `v${i}`])),
      s: new Set<unknown>(Array.from({ length: n }, (_, i) => (i % 3 === 0 ? i : `s${i}`))),
    }
    const c = Container.openRegion(region, { init: () => g })
    await c.persist()
    for (const o of ops) {
      const keys = [...g.m.keys()], vals = [...g.s]
      const key = keys[o.at % keys.length]
      if (o.k === 'set') g.m.set(key, o.v)
      else if (o.k === 'many') for (let i = 0; i < o.n; i++) g.m.set(keys[(o.at + i * 13) % keys.length], `m${o.at}.${i}`)
      else if (o.k === 'add') g.m.set(`new${o.at}`, o.at)
      else if (o.k === 'delete') g.m.delete(key)
      else if (o.k === 'object') g.m.set(key, { o: o.at })
      else if (o.k === 'readd') { const v = g.m.get(key); g.m.delete(key); g.m.set(key, v) }
      else if (o.k === 'setAdd') g.s.add(`add${o.at}`)
      else if (o.k === 'setDelete') g.s.delete(vals[o.at % vals.length])
      else if (o.k === 'objAdd') g.m.set(`obj${o.at}`, { added: o.at, shared: g.m.get(key) })
      else if (o.k === 'objKey') { const k = { key: o.at }; g.m.set(k, o.at); g.s.add(k) }          // one object as a Map key and a Set value
      else if (o.k === 'setObj') g.s.add({ v: o.at })
      else if (o.k === 'deleteMany') for (let i = 0; i < 5; i++) { g.m.delete(keys[(o.at + i * 31) % keys.length]); g.s.delete(vals[(o.at + i * 37) % vals.length]) }
      else { await c.persist(); continue }
      const want = cloneGraph(g)
      await c.persist()
      const f = Container.openRegion(region.crash(1))
      assertSameGraph(f.unwrap(f.root), want)
    }
    await c.close()
  }), runs(6, 16))
})

test('patch-segments.ts inv. P3: a value that cannot persist in a segment the patch would keep is still reported in dropped after a change elsewhere', async () => {
  const region = simRegion(1 << 22)
  const m = new Map<string, unknown>(Array.from({ length: 3000 }, (_, i) => [`k${i}`, i]))
  m.set('k2900', () => 'a function')
  const s = new Set<unknown>(Array.from({ length: 3000 }, (_, i) => i))
  s.add(Symbol('local'))
  const c = Container.openRegion(region, { init: () => ({ m, s }) })
  await c.persist()
  const before = c.dropped.map(d => d.path).sort()
  assert.equal(before.length, 2, 'the function and the symbol')
  m.set('k3', 'changed'); s.add('appended')
  await c.persist()
  assert.deepEqual(c.dropped.map(d => d.path).sort(), before)
  await c.close()
})

/** A large collection group stored through c.root (exposed: compared at each point, so patched). */
function bigGroup(seed: number): { xs: number[]; m: Map<string, unknown>; s: Set<unknown> } {
  return {
    xs: Array.from({ length: 2000 }, (_, i) => i * seed + 0.5),
    m: new Map(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i * seed] as [string, unknown])),
    s: new Set<unknown>(Array.from({ length: 600 }, (_, i) => `s${i}`)),
  }
}

test('patched points under the crash model, three lives deep: a crash image at any flush (recovery flushes included) restores a committed graph, fully and lazily', async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.array(fc.nat(), { minLength: 2, maxLength: 5 }), fc.nat({ max: 30 }), fc.nat()), { minLength: 3, maxLength: 3 }), async lives => {
    let region = simRegion(1 << 22)
    const committed = new Map<number, unknown>()
    for (const [life, [changes, crashAt, seed]] of lives.entries()) {
      const crash = new CrashLife(region, crashAt, seed)
      const c = crash.open(() => Container.openRegion(region, { init: () => ({}) as Record<string, unknown>, keepVersions: 2 }))
      const expected = new Map<number, unknown>([[c.version, cloneGraph(c.snapshot())]])
      const g = bigGroup(life + 2)
      ;(c.root as Record<string, unknown>)[`life${life}`] = g
      const point = async (): Promise<void> => {
        const snap = cloneGraph(c.snapshot())
        const s = await c.persist()
        expected.set(s.version, snap)
      }
      await point()
      for (const [j, x] of changes.entries()) {
        g.xs[x % 2000] = -x - j                                // patchNumbers
        g.m.set(`k${(x * 7) % 1000}`, `v${j}`)                 // a Map value: patched in place
        if (j % 2 === 0) g.s.add(`new${life}.${j}`)            // appended to the Set
        if (j % 3 === 1) { g.m.delete(`k${(x * 11) % 1000}`); g.s.add({ life, j }); g.m.set(`o${life}.${j}`, { x }) }     // deletions and objects: PATCH parts (format 5)
        if (j % 3 === 2) { g.xs.push(x); g.s.delete(`new${life}.${j - 2}`) }                                               // a length change
        await point()
      }
      const { crashed, durable } = await crash.end()
      const fresh = openCrashed(crashed, durable, `life ${life + 1}`)
      if (fresh === null) { region = crashed; committed.clear(); continue }
      const want = expected.get(fresh.version) ?? committed.get(fresh.version)
      assert.ok(want !== undefined, `life ${life + 1}: restored version ${fresh.version} was never committed`)
      assertSameGraph(fresh.unwrap(fresh.root), want)
      const lazy = Container.openRegion(crashed, { lazy: true })
      compareLazy(lazy.root, fresh.unwrap(fresh.root), seed)
      await lazy.close()
      await fresh.close()
      for (const [v, snap] of expected) committed.set(v, snap)
      region = crashed
    }
  }), { ...runs(3, 16), includeErrorInReport: true })
})

test('patched points restored in a fresh process (kept-child.ts) give the graph the program had', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-patch-'))
  const file = path.join(dir, 'p.pmc')
  const g = bigGroup(3)
  const c = Container.open(file, { init: () => g })
  await c.persist()
  for (let j = 0; j < 4; j++) {
    g.xs[j * 331] = j / 3; g.m.set(`k${j * 97}`, { j }); g.s.add(`added${j}`)
    if (j % 2 === 1) { g.m.delete(`k${j * 13}`); g.s.delete(`s${j * 17}`); g.xs.push(j); g.s.add({ j }) }     // deletions, a length change, objects (format 5 parts)
    await c.persist()
  }
  await c.close()
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'kept-child.js')
  let line = JSON.parse(execFileSync(process.execPath, [child, file], { maxBuffer: 1 << 26 }).toString().trim())
  assert.equal(line.error, undefined)
  assert.equal(line.text, graphText(g))
  // A second life behind proxies (the change logs): objects, deletions, pushes and pops.
  const d = Container.open(file)
  const r = d.root as unknown as typeof g
  for (let j = 0; j < 3; j++) {
    r.m.set(`k${j * 101}`, { life: 2, j }); r.m.delete(`k${j * 7 + 1}`); r.s.add({ life: 2, j }); r.s.delete(`s${j * 19 + 2}`)
    r.xs.push(j, j + 0.5); r.xs.pop()
    const st = await d.persist()
    assert.ok(st.bytes < 1500, `life 2, point ${j}: PATCH parts, no segment (${st.bytes} bytes, ${st.objects} records)`)
  }
  const want = graphText(d.unwrap(d.root))
  await d.close()
  line = JSON.parse(execFileSync(process.execPath, [child, file], { maxBuffer: 1 << 26 }).toString().trim())
  assert.equal(line.error, undefined)
  assert.equal(line.text, want)
  fs.rmSync(dir, { recursive: true, force: true })
})

// Read from coverage (session 7): since PATCH parts (writeVerifiedEntries) patch raw Maps and
// Sets, no test reached patch-segments.ts at all. It runs when a part cannot say a point's
// changes and the collection has no parts yet: more appended entries than the log's limit.
// (Its array path, patchNumbers: the test after this one.)
test('patch-segments.ts inv. P1, P2: more entries appended to a raw Map and Set than a PATCH part may hold re-encode only the segments they touch; restored exactly, fully and lazily', async () => {
  const region = simRegion(1 << 22)
  const n = 3000
  const m = new Map<string, unknown>(Array.from({ length: n }, (_, i) => [`k${i}`, i]))
  const s = new Set<unknown>(Array.from({ length: n }, (_, i) => `s${i}`))
  const c = Container.openRegion(region, { init: () => ({ m, s }) })
  await c.persist()
  const whole = (await c.persist({ full: true })).objects
  m.set('k7', 'changed')
  for (let i = 0; i < 800; i++) { m.set(`new${i}`, i); s.add(`new${i}`) }       // past max(64, 3000 / 4) appended
  const st = await c.persist()
  assert.ok(st.objects < whole, `the segments of the appended entries and the records (${st.objects} records, ${whole} for the whole graph)`)
  const want = cloneGraph({ m, s })
  m.set('k2500', 'late'); s.add('later')      // and a point after it: the kept segments are still known
  await c.persist()
  const later = cloneGraph({ m, s })
  const version = c.version
  await c.close()
  for (const lazy of [false, true]) {
    const f = Container.openRegion(region.crash(1), { lazy })
    assertSameGraph(f.unwrap(f.root), later)
    assert.deepEqual(f.check().problems, [])
    await f.close()
  }
  const old = Container.openRegion(region.crash(2), { version: version - 1 })
  assertSameGraph(old.unwrap(old.root), want)
  await old.close()
})

// Session 8 (tidy19), asked to remove patchNumbers as unreachable: it is not. The comparison
// lists at most 1/16 of an array's elements and a PATCH part takes up to 1/4, so a part
// (writeVerifiedNumbers) says every change the comparison lists, unless the array's change log
// is `whole` (change-log.ts inv. CL2). A write through the proxy marks the array dirty, and a
// dirty array is not compared (no positions), except when the write runs during the comparison
// itself: a getter of an exposed object compared after the array, writing through a proxy the
// program kept from before it unwrapped the array (a retired proxy, barrier.ts `wrap`), with a
// descriptor the log cannot express. Then the positions stand, the log is whole, it has no parts,
// and patchNumbers writes the segment of the listed change and keeps the others as they were
// encoded (inv. P1), the redefined element's included: the next point writes it.
test('patch-segments.ts inv. P1, P2 (patchNumbers): an exposed array of numbers whose change log a getter run by the comparison made whole re-encodes only the listed change\'s segment; the getter\'s write goes to the next point', async () => {
  const region = simRegion(1 << 22)
  const a = Array.from({ length: 3000 }, (_, i) => i + 0.5)
  const first = Container.openRegion(region, { init: () => ({ a }) as { a: number[]; late?: object } })
  await first.persist()
  await first.close()
  const life = region.crash(1)
  const c = Container.openRegion(life) as Container<{ a: number[]; late?: object }>
  const proxy = c.root.a                      // kept after the unwrap below (retired, still a barrier)
  const raw = c.unwrap(proxy)                 // exposed: compared at each point, its shadow S_NUMS
  let arm = false
  c.root.late = {
    get sneaky() {
      if (arm) { arm = false; Object.defineProperty(proxy, '2990', { value: -1, writable: true, enumerable: true, configurable: true }) }     // change-log.ts inv. CL2: whole
      return 1
    },
  }
  await c.persist({ full: true })            // the array's segments known to this life (segments.ts KnownSegments), its log started
  raw[100] = 7
  arm = true
  const st = await c.persist()
  assert.equal(arm, false, 'the getter ran during the point')
  assert.equal(st.objects, 2, 'the SEGMENTED record and the segment holding element 100 (a whole re-encode writes the segment of 2990 too)')
  const atPoint = Container.openRegion(life.crash(1)) as Container<{ a: number[] }>
  const got = atPoint.unwrap(atPoint.root).a
  assert.equal(got[100], 7)
  assert.equal(got[2990], 2990.5, 'inv. P1: the kept segment holds what the comparison saw, as the shadow does')
  await atPoint.close()
  assert.equal((await c.persist()).objects, 2, 'the next point\'s comparison finds element 2990 changed')
  assert.equal((await c.persist()).objects, 0, 'nothing changed since')
  const after = Container.openRegion(life.crash(2))
  assertSameGraph(after.unwrap(after.root), cloneGraph({ a: raw, late: { sneaky: 1 } }))
  assert.deepEqual(after.check().problems, [])
  await after.close()
  await c.close()
})
