/**
 * What the lazy open does to be cheap (issue 16): the offsets are 4 bytes an id, and a dense
 * base that covers every id is used in place in the log copy (log-offsets.ts inv. X5), the
 * deltas written over it; the log copy is a SharedArrayBuffer (log.ts inv. 4). The checks
 * stay: a base entry past its INDEX record is a CorruptionError when its group of the base
 * is read (at the open for the groups the open looks up: a reported fall-back, open.ts inv.
 * O1; else at the touch, log-offsets.ts inv. X6, lazy-index.test.ts), never a wrong object;
 * and no object restored lazily shares memory with the log copy. A large array's shell is
 * empty until it is filled (shells.ts inv. 4).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { SimRegion } from '../../../regions/index.js'
import { assertSameGraph, cloneGraph } from './graph-kit.js'
import { compareLazy } from './lazy-kit.js'
import { regionBacking } from '../../../src/container/backing.js'
import { decodeMeta } from '../../../src/container/meta.js'
import { readLog } from '../../../src/container/log.js'
import { header, readHeader } from '../../../src/container/format.js'
import { Restorer } from '../../../src/container/decode.js'
import { ClassRegistry } from '../../../src/container/classes.js'
import { ARRAY_SHELL_MAX } from '../../../src/container/shells.js'

const copy = (img: SimRegion): SimRegion => SimRegion.fromImage(img.durableImage(), { path: 'sim.pmc' })

type Users = { users: { i: number; name: string; tags: string[] }[]; v: number }
const users = (n: number): Users => ({ users: Array.from({ length: n }, (_, i) => ({ i, name: `u${i}`, tags: [`t${i % 7}`] })), v: 1 })

/** A full point of `n` users, then an incremental point made by `change`; the region image, and each version's graph. */
async function twoPoints(n: number, change: (root: Users) => void): Promise<{ img: SimRegion; v1: unknown; v2: unknown }> {
  const region = simRegion()
  const c = Container.openRegion<Users>(region, { chunkSize: 512, keepVersions: 3, init: () => users(n) })
  await c.persist()
  const v1 = cloneGraph(c.unwrap(c.root))
  change(c.root)
  await c.persist()
  const v2 = cloneGraph(c.unwrap(c.root))
  await c.close()
  return { img: region.crash(1), v1, v2 }
}

test('X5: a dense base covering every id is the offsets, the delta written over it; a lazy open is the full restore', async () => {
  const { img, v2 } = await twoPoints(200, root => { root.users[3].name = 'renamed'; root.users[150].tags.push('x'); root.v = 2 })
  const lazy = Container.openRegion(copy(img), { lazy: true })
  compareLazy(lazy.root, v2, 1)
  assert.deepEqual(lazy.check().problems, [])
  await lazy.close()
  const again = Container.openRegion(copy(img), { lazy: true })
  assertSameGraph(again.unwrap(again.root), v2)
  await again.close()
})

test('X5: a dense base that does not cover the ids of the newer point is copied into the offsets; a lazy open is the full restore', async () => {
  const { img, v2 } = await twoPoints(200, root => { for (let i = 0; i < 30; i++) root.users.push({ i: 1000 + i, name: `new${i}`, tags: [] }); root.v = 2 })
  const lazy = Container.openRegion(copy(img), { lazy: true })
  compareLazy(lazy.root, v2, 2)
  await lazy.close()
  // and new objects after the open take ids no record uses (lazy.ts inv. Z4)
  const r2 = copy(img)
  const w = Container.openRegion<Users>(r2, { lazy: true })
  w.root.users.push({ i: 5000, name: 'later', tags: ['z'] })
  w.root.users[0].tags.push('y')
  await w.persist()
  assert.deepEqual(w.check().problems, [])
  await w.close()
  const expected = cloneGraph(v2) as Users
  expected.users.push({ i: 5000, name: 'later', tags: ['z'] })
  expected.users[0].tags.push('y')
  for (const lazy of [false, true]) {
    const full = Container.openRegion(copy(r2.crash(1)), { lazy })
    assertSameGraph(full.unwrap(full.root), expected)
    await full.close()
  }
})

test('X3: a dense base entry placing an object past its INDEX record is a CorruptionError at the open (a reported fall-back), not at a later touch', async () => {
  const { img, v1 } = await twoPoints(60, () => {})
  // the base is the first INDEX record of the log; rewrite one of its entries, checksums intact (a writer bug)
  const region = copy(img)
  const b = regionBacking(region, false)
  const store = b.store!
  const meta = decodeMeta(store.getMeta(), 'x')
  const log = readLog(store, meta.logEnd)
  let base = -1
  for (let p = 0; p < log.length && base < 0; p = header.end) { readHeader(log, p, log.length); if (header.id === 0) base = p }
  assert.ok(base > 0)
  const body = header.body
  assert.equal(log.readDoubleLE(body + 2), -1, 'the first INDEX record is a base')
  assert.equal(log[body + 18], 1, 'a dense base')
  let p = body + 19, m = 0, scale = 1
  for (;;) { const x = log[p++]; m += (x & 0x7f) * scale; scale *= 128; if (x < 0x80) break }
  const table = p + ((4 - (p % 4)) % 4)
  const id = meta.rootId + 1
  assert.ok(id < m)
  assert.notEqual(log.readUInt32LE(table + 4 * id), 0xffffffff)
  log.writeUInt32LE(base + 7, table + 4 * id)      // inside the INDEX record itself: no record there
  for (let k = Math.floor((table + 4 * id) / store.chunkSize), last = Math.floor((table + 4 * id + 3) / store.chunkSize); k <= last; k++) {
    store.write(k, log.subarray(k * store.chunkSize, Math.min(log.length, (k + 1) * store.chunkSize)))
  }
  store.setMeta(store.getMeta())
  await store.commitAsync()
  b.close()
  const warnings: string[] = []
  const onWarning = (w: Error): void => { warnings.push(w.message) }
  process.on('warning', onWarning)
  const c = Container.openRegion(copy(region.crash(1)), { lazy: true })
  await new Promise(resolve => setImmediate(resolve))
  process.off('warning', onWarning)
  assert.ok(c.fellBack !== null, 'found at the open')
  assert.ok(warnings.some(w => w.includes('is damaged')), 'the fall-back is reported (O1)')
  assert.match(c.fellBack.reason, new RegExp(`INDEX entry with impossible id ${id} or offset ${base + 7}`))
  assertSameGraph(c.unwrap(c.root), v1)
  await c.close()
})

test('log inv. 4: binary data restored lazily is its own memory, not a view of the log copy (a SharedArrayBuffer)', async () => {
  const region = simRegion()
  const init = () => ({ bytes: new Uint8Array([1, 2, 3, 4]), buf: Buffer.from('hello'), ab: new Uint8Array([9, 8, 7]).buffer, f: new Float64Array([1.5, -2]), text: 'x'.repeat(300) })
  const c = Container.openRegion(region, { chunkSize: 512, init })
  await c.persist()
  await c.close()
  const l = Container.openRegion<ReturnType<typeof init>>(copy(region.crash(1)), { lazy: true })
  const r = l.root
  for (const v of [r.bytes, r.buf, r.f]) {
    assert.ok(v.buffer instanceof ArrayBuffer, 'an ArrayBuffer')
    assert.equal(Object.prototype.toString.call(v.buffer), '[object ArrayBuffer]', 'not a SharedArrayBuffer')
  }
  assert.equal(Object.prototype.toString.call(r.ab), '[object ArrayBuffer]')
  assert.deepEqual([...r.bytes], [1, 2, 3, 4])
  assert.equal(r.buf.toString(), 'hello')
  assert.deepEqual([...r.f], [1.5, -2])
  assert.equal(r.text, 'x'.repeat(300))
  await l.close()
})

test('shells inv. 4: a large array\'s shell is empty until filled, then it has its length, holes and keys; lazily and fully restored', async () => {
  const n = ARRAY_SHELL_MAX + 5
  const dense = Array.from({ length: n }, (_, i) => i * 0.5)      // segmented
  const holey: unknown[] = Array.from({ length: n }, (_, i) => `s${i}`)      // an ARRAY record: holes, a named key, a hole at the end
  for (let i = 0; i < n; i += 1000) delete holey[i]
  delete holey[n - 1]
  ;(holey as unknown as { extra: string }).extra = 'x'
  const small = [1, , 3]      // eslint-disable-line no-sparse-arrays
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ dense, holey, small }) })
  await c.persist()
  await c.close()
  const b = regionBacking(copy(region.crash(1)), false)
  const meta = decodeMeta(b.store!.getMeta(), 'x')
  const log = readLog(b.store!, meta.logEnd)
  b.close()
  const r = new Restorer(log, meta.logEnd, meta.highWater, 'x', new ClassRegistry(), () => {})
  r.index()
  r.fillOne(meta.rootId)
  const root = r.objects[meta.rootId] as { dense: number[]; holey: unknown[]; small: unknown[] }
  assert.equal(root.dense.length, 0, 'the shell of an array of more than ARRAY_SHELL_MAX elements is empty')
  assert.equal(root.holey.length, 0)
  assert.equal(root.small.length, 3, 'a small array\'s shell has its length')
  for (const a of [root.dense, root.holey, root.small]) r.fillOne(r.objects.indexOf(a))
  assert.deepStrictEqual(root.dense, dense)
  assert.deepStrictEqual(root.holey, holey)
  assert.equal(0 in root.holey, false, 'holes stay holes')
  assert.equal(n - 1 in root.holey, false)
  assert.deepStrictEqual(root.small, small)
  for (const lazy of [true, false]) {
    const again = Container.openRegion(copy(region.crash(1)), { lazy })
    assertSameGraph(again.unwrap(again.root), { dense, holey, small })
    await again.close()
  }
})
