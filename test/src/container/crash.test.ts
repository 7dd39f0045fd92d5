/**
 * Crash tests on SimRegion: a power loss at a random flush of a random point (each dirty
 * sector kept or lost at random, as the crash model allows) restores exactly the graph of
 * the last durable point or of a later one, never anything else (container inv. 1, kept in snapshot.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CrashLife, openCrashed, runs, simRegion } from './setup.js'
import { Container, type PointStats } from '../../../src/container/index.js'
import { assertSameGraph, buildGraph, cloneGraph, graphRecipe, CLASSES } from './graph-kit.js'
import { history, opRecipe, runOps } from './mutate-kit.js'
import type { SimRegion } from '../../../regions/index.js'

test('a crash at any flush restores the last durable point or a later one, exactly', async () => {
  await fc.assert(fc.asyncProperty(graphRecipe(8), fc.array(opRecipe(), { maxLength: 25 }), fc.nat({ max: 40 }), fc.nat(), async (recipe, ops, crashAt, seed) => {
    history.length = 0
    const region = simRegion()
    let image: SimRegion | null = null
    let durableAtCrash = 0
    const c = Container.openRegion(region, { init: () => buildGraph(recipe), classes: CLASSES, chunkSize: 512, keepVersions: 2, compactFactor: 1.2 })
    region.onFlush = info => {
      if (info.index === crashAt && image === null) { image = region.crash(seed); durableAtCrash = c.version }
    }
    const expected = new Map<number, unknown>()
    const points: Promise<PointStats>[] = []
    const point = (full: boolean): void => {
      const snap = cloneGraph(c.unwrap(c.root))
      points.push(c.persist({ full }).then(s => { expected.set(s.version, snap); return s }))
    }
    runOps(c, ops, point)
    await Promise.all(points)
    region.onFlush = undefined
    if (image === null) return
    const fresh = openCrashed(image, durableAtCrash, 'the crash image', { classes: CLASSES })
    if (fresh === null) return
    assert.ok(expected.has(fresh.version), `restored version ${fresh.version} was never committed`)
    assertSameGraph(fresh.unwrap(fresh.root), expected.get(fresh.version))
    if (fresh.fellBack !== null) assert.ok(fresh.fellBack.from > fresh.version, 'a fallback names a newer version')
  }), runs(120))
})

/** Graphs of committed versions on the current timeline (cleared past the version a recovery restored). */
type Timeline = Map<number, unknown>

/** Every retained version older than the newest restores exactly its committed graph (retained versions intact). */
async function assertRetained(img: SimRegion, fresh: Container, committed: Timeline, keep: number): Promise<void> {
  for (let v = Math.max(1, fresh.version - keep + 1); v < fresh.version; v++) {
    const want = committed.get(v)
    if (want === undefined) continue
    const old = Container.openRegion(img, { classes: CLASSES, version: v })
    try { assertSameGraph(old.unwrap(old.root), want) } finally { await old.close() }
  }
}

test('inv. 1, many lives: crash, recover, operate, crash again; a crash image at any flush, recovery flushes included, restores an allowed graph and keeps retained versions', async () => {
  await fc.assert(fc.asyncProperty(graphRecipe(8), fc.array(fc.tuple(fc.array(opRecipe(), { maxLength: 12 }), fc.nat({ max: 30 }), fc.nat()), { minLength: 3, maxLength: 3 }), async (recipe, lives) => {
    history.length = 0
    let region: SimRegion = simRegion()
    const committed: Timeline = new Map()
    const options = { init: () => buildGraph(recipe), classes: CLASSES, chunkSize: 512, keepVersions: 2, compactFactor: 1.2 }
    for (const [life, [ops, crashAt, seed]] of lives.entries()) {
      history.length = 0                                // nodes of an earlier life belong to a closed container
      const crash = new CrashLife(region, crashAt, seed)
      const c = crash.open(() => Container.openRegion(region, options))          // recovery: a crash at a flush it makes may show only what it started from
      for (const v of [...committed.keys()]) if (v > c.version) committed.delete(v)
      const start = c.version
      const expected = new Map<number, unknown>([[start, cloneGraph(c.snapshot())]])
      if (start > 0) assertSameGraph(c.snapshot(), committed.get(start) ?? expected.get(start))
      const points: Promise<PointStats>[] = []
      const point = (full: boolean): void => {
        const snap = cloneGraph(c.snapshot())
        points.push(c.persist({ full }).then(s => { expected.set(s.version, snap); committed.set(s.version, snap); return s }))
      }
      runOps(c, ops, point)
      await Promise.all(points)
      const { crashed, durable } = await crash.end()
      const fresh = openCrashed(crashed, durable, `life ${life + 1}`, { classes: CLASSES })
      if (fresh === null) { region = crashed; committed.clear(); continue }
      assert.ok(expected.has(fresh.version), `life ${life + 1}: restored version ${fresh.version} was never committed in this life`)
      assertSameGraph(fresh.unwrap(fresh.root), expected.get(fresh.version))
      if (fresh.fellBack === null) assert.deepEqual(fresh.check().problems, [])
      for (const v of [...committed.keys()]) if (v > fresh.version) committed.delete(v)
      committed.set(fresh.version, expected.get(fresh.version))
      await assertRetained(crashed, fresh, committed, 2)
      await fresh.close()
      region = crashed                                  // the next life recovers this image and goes on
    }
  }), { ...runs(25), includeErrorInReport: true })
})

test('inv. 5: a streamed first point under the crash model, then more lives on the recovered container', async () => {
  const { canonicalHash } = await import('./graph-kit.js')
  const init = () => ({ pages: Array.from({ length: 4400 }, (_, i) => ({ i, text: String(i).padEnd(1000, '~') })), n: 0 })
  let region = simRegion(1 << 16)
  let streams = 0
  const stream = region.appendStream.bind(region)
  region.appendStream = (at, block) => { const st = stream(at, block); if (st !== null) streams++; return st }
  const images: Array<{ img: SimRegion; durable: number }> = []
  let version = 0
  region.onFlush = () => { images.push({ img: region.crash(images.length), durable: version }) }
  const c = Container.openRegion(region, { init, streamThreshold: 65536, keepVersions: 2 })
  const hashes = new Map<number, string>([[1, canonicalHash(c.unwrap(c.root))]])
  version = (await c.persist()).version
  assert.equal(streams, 1, 'the first point was streamed')
  c.root.n = 1
  c.root.pages[7].text = 'changed'
  hashes.set(2, canonicalHash(c.unwrap(c.root)))
  version = (await c.persist()).version
  region.onFlush = undefined
  await c.close()
  images.push({ img: region.crash(99), durable: version })
  let last: SimRegion | null = null
  for (const { img, durable } of images) {
    let fresh: Container
    try { fresh = Container.openRegion(img) } catch (e) {
      assert.equal(durable, 0, `open failed after version ${durable} was durable: ${(e as Error).message}`)
      continue
    }
    assert.ok(fresh.version >= durable && hashes.has(fresh.version), `restored version ${fresh.version}, durable ${durable}`)
    assert.equal(canonicalHash(fresh.unwrap(fresh.root)), hashes.get(fresh.version))
    await fresh.close()
    if (fresh.version === 2) last = img
  }
  assert.ok(last !== null)
  // Next lives: recover, a full point (streamed again: the retained chunks are not free), crash at its flushes, recover.
  for (let life = 0; life < 2; life++) {
    region = last!
    const got: Array<{ img: SimRegion; durable: number }> = []
    const again = Container.openRegion(region, { streamThreshold: 65536 })
    let v = again.version
    region.onFlush = () => { got.push({ img: region.crash(1000 + got.length), durable: v }) }
    again.root.n = again.root.n + 1
    const want = canonicalHash(again.unwrap(again.root))
    const before = hashes.get(again.version)!
    const s = await again.persist({ full: true })
    v = s.version
    region.onFlush = undefined
    await again.close()
    got.push({ img: region.processCrash(), durable: v })
    for (const { img, durable } of got) {
      const fresh = Container.openRegion(img)
      assert.ok(fresh.version >= durable && fresh.version >= s.version - 1)
      assert.equal(canonicalHash(fresh.unwrap(fresh.root)), fresh.version === s.version ? want : before, `life ${life + 2}: version ${fresh.version}`)
      await fresh.close()
    }
    hashes.set(s.version, want)
    last = got.at(-1)!.img
  }
})
