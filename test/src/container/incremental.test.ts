/**
 * Incremental points: random mutation sequences made through the proxies, with points taken
 * without awaiting (so they queue while the program keeps mutating), full points and
 * compactions mixed in. After the sequence, a fresh container opened on the crash image
 * must show exactly the graph as it was when the last point was called, and every point
 * (all are retained: keepVersions 64) the graph as it was when that point was called.
 */
import { test } from 'node:test'
import fc from 'fast-check'
import { runs, simRegion } from './setup.js'
import { Container, type PointStats } from '../../../src/container/index.js'
import { assertSameGraph, buildGraph, cloneGraph, graphRecipe, CLASSES } from './graph-kit.js'
import { history, opRecipe, runOps } from './mutate-kit.js'

test('random mutations and points: every retained version restores the graph of its point', async () => {
  await fc.assert(fc.asyncProperty(graphRecipe(10), fc.array(opRecipe(), { maxLength: 40 }), fc.nat(), async (recipe, ops, seed) => {
    history.length = 0
    const region = simRegion()
    const c = Container.openRegion(region, { init: () => buildGraph(recipe), classes: CLASSES, chunkSize: 512, keepVersions: 64, compactFactor: 1.2 })
    const points: { p: Promise<PointStats>; expected: unknown }[] = []
    const point = (full: boolean): void => { points.push({ expected: cloneGraph(c.unwrap(c.root)), p: c.persist({ full }) }) }
    runOps(c, ops, point)
    const stats = await Promise.all(points.map(x => x.p))
    const byVersion = new Map(stats.map((s, i) => [s.version, points[i].expected]))
    const image = region.crash(seed)
    const fresh = Container.openRegion(image, { classes: CLASSES })
    assertSameGraph(fresh.unwrap(fresh.root), points[points.length - 1].expected)
    for (const v of stats.slice(-64).map(s => s.version)) {
      const old = Container.openRegion(image, { classes: CLASSES, version: v })
      assertSameGraph(old.unwrap(old.root), byVersion.get(v))
    }
  }), runs(120))
})
