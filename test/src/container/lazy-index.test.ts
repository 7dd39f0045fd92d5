/**
 * The persisted index (log-offsets.ts, format version 3) and the lazy open that reads the
 * log on demand (lazy.ts inv. Z9, open.ts inv. O7): the index chain equals a scan of the
 * log after any sequence of points (X2; `check` compares them), an old file without one
 * opens through the scan (X4), damage in the index or in a chunk read late is a typed
 * error, never a wrong object (X3, Z9). Crashes at any flush with lazy reopens over
 * several lives are in lazy.test.ts and crash.test.ts (the index is written by every point).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { runs, simRegion } from './setup.js'
import { Container, type PointStats } from '../../../src/container/index.js'
import { CorruptionError, PmemError, SimRegion } from '../../../regions/index.js'
import { assertSameGraph, buildGraph, cloneGraph, graphRecipe, CLASSES } from './graph-kit.js'
import { history, opRecipe, runOps } from './mutate-kit.js'
import { compareLazy } from './lazy-kit.js'
import { regionBacking, fileBacking } from '../../../src/container/backing.js'
import { decodeMeta } from '../../../src/container/meta.js'
import { readLog } from '../../../src/container/log.js'
import { header, readHeader } from '../../../src/container/format.js'

const copy = (img: SimRegion): SimRegion => SimRegion.fromImage(img.durableImage(), { path: 'sim.pmc' })
const here = path.dirname(fileURLToPath(import.meta.url))

/** The newest version's metadata of a region image. */
function metaOf(img: SimRegion): ReturnType<typeof decodeMeta> {
  const b = regionBacking(copy(img), false)
  try { return decodeMeta(b.store!.getMeta(), 'x') } finally { b.close() }
}

test('X2: after any points (incremental, full, compactions) the index chain equals a scan of the log, and a lazy open through it is the full restore', async () => {
  await fc.assert(fc.asyncProperty(graphRecipe(8), fc.array(opRecipe(), { maxLength: 25 }), fc.constantFrom(1.2, 100), fc.nat(), async (recipe, ops, compactFactor, seed) => {
    history.length = 0
    const region = simRegion()
    const c = Container.openRegion(region, { init: () => buildGraph(recipe), classes: CLASSES, chunkSize: 512, keepVersions: 2, compactFactor })
    const points: Promise<PointStats>[] = []
    let last: unknown = null
    const point = (full: boolean): void => { last = cloneGraph(c.unwrap(c.root)); points.push(c.persist({ full })) }
    point(false)
    runOps(c, ops, point)
    await Promise.all(points)
    assert.deepEqual(c.check().problems, [], 'check compares the index with the scan')
    await c.close()
    const img = region.crash(seed)
    assert.ok(metaOf(img).indexAt > 0, 'every point of a format-3 container writes an index')
    const lazy = Container.openRegion(copy(img), { classes: CLASSES, lazy: true })
    compareLazy(lazy.root, last, seed)
    await lazy.close()
  }), { ...runs(15), includeErrorInReport: true })
})

/**
 * A container of `n` users in 512-byte chunks, two versions; the second changes user 0
 * only. A user's profile record (with its bio) is read when the user is decoded (to make
 * the profile's shell), not when the users array is.
 */
async function usersImage(n: number): Promise<{ img: SimRegion; v1: unknown; v2: unknown }> {
  const region = simRegion()
  const c = Container.openRegion(region, { chunkSize: 512, keepVersions: 3, init: () => ({ users: Array.from({ length: n }, (_, i) => ({ i, name: `u${i}`, profile: { bio: `user ${i} `.padEnd(40, '.') } })), v: 1 }) })
  await c.persist()
  const v1 = cloneGraph(c.unwrap(c.root))
  c.root.users[0].name = 'renamed'
  c.root.v = 2
  await c.persist()
  const v2 = cloneGraph(c.unwrap(c.root))
  await c.close()
  return { img: region.crash(1), v1, v2 }
}

test('Z9, O7: damage in a chunk the lazy open does not read is a CorruptionError at the touch that reads it (no fall-back); a full open finds it at open; check reports it', async () => {
  const { img, v2 } = await usersImage(300)
  const bytes = img.durableImage()
  const at = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).indexOf('user 150 ', 0, 'latin1')
  assert.ok(at > 0)
  bytes[at + 2] ^= 0x20      // a user's name, in the middle of the log: read only when that user is decoded
  const damaged = (): SimRegion => SimRegion.fromImage(bytes, { path: 'sim.pmc' })
  const l = Container.openRegion(damaged(), { lazy: true })
  assert.equal(l.fellBack, null, 'the open does not read the damaged chunk')
  assert.equal(l.root.v, 2)
  assert.equal(l.root.users[0].name, 'renamed')
  let thrown = 0
  for (let round = 0; round < 2; round++) {
    try { for (let i = 0; i < 300; i++) void l.root.users[i].profile.bio } catch (e) { assert.ok(e instanceof CorruptionError, String(e)); thrown++ }
  }
  assert.equal(thrown, 2, 'the damage is thrown at every touch that needs it')
  assert.equal(l.check().ok, false)
  await assert.rejects(async () => l.persist({ full: true }), CorruptionError)
  await l.close()
  // a full restore verifies every chunk at open: the chunk is in both versions, so no version is intact
  assert.throws(() => Container.openRegion(damaged()), CorruptionError)
  const clean = Container.openRegion(copy(img), { lazy: true })
  assertSameGraph(clean.unwrap(clean.root), v2)
})

test('Z9: closing a lazy container reads the rest of the log first: objects reached after close still decode, a damaged chunk still throws', async () => {
  const { img } = await usersImage(300)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-index-'))
  const file = path.join(dir, 'u.pmc')
  const init = () => ({ users: Array.from({ length: 300 }, (_, i) => ({ i, name: `u${i}`, profile: { bio: `user ${i} `.padEnd(40, '.') } })) })
  const w = Container.open(file, { init, chunkSize: 512 })
  await w.persist()
  await w.close()
  const c = Container.open<ReturnType<typeof init>>(file, { lazy: true })
  const users = c.root.users
  await c.close()      // a file's region is unmapped: what was not read before is gone
  assert.deepEqual(JSON.parse(JSON.stringify(users)), init().users)
  fs.rmSync(dir, { recursive: true, force: true })
  const bytes = img.durableImage()
  const at = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).indexOf('user 250 ', 0, 'latin1')
  bytes[at + 2] ^= 0x20
  const d = Container.openRegion(SimRegion.fromImage(bytes, { path: 'sim.pmc' }), { lazy: true })
  const root = d.root
  await d.close()
  assert.throws(() => { for (let i = 0; i < 300; i++) void root.users[i].profile.bio }, CorruptionError)
})

test('X3: an INDEX record changed with its checksums intact (a writer bug) is a typed error at the open or the touch, or names the same records: never a wrong object', async () => {
  const { img, v2 } = await usersImage(40)
  const region = copy(img)
  const b = regionBacking(region, false)
  const store = b.store!
  const meta = decodeMeta(store.getMeta(), 'x')
  const log = readLog(store, meta.logEnd)
  b.close()
  const records: Array<[number, number]> = []   // [start, end) of each INDEX record
  for (let p = 0; p < log.length; p = header.end) { readHeader(log, p, log.length); if (header.id === 0) records.push([p, header.end]) }
  assert.equal(records.length, 2, 'a base and a delta')
  await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: records.length - 1 }), fc.nat(), fc.integer({ min: 1, max: 255 }), async (which, where, mask) => {
    const [start, end] = records[which]
    const at = start + (where % (end - start))
    const r = copy(img)
    const bk = regionBacking(r, false)
    const s = bk.store!
    const buf = Buffer.from(log)
    buf[at] ^= mask
    const k = Math.floor(at / s.chunkSize)
    s.write(k, buf.subarray(k * s.chunkSize, Math.min(buf.length, (k + 1) * s.chunkSize)))
    s.setMeta(s.getMeta())
    await s.commitAsync()
    bk.close()
    let c: Container
    try { c = Container.openRegion(copy(r.crash(1)), { lazy: true }) } catch (e) { assert.ok(e instanceof PmemError, String(e)); return }
    if (c.fellBack !== null) { assert.equal(c.fellBack.to, 2); assertSameGraph(c.unwrap(c.root), v2); return }      // found at open: a reported fall-back (O1) to the same graph
    try { assertSameGraph(c.unwrap(c.root), v2) } catch (e) {
      assert.ok(e instanceof CorruptionError, `a wrong object, not a typed error: ${String(e)}`)
      assert.equal(c.check().ok, false)
    }
  }), { ...runs(60), examples: [[1, 26, 5]] })     // [1, 26, 5]: a delta entry's id changed, so the root kept the base's older record (X7 catches it)
})

/** The log of `img`'s newest version, and where entry `id` of its dense base lies in it. */
function denseEntry(img: SimRegion, id: number): { log: Buffer; at: number; chunkSize: number } {
  const b = regionBacking(copy(img), false)
  const store = b.store!
  const log = readLog(store, decodeMeta(store.getMeta(), 'x').logEnd)
  const chunkSize = store.chunkSize
  b.close()
  for (let p = 0; p < log.length; p = header.end) {
    readHeader(log, p, log.length)
    if (header.id !== 0 || log[header.body + 18] !== 1) continue
    let q = header.body + 19, m = 0, scale = 1
    for (let byte = 0x80; byte >= 0x80; scale *= 0x80) { byte = log[q++]; m += (byte & 0x7f) * scale }
    assert.ok(id < m)
    return { log, at: q + ((4 - (q % 4)) % 4) + 4 * id, chunkSize }
  }
  throw new Error('no dense base')
}

test('X6: a lazy open loads and checks the dense base group by group: damage in a group the open does not read is a CorruptionError at the touch that needs it (every time), not a fall-back; check reports it', async () => {
  const n = 1500      // about 3000 ids: three groups of 1024 entries, in many 512-byte chunks
  const { img, v2 } = await usersImage(n)
  const high = metaOf(img).highWater
  assert.ok(high > 2 * 1024)
  /** The damaged images for the middle entry of group `g`: its chunk's bytes changed on disk, and the entry past the log with checksums intact (X3's bounds). */
  const damaged = async (g: number): Promise<SimRegion[]> => {
    const { log, at, chunkSize } = denseEntry(img, g * 1024 + 512)
    const out: SimRegion[] = []
    const bytes = img.durableImage()
    const image = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
    const from = Math.max(at - 16, Math.floor(at / chunkSize) * chunkSize), window = log.subarray(from, from + 32)      // within the entry's chunk
    const phys = image.indexOf(window)
    if (phys > 0 && image.indexOf(window, phys + 1) < 0) {      // (not a chunk the second version copied)
      bytes[phys + at - from] ^= 0x04
      out.push(SimRegion.fromImage(bytes, { path: 'sim.pmc' }))
    }
    const bad = copy(img)
    const bk = regionBacking(bad, false)
    const s = bk.store!
    const changed = Buffer.from(log)
    changed.writeInt32LE(0x7fff_fff0, at)
    const k = Math.floor(at / chunkSize)
    s.write(k, changed.subarray(k * chunkSize, Math.min(changed.length, (k + 1) * chunkSize)))
    s.setMeta(s.getMeta())
    await s.commitAsync()
    bk.close()
    out.push(copy(bad.crash(1)))
    return out
  }
  let opened = 0
  for (let g = 0; g * 1024 + 512 < high; g++) {
    for (const region of await damaged(g)) {
      let l: Container
      try {
        l = Container.openRegion(region, { lazy: true })
        if (l.fellBack !== null || l.root.v !== 2) throw new Error('the open read the damaged group')
      } catch (e) { assert.ok(e instanceof CorruptionError || (e as Error).message === 'the open read the damaged group', String(e)); continue }      // a group the open needs
      opened++
      let thrown = 0
      for (let round = 0; round < 2; round++) {
        try { for (let i = 0; i < n; i++) void l.root.users[i].profile.bio } catch (e) { assert.ok(e instanceof CorruptionError, String(e)); thrown++ }
      }
      assert.equal(thrown, 2, 'the damage is thrown at every touch that needs it')
      assert.equal(l.check().ok, false)
      await l.close()
    }
  }
  assert.ok(opened >= 2, `the open read only the groups it needs (${opened} damaged images opened)`)
  const clean = Container.openRegion(copy(img), { lazy: true })
  assertSameGraph(clean.unwrap(clean.root), v2)
  await clean.close()
})

test('X4: a format-1 file opens lazily through the scan; its next incremental point writes no index, a full point writes a base the next lazy open reads', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-index-'))
  const file = path.join(dir, 'v1.pmc')
  fs.writeFileSync(file, zlib.gunzipSync(fs.readFileSync(path.join(here, '../../../../test/src/container/fixtures/v1-binary.pmc.gz'))))
  const indexAt = (): number => { const b = fileBacking(file, false, true); try { return decodeMeta(b.store!.getMeta(), file).indexAt } finally { b.close() } }
  assert.equal(indexAt(), -1)
  const full = Container.open<{ small: Uint8Array; pooled: Buffer }>(file)
  const want = cloneGraph(full.unwrap(full.root))
  await full.close()
  const c = Container.open<{ small: Uint8Array; pooled: Buffer; n?: number }>(file, { lazy: true })
  assert.equal(c.lazy?.state, 'lazy')
  assertSameGraph(c.unwrap(c.root), want)
  c.root.n = 1
  await c.persist()
  await c.close()
  assert.equal(indexAt(), -1, 'a delta needs a base: none is written on a log without one')
  const d = Container.open<{ n?: number }>(file, { lazy: true })
  d.root.n = 2
  await d.persist({ full: true })
  await d.close()
  assert.ok(indexAt() > 0, 'a full point writes a base')
  const e = Container.open<{ n?: number; small: Uint8Array }>(file, { lazy: true })
  assert.equal(e.root.n, 2)
  assert.deepEqual([...e.root.small], [1, 2, 3])
  assert.deepEqual(e.check().problems, [])
  await e.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('P2, X2: a streamed first point ends with a base listing every streamed record; the lazy open reads it', async () => {
  const region = simRegion(1 << 16)
  let streams = 0
  const stream = region.appendStream.bind(region)
  region.appendStream = (at, block) => { const st = stream(at, block); if (st !== null) streams++; return st }
  const c = Container.openRegion(region, { init: () => ({ pages: Array.from({ length: 4400 }, (_, i) => ({ i, text: String(i).padEnd(1000, '~') })) }), streamThreshold: 65536 })
  await c.persist()
  assert.equal(streams, 1, 'the point was streamed')
  const want = cloneGraph(c.unwrap(c.root))
  assert.deepEqual(c.check().problems, [])
  await c.close()
  const img = region.crash(3)
  assert.ok(metaOf(img).indexAt > 0)
  const l = Container.openRegion(copy(img), { lazy: true })
  compareLazy(l.root, want, 5)
})

test('X2: a dense base is read back exactly whatever its size and position (its table is padded to a multiple of 4 across header-length boundaries)', async () => {
  const { readIndex } = await import('../../../src/container/log-offsets.js')
  const { indexRecord } = await import('../../../src/container/index-record.js')
  const { LogIndex } = await import('../../../src/container/log-index.js')
  const { ByteWriter } = await import('../../../src/container/writer.js')
  fc.assert(fc.property(fc.array(fc.nat({ max: 300 }), { minLength: 1, maxLength: 160, size: 'max' }), fc.nat({ max: 7 }), (sizes, gap) => {
    const w = new ByteWriter(64)
    sizes.forEach((n, i) => { const at = w.beginRecord(i + 1 + gap); w.u8(1); w.varint(0); for (let k = 0; k < n; k++) w.u8(7); w.endRecord(at) })
    const records = w.view()
    const index = indexRecord({ parts: [records], length: records.length }, 0, -1)
    const log = Buffer.concat([records, ...index])
    const high = sizes.length + gap + 1
    const scan = new LogIndex(log, log.length, high, 't')
    scan.index()
    const idx = new LogIndex(log, log.length, high, 't', true)
    readIndex(idx, records.length, [], () => {})
    assert.deepEqual([...idx.offsets], [...scan.offsets])
  }), runs(300))
})

/** The ids `[from, to)` of the dense base in `log` whose entry is NONE (no record: free). */
function denseFree(img: SimRegion, from: number, to: number): number[] {
  const { log, at } = denseEntry(img, from)
  const out: number[] = []
  for (let id = from; id < to; id++) if (log.readUInt32LE(at + 4 * (id - from)) === 0xffff_ffff) out.push(id)
  return out
}

// Found reading what no test reached (session 7, coverage of lazy.ts): no test had a lazy
// open take free ids while groups of its dense base were still unchecked (lazy.ts freeIds).
test('Z4, X6: the new objects of a lazy open take free ids from unchecked groups of its dense base once they check, and none from a damaged group (its ids may have records)', async () => {
  const n = 2500      // about 5000 ids: five groups of 1024 entries
  const region = simRegion()
  const c = Container.openRegion(region, { chunkSize: 512, keepVersions: 3, init: () => ({ users: Array.from({ length: n }, (_, i) => ({ i, name: `u${i}`, profile: { bio: `user ${i} `.padEnd(40, '.') } })), v: 1 }) })
  await c.persist()
  c.root.users = c.root.users.filter((_: unknown, i: number) => i % 10 !== 3)      // free ids in every group
  await c.persist({ full: true })      // a dense base with their entries NONE
  const want = cloneGraph(c.unwrap(c.root)) as { users: unknown[]; v: number; extra?: unknown[] }
  await c.close()
  const img = region.crash(1)
  const high = metaOf(img).highWater
  assert.ok(high > 4 * 1024 + 200 && [1, 2, 3].every(g => denseFree(img, g * 1024, (g + 1) * 1024).length > 50), 'free ids in groups 1 to 3')
  let repaired = 0
  for (const [g, damaged] of [[1, false], [1, true], [2, true], [3, true]] as const) {
    // Damage the chunk of group g's entries (found by its bytes in the image: the base is never copied).
    const { log, at, chunkSize } = denseEntry(img, g * 1024 + 512)
    const bytes = img.durableImage()
    const image = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
    const from = Math.max(at - 16, Math.floor(at / chunkSize) * chunkSize), window = log.subarray(from, from + 32)
    const phys = image.indexOf(window)
    assert.ok(phys > 0 && image.indexOf(window, phys + 1) < 0)
    if (damaged) bytes[phys + at - from] ^= 0x04
    const sim = SimRegion.fromImage(bytes, { path: 'sim.pmc' })
    const l = Container.openRegion(sim, { lazy: true })
    if (l.fellBack !== null) { assert.ok(damaged); await l.close(); continue }      // a group the open reads (the base's tail shares its chunk)
    try {
      l.root.v = 3                                 // the root only: the other groups stay unchecked
    } catch (e) {
      assert.ok(damaged && e instanceof CorruptionError, String(e))      // the root references an object of the damaged group
      await l.close()
      continue
    }
    l.root.extra = Array.from({ length: 400 }, (_, i) => ({ fresh: i }))      // more new objects than group 0 has free ids
    await l.persist()
    await l.close()
    const after = sim.durableImage()
    if (damaged) { after[phys + at - from] ^= 0x04; repaired++ }      // repaired: now every record the file lists can be read
    for (const lazy of [false, true]) {
      const f = Container.openRegion(SimRegion.fromImage(after, { path: 'sim.pmc' }), { lazy })
      assert.equal(f.fellBack, null)
      assertSameGraph(f.unwrap(f.root), { ...want, v: 3, extra: Array.from({ length: 400 }, (_, i) => ({ fresh: i })) })
      assert.deepEqual(f.check().problems, [], `group ${g}${damaged ? ' damaged' : ''}, ${lazy ? 'lazy' : 'full'}`)
      await f.close()
    }
  }
  assert.ok(repaired >= 1, 'a damaged group the open did not need')
})

test('X2: an INDEX record built from the writers\' record lists (dense base or delta, lists of two writers) is byte for byte the one a scan of the same records builds', async () => {
  const { indexRecord } = await import('../../../src/container/index-record.js')
  const { ByteWriter, RecordList } = await import('../../../src/container/writer.js')
  const writer = (ids: number[], sizes: number[]) => {
    const w = new ByteWriter(64)
    w.track = new RecordList()
    ids.forEach((id, i) => { const at = w.beginRecord(id); w.u8(1); w.varint(0); for (let k = 0; k < sizes[i % sizes.length]; k++) w.u8(7); w.endRecord(at) })
    return w
  }
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 120 }), fc.array(fc.integer({ min: 1, max: 5000 }), { maxLength: 60 }),
    fc.array(fc.nat({ max: 300 }), { minLength: 1, maxLength: 20 }), fc.boolean(), (a, b, sizes, delta) => {
      const first = writer(a, sizes), second = writer(b, sizes)
      const parts = [first.view(), second.view()], length = first.length + second.length
      const base = delta ? 4096 : 0, prev = delta ? 100 : -1
      const listed = indexRecord({ parts, length, records: [{ list: first.track!, shift: 0 }, { list: second.track!, shift: first.length }] }, base, prev)
      const scanned = indexRecord({ parts, length }, base, prev)
      assert.deepEqual(Buffer.concat(listed), Buffer.concat(scanned))
    }), { numRuns: 200 })
})
