// Property tests of the shadow store against the crash simulator (DESIGN.md s.2): random
// operation sequences, crash images at flush points (every image for short runs), damage
// beyond the model. After any crash, open must give exactly the last committed version or
// the one being committed, never a mix, with every retained version intact (inv. 1-8).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { SimRegion, PmemError, CorruptionError } from '../../regions/index.js'
import { ShadowStore } from '../../txn/shadow.js'
import { SLOT_SIZE, SLOT_HEADER, DESC_SIZE } from '../../txn/shadow-format.js'
import { Model, applyOp, assertContent, opsArb, pattern, sameBytes, type Op, type Snap } from './shadow-model.js'

const CS = 512
fc.configureGlobal({ includeErrorInReport: true })
const keepArb = fc.constantFrom(1, 2, 3, 12) // 12 retained versions: the slot spans two sectors and can tear

interface Run {
  sim: SimRegion
  store: ShadowStore
  snaps: Map<number, Snap>
  durable: number
}

/** Runs `ops` with synchronous commits; `take` is called at every flush with the versions a crash there may show. */
function run(ops: Op[], keep: number, take?: (sim: SimRegion, ok: number[]) => void): Run {
  // With many retained versions the slot spans two sectors and can tear: get there first.
  if (keep > 9) ops = [...Array.from({ length: keep - 1 }, () => ({ kind: 'commit' as const })), ...ops]
  const sim = SimRegion.create({ size: 8192 + 4096, path: 'crash.pm' })
  const store = ShadowStore.create(sim, { chunkSize: CS, keepVersions: keep })
  const model = new Model(CS)
  const snaps = new Map<number, Snap>([[0, model.snapshot()]])
  let durable = 0
  let pending: number | null = null
  if (take) sim.onFlush = () => take(sim, pending === null ? [durable] : [durable, pending])
  for (const op of ops) {
    if (applyOp(store, model, op, () => snaps.get(durable)!)) continue
    pending = durable + 1
    snaps.set(pending, model.snapshot())
    assert.equal(store.commit(), pending)
    durable = pending
    pending = null
  }
  sim.onFlush = undefined
  return { sim, store, snaps, durable }
}

/**
 * Opens a crash image and checks it: a version in `ok`, its exact content, the retention
 * window intact and exact, a clean validator; with `further`, goes on writing and
 * committing and checks that no retained chunk was reused (inv. 1 after recovery).
 */
function verifyImage(img: SimRegion, ok: number[], snaps: Map<number, Snap>, keep: number, further: boolean): void {
  const s = ShadowStore.open(img)
  assert.ok(ok.includes(s.version), `opened version ${s.version}, expected one of ${ok}`)
  assertContent(s, snaps.get(s.version)!, 'newest')
  const window = s.versions().map(v => v.version)
  const lo = Math.max(0, s.version - keep + 1)
  assert.deepEqual(window, Array.from({ length: s.version - lo + 1 }, (_, i) => lo + i), 'retention window')
  for (const v of window) {
    if (v !== s.version) assertContent(ShadowStore.open(img, { version: v }), snaps.get(v)!, `retained ${v}`)
  }
  const c = s.check()
  assert.deepEqual(c.problems, [])
  if (!further) return
  const opened = s.version
  s.resize(Math.max(s.chunkCount, 3))
  for (let L = 0; L < s.chunkCount; L += 2) s.write(L, pattern(CS, L + 99))
  assert.equal(s.commit(), opened + 1)
  for (const v of window) {
    if (v >= opened + 2 - keep) assertContent(ShadowStore.open(img, { version: v }), snaps.get(v)!, `retained ${v} after a new commit`)
  }
  assert.deepEqual(s.check().problems, [])
}

test('inv. 1-3, 5: a random crash image at every flush point recovers the last committed or the committing version', () => {
  fc.assert(fc.property(opsArb(CS, 300, 40), keepArb, fc.integer(), (ops, keep, seed) => {
    const images: Array<{ img: SimRegion; ok: number[] }> = []
    let n = 0
    const r = run(ops, keep, (sim, ok) => images.push({ img: sim.crash(seed + n++), ok }))
    images.push({ img: r.sim.crash(seed - 1), ok: [r.durable] })
    images.push({ img: r.sim.processCrash(), ok: [r.durable] })
    assert.deepEqual(r.store.check().problems, [])
    images.forEach(({ img, ok }, i) => verifyImage(img, ok, r.snaps, keep, i % 4 === 0))
  }), { numRuns: 400 })
})

test('inv. 1-3, 5: every crash image at every flush point of short runs', () => {
  fc.assert(fc.property(opsArb(CS, 150, 12), keepArb, (ops, keep) => {
    const images: Array<{ img: SimRegion; ok: number[] }> = []
    const r = run(ops, keep, (sim, ok) => { for (const img of sim.crashImages({ max: 64, seed: 7 })) images.push({ img, ok }) })
    for (const img of r.sim.crashImages({ max: 16 })) images.push({ img, ok: [r.durable] })
    for (const { img, ok } of images) verifyImage(img, ok, r.snaps, keep, false)
  }), { numRuns: 150 })
})

test('inv. 1-3, 7: deep maps (three node levels) survive crashes while growing and shrinking', () => {
  const deep = fc.array(fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), at: fc.nat(), offset: fc.constant(0), len: fc.constant(CS), seed: fc.nat(255) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('resize' as const), n: fc.integer({ min: 4090, max: 4300 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('resize' as const), n: fc.nat({ max: 200 }) }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'commit' as const }) },
  ), { minLength: 4, maxLength: 14, size: 'max' })
  fc.assert(fc.property(deep, keepArb, fc.integer(), (ops, keep, seed) => {
    const images: Array<{ img: SimRegion; ok: number[] }> = []
    let n = 0
    const r = run([{ kind: 'resize', n: 4100 }, ...ops], keep, (sim, ok) => { if (n++ % 3 === 0) images.push({ img: sim.crash(seed + n), ok }) })
    images.push({ img: r.sim.crash(seed), ok: [r.durable] })
    for (const { img, ok } of images) verifyImage(img, ok, r.snaps, keep, false)
  }), { numRuns: 20 })
})

test('inv. 1-3: pipelined commitAsync with writes while flushing; crashes give a version between the last resolved and the last sealed', async () => {
  await fc.assert(fc.asyncProperty(opsArb(CS, 200, 30), fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }), keepArb, fc.integer(), async (ops, awaitIt, keep, seed) => {
    const sim = SimRegion.create({ size: 12288, path: 'async.pm' })
    const store = ShadowStore.create(sim, { chunkSize: CS, keepVersions: keep })
    const model = new Model(CS)
    const snaps = new Map<number, Snap>([[0, model.snapshot()]])
    let sealed = 0, resolved = 0, n = 0
    const images: Array<{ img: SimRegion; ok: number[] }> = []
    sim.onFlush = () => {
      const ok = Array.from({ length: sealed - resolved + 1 }, (_, i) => resolved + i)
      images.push({ img: sim.crash(seed + n++), ok })
    }
    const pending: Promise<number>[] = []
    for (const [i, op] of ops.entries()) {
      if (applyOp(store, model, op, () => snaps.get(sealed)!)) continue
      snaps.set(++sealed, model.snapshot())
      const p = store.commitAsync().then(v => { resolved = Math.max(resolved, v); return v })
      pending.push(p)
      if (awaitIt[i % 20]) assert.equal(await p, sealed)
    }
    assert.deepEqual(await Promise.all(pending), pending.map((_, i) => i + 1))
    sim.onFlush = undefined
    assert.equal(store.version, sealed)
    assert.deepEqual(store.check().problems, [])
    images.push({ img: sim.crash(seed), ok: [sealed] })
    for (const { img, ok } of images) verifyImage(img, ok, snaps, keep, false)
  }), { numRuns: 100 })
})

test('inv. 1, 6: free chunks are reclaimed: space stays bounded over many commits', () => {
  fc.assert(fc.property(fc.constantFrom(1, 2, 3), fc.integer({ min: 1, max: 100 }), fc.integer(), (keep, count, seed) => {
    const sim = SimRegion.create({ size: 8192, path: 'reclaim.pm' })
    const store = ShadowStore.create(sim, { chunkSize: CS, keepVersions: keep })
    store.resize(count)
    let x = seed >>> 0
    for (let i = 0; i < 150; i++) {
      const writes = 1 + (i % 5)
      for (let w = 0; w < writes; w++) {
        x = (Math.imul(x, 1664525) + 1013904223) >>> 0
        store.write(x % count, pattern(CS, i), 0)
      }
      if (i % 37 === 0) store.setMeta(Uint8Array.of(i))
      store.commit()
    }
    const nodes = count > 1 ? Math.ceil(count / 64) + (count > 64 ? 1 : 0) : 0
    const live = count + nodes + 1
    const bound = Math.ceil(1.25 * (keep + 1) * live) + 16
    assert.ok(store.stats().physicalChunks <= bound, `${store.stats().physicalChunks} physical chunks for ${live} live, keep ${keep}`)
    assert.deepEqual(store.check().problems, [])
  }), { numRuns: 25 })
})

test('inv. 4, 5: a damaged newest slot falls back to the previous version with fellBack set', () => {
  fc.assert(fc.property(opsArb(CS, 150, 15), fc.constantFrom(2, 3, 12), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), (ops, keep, flips) => {
    const r = run([...ops, { kind: 'commit' }, { kind: 'commit' }], keep)
    const img = r.sim.processCrash()
    const slot = r.durable % 2
    const used = SLOT_HEADER + DESC_SIZE * Math.min(keep, r.durable + 1)
    for (const [at, mask] of flips) img.unsafeBytes()[slot * SLOT_SIZE + (at % used)] ^= mask
    const s = ShadowStore.open(img)
    assert.equal(s.version, r.durable - 1)
    assert.deepEqual(s.fellBack?.from, r.durable)
    assertContent(s, r.snaps.get(r.durable - 1)!, 'fallback')
  }), { numRuns: 150 })
})

test('inv. 4: damage anywhere (bit flips beyond the crash model) is reported, never read as wrong data', () => {
  fc.assert(fc.property(opsArb(CS, 150, 20), keepArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }), (ops, keep, flips) => {
    const r = run([...ops, { kind: 'commit' }], keep)
    const img = r.sim.processCrash()
    for (const [at, mask] of flips) img.unsafeBytes()[at % img.size] ^= mask
    let s: ShadowStore
    try { s = ShadowStore.open(img) } catch (e) { assert.ok(e instanceof PmemError, String(e)); return }
    assert.ok(r.snaps.has(s.version) && s.version <= r.durable)
    if (s.version < r.durable) assert.notEqual(s.fellBack, null)
    const snap = r.snaps.get(s.version)!
    assert.equal(s.chunkCount, snap.count)
    assert.deepEqual(s.getMeta(), snap.meta)
    for (let L = 0; L < snap.count; L++) {
      let got: Uint8Array
      try { got = s.read(L) } catch (e) { assert.ok(e instanceof CorruptionError, String(e)); continue }
      assert.ok(sameBytes(got, snap.chunks.get(L) ?? new Uint8Array(CS)), `chunk ${L} of version ${s.version} read wrong data`)
    }
  }), { numRuns: 300 })
})

test('inv. 1-6, 9, many lives: crash, recover, operate, crash again; every recovery exact, retention intact, free set exact', () => {
  fc.assert(fc.property(fc.array(fc.tuple(opsArb(CS, 150, 15), fc.nat({ max: 25 }), fc.integer()), { minLength: 3, maxLength: 4 }), keepArb, (lives, keep) => {
    const sim0 = SimRegion.create({ size: 8192 + 4096, path: 'lives.pm' })
    ShadowStore.create(sim0, { chunkSize: CS, keepVersions: keep })
    let img: SimRegion = sim0
    const snaps = new Map<number, Snap>([[0, new Model(CS).snapshot()]])
    for (const [life, [ops, crashAt, seed]] of lives.entries()) {
      // Recovery, with a crash image at any flush it makes (open makes none today: then it is taken right after).
      let crashed: SimRegion | null = null
      let okAtCrash: number[] = []
      let durable = -1, pending: number | null = null
      const sim = img
      sim.onFlush = info => {
        if (info.index >= crashAt && crashed === null) { crashed = sim.crash(seed); okAtCrash = pending === null ? [durable] : [durable, pending] }
      }
      const store = ShadowStore.open(sim)
      durable = store.version
      for (const v of [...snaps.keys()]) if (v > durable) snaps.delete(v)
      assertContent(store, snaps.get(durable)!, `life ${life + 1} recovered`)
      assert.deepEqual(store.check().problems, [], `life ${life + 1}: the free set after recovery`)
      const model = new Model(CS)
      model.restore(snaps.get(durable)!)
      for (const op of ops) {
        if (applyOp(store, model, op, () => snaps.get(durable)!)) continue
        pending = durable + 1
        snaps.set(pending, model.snapshot())
        assert.equal(store.commit(), pending)
        durable = pending
        pending = null
      }
      sim.onFlush = undefined
      const next: SimRegion = crashed ?? sim.crash(seed)
      verifyImage(next, crashed !== null ? okAtCrash : [durable], snaps, keep, false)
      img = next
    }
  }), { numRuns: 150 })
})

test('inv. 9: a zeroed slot (wholly, or its first sector) is damage reported in fellBack; a blank slot 1 beside version 0 is not; both blank is no store', () => {
  const r = run([{ kind: 'resize', n: 3 }, { kind: 'write', at: 1, offset: 0, len: CS, seed: 5 }, { kind: 'commit' }, { kind: 'write', at: 2, offset: 0, len: CS, seed: 6 }, { kind: 'commit' }, { kind: 'commit' }], 3)
  assert.equal(r.durable, 3)                                   // slot 1 holds 3, slot 0 holds 2
  for (const [slot, len] of [[0, SLOT_SIZE], [0, 512], [1, SLOT_SIZE], [1, 64]] as const) {
    const img = r.sim.processCrash()
    img.unsafeBytes().fill(0, slot * SLOT_SIZE, slot * SLOT_SIZE + len)
    const s = ShadowStore.open(img)
    assert.equal(s.version, slot === 1 ? 2 : 3, `slot ${slot} zeroed (${len} bytes)`)
    assert.notEqual(s.fellBack, null, `slot ${slot} zeroed (${len} bytes) is reported`)
    assert.equal(s.fellBack!.from, s.version + 1)
    assertContent(s, r.snaps.get(s.version)!, 'after a zeroed slot')
  }
  const fresh = SimRegion.create({ size: 8192 + 4096 })
  ShadowStore.create(fresh, { chunkSize: CS })
  assert.equal(ShadowStore.open(fresh).fellBack, null, 'version 0 alone: slot 1 was never written')
  const blank = SimRegion.create({ size: 8192 + 4096 })
  assert.equal(ShadowStore.probe(blank), 'blank')
  assert.throws(() => ShadowStore.open(blank), (e: unknown) => e instanceof PmemError && e.code === 'ERR_PMEM_NOT_A_REGION')
  assert.equal(ShadowStore.probe(r.sim), 'store')
  const foreign = SimRegion.create({ size: 8192 + 4096 })
  foreign.unsafeBytes()[5000] = 1
  assert.equal(ShadowStore.probe(foreign), 'foreign')
})
