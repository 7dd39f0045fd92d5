// Fuzzing of the shadow store's decoders (DESIGN.md s.5): the metadata slot decoder and open()
// on random and mutated bytes must give a clean "invalid slot" result or a typed PmemError,
// never another exception or a hang (inv. 4).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { SimRegion, PmemError, CorruptionError, crc32c } from '../../regions/index.js'
import { ShadowStore } from '../../txn/shadow.js'
import {
  SLOT_SIZE, MAX_KEEP, META_MAX, NONE, decodeSlot, encodeSlot, depthFor, type SlotContent, type VersionDesc,
} from '../../txn/shadow-format.js'
import { pattern } from './shadow-model.js'

fc.configureGlobal({ includeErrorInReport: true })

/** Valid slot contents for slot `index` (descriptors consistent with each other). */
const slotArb = (index: number): fc.Arbitrary<SlotContent> => fc.record({
  chunkSizeLog: fc.integer({ min: 9, max: 24 }),
  keep: fc.integer({ min: 1, max: MAX_KEEP }),
  r: fc.integer({ min: 1, max: MAX_KEEP }),
  half: fc.nat({ max: 2 ** 40 }),
  desc: fc.record({
    time: fc.double({ noNaN: true, noDefaultInfinity: true }),
    bytes: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    chunkCount: fc.nat({ max: 0xfffffffe }),
    root: fc.nat({ max: 0xfffffffd }),
    rootCrc: fc.nat({ max: 0xffffffff }),
    metaPhys: fc.nat({ max: 0xfffffffd }),
    metaCrc: fc.nat({ max: 0xffffffff }),
    metaLen: fc.nat({ max: META_MAX }),
  }),
}).map(({ chunkSizeLog, keep, r, half, desc }) => {
  const R = Math.min(r, keep)
  const chunkSize = 2 ** chunkSizeLog
  const top = (half + R) * 2 + index // >= R - 1, parity of the slot (inv. 3)
  const descs: VersionDesc[] = Array.from({ length: R }, (_, i) => {
    const count = i === 0 ? desc.chunkCount : desc.chunkCount >>> i
    return {
      version: top - i, time: desc.time, bytes: desc.bytes, chunkCount: count,
      root: count === 0 ? NONE : desc.root, rootCrc: count === 0 ? 0 : desc.rootCrc,
      metaPhys: desc.metaLen === 0 ? NONE : desc.metaPhys, metaCrc: desc.metaLen === 0 ? 0 : desc.metaCrc,
      metaLen: desc.metaLen, depth: depthFor(count, chunkSize / 8),
    }
  })
  return { chunkSize, keepVersions: keep, descs }
})

/** A slot as stored: the encoded bytes padded to 4096 with arbitrary stale bytes. */
function stored(content: SlotContent, fill: number): Uint8Array {
  const out = new Uint8Array(SLOT_SIZE).fill(fill)
  out.set(encodeSlot(content))
  return out
}

/** Recomputes the slot checksum so mutations reach the field checks behind it. */
function fixChecksum(slot: Uint8Array): void {
  const dv = new DataView(slot.buffer, slot.byteOffset, slot.byteLength)
  const used = dv.getUint32(24, true)
  if (used < 32 || used > SLOT_SIZE) return
  dv.setUint32(12, 0, true)
  dv.setUint32(12, crc32c(slot.subarray(0, used)), true)
}

function assertDecodeIsClean(bytes: Uint8Array, index: number): ReturnType<typeof decodeSlot> {
  const d = decodeSlot(bytes, index)
  assert.equal(typeof d.ok, 'boolean')
  if (!d.ok) {
    assert.equal(typeof d.reason, 'string')
    return d
  }
  const { descs, keepVersions } = d.slot
  assert.ok(descs.length >= 1 && descs.length <= keepVersions && keepVersions <= MAX_KEEP)
  assert.equal(descs[0]!.version % 2, index)
  descs.forEach((x, i) => {
    assert.equal(x.version, descs[0]!.version - i)
    assert.equal(x.depth, depthFor(x.chunkCount, d.slot.chunkSize / 8))
    assert.ok(x.metaLen <= META_MAX)
  })
  return d
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('word' as const), at: fc.nat(), value: fc.nat({ max: 0xffffffff }) }),
)
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never

function mutate(bytes: Uint8Array, ms: Mutation[], span: number): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (const m of ms) {
    const at = m.at % span
    if (m.kind === 'flip') bytes[at]! ^= m.mask
    else if (m.kind === 'set') bytes[at] = m.value
    else dv.setUint32(Math.min(at - (at % 4), span - 4), m.value, true)
  }
}

test('inv. 4: valid slots round-trip through encode and decode', () => {
  fc.assert(fc.property(fc.nat(1), fc.nat(255), fc.integer({ min: 0, max: 1 }).chain(i => fc.tuple(fc.constant(i), slotArb(i))), (_, fill, [index, content]) => {
    const d = assertDecodeIsClean(stored(content, fill), index)
    assert.ok(d.ok, d.ok ? '' : d.reason)
    assert.deepEqual(d.slot, content)
    assert.equal(decodeSlot(stored(content, fill), 1 - index).ok, false, 'parity (inv. 3)')
  }), { numRuns: 300 })
})

test('inv. 4: random bytes never make the slot decoder throw', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: SLOT_SIZE, maxLength: SLOT_SIZE }), fc.nat(1), fc.boolean(), (bytes, index, magic) => {
    if (magic) { bytes.set([0x50, 0x4d, 0x53, 0x48, 0x41, 0x44, 0x4f, 0x57]); bytes[8] = 1; bytes.fill(0, 9, 12); fixChecksum(bytes) }
    assertDecodeIsClean(bytes, index)
  }), { numRuns: 300 })
  for (const odd of [new Uint8Array(0), new Uint8Array(SLOT_SIZE - 1), 'slot' as unknown as Uint8Array, null as unknown as Uint8Array]) {
    assert.equal(decodeSlot(odd, 0).ok, false)
  }
})

test('inv. 4: mutated slots (checksum left stale or recomputed) decode cleanly', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 1 }).chain(i => fc.tuple(fc.constant(i), slotArb(i))), fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.boolean(), ([index, content], ms, fix) => {
    const bytes = stored(content, 0)
    const used = encodeSlot(content).length
    mutate(bytes, ms, fix ? used : SLOT_SIZE)
    if (fix) fixChecksum(bytes)
    const d = assertDecodeIsClean(bytes, index)
    if (!fix && ms.every(m => m.at % SLOT_SIZE < used) && d.ok) {
      // A mutation inside the used bytes that still decodes must have changed nothing.
      assert.deepEqual(d.slot, content)
    }
  }), { numRuns: 1000 })
})

/** A small real store image to mutate. */
function storeImage(keep: number): Uint8Array {
  const sim = SimRegion.create({ size: 16384, path: 'fuzz.pm' })
  const s = ShadowStore.create(sim, { chunkSize: 512, keepVersions: keep })
  s.resize(100)
  for (let v = 0; v < 4; v++) {
    for (let L = v; L < 100; L += 9) s.write(L, pattern(v % 2 ? 512 : 40, L + v), v % 2 ? 0 : v * 3)
    s.setMeta(Uint8Array.of(v, v))
    s.commit()
  }
  return sim.volatileImage()
}

test('inv. 4: open on mutated store images gives a typed error or a store that reads cleanly', { timeout: 30_000 }, () => {
  const images = [storeImage(1), storeImage(3), storeImage(12)]
  fc.assert(fc.property(fc.nat(2), fc.array(mutation, { minLength: 1, maxLength: 8 }), fc.boolean(), fc.boolean(), (which, ms, slotsOnly, fix) => {
    const img = images[which]!.slice()
    mutate(img, ms, slotsOnly ? 2 * SLOT_SIZE : img.length)
    if (fix) { fixChecksum(img.subarray(0, SLOT_SIZE)); fixChecksum(img.subarray(SLOT_SIZE, 2 * SLOT_SIZE)) }
    let s: ShadowStore
    try {
      s = ShadowStore.open(SimRegion.fromImage(img, { path: 'fuzz.pm' }))
    } catch (e) {
      assert.ok(e instanceof PmemError, `open threw ${String(e)}`)
      assert.match(e.message, /fuzz\.pm/)
      return
    }
    for (const v of s.versions()) assert.ok(v.meta.length <= META_MAX)
    for (let L = 0; L < Math.min(s.chunkCount, 200); L++) {
      try { s.read(L) } catch (e) { assert.ok(e instanceof CorruptionError, `read threw ${String(e)}`) }
    }
    s.check()
  }), { numRuns: 400 })
})

test('inv. 4: open on random regions is a typed error, never a crash', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 2 * SLOT_SIZE, maxLength: 2 * SLOT_SIZE }), fc.nat(1), (head, magicSlot) => {
    const img = new Uint8Array(4 * SLOT_SIZE)
    img.set(head)
    img.set([0x50, 0x4d, 0x53, 0x48, 0x41, 0x44, 0x4f, 0x57], magicSlot * SLOT_SIZE)
    try { ShadowStore.open(SimRegion.fromImage(img)) } catch (e) { assert.ok(e instanceof PmemError, String(e)) }
  }), { numRuns: 200 })
})
