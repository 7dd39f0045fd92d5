/**
 * barrier.ts inv. 9, `track: 'barriers'`: what a restored container hands out raw through
 * `c.root` (an instance of a class with private state and hooks, a Date, a RegExp, an
 * ArrayBuffer, a typed array) is watched from its hand-out on (watch.ts inv. W4), so writes
 * through it persist at ordinary points, the second one after a point too. Before, nothing
 * compared them in that mode: `p.setX(6)` after a point, `d.note = ...`, `re.lastIndex = 3`,
 * own properties of buffers were lost silently (a fresh process restored the old values).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Container } from '../../../src/container/index.js'
import { Spot, rawFacts, rawInit, type RawRoot } from './raw-out-kit.js'

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'raw-out-child.js')
const tmp = (): string => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-rawout-')), 'r.pmc')

test('barrier.ts inv. 9, track: \'barriers\': writes through what a restore hands out raw (a class instance with private state and hooks, a Date, a RegExp, binary objects) persist at ordinary points, a fresh process restores them', async () => {
  const file = tmp()
  const a = Container.open<RawRoot>(file, { classes: [Spot], track: 'barriers', init: rawInit })
  await a.persist(); await a.close()
  const c = Container.open<RawRoot>(file, { classes: [Spot], track: 'barriers' })
  const r = c.root
  r.p.setX(5)
  await c.persist()
  r.p.setX(6)                                   // after a point: the instance is still watched
  r.d.setTime(9)
  ;(r.d as unknown as { note: string }).note = 'n'
  r.re.lastIndex = 3
  ;(r.ab as unknown as { tag: string }).tag = 't'
  Object.defineProperty(r.u8, Symbol.for('s'), { value: 1, enumerable: true, configurable: true, writable: true })
  const st = await c.persist()
  assert.equal(st.full, false)
  const want = rawFacts(c.unwrap(c.root))
  await c.close()
  assert.deepEqual(JSON.parse(execFileSync(process.execPath, [child, file]).toString().trim()), JSON.parse(JSON.stringify(want)))
  assert.equal((want as { x: number }).x, 6)
})

for (const track of ['all', 'barriers'] as const) {
  test(`verify.ts, track: '${track}': Dates read through c.root after a restore of more than 1,024 objects are not re-encoded at every point (an id past the shadows' kind table read as undefined, compared as GONE: every such Date was written again by each point)`, async () => {
    const file = tmp()
    type Root = { list: { d: Date; n: number }[] }
    const a = Container.open<Root>(file, { track, init: () => ({ list: Array.from({ length: 700 }, (_, i) => ({ d: new Date(i), n: i })) }) })
    await a.persist(); await a.close()
    const c = Container.open<Root>(file, { track })
    let t = 0
    for (const x of c.root.list) t += x.d.getTime()
    assert.ok(t > 0)
    await c.persist()
    c.root.list[3]!.n = -1
    const st = await c.persist()
    assert.ok(st.objects <= 3, `one object changed, ${st.objects} records written`)
    c.root.list[5]!.d.setTime(99)
    assert.ok((await c.persist()).objects <= 3)
    await c.close()
    const r = Container.open<Root>(file, { track, readOnly: true })
    const raw = r.unwrap(r.root).list
    assert.equal(raw[3]!.n, -1); assert.equal(raw[5]!.d.getTime(), 99); assert.equal(raw[6]!.d.getTime(), 6)
    await r.close()
  })
}
