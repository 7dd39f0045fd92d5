// Tests of the crash simulator (regions/sim-region.ts): its three invariants, checked views,
// errors. Layers above trust it to produce every image the crash model allows and nothing else.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  SimRegion, SECTOR_SIZE, PAGE_SIZE, RegionClosedError, OutOfRangeError, MisalignedError,
  InvalidArgumentError, OutOfSpaceError, ReadOnlyError, crc32c, MAX_USER_SIZE,
} from '../../regions/index.js'

const writeOp = fc.record({
  offset: fc.nat({ max: 3 * PAGE_SIZE - 1 }),
  data: fc.uint8Array({ minLength: 1, maxLength: 1200 }),
  flush: fc.boolean(),
})

/** Applies ops, remembering every byte ever written at each offset (and the initial zero). */
function run(ops: Array<{ offset: number; data: Uint8Array; flush: boolean }>) {
  const sim = SimRegion.create({ size: 3 * PAGE_SIZE })
  const raw = sim.unsafeBytes()
  for (const op of ops) {
    const data = op.data.subarray(0, sim.size - op.offset)
    raw.set(data, op.offset)
    if (op.flush) sim.flush(op.offset, data.length)
  }
  return sim
}

test('inv. 1: every crash image takes each sector whole from the durable or the volatile image', () => {
  fc.assert(fc.property(fc.array(writeOp, { maxLength: 12 }), fc.integer(), (ops, seed) => {
    const sim = run(ops)
    const d = sim.durableImage(), v = sim.volatileImage()
    const img = sim.crash(seed).volatileImage()
    for (let s = 0; s < sim.size / SECTOR_SIZE; s++) {
      const a = s * SECTOR_SIZE, b = a + SECTOR_SIZE
      const sec = img.subarray(a, b)
      const fromOld = sec.every((x, i) => x === d[a + i])
      const fromNew = sec.every((x, i) => x === v[a + i])
      assert.ok(fromOld || fromNew, `sector ${s} mixes old and new bytes`)
    }
  }), { numRuns: 200 })
})

test('inv. 2: flushed data survives every crash image', () => {
  fc.assert(fc.property(fc.array(writeOp, { maxLength: 12 }), writeOp, fc.integer(), (ops, last, seed) => {
    const sim = run(ops)
    const data = last.data.subarray(0, sim.size - last.offset)
    sim.unsafeBytes().set(data, last.offset)
    sim.flush(last.offset, data.length)
    for (const img of [sim.crash(seed), sim.crash(seed + 1)]) {
      assert.deepEqual(img.volatileImage().subarray(last.offset, last.offset + data.length), data)
    }
  }), { numRuns: 200 })
})

test('inv. 3: crashImages enumerates all 2^k distinct images for few dirty sectors', () => {
  fc.assert(fc.property(fc.uniqueArray(fc.nat({ max: 3 * PAGE_SIZE / SECTOR_SIZE - 1 }), { minLength: 1, maxLength: 5 }), (sectors) => {
    const sim = SimRegion.create({ size: 3 * PAGE_SIZE })
    for (const s of sectors) sim.unsafeBytes()[s * SECTOR_SIZE + 7] = 1
    const seen = new Set<string>()
    for (const img of sim.crashImages({ max: 64 })) {
      const key = sectors.map(s => img.volatileImage()[s * SECTOR_SIZE + 7]).join('')
      assert.ok(!seen.has(key), 'an image was yielded twice')
      seen.add(key)
    }
    assert.equal(seen.size, 2 ** sectors.length)
  }), { numRuns: 50 })
})

test('crash produces both lost pages and torn pages across seeds', () => {
  const sim = SimRegion.create({ size: 2 * PAGE_SIZE })
  sim.unsafeBytes().fill(9, 0, PAGE_SIZE) // one whole page dirty: 8 sectors
  let lostWhole = 0, keptWhole = 0, torn = 0
  for (let seed = 0; seed < 200; seed++) {
    const img = sim.crash(seed).volatileImage().subarray(0, PAGE_SIZE)
    const kept = Array.from({ length: 8 }, (_, s) => img[s * SECTOR_SIZE] === 9).filter(Boolean).length
    if (kept === 0) lostWhole++
    else if (kept === 8) keptWhole++
    else torn++
  }
  assert.ok(lostWhole > 10 && keptWhole > 10 && torn > 10, `lost ${lostWhole} kept ${keptWhole} torn ${torn}`)
})

test('crash is deterministic for a seed; processCrash keeps every store', () => {
  const sim = SimRegion.create({ size: PAGE_SIZE })
  sim.unsafeBytes().fill(3, 100, 3000)
  assert.deepEqual(sim.crash(42).volatileImage(), sim.crash(42).volatileImage())
  assert.deepEqual(sim.processCrash().volatileImage(), sim.volatileImage())
})

test('flush copies whole covering sectors and nothing else; onFlush runs before it takes effect', () => {
  const sim = SimRegion.create({ size: PAGE_SIZE })
  const raw = sim.unsafeBytes()
  raw[10] = 1; raw[600] = 2
  let dirtyInside: number[] = []
  sim.onFlush = () => { dirtyInside = sim.dirtySectors() }
  sim.flush(5, 10)
  assert.deepEqual(dirtyInside, [0, 1])
  assert.deepEqual(sim.dirtySectors(), [1])
  assert.equal(sim.flushCount, 1)
})

test('flushAsync takes effect after the current turn', async () => {
  const sim = SimRegion.create({ size: PAGE_SIZE })
  sim.unsafeBytes()[1] = 1
  const p = sim.flushAsync(0, 8)
  assert.deepEqual(sim.dirtySectors(), [0])
  await p
  assert.deepEqual(sim.dirtySectors(), [])
})

test('views check bounds, alignment and type, and throw after close', () => {
  const sim = SimRegion.create({ size: PAGE_SIZE })
  const f = sim.view(Float64Array, 8, 4)
  f[1] = 1.5
  assert.equal(new DataView(sim.volatileImage().buffer).getFloat64(16, true), 1.5)
  assert.ok(f instanceof Float64Array)
  assert.throws(() => sim.view(Float64Array, 4, 1), MisalignedError)
  assert.throws(() => sim.view(Uint8Array, PAGE_SIZE - 1, 2), OutOfRangeError)
  assert.throws(() => sim.view(Array as never, 0, 1), InvalidArgumentError)
  const dv = sim.view(DataView, 0, 16)
  sim.close()
  assert.throws(() => f[0], RegionClosedError)
  assert.throws(() => { f[0] = 1 }, RegionClosedError)
  assert.throws(() => dv.getUint8(0), RegionClosedError)
  assert.throws(() => sim.bytes, RegionClosedError)
  assert.throws(() => sim.flush(), RegionClosedError)
})

test('grow keeps data and is bounded by maxSize', () => {
  const sim = SimRegion.create({ size: PAGE_SIZE, maxSize: 2 * PAGE_SIZE })
  sim.unsafeBytes()[5] = 5
  sim.flush()
  sim.grow(2 * PAGE_SIZE)
  assert.equal(sim.size, 2 * PAGE_SIZE)
  assert.equal(sim.unsafeBytes()[5], 5)
  assert.throws(() => sim.grow(3 * PAGE_SIZE), OutOfSpaceError)
  assert.throws(() => sim.flush(0, 3 * PAGE_SIZE), OutOfRangeError)
  const ro = SimRegion.fromImage(sim.durableImage(), { readOnly: true })
  assert.throws(() => ro.flush(), ReadOnlyError)
})

test('checked views are held weakly: views the program dropped do not accumulate', async () => {
  const { ViewRegistry } = await import('../../regions/checked-view.js')
  const v8 = await import('node:v8')
  const vm = await import('node:vm')
  v8.setFlagsFromString('--expose_gc')
  const gc = vm.runInNewContext('gc') as () => void
  const reg = new ViewRegistry('closed')
  const backing = new Uint8Array(64)
  const kept = reg.wrap(backing.subarray(0, 8), Uint8Array)
  for (let i = 0; i < 10_000; i++) reg.wrap(backing.subarray(0, 8), Uint8Array)[0] = i & 0xff
  await new Promise(resolve => setImmediate(resolve))
  gc()
  assert.ok(reg.live < 100, `${reg.live} views still registered`)
  reg.invalidateAll()
  assert.throws(() => kept[0], /closed/)
})

test('every view argument error names the region', () => {
  const sim = SimRegion.create({ size: PAGE_SIZE, path: 'named.pm' })
  for (const bad of [() => sim.view(Uint8Array, -1, 1), () => sim.view(Uint8Array, 0, 1.5), () => sim.view(Float64Array, 4, 1),
    () => sim.view(Uint8Array, PAGE_SIZE, 1), () => sim.view(Object as never, 0, 1)]) {
    assert.throws(bad, (e: Error) => e.message.includes('"named.pm"'))
  }
})

test('inv. 4: appendStream bytes stay out of crash images until a grow over them, which keeps them; checksums per block; discard zero-fills', async () => {
  const sim = SimRegion.create({ size: 8192, path: 'stream.sim' })
  assert.equal(sim.reservedEnd, 8192)
  await sim.reserveAsync(16384)
  assert.equal(sim.reservedEnd, 16384, 'reserved space past the user area')
  assert.equal(sim.size, 8192)
  const s = sim.appendStream(20480, 512)!
  assert.equal(sim.reservedEnd, -1, 'unknown while a stream is open')
  assert.equal(sim.appendStream(40960, 512), null, 'one stream at a time')
  const part = new Uint8Array(1000).map((_, i) => i * 7)
  const owned = new Uint8Array(new ArrayBuffer(300)).fill(9)
  s.write(part)
  s.write(owned, true)
  assert.equal(owned.buffer.byteLength, 0, 'a transferred buffer is detached')
  assert.equal(s.written, 1300)
  for (const img of sim.crashImages({ max: 8 })) assert.equal(img.size, 8192, 'nothing past the user area in a crash image')
  let flushes = 0
  sim.onFlush = () => { flushes++ }
  const crcs = await s.end()
  sim.onFlush = undefined
  assert.equal(flushes, 1, "the stream's fsync is a flush")
  const all = new Uint8Array(1536)
  all.set(part); all.set(new Uint8Array(300).fill(9), 1000)
  assert.deepEqual([...crcs!], [0, 1, 2].map(b => crc32c(all.subarray(b * 512, b * 512 + 512))))
  assert.equal(sim.reservedEnd, 20480 + 4096)
  sim.grow(20480 + 4096)
  assert.deepEqual(sim.unsafeBytes().subarray(20480, 20480 + 1300), all.subarray(0, 1300), 'a grow keeps the streamed bytes')
  assert.deepEqual(sim.unsafeBytes().subarray(8192, 20480), new Uint8Array(12288), 'the gap reads zeros')
  for (const img of sim.crashImages({ max: 8 })) assert.deepEqual(img.unsafeBytes().subarray(20480, 21780), all.subarray(0, 1300), 'durable in every crash image')
  const d = sim.appendStream(sim.size, 512)!
  d.write(new Uint8Array(700).fill(3))
  d.discard()
  assert.equal(await d.end(), null, 'a discarded stream has no checksums')
  sim.grow(sim.size + 4096)
  assert.deepEqual(sim.unsafeBytes().subarray(sim.size - 4096), new Uint8Array(4096), 'a discarded stream reads zeros')
  const open = sim.appendStream(sim.size, 512)!
  open.write(new Uint8Array(10).fill(5))
  sim.grow(sim.size + 4096)
  assert.deepEqual(sim.unsafeBytes().subarray(sim.size - 4096, sim.size - 4086), new Uint8Array(10).fill(5), 'a grow ends an open stream and keeps it')
  assert.throws(() => open.write(new Uint8Array(1)), InvalidArgumentError)
  assert.throws(() => sim.appendStream(0, 512), InvalidArgumentError)
  assert.throws(() => sim.appendStream(sim.size, 0), InvalidArgumentError)
})

test('reserveAsync past the largest user area reserves only up to it, as Region does', async () => {
  const r = SimRegion.create({ size: 4096 })
  await r.reserveAsync(2 ** 40)   // a hint: clamped, never a RangeError from a 1 TiB buffer
  assert.ok(r.reservedEnd <= MAX_USER_SIZE)
  r.close()
})
