// Unit tests of the shadow-paging store (txn/shadow*.ts): every method, every error, and
// the invariants of txn/shadow.ts checked on small deterministic cases. Crash properties are
// in shadow-crash.test.ts, decoder fuzzing in shadow-fuzz.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  SimRegion, PmemError, InvalidArgumentError, OutOfRangeError, OutOfSpaceError, ReadOnlyError, RegionClosedError,
  NotARegionError, CorruptionError, UnsupportedVersionError, BrokenError, crc32c, Region, HEADER_SIZE,
} from '../../regions/index.js'
import type { RegionLike } from '../../regions/index.js'
import { ShadowStore } from '../../txn/shadow.js'
import { CommitInProgressError } from '../../txn/shadow-errors.js'
import { DATA_START, SLOT_SIZE, decodeSlot } from '../../txn/shadow-format.js'
import { pattern, sameBytes } from './shadow-model.js'
import { flakyFlushes } from '../regions/fixtures/helpers.js'

const CS = 512

function fresh(opts: { keepVersions?: number; size?: number; maxSize?: number; chunkSize?: number } = {}) {
  const sim = SimRegion.create({ size: opts.size ?? 16384, path: 'unit.pm', maxSize: opts.maxSize })
  const store = ShadowStore.create(sim, { chunkSize: opts.chunkSize ?? CS, keepVersions: opts.keepVersions })
  return { sim, store }
}

function assertOk(store: ShadowStore): void {
  const r = store.check()
  assert.deepEqual(r.problems, [])
  assert.equal(r.ok, true)
}

/** Physical offset of a chunk in the region, found by content (tests only). */
function findChunk(sim: SimRegion, content: Uint8Array): number {
  const bytes = sim.unsafeBytes()
  for (let o = DATA_START; o + CS <= sim.size; o += CS) if (sameBytes(bytes.subarray(o, o + CS), content)) return o
  throw new Error('chunk not found')
}

test('create formats an empty store at version 0, durable at once', () => {
  const { sim, store } = fresh()
  assert.equal(store.version, 0)
  assert.equal(store.chunkCount, 0)
  assert.equal(store.chunkSize, CS)
  assert.equal(store.keepVersions, 2)
  assert.equal(store.fellBack, null)
  assert.equal(store.readOnly, false)
  const [v0] = store.versions()
  assert.equal(v0!.version, 0)
  assert.equal(v0!.chunkCount, 0)
  assert.equal(v0!.bytes, 0)
  assert.deepEqual(v0!.meta, new Uint8Array(0))
  assert.deepEqual(sim.dirtySectors(), [])
  const again = ShadowStore.open(sim.crash(1))
  assert.equal(again.version, 0)
  assertOk(again)
})

test('create rejects bad options with typed errors and leaves the region unchanged', () => {
  const sim = SimRegion.create({ size: 16384 })
  sim.unsafeBytes().fill(7)
  const before = sim.volatileImage()
  for (const chunkSize of [0, 256, 1000, 3 * 512, 32 * 1024 * 1024, '4096', NaN]) {
    assert.throws(() => ShadowStore.create(sim, { chunkSize: chunkSize as number }), InvalidArgumentError)
  }
  for (const keepVersions of [0, 65, 1.5, -1]) {
    assert.throws(() => ShadowStore.create(sim, { chunkSize: CS, keepVersions }), InvalidArgumentError)
  }
  assert.throws(() => ShadowStore.create(sim, { chunkSize: CS, base: 100 }), InvalidArgumentError)
  assert.throws(() => ShadowStore.create(sim, { chunkSize: CS, growBy: 5 as unknown as () => void }), InvalidArgumentError)
  assert.throws(() => ShadowStore.create(sim, null as unknown as { chunkSize: number }), InvalidArgumentError)
  assert.throws(() => ShadowStore.create({} as RegionLike, { chunkSize: CS }), InvalidArgumentError)
  assert.deepEqual(sim.volatileImage(), before)
  const ro = SimRegion.create({ size: 16384, readOnly: true })
  assert.throws(() => ShadowStore.create(ro, { chunkSize: CS }), ReadOnlyError)
  const closed = SimRegion.create({ size: 16384 })
  closed.close()
  assert.throws(() => ShadowStore.create(closed, { chunkSize: CS }), RegionClosedError)
})

test('create grows a region too small for the slots, or fails with OutOfSpaceError', () => {
  const small = SimRegion.create({ size: 4096 })
  ShadowStore.create(small, { chunkSize: CS })
  assert.ok(small.size >= DATA_START)
  const capped = SimRegion.create({ size: 4096, maxSize: 4096 })
  assert.throws(() => ShadowStore.create(capped, { chunkSize: CS }), OutOfSpaceError)
})

test('open rejects regions that hold no store, a newer format, or only damage', () => {
  assert.throws(() => ShadowStore.open(SimRegion.create({ size: 16384 })), NotARegionError)
  assert.throws(() => ShadowStore.open(SimRegion.create({ size: 4096 })), NotARegionError)
  const { sim } = fresh()
  const newer = SimRegion.fromImage(sim.volatileImage())
  const dv = new DataView(newer.unsafeBytes().buffer)
  dv.setUint32(8, 2, true)
  dv.setUint32(12, 0, true)
  dv.setUint32(12, crc32c(newer.unsafeBytes().subarray(0, dv.getUint32(24, true))), true)
  assert.throws(() => ShadowStore.open(newer), UnsupportedVersionError)
  const flipped = SimRegion.fromImage(sim.volatileImage())
  flipped.unsafeBytes()[8] ^= 2 // damage, not a newer format: the checksum fails
  assert.throws(() => ShadowStore.open(flipped), CorruptionError)
  const damaged = SimRegion.fromImage(sim.volatileImage())
  damaged.unsafeBytes()[70] ^= 1
  assert.throws(() => ShadowStore.open(damaged), (e: unknown) => e instanceof CorruptionError && /unit\.pm|sim/.test(e.message))
  assert.throws(() => ShadowStore.open(sim, { version: -1 }), InvalidArgumentError)
  assert.throws(() => ShadowStore.open(sim, { version: 5 }), (e: unknown) => e instanceof InvalidArgumentError && /not retained/.test(e.message))
  assert.throws(() => ShadowStore.open(sim, null as unknown as object), InvalidArgumentError)
})

test('read gives zeros for holes, copies, and rejects bad chunk numbers', () => {
  const { store } = fresh()
  store.resize(3)
  assert.deepEqual(store.read(2), new Uint8Array(CS))
  const copy = store.read(1)
  copy[0] = 9
  assert.equal(store.read(1)[0], 0, 'read returns a copy')
  assert.throws(() => store.read(3), OutOfRangeError)
  assert.throws(() => store.read(-1), InvalidArgumentError)
  assert.throws(() => store.read(1.5), InvalidArgumentError)
  assert.throws(() => store.read('0' as unknown as number), InvalidArgumentError)
})

test('readInto copies what read gives (a prefix too), zeros for holes, and rejects bad targets', () => {
  const { store } = fresh()
  store.resize(3)
  store.write(1, pattern(CS, 7))
  store.commit()
  store.write(2, pattern(CS, 8))
  const out = new Uint8Array(3 * CS).fill(0xee)
  for (let k = 0; k < 3; k++) store.readInto(k, out, k * CS)
  assert.deepEqual(out.subarray(0, CS), new Uint8Array(CS))
  assert.deepEqual(out.subarray(CS, 2 * CS), store.read(1))
  assert.deepEqual(out.subarray(2 * CS), pattern(CS, 8), 'staged chunks are read-your-writes')
  const part = new Uint8Array(10)
  store.readInto(1, part, 0, 10)
  assert.deepEqual(part, pattern(CS, 7).subarray(0, 10))
  assert.throws(() => store.readInto(1, part, 1, 10), OutOfRangeError)
  assert.throws(() => store.readInto(1, new Uint8Array(2 * CS), 0, CS + 1), OutOfRangeError)
  assert.throws(() => store.readInto(1, [] as unknown as Uint8Array, 0), OutOfRangeError)
  assert.throws(() => store.readInto(3, out, 0), OutOfRangeError)
})

test('write is read-your-writes; a partial first write copies the old content', () => {
  const { store } = fresh()
  store.resize(4)
  store.write(2, pattern(CS, 1))
  store.commit()
  store.write(2, Uint8Array.of(1, 2, 3), 100)
  const want = pattern(CS, 1)
  want.set([1, 2, 3], 100)
  assert.deepEqual(store.read(2), want)
  store.write(2, Uint8Array.of(4), 0)
  want[0] = 4
  assert.deepEqual(store.read(2), want)
  store.write(3, Uint8Array.of(5), CS - 1)
  assert.equal(store.read(3)[CS - 1], 5)
  assert.equal(store.read(3)[0], 0)
  store.commit()
  assert.deepEqual(store.read(2), want)
  assertOk(store)
})

test('write rejects bad arguments with typed errors and changes nothing', () => {
  const { store } = fresh()
  store.resize(2)
  assert.throws(() => store.write(2, Uint8Array.of(1)), OutOfRangeError)
  assert.throws(() => store.write(0, Uint8Array.of(1, 2), CS - 1), OutOfRangeError)
  assert.throws(() => store.write(0, new Uint8Array(CS + 1)), OutOfRangeError)
  assert.throws(() => store.write(0, [1, 2] as unknown as Uint8Array), InvalidArgumentError)
  assert.throws(() => store.write(0, Uint8Array.of(1), -1), InvalidArgumentError)
  assert.throws(() => store.write(-1, Uint8Array.of(1)), InvalidArgumentError)
  store.write(1, new Uint8Array(0))
  assert.equal(store.stats().stagedChunks, 0, 'an empty write takes no chunk')
  assertOk(store)
})

test('inv. 1: staged writes never touch chunks of the committed version', () => {
  const { sim, store } = fresh()
  store.resize(100)
  for (let L = 0; L < 100; L += 3) store.write(L, pattern(CS, L))
  store.commit()
  const committed = sim.volatileImage()
  for (let L = 0; L < 100; L++) store.write(L, pattern(40, L + 1), L % 50)
  store.resize(10)
  store.resize(5000)
  store.write(4999, Uint8Array.of(1))
  // A process crash keeps every store: version 1 must still read exactly as committed.
  const after = ShadowStore.open(sim.processCrash())
  const before = ShadowStore.open(SimRegion.fromImage(committed))
  assert.equal(after.version, 1)
  for (let L = 0; L < 100; L++) assert.deepEqual(after.read(L), before.read(L))
  assertOk(after)
  assertOk(store)
})

test('inv. 7: resize grows with zeros, shrinking then growing never shows stale data', () => {
  const { store } = fresh()
  store.resize(200)
  for (let L = 0; L < 200; L++) store.write(L, pattern(CS, L))
  store.commit()
  store.resize(65)
  assert.equal(store.chunkCount, 65)
  store.resize(300)
  for (let L = 0; L < 300; L++) {
    assert.deepEqual(store.read(L), L < 65 ? pattern(CS, L) : new Uint8Array(CS), `chunk ${L}`)
  }
  store.commit()
  store.resize(0)
  store.resize(3)
  assert.deepEqual(store.read(0), new Uint8Array(CS))
  store.commit()
  assertOk(store)
  assert.throws(() => store.resize(-1), InvalidArgumentError)
  assert.throws(() => store.resize(2 ** 32), InvalidArgumentError)
})

test('resize across map depths keeps content (depth 0 -> 3 -> 0 -> 1)', () => {
  const { sim, store } = fresh()
  store.resize(1)
  store.write(0, pattern(CS, 9))
  store.commit()
  store.resize(64 * 64 + 5) // fan-out 64: three levels of map nodes
  store.write(64 * 64 + 4, pattern(CS, 10))
  store.commit()
  assert.deepEqual(store.read(0), pattern(CS, 9))
  store.resize(1)
  store.commit()
  store.resize(2)
  store.write(1, pattern(CS, 11))
  store.commit()
  const again = ShadowStore.open(sim.crash(3))
  assert.deepEqual(again.read(0), pattern(CS, 9))
  assert.deepEqual(again.read(1), pattern(CS, 11))
  assertOk(again)
})

test('setMeta and getMeta: read-your-writes, stored per version, same bytes cost nothing', () => {
  const { sim, store } = fresh({ keepVersions: 3 })
  assert.deepEqual(store.getMeta(), new Uint8Array(0))
  store.setMeta(Uint8Array.of(1, 2))
  assert.deepEqual(store.getMeta(), Uint8Array.of(1, 2))
  store.commit()
  store.setMeta(Uint8Array.of(1, 2))
  assert.equal(store.stats().stagedChunks, 0)
  store.commit()
  store.setMeta(new Uint8Array(512).fill(3))
  store.commit()
  assert.deepEqual(store.versions().map(v => v.meta.length), [2, 2, 512])
  assert.equal(store.versions()[1]!.bytes, 0, 'an unchanged meta is not rewritten')
  store.setMeta(new Uint8Array(0))
  store.commit()
  assert.deepEqual(ShadowStore.open(sim.crash(2)).getMeta(), new Uint8Array(0))
  assert.throws(() => store.setMeta(new Uint8Array(513)), InvalidArgumentError)
  assert.throws(() => store.setMeta('x' as unknown as Uint8Array), InvalidArgumentError)
  assertOk(store)
})

test('inv. 2: a commit costs two flushes (chunks, then the slot); an empty one costs one', () => {
  const { sim, store } = fresh()
  store.resize(1)
  store.write(0, Uint8Array.of(1))
  const f0 = sim.flushCount
  assert.equal(store.commit(), 1)
  assert.equal(sim.flushCount - f0, 2)
  assert.equal(store.commit(), 2)
  assert.equal(sim.flushCount - f0, 3)
  assert.deepEqual(sim.dirtySectors(), [], 'everything durable when commit returns')
  assert.deepEqual(store.versions().map(v => v.version), [1, 2])
})

test('inv. 3: version v is written into slot v % 2 only', () => {
  const { sim, store } = fresh()
  for (let v = 1; v <= 4; v++) {
    const before = sim.volatileImage()
    store.commit()
    const other = (v + 1) % 2
    assert.deepEqual(sim.volatileImage().subarray(other * SLOT_SIZE, (other + 1) * SLOT_SIZE), before.subarray(other * SLOT_SIZE, (other + 1) * SLOT_SIZE))
    const d = decodeSlot(sim.volatileImage().subarray(v % 2 * SLOT_SIZE, (v % 2 + 1) * SLOT_SIZE), v % 2)
    assert.ok(d.ok && d.slot.descs[0]!.version === v)
  }
})

test('keepVersions: versions() lists the window; older retained versions open read-only', () => {
  const { sim, store } = fresh({ keepVersions: 3 })
  store.resize(2)
  for (let i = 1; i <= 5; i++) { store.write(0, pattern(CS, i)); store.setMeta(Uint8Array.of(i)); store.commit() }
  assert.deepEqual(store.versions().map(v => v.version), [3, 4, 5])
  assert.deepEqual(store.versions().map(v => v.meta[0]), [3, 4, 5])
  assert.ok(store.versions().every(v => typeof v.time === 'number' && v.chunkCount === 2 && v.bytes > 0))
  const old = ShadowStore.open(sim, { version: 3 })
  assert.equal(old.readOnly, true)
  assert.equal(old.version, 3)
  assert.deepEqual(old.read(0), pattern(CS, 3))
  assert.deepEqual(old.getMeta(), Uint8Array.of(3))
  assert.throws(() => old.write(0, Uint8Array.of(1)), ReadOnlyError)
  assert.throws(() => old.resize(1), ReadOnlyError)
  assert.throws(() => old.setMeta(Uint8Array.of(1)), ReadOnlyError)
  assert.throws(() => old.commit(), ReadOnlyError)
  assert.throws(() => ShadowStore.open(sim, { version: 2 }), InvalidArgumentError)
  assertOk(old)
})

test('a read-only region gives a read-only store', () => {
  const { sim, store } = fresh()
  store.resize(1)
  store.write(0, Uint8Array.of(5))
  store.commit()
  const ro = SimRegion.fromImage(sim.volatileImage(), { readOnly: true })
  const s = ShadowStore.open(ro)
  assert.equal(s.readOnly, true)
  assert.equal(s.read(0)[0], 5)
  assert.throws(() => s.write(0, Uint8Array.of(1)), ReadOnlyError)
  return assert.rejects(s.commitAsync(), ReadOnlyError)
})

test('abort drops staged writes, resizes and meta, and frees their chunks (inv. 8)', () => {
  const { store } = fresh()
  store.resize(3)
  store.write(1, pattern(CS, 1))
  store.setMeta(Uint8Array.of(7))
  store.commit()
  const free = store.stats().freeChunks
  store.write(1, pattern(CS, 2))
  store.resize(500)
  store.write(499, Uint8Array.of(1))
  store.setMeta(Uint8Array.of(8))
  store.abort()
  assert.equal(store.chunkCount, 3)
  assert.deepEqual(store.read(1), pattern(CS, 1))
  assert.deepEqual(store.getMeta(), Uint8Array.of(7))
  assert.equal(store.stats().stagedChunks, 0)
  assert.equal(store.stats().freeChunks, free)
  assertOk(store)
})

test('free space: the region grows on demand, and growBy is asked when given', () => {
  const { sim, store } = fresh({ size: 8192 })
  store.resize(50)
  for (let L = 0; L < 50; L++) store.write(L, pattern(CS, L))
  store.commit()
  assert.ok(sim.size >= DATA_START + 51 * CS)
  const asked: number[] = []
  const sim2 = SimRegion.create({ size: 8192 })
  const s2 = ShadowStore.create(sim2, { chunkSize: CS, growBy: n => { asked.push(n); sim2.grow(sim2.size + n) } })
  s2.resize(1)
  s2.write(0, Uint8Array.of(1))
  assert.ok(asked.length === 1 && asked[0]! >= CS)
  const reopened = ShadowStore.open(sim2, { growBy: () => { throw new Error('disk full') } })
  reopened.resize(100)
  assert.throws(() => { for (let L = 0; L < 100; L++) reopened.write(L, Uint8Array.of(1)) },
    (e: unknown) => e instanceof OutOfSpaceError && /disk full/.test(e.message))
})

test('OutOfSpaceError when the region cannot grow, with nothing changed', () => {
  const { sim, store } = fresh({ size: 8192 + 8 * CS, maxSize: 8192 + 8 * CS })
  store.resize(20)
  let written = 0
  assert.throws(() => { for (let L = 0; L < 20; L++) { store.write(L, pattern(CS, L)); written++ } }, OutOfSpaceError)
  assert.equal(sim.size, 8192 + 8 * CS)
  for (let L = 0; L < written; L++) assert.deepEqual(store.read(L), pattern(CS, L))
  assert.deepEqual(store.read(written), new Uint8Array(CS), 'the failed write left nothing')
  assertOk(store)
  assert.throws(() => store.resize(5000), OutOfSpaceError)
  assert.equal(store.chunkCount, 20)
  assertOk(store)
  store.abort()
  store.resize(2)
  store.write(0, Uint8Array.of(1))
  assert.equal(store.commit(), 1)
})

test('inv. 1 and 6: chunks of versions that left the window are reused; space stays bounded', () => {
  const { store } = fresh({ keepVersions: 1 })
  store.resize(10)
  for (let i = 0; i < 300; i++) {
    store.write(i % 10, pattern(CS, i))
    store.commit()
  }
  // 10 data chunks + 1 map node per version, one retained version plus one being built.
  assert.ok(store.stats().physicalChunks <= 2 * 11 + 16, `physical chunks ${store.stats().physicalChunks}`)
  assertOk(store)
})

test('inv. 4: a damaged data chunk gives CorruptionError naming the region, chunk and version', () => {
  const { sim, store } = fresh()
  store.resize(5)
  store.write(3, pattern(CS, 3))
  store.commit()
  const off = findChunk(sim, pattern(CS, 3))
  const img = SimRegion.fromImage(sim.volatileImage(), { path: 'damaged.pm' })
  img.unsafeBytes()[off + 17] ^= 0x40
  const s = ShadowStore.open(img)
  assert.equal(s.fellBack, null)
  assert.throws(() => s.read(3), (e: unknown) => e instanceof CorruptionError &&
    /"damaged\.pm"/.test(e.message) && /logical chunk 3/.test(e.message) && /version 1/.test(e.message))
  assert.throws(() => s.readInto(3, new Uint8Array(CS), 0, 4), CorruptionError, 'readInto verifies the whole chunk, even for a prefix')
  assert.throws(() => s.write(3, Uint8Array.of(1), 5), CorruptionError, 'a partial write never copies damage')
  assert.equal(s.stats().stagedChunks, 0)
  const r = s.check()
  assert.equal(r.ok, false)
  assert.match(r.problems.join('\n'), /logical chunk 3 .*checksum/)
  s.write(3, pattern(CS, 4))
  assert.deepEqual(s.read(3), pattern(CS, 4), 'a whole-chunk write replaces a damaged chunk')
})

test('inv. 5: a damaged newest slot falls back to the previous version with fellBack set', () => {
  const { sim, store } = fresh()
  store.resize(1)
  store.write(0, Uint8Array.of(1))
  store.commit()
  store.write(0, Uint8Array.of(2))
  store.commit()
  const img = SimRegion.fromImage(sim.volatileImage())
  img.unsafeBytes()[SLOT_SIZE * 0 + 20] ^= 1 // version 2 lives in slot 0
  const s = ShadowStore.open(img)
  assert.equal(s.version, 1)
  assert.equal(s.read(0)[0], 1)
  assert.equal(s.fellBack?.from, 2)
  assert.match(s.fellBack!.reason, /slot 0/)
  assertOk(s)
  s.write(0, Uint8Array.of(3))
  assert.equal(s.commit(), 2, 'the next commit goes into the damaged slot')
  const t = ShadowStore.open(img)
  assert.equal(t.fellBack, null)
  assert.equal(t.read(0)[0], 3)
})

test('inv. 5: a damaged map node of the newest version falls back to the previous one', () => {
  const { sim, store } = fresh()
  store.resize(100) // depth 2 with fan-out 64
  store.write(70, pattern(CS, 70))
  store.commit()
  store.write(70, pattern(CS, 71))
  store.commit()
  // Damage every chunk written by version 2 except its data chunk: the map nodes.
  const img = SimRegion.fromImage(sim.volatileImage())
  const bytes = img.unsafeBytes()
  const data = findChunk(sim, pattern(CS, 71))
  const v1 = ShadowStore.open(sim, { version: 1 })
  assert.deepEqual(v1.read(70), pattern(CS, 70))
  for (let o = DATA_START; o + CS <= img.size; o += CS) {
    if (o !== data && bytes.subarray(o, o + CS).some(b => b !== 0)) bytes[o + 3] ^= 0x10
  }
  assert.throws(() => ShadowStore.open(img), CorruptionError, 'every node damaged: nothing valid')
  // Only the newest root: restore all, damage just version 2's root.
  const img2 = SimRegion.fromImage(sim.volatileImage())
  const slot = decodeSlot(img2.unsafeBytes().slice(0, SLOT_SIZE), 0)
  assert.ok(slot.ok)
  img2.unsafeBytes()[DATA_START + slot.slot.descs[0]!.root * CS] ^= 1
  const s = ShadowStore.open(img2)
  assert.equal(s.version, 1)
  assert.deepEqual(s.read(70), pattern(CS, 70))
  assert.equal(s.fellBack?.from, 2)
  assert.match(s.fellBack!.reason, /fails its checksum/)
})

test('commitAsync: seals at the call, later writes go to the next batch, commits chain', async () => {
  const { sim, store } = fresh()
  store.resize(2)
  store.write(0, Uint8Array.of(1))
  const p1 = store.commitAsync()
  store.write(0, Uint8Array.of(2))
  assert.equal(store.read(0)[0], 2)
  assert.throws(() => store.commit(), CommitInProgressError)
  const p2 = store.commitAsync()
  store.write(1, Uint8Array.of(3))
  assert.equal(store.version, 0)
  assert.deepEqual(await Promise.all([p1, p2]), [1, 2])
  assert.equal(store.version, 2)
  assert.equal(ShadowStore.open(sim, { version: 1 }).read(0)[0], 1)
  assert.equal(ShadowStore.open(sim.crash(5)).read(0)[0], 2)
  assert.equal(store.commit(), 3)
  assert.equal(ShadowStore.open(sim.crash(6)).read(1)[0], 3)
  assertOk(store)
})

test('a failed flush breaks the store: every later call throws BrokenError', async () => {
  const sim = SimRegion.create({ size: 16384 })
  let fail = false
  const flaky: RegionLike = flakyFlushes(sim, () => fail)
  const store = ShadowStore.create(flaky, { chunkSize: CS })
  store.resize(1)
  store.write(0, Uint8Array.of(1))
  fail = true
  assert.throws(() => store.commit(), (e: unknown) => e instanceof BrokenError && /EIO/.test(e.message))
  assert.throws(() => store.read(0), BrokenError)
  await assert.rejects(store.commitAsync(), BrokenError)
  fail = false
  const again = ShadowStore.open(sim)
  assert.equal(again.version, 0, 'recovery returns the last durable version')
  const s2 = ShadowStore.open(flaky)
  s2.resize(1)
  fail = true
  await assert.rejects(s2.commitAsync(), BrokenError)
  assert.throws(() => s2.resize(2), BrokenError)
})

test('a closed region makes every call throw RegionClosedError', () => {
  const { sim, store } = fresh()
  sim.close()
  for (const f of [() => store.read(0), () => store.write(0, Uint8Array.of(1)), () => store.resize(1), () => store.commit(),
    () => store.versions(), () => store.check(), () => store.abort(), () => store.getMeta()]) {
    assert.throws(f, RegionClosedError)
  }
  assert.throws(() => ShadowStore.open(sim), RegionClosedError)
})

test('base: a store can live after other data in the region and leaves it alone', () => {
  const sim = SimRegion.create({ size: 32768 })
  sim.unsafeBytes().fill(0xab, 0, 8192)
  const store = ShadowStore.create(sim, { chunkSize: CS, base: 8192 })
  store.resize(30)
  for (let L = 0; L < 30; L++) store.write(L, pattern(CS, L))
  store.commit()
  assert.ok(sim.unsafeBytes().subarray(0, 8192).every(b => b === 0xab))
  assert.throws(() => ShadowStore.open(sim), NotARegionError)
  const again = ShadowStore.open(sim, { base: 8192 })
  assert.deepEqual(again.read(29), pattern(CS, 29))
  assertOk(again)
})

test('chunk size 4096 (fan-out 512) works across depths', () => {
  const { sim, store } = fresh({ chunkSize: 4096, size: 65536 })
  store.resize(513)
  store.write(512, pattern(4096, 1))
  store.write(0, pattern(100, 2), 3000)
  store.commit()
  const again = ShadowStore.open(sim.crash(9))
  assert.deepEqual(again.read(512), pattern(4096, 1))
  assert.deepEqual(again.read(0).subarray(3000, 3100), pattern(100, 2))
  assertOk(again)
})

test('every error thrown on purpose is a PmemError with a code', () => {
  const { store } = fresh()
  try { store.read(0) } catch (e) {
    assert.ok(e instanceof PmemError)
    assert.equal((e as PmemError).code, 'ERR_PMEM_OUT_OF_RANGE')
  }
  assert.equal(new CommitInProgressError('x').code, 'ERR_PMEM_COMMIT_IN_PROGRESS')
})

test('inv. 5: an older retained version with a damaged map is dropped at open, the newer ones kept', () => {
  const { sim, store } = fresh({ keepVersions: 3 })
  store.resize(100)
  for (let v = 1; v <= 3; v++) { store.write(70, pattern(CS, v)); store.commit() }
  const img = SimRegion.fromImage(sim.volatileImage())
  const slot = decodeSlot(img.unsafeBytes().slice(SLOT_SIZE, 2 * SLOT_SIZE), 1)
  assert.ok(slot.ok)
  assert.deepEqual(slot.slot.descs.map(d => d.version), [3, 2, 1])
  img.unsafeBytes()[DATA_START + slot.slot.descs[2]!.root * CS + 1] ^= 4 // version 1's own root node
  const s = ShadowStore.open(img)
  assert.equal(s.version, 3)
  assert.equal(s.fellBack, null)
  assert.deepEqual(s.droppedVersions.map(d => d.version), [1])
  assert.match(s.droppedVersions[0]!.reason, /fails its checksum/)
  assert.deepEqual(s.versions().map(v => v.version), [2, 3])
  assert.deepEqual(ShadowStore.open(img, { version: 2 }).read(70), pattern(CS, 2))
  assertOk(s)
  s.write(70, pattern(CS, 4))
  s.commit()
  assertOk(s)
})

test('stats counts physical, free and staged chunks and retained versions', () => {
  const { store } = fresh({ keepVersions: 2 })
  assert.deepEqual(store.stats(), { physicalChunks: (16384 - DATA_START) / CS, freeChunks: (16384 - DATA_START) / CS, stagedChunks: 0, retainedVersions: 1 })
  store.resize(2)
  store.write(0, Uint8Array.of(1))
  store.write(1, Uint8Array.of(1))
  assert.equal(store.stats().stagedChunks, 3, 'two data chunks and one map node')
  store.commit()
  assert.equal(store.stats().stagedChunks, 0)
  assert.equal(store.stats().retainedVersions, 2)
  assert.equal(store.stats().freeChunks, store.stats().physicalChunks - 3)
})

test('adopt: chunks an append stream wrote past the end become the batch\'s chunks, old ones kept for their versions', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shadow-adopt-'))
  const file = path.join(dir, 'a.pm')
  const region = Region.open(file, { size: 16384 })
  try {
    const store = ShadowStore.create(region, { chunkSize: CS, keepVersions: 3 })
    assert.equal(store.appendTarget() === null, false)
    store.resize(3)
    for (let k = 0; k < 3; k++) store.write(k, pattern(CS, 100 + k))
    const v1 = store.commit()
    // The next version rewrites chunks 0..4 from bytes written by the flush thread.
    const plan = store.appendTarget()!
    assert.ok(plan.phys >= store.stats().physicalChunks)
    const data = new Uint8Array(4 * CS + 100)
    for (let k = 0; k < 5; k++) data.set(pattern(k < 4 ? CS : 100, 200 + k), k * CS)
    const s = region.appendStream(plan.offset, CS)!
    s.write(data.subarray(0, 700)); s.write(data.subarray(700))
    const crcs = (await s.end())!
    assert.equal(crcs.length, 5)
    assert.throws(() => store.adopt(0, plan.phys - 1, crcs), InvalidArgumentError)
    assert.throws(() => store.adopt(-1, plan.phys, crcs), OutOfRangeError)
    store.adopt(0, plan.phys, crcs)                  // also grows the store from 3 to 5 chunks
    assert.equal(store.chunkCount, 5)
    assert.throws(() => store.adopt(0, plan.phys + 5, crcs), InvalidArgumentError, 'already staged')
    store.write(4, pattern(60, 250), 100)           // a write after adoption: its checksum is recomputed
    const expect = (k: number): Uint8Array => {
      if (k < 4) return pattern(CS, 200 + k)
      const c = new Uint8Array(CS); c.set(pattern(100, 204)); c.set(pattern(60, 250), 100); return c
    }
    for (let k = 0; k < 5; k++) assert.ok(sameBytes(store.read(k), expect(k)), `staged chunk ${k}`)
    const v2 = store.commit()
    assertOk(store)
    region.close()
    const again = Region.open(file)
    const reopened = ShadowStore.open(again, {})
    assert.equal(reopened.version, v2)
    for (let k = 0; k < 5; k++) assert.ok(sameBytes(reopened.read(k), expect(k)), `durable chunk ${k}`)
    assertOk(reopened)
    const old = ShadowStore.open(again, { version: v1 })
    for (let k = 0; k < 3; k++) assert.ok(sameBytes(old.read(k), pattern(CS, 100 + k)), `version ${v1} keeps chunk ${k}`)
    again.close()
  } finally {
    if (!region.closed) region.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('adopt: one chunk (a map of depth 0) and many (several leaf nodes), checked after a reopen', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shadow-adopt-'))
  try {
    for (const n of [1, 150]) {                 // 512-byte chunks: 64 entries per node, so 150 chunks take 3 leaves
      const file = path.join(dir, `n${n}.pm`)
      const region = Region.open(file, { size: 16384 })
      const store = ShadowStore.create(region, { chunkSize: CS })
      const plan = store.appendTarget()!
      const s = region.appendStream(plan.offset, CS)!
      for (let k = 0; k < n; k++) s.write(pattern(CS, 1000 + k))
      store.adopt(0, plan.phys, (await s.end())!)
      assert.equal(store.chunkCount, n)
      store.commit()
      assertOk(store)
      region.close()
      const again = Region.open(file)
      const reopened = ShadowStore.open(again, {})
      for (let k = 0; k < n; k++) assert.ok(sameBytes(reopened.read(k), pattern(CS, 1000 + k)), `n=${n}: chunk ${k}`)
      assertOk(reopened)
      again.close()
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('adopt: a chunk adopted, dropped by a shrink and adopted again in the same batch keeps its new bytes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shadow-adopt-'))
  try {
    const file = path.join(dir, 'a.pm')
    const region = Region.open(file, { size: 16384 })
    const store = ShadowStore.create(region, { chunkSize: CS })
    const adopt = async (L: number, seeds: number[]): Promise<void> => {
      const plan = store.appendTarget()!
      const s = region.appendStream(plan.offset, CS)!
      for (const seed of seeds) s.write(pattern(CS, seed))
      store.adopt(L, plan.phys, (await s.end())!)
    }
    await adopt(0, [10, 11, 12, 13])
    store.resize(3)                                  // drops chunk 3 from the adopted run
    await adopt(3, [23])                             // and adopts it again from a second stream
    assert.ok(sameBytes(store.read(3), pattern(CS, 23)), 'staged chunk 3')
    store.commit()
    region.close()
    const again = Region.open(file)
    const reopened = ShadowStore.open(again, {})
    assert.equal(reopened.chunkCount, 4)
    for (const [k, seed] of [[0, 10], [1, 11], [2, 12], [3, 23]] as const) assert.ok(sameBytes(reopened.read(k), pattern(CS, seed)), `durable chunk ${k}`)
    assertOk(reopened)
    again.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('viewPrefix: chunks in one physical run are one verified view of the region (no copy); a gap is null; a damaged chunk is CorruptionError; a bad end is OutOfRangeError', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shadow-view-'))
  try {
    for (const n of [1, 150]) {                 // a map of depth 0, and one of three leaves (64 entries per node)
      const file = path.join(dir, `v${n}.pm`)
      const region = Region.open(file, { size: 16384 })
      const store = ShadowStore.create(region, { chunkSize: CS, keepVersions: 3 })
      const plan = store.appendTarget()!
      const s = region.appendStream(plan.offset, CS)!
      for (let k = 0; k < n; k++) s.write(pattern(CS, 3000 + k))
      store.adopt(0, plan.phys, (await s.end())!)
      store.commit()
      region.close()
      const end = n * CS - 33
      const expect = new Uint8Array(end)
      for (let k = 0; k < n; k++) expect.set(pattern(CS, 3000 + k).subarray(0, Math.min(CS, end - k * CS)), k * CS)
      const again = Region.open(file)
      const reopened = ShadowStore.open(again, {})
      const view = reopened.viewPrefix(end)!
      assert.ok(view !== null, `n=${n}: one run`)
      assert.ok(sameBytes(view, expect), `n=${n}: the view holds the chunks' bytes`)
      assert.equal(view.buffer, again.unsafeBytes().buffer, 'a view of the region, not a copy')
      assert.throws(() => reopened.viewPrefix(n * CS + 1), OutOfRangeError)
      assert.throws(() => reopened.viewPrefix(0), OutOfRangeError)
      if (n > 1) {
        reopened.write(70, pattern(CS, 9))         // copy-on-write: chunk 70 moves out of the run
        reopened.commit()
        assert.equal(reopened.viewPrefix(end), null, 'a chunk out of the run: null (read with readInto)')
        assert.ok(sameBytes(reopened.viewPrefix(70 * CS)!, expect.subarray(0, 70 * CS)), 'the run before it is still one view')
      }
      again.close()
      // damage one byte of the last chunk of the run (inv. 4): the view is refused at once, its bytes never seen
      const last = Math.min(n, 70) - 1
      const fd = fs.openSync(file, 'r+')
      const at = HEADER_SIZE + reopened.base + DATA_START + (plan.phys + last) * CS + 5
      const b = Buffer.alloc(1); fs.readSync(fd, b, 0, 1, at); b[0] ^= 0x10; fs.writeSync(fd, b, 0, 1, at)
      fs.closeSync(fd)
      const damaged = Region.open(file)
      assert.throws(() => ShadowStore.open(damaged, {}).viewPrefix((last + 1) * CS), CorruptionError)
      damaged.close()
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
