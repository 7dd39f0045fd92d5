/**
 * Crash tests on SimRegion: a power loss at a random flush of a random point (each dirty
 * sector kept or lost at random, as the crash model allows) restores exactly the graph of
 * the last durable point or of a later one, never anything else (inv. 1 of container.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { simRegion } from './setup.js'
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
    let fresh: Container
    try {
      fresh = Container.openRegion(image, { classes: CLASSES })
    } catch (e) {
      assert.equal(durableAtCrash, 0, `open failed after version ${durableAtCrash} was durable: ${(e as Error).message}`)
      return
    }
    assert.ok(fresh.version >= durableAtCrash, `restored version ${fresh.version} older than durable ${durableAtCrash}`)
    assert.ok(expected.has(fresh.version), `restored version ${fresh.version} was never committed`)
    assertSameGraph(fresh.unwrap(fresh.root), expected.get(fresh.version))
    if (fresh.fellBack !== null) assert.ok(fresh.fellBack.from > fresh.version, 'a fallback names a newer version')
  }), { numRuns: 120 })
})
