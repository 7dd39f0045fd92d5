/**
 * The limits of PATCH parts across restores and crashes (patch-record.ts inv. PR4,
 * change-log.ts `MAX_PARTS`, `PATCH_FRACTION_SHIFT`): a restore starts a collection's log with
 * the parts and the changes its record already holds, so the 65th part, or the change past
 * 1/4 of the collection, re-encodes it (a new base) whether or not the process restarted in
 * between; and a crash image at every flush of the point that rolls over to a new base
 * (the new segments and the record that lists them are one version), of the recovery
 * after it and of the points that add parts to the new base, restores a committed graph.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CrashLife, restoresCommittedText, simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { SimRegion } from '../../../regions/index.js'
import { MAX_PARTS } from '../../../src/container/change-log.js'
import { graphText } from './graph-json.js'

interface Root { m: Map<string, unknown>; s: Set<unknown>; a: unknown[] }
const N = 600          // a log keeps max(64, 600 / 4) = 150 changes
function init(): Root {
  return {
    m: new Map(Array.from({ length: N }, (_, i) => [`k${i}`, i])),
    s: new Set(Array.from({ length: N }, (_, i) => `s${i}`)),
    a: Array.from({ length: N }, (_, i) => i),
  }
}

/** One change of each collection through the proxies (point `p`): an object value, an object entry and a deletion, a push. */
function change(r: Root, p: number): void {
  r.m.set(`k${p % N}`, { p })
  if (p % 2 === 0) r.s.add({ p }); else r.s.delete(`s${p}`)
  r.a.push(p)
}

const restoredText = (region: SimRegion): string => {
  const c = Container.openRegion(region)
  try { return graphText(c.snapshot()) } finally { void c.close() }
}

/** A container whose three collections have `parts` parts each (one change a point), written by `lives` processes in turn (each a restore: inv. PR4). */
async function withParts(parts: number, lives: number): Promise<{ region: SimRegion; next: number }> {
  const region = simRegion(1 << 23)
  const c = Container.openRegion(region, { init, compactFactor: 1000 })
  await c.persist()
  await c.close()
  let p = 0
  for (let life = 0; life < lives; life++) {
    const d = Container.openRegion(region)
    const r = d.root as Root
    for (const end = Math.round(parts * (life + 1) / lives); p < end; p++) {
      change(r, p)
      const st = await d.persist()
      assert.ok(st.bytes < 600 || st.compacted, `point ${p}: a part each, no segment (${st.bytes} bytes)`)
    }
    await d.close()
  }
  return { region, next: p }
}

test(`patch-record.ts inv. PR4: collections with ${MAX_PARTS} parts written over several restores re-encode at the next change (a new base), then take parts again`, async () => {
  const { region, next } = await withParts(MAX_PARTS, 3)
  const d = Container.openRegion(region)
  const r = d.root as Root
  change(r, next)
  const base = await d.persist()
  assert.ok(base.bytes > 3000, `the ${MAX_PARTS + 1}th change re-encodes the three collections (${base.bytes} bytes)`)
  change(r, next + 1)
  const after = await d.persist()
  assert.ok(after.bytes < 600, `parts over the new base (${after.bytes} bytes)`)
  const want = graphText(d.snapshot())
  await d.close()
  assert.equal(restoredText(region), want)
})

/** A container whose Map took 140 changes (of the 150 a log keeps) as one part, in a second life, then closed. */
async function with140Changes(): Promise<SimRegion> {
  const region = simRegion(1 << 23)
  const c = Container.openRegion(region, { init, compactFactor: 1000 })
  await c.persist()
  await c.close()
  const d = Container.openRegion(region)
  const r = d.root as Root
  for (let i = 0; i < 140; i++) r.m.set(`k${i}`, `changed ${i}`)
  assert.ok((await d.persist()).bytes < 3000, 'a part')
  await d.close()
  return region
}

test('change-log.ts PATCH_FRACTION_SHIFT, patch-record.ts inv. PR4: the changes a restored record\'s parts hold count toward the 1/4 limit: past it, the next point re-encodes', async () => {
  const region = await with140Changes()
  const e = Container.openRegion(region)
  const q = e.root as Root
  for (let i = 0; i < 20; i++) q.m.set(`k${200 + i}`, `changed ${i}`)     // 160 since the base
  const st = await e.persist()
  // A part of these 20 changes is about 400 bytes; a re-encode writes the segments they touch (128 entries, 1.5 KB or more each).
  assert.ok(st.bytes > 1200, `past 1/4 of the Map since its base: re-encoded, not a third part (${st.objects} records, ${st.bytes} bytes)`)
  const want = graphText(e.snapshot())
  await e.close()
  assert.equal(restoredText(region), want)
})

/**
 * Lives from `image` (version `startVersion`, graph `startText`): the first point of a life
 * that starts there makes `roll` (a change that rolls the collections over to a new base);
 * every other point is `change` (parts). Life 1 crashes at every flush (its recovery's too),
 * life 2 somewhere; each crashed life restores a committed graph.
 */
async function rolloverLives(image: Uint8Array, startVersion: number, roll: (r: Root) => void, next: number): Promise<void> {
  const startText = restoredText(SimRegion.fromImage(image, { path: 'sim.pmc' }))
  let flushes = 0
  for (let crashAt = 0; crashAt <= flushes + 1; crashAt++) {
    let region = SimRegion.fromImage(image, { path: 'sim.pmc' })
    const committed = new Map<number, string>([[startVersion, startText]])
    const lives = [[crashAt, 3 * crashAt + 1], [(crashAt * 7) % 11, crashAt]]      // life 1 crashes at every flush; life 2 somewhere
    for (const [life, [at, seed]] of lives.entries()) {
      let count = 0
      const crash = new CrashLife(region, at, seed)
      const counter = region.onFlush!
      region.onFlush = info => { count++; counter(info) }
      const c = crash.open(() => Container.openRegion(region))
      for (const v of [...committed.keys()]) if (v > c.version) committed.delete(v)
      const what = `crash at ${crashAt}, life ${life + 1}`
      assert.ok(graphText(c.snapshot()) === committed.get(c.version), `${what}: opened at a committed graph`)
      const r = c.root as Root
      let full = c.version === startVersion        // the next change rolls over
      for (let p = next + 10 * life; p < next + 10 * life + 3; p++) {       // the rollover, then parts over the new base
        if (full) roll(r); else change(r, p)
        const text = graphText(c.snapshot())
        const st = await c.persist()
        committed.set(st.version, text)
        if (full) assert.ok(st.bytes > 1200, `${what}: a new base (${st.bytes} bytes)`)
        else assert.ok(st.bytes < 600, `${what}, point ${p}: parts (${st.bytes} bytes)`)
        full = false
      }
      const { crashed, durable } = await crash.end()
      if (life === 0) flushes = Math.max(flushes, count)
      await restoresCommittedText(crashed, durable, committed, what)
      region = crashed
    }
  }
  assert.ok(flushes > 3, `the lives flushed (${flushes} flushes)`)
}

test(`patch-record.ts inv. PR4 under the crash model: a crash image at every flush of the point that rolls ${MAX_PARTS} parts over to a new base, of the recovery and of the parts after it; then another life of parts, crashed again`, async () => {
  const { region: built, next } = await withParts(MAX_PARTS, 2)
  await rolloverLives(built.durableImage(), MAX_PARTS + 1, r => { change(r, next) }, next + 1)
})

test('change-log.ts PATCH_FRACTION_SHIFT under the crash model: a crash image at every flush of the point whose changes pass 1/4 of the Map since its base (140 in a part of an earlier process, 20 now: a new base), of the recovery and of the parts after it', async () => {
  const region = await with140Changes()
  await rolloverLives(region.durableImage(), 2, r => { for (let i = 0; i < 20; i++) r.m.set(`k${200 + i}`, `changed ${i}`) }, 1000)
})
