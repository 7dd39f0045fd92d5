// Recovery's walk of the retained maps (txn/shadow-recover.ts), which marks each physical
// chunk in a byte per chunk (`lastRef`) instead of a Set and a Map: a map that names one
// physical chunk twice (two data entries, or a data entry and the meta chunk) must still
// fail validation at open (inv. 4), and the free set rebuilt from the marks must be exact
// (inv. 6) after a version is rejected or dropped.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { SimRegion, crc32c } from '../../regions/index.js'
import { ShadowStore } from '../../txn/shadow.js'
import { DATA_START, SLOT_SIZE, decodeSlot, encodeSlot } from '../../txn/shadow-format.js'
import { Model, applyOp, assertContent, opsArb, pattern, type Snap } from './shadow-model.js'

const CS = 512

function assertOk(store: ShadowStore): void {
  assert.deepEqual(store.check().problems, [])
}

/** A store at version 2 (slot 0) over version 1 (slot 1): three data chunks and a meta chunk; version 2 rewrote chunk 0. */
function twoVersions(): SimRegion {
  const sim = SimRegion.create({ size: 32768, path: 'open.pm' })
  const s = ShadowStore.create(sim, { chunkSize: CS })
  s.resize(3)
  for (let k = 0; k < 3; k++) s.write(k, pattern(CS, k + 1))
  s.setMeta(Uint8Array.of(7, 7, 7))
  s.commit()
  s.write(0, pattern(CS, 9))
  s.commit()
  return SimRegion.fromImage(sim.volatileImage(), { path: 'open.pm' })
}

/**
 * Rewrites entry `j` of version 2's root node (a map of depth 1: its entries are the data
 * chunks) as (phys, crc), and re-seals the node's checksum in the slot, so that only the
 * walk's own checks can reject it.
 */
function setRootEntry(img: SimRegion, j: number, entry: (slotDesc: { metaPhys: number; metaCrc: number }, e: DataView) => [number, number]): void {
  const bytes = img.unsafeBytes()
  const dec = decodeSlot(bytes.slice(0, SLOT_SIZE), 0)
  assert.ok(dec.ok)
  const desc = dec.slot.descs[0]!
  assert.equal(desc.version, 2)
  assert.equal(desc.depth, 1)
  const node = DATA_START + desc.root * CS
  const dv = new DataView(bytes.buffer, bytes.byteOffset + node, CS)
  const [phys, crc] = entry(desc, dv)
  dv.setUint32(8 * j, phys, true)
  dv.setUint32(8 * j + 4, crc, true)
  desc.rootCrc = crc32c(bytes, node, node + CS)
  bytes.fill(0, 0, SLOT_SIZE)
  bytes.set(encodeSlot(dec.slot), 0)
}

test('inv. 4: a map naming one data chunk twice is rejected at open, and the other slot is used', () => {
  const img = twoVersions()
  setRootEntry(img, 1, (_d, e) => [e.getUint32(0, true), e.getUint32(4, true)])
  const s = ShadowStore.open(img)
  assert.equal(s.version, 1)
  assert.equal(s.fellBack?.from, 2)
  assert.match(s.fellBack!.reason, /physical chunk \d+ is referenced twice/)
  assert.deepEqual(s.read(1), pattern(CS, 2))
  assertOk(s)
  s.write(1, pattern(CS, 5))
  s.commit()
  assertOk(ShadowStore.open(img))
})

test('inv. 4: a map whose data entry names the meta chunk is rejected at open', () => {
  const img = twoVersions()
  setRootEntry(img, 2, d => [d.metaPhys, d.metaCrc])
  const s = ShadowStore.open(img)
  assert.equal(s.version, 1)
  assert.match(s.fellBack!.reason, /physical chunk \d+ is referenced twice/)
  assertOk(s)
})

test('inv. 4: a data entry past the region and a hole with a checksum are rejected at open', () => {
  for (const [entry, why] of [[[1 << 30, 5], /beyond the region's \d+ chunks/], [[0xffffffff, 5], /a hole at level 0 index 1 has a checksum/]] as const) {
    const img = twoVersions()
    setRootEntry(img, 1, () => [entry[0], entry[1]])
    const s = ShadowStore.open(img)
    assert.equal(s.version, 1)
    assert.match(s.fellBack!.reason, why)
    assertOk(s)
  }
})

test('inv. 6: the free set after open is exact when the newest version shares chunks with the older one', () => {
  const img = twoVersions()
  const s = ShadowStore.open(img)
  assert.equal(s.version, 2)
  assert.equal(s.fellBack, null)
  assertOk(s)
  // version 1's own chunks (old chunk 0 and its root) are freed when version 3 commits, not before
  const free = s.stats().freeChunks
  s.write(2, pattern(CS, 4))
  s.commit()
  assertOk(s)
  assert.equal(s.stats().freeChunks, free, 'version 3 took two chunks (data, root) and version 1 left two (old chunk 0, its root)')
  assertOk(ShadowStore.open(img))
})

/**
 * Several lives: each life opens the previous life's crash image (recovery rebuilds the
 * marks and the free set), runs random operations with commits, and is crashed at a random
 * flush (or after its last commit). Every life must see exactly a version the previous one
 * made durable or was committing, with a clean validator: a free set rebuilt wrong would
 * hand out a live chunk and damage a retained version a later life reads.
 */
test('inv. 1, 5, 6: four lives, each recovering the crash image of the one before, crashed at a random flush', () => {
  fc.assert(fc.property(fc.array(opsArb(CS, 40, 14), { minLength: 4, maxLength: 4 }), fc.constantFrom(1, 2, 3), fc.integer(), (lives, keep, seed) => {
    const sim0 = SimRegion.create({ size: 8192 + 4096, path: 'lives.pm' })
    ShadowStore.create(sim0, { chunkSize: CS, keepVersions: keep })
    let img = SimRegion.fromImage(sim0.volatileImage(), { path: 'lives.pm' })
    const snaps = new Map<number, Snap>([[0, new Model(CS).snapshot()]])
    let ok = [0]
    for (const [life, ops] of lives.entries()) {
      const s = ShadowStore.open(img)
      assert.ok(ok.includes(s.version), `life ${life}: opened version ${s.version}, expected one of ${ok}`)
      assertContent(s, snaps.get(s.version)!, `life ${life}`)
      assert.deepEqual(s.check().problems, [], `life ${life}: validator after recovery`)
      for (const v of s.versions().map(x => x.version)) if (v !== s.version) assertContent(ShadowStore.open(img, { version: v }), snaps.get(v)!, `life ${life}: retained ${v}`)
      const model = new Model(CS)
      model.restore(snaps.get(s.version)!)
      let durable = s.version
      let pending: number | null = null
      const images: Array<{ img: SimRegion; ok: number[] }> = []
      let n = 0
      img.onFlush = () => { images.push({ img: img.crash(seed + life * 1000 + n++), ok: pending === null ? [durable] : [durable, pending] }) }
      for (const op of ops) {
        if (applyOp(s, model, op, () => snaps.get(durable)!)) continue
        pending = durable + 1
        snaps.set(pending, model.snapshot())
        assert.equal(s.commit(), pending)
        durable = pending
        pending = null
      }
      img.onFlush = undefined
      images.push({ img: img.crash(seed + life), ok: [durable] })
      const pick = images[Math.abs(seed + life) % images.length]!
      img = pick.img
      ok = pick.ok
    }
  }), { numRuns: 40 })
})
