/**
 * space-report.ts: a point lost for space (write.ts inv. 4a) says what holds the space.
 * Before session 16 a container near its largest size (2 GiB - 4 KiB) whose retained versions
 * (`keepVersions`) held most of the file reported only that the region could not grow, at
 * every later point (probe: 500 MB buffers replaced point by point; the 2 older versions held
 * 1007 MiB of the 2048). Here a SimRegion whose disk holds 1 MiB stands for the limit.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { OutOfSpaceError, SimRegion } from '../../../regions/index.js'
import { Container } from '../../../src/container/index.js'

type Root = { n: number; b: Uint8Array | null }

test('space-report.ts inv. SR1: a point lost for space names what the older retained versions hold and what to do; nothing is lost and the container goes on', async () => {
  const region = SimRegion.create({ size: 256 << 10, maxSize: 1 << 20, path: 'versions.pmc' })
  const c = Container.openRegion<Root>(region, { init: () => ({ n: 0, b: null }) })
  await c.persist()
  let failure: unknown = null, committed = 0
  for (let i = 1; failure === null && i < 20; i++) {
    c.root.b = new Uint8Array(256 << 10).fill(i)      // each version holds a different 256 KiB buffer
    c.root.n = i
    try { await c.persist(); committed = i } catch (e) { failure = e }
  }
  assert.ok(failure instanceof OutOfSpaceError, String(failure))
  const msg = (failure as Error).message
  assert.match(msg, /^Cannot persist container "versions\.pmc": /)
  assert.match(msg, /the simulated disk holds at most/, 'the cause is kept')
  const held = /the 2 older versions kept \(keepVersions 3, fixed when the container was created\) hold about (\d+(?:\.\d)?) MiB/.exec(msg)
  assert.ok(held !== null, msg)
  assert.ok(Number(held[1]) >= 0.4, `the older versions hold at least one of the buffers: ${msg}`)
  assert.match(msg, /persist\(\{ full: true \}\)/)
  assert.match(msg, /keepVersions: 1/)
  assert.ok((failure as Error & { cause?: unknown }).cause instanceof OutOfSpaceError)
  await assert.rejects(c.sync(), (e: unknown) => e instanceof OutOfSpaceError && /older versions kept/.test((e as Error).message), 'sync gives the same report')
  // Nothing lost: the file holds the last committed point.
  const image = Container.openRegion<Root>(region.processCrash())
  assert.equal(image.root.n, committed)
  assert.equal(image.unwrap(image.root.b)![0], committed)
  await image.close()
  // What the message says to do works: a smaller graph, written alone.
  c.root.b = null
  const stats = await c.persist({ full: true })
  assert.equal(stats.full, true)
  await c.sync()
  assert.deepEqual(c.check(), { ok: true, problems: [] })
  await c.close()
  const back = Container.openRegion<Root>(region.processCrash())
  assert.deepEqual(back.unwrap(back.root), { n: committed + 1, b: null })
  await back.close()
})
