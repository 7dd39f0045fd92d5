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
import { CrashLife, simRegion } from './setup.js'
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
      const fresh = Container.openRegion(crashed)
      assert.ok(fresh.version >= durable && committed.has(fresh.version), `${what}: restored version ${fresh.version} (durable ${durable}) was committed`)
      assert.ok(graphText(fresh.snapshot()) === committed.get(fresh.version), `${what}: the graph of version ${fresh.version}`)
      assert.equal(fresh.fellBack, null, what)
      assert.deepEqual(fresh.check().problems, [], what)
      await fresh.close()
      for (const v of [...committed.keys()]) if (v > fresh.version) committed.delete(v)
      region = crashed
    }
  }
  assert.ok(flushes > 3, `the lives flushed (${flushes} flushes)`)
})
