/**
 * Compaction of a log that holds PATCH parts (patch-record.ts inv. PR2: a part's references
 * are the objects it names, so compaction, which copies the current records reachable
 * through references, keeps every part of a collection and every object a part names, also
 * one the live graph no longer reaches: a Map value replaced by a later part), under the
 * crash model: a crash image at every flush of the point that compacts (its recovery's too),
 * then more parts, crashed again. And `dropped` paths through a part (paths.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CrashLife, restoresCommittedText, simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { SimRegion } from '../../../regions/index.js'
import { graphText } from './graph-json.js'

interface Root { m: Map<string, unknown>; s: Set<unknown> }
const N = 400
const init = (): Root => ({ m: new Map(Array.from({ length: N }, (_, i) => [`k${i}`, i])), s: new Set(Array.from({ length: N }, (_, i) => `s${i}`)) })

/** Point `p`'s changes through the proxies: a value replaced by a new object (the old one is then named by an older part only), a deletion, an object appended to each. */
function change(r: Root, p: number): void {
  r.m.set(`k${p % 7}`, { p, tags: [p] })
  r.m.delete(`k${100 + p}`)
  r.m.set(`n${p}`, { p })
  r.s.add({ p }); r.s.delete(`s${p}`)
}

test('patch-record.ts inv. PR2: compaction of a log of parts keeps the parts and the objects only older parts name; a crash at every flush of the compacting point (and its recovery), then more parts, crashed again, restores a committed graph', async () => {
  const built = simRegion(1 << 23)
  const c = Container.openRegion(built, { init, chunkSize: 1024 })
  await c.persist()
  await c.close()
  // Parts, one point (and one process) each, until a point compacts (compactFactor 1.1;
  // write.ts's rule has a floor of 4 chunks of the open's chunkSize, so the opens pass the
  // file's): the image before that point is where the lives below start.
  let p = 0, image = built.durableImage()
  for (;; p++) {
    assert.ok(p < 40, 'a point compacted')
    image = built.durableImage()
    const d = Container.openRegion(built, { compactFactor: 1.1, chunkSize: 1024 })
    change(d.root as Root, p)
    const st = await d.persist()
    await d.close()
    if (st.compacted) break
    assert.ok(st.bytes < 1000, `point ${p}: parts (${st.bytes} bytes)`)
  }
  assert.ok(p >= 2, `parts were written before the compaction (${p} points)`)
  const start = Container.openRegion(SimRegion.fromImage(image, { path: 'sim.pmc' }))
  const startVersion = start.version, startText = graphText(start.snapshot())
  await start.close()
  let flushes = 0
  for (let crashAt = 0; crashAt <= flushes + 1; crashAt++) {
    let region = SimRegion.fromImage(image, { path: 'sim.pmc' })
    const committed = new Map<number, string>([[startVersion, startText]])
    for (const [life, at] of [crashAt, (crashAt * 5) % 9].entries()) {     // life 1 crashes at every flush; life 2 somewhere
      let count = 0
      const crash = new CrashLife(region, at, crashAt + life)
      const hook = region.onFlush!
      region.onFlush = info => { count++; hook(info) }
      const e = crash.open(() => Container.openRegion(region, { compactFactor: 1.1, chunkSize: 1024 }))
      for (const v of [...committed.keys()]) if (v > e.version) committed.delete(v)
      const what = `crash at ${crashAt}, life ${life + 1}`
      assert.ok(graphText(e.snapshot()) === committed.get(e.version), `${what}: opened at a committed graph`)
      for (let q = 0; q < 3; q++) {
        const fromStart = e.version === startVersion
        change(e.root as Root, p + 10 * (life + 1) + q - (fromStart ? 10 * (life + 1) : 0))
        const text = graphText(e.snapshot())
        const st = await e.persist()
        committed.set(st.version, text)
        if (fromStart) assert.ok(st.compacted, `${what}: the point after the start compacts`)
      }
      const { crashed, durable } = await crash.end()
      if (life === 0) flushes = Math.max(flushes, count)
      await restoresCommittedText(crashed, durable, committed, what)
      region = crashed
    }
  }
  assert.ok(flushes > 3, `the lives flushed (${flushes} flushes)`)
})

test('paths.ts: `dropped` through PATCH parts names the entry that holds the value; a value held by an object a later part replaced or deleted (still named by an older part, inv. PR2, or by a base segment) is no longer reported, before and after compaction', async () => {
  const region = simRegion(1 << 23)
  const c = Container.openRegion(region, { init, chunkSize: 1024 })
  await c.persist()
  await c.close()
  const d = Container.openRegion(region, { compactFactor: 1.1, chunkSize: 1024 })
  const r = d.root as Root
  const keyObj = { key: true, f() {} }
  r.m.set('k5', { name: 'x', fn: () => 1 }); r.m.set('k6', { keep: () => 2 }); r.s.add({ inSet: Symbol('q') }); r.m.set(keyObj as unknown as string, 1)
  let st = await d.persist()
  assert.ok(st.bytes < 1000, `parts (${st.bytes} bytes)`)
  const paths = (): string[] => d.dropped.map(x => `${x.path} ${x.reason}`).sort()
  assert.deepEqual(paths(), ['root.m.<key>.f function', 'root.m.get("k5").fn function', 'root.m.get("k6").keep function', 'root.s.<entry 400>.inSet symbol'])
  r.m.delete(keyObj as unknown as string); r.m.set('k5', 'plain'); r.s.delete([...r.s][400])
  st = await d.persist()
  assert.ok(st.bytes < 1000, `parts (${st.bytes} bytes)`)
  assert.deepEqual(paths(), ['root.m.get("k6").keep function'], 'what the graph no longer holds is not reported')
  for (let i = 0; i < 40 && !st.compacted; i++) { r.m.set(`k${10 + i}`, { i }); st = await d.persist() }
  assert.ok(st.compacted, 'a point compacted')
  assert.deepEqual(paths(), ['root.m.get("k6").keep function'], 'after compaction')
  r.m.set('k6', 6)       // the one left, replaced
  await d.persist()
  assert.deepEqual(paths(), [])
  await d.close()
})

test('paths.ts: `dropped` of an object in a base segment that a part replaced, in the life that wrote the base (held raw: the comparison\'s parts, verify.ts inv. V4), is no longer reported', async () => {
  const m = new Map<string, unknown>(Array.from({ length: N }, (_, i) => [`k${i}`, i]))
  const x = { old: () => 3 }
  m.set('k7', x)
  const c = Container.openRegion(simRegion(1 << 23), { init: () => ({ m }) })
  await c.persist()
  assert.deepEqual(c.dropped.map(d => d.path), ['root.m.get("k7").old'])
  m.set('k7', 'replaced'); m.set('k8', x)
  let st = await c.persist()
  assert.ok(st.bytes < 1000, `a part (${st.bytes} bytes)`)
  assert.deepEqual(c.dropped.map(d => d.path), ['root.m.get("k8").old'], 'held under its new key')
  m.set('k9', (c.root as { m: Map<string, unknown> }).m.get('k8'))     // x's proxy, stored raw
  m.delete('k8')
  st = await c.persist()
  assert.ok(st.bytes < 1000, `a part (${st.bytes} bytes)`)
  assert.deepEqual(c.dropped.map(d => d.path), ['root.m.get("k9").old'], 'held under another key (stored from a proxy)')
  m.delete('k9')
  st = await c.persist()
  assert.ok(st.bytes < 1000, `a part (${st.bytes} bytes)`)
  assert.deepEqual(c.dropped, [], 'held by nothing the graph reaches')
  await c.close()
})

test('paths.ts: `dropped` of an object a raw Map holds as a container proxy, named by a part only: still reported (a proxy is its target when the collection\'s members are looked up)', async () => {
  const region = simRegion(1 << 23)
  const c0 = Container.openRegion(region, { init: () => ({ m: new Map<string, unknown>(Array.from({ length: N }, (_, i) => [`k${i}`, i])), other: { y: { v: 1 } as Record<string, unknown> } }) })
  await c0.persist()
  await c0.close()
  const c = Container.openRegion(region)
  const r = c.root as { m: Map<string, unknown>; other: { y?: Record<string, unknown> } }
  const px = r.other.y!                      // a proxy (after a restore)
  const raw = c.unwrap(r.m)
  raw.set('k1', px)                          // the raw Map holds the proxy
  px.fn = () => 1
  assert.ok((await c.persist()).bytes < 1000, 'a part')
  assert.deepEqual(c.dropped.map(d => d.path), ['root.other.y.fn'])
  delete r.other.y                           // now held by the Map only (through the part)
  await c.persist()
  assert.deepEqual(c.dropped.map(d => `${d.path} ${d.reason}`), ['root.m.<entry>.fn function'])
  await c.close()
})

test('patch-record.ts inv. PR2 (writeVerifiedEntries, Changes.dropped): a raw Map and Set whose base dropped a value (an unregistered class instance) take no part over it: a later change re-encodes them, and `dropped` keeps reporting the value', async () => {
  const m = new Map<string, unknown>(Array.from({ length: N }, (_, i) => [`k${i}`, i]))
  const s = new Set<unknown>(Array.from({ length: N }, (_, i) => `s${i}`))
  const c = Container.openRegion(simRegion(1 << 23), { init: () => ({ m, s }) })
  await c.persist()
  class Unregistered { x = 1 }
  m.set('f', new Unregistered()); s.add(new Unregistered())      // objects (a function or a symbol would stop the comparison's positions before the check)
  await c.persist()
  const want = c.dropped.map(d => `${d.path} ${d.reason}`)
  assert.equal(want.length, 2)
  assert.match(want[0], /^root\.m\.get\("f"\) /)
  assert.match(want[1], /^root\.s\.<entry 400> /)
  for (let p = 0; p < 3; p++) {
    m.set(`k${p}`, `changed ${p}`); m.delete(`k${100 + p}`); s.add(`added ${p}`); s.delete(`s${p}`)
    await c.persist()
    assert.deepEqual(c.dropped.map(d => `${d.path} ${d.reason}`), [want[0], want[1].replace('<entry 400>', `<entry ${399 - p}>`)], `point ${p}: still reported (the Set's entry moved up: one deleted before it)`)
  }
  await c.close()
})
