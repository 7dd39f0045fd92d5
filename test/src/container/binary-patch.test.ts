/**
 * PATCH records of chunked buffers (binary-patch.ts, binary.ts inv. BIN4, format version 4):
 * changes spread over a large typed array are persisted as the 64-byte blocks that changed,
 * in PATCH parts, not as every 4 KiB chunk they touch. Random writes to a Float64Array, a
 * Buffer over part of a larger ArrayBuffer (aligned and not), in the first life (raw) and
 * after restores (fully and lazily), crash images at any flush (recovery's too) several lives
 * deep; damaged parts are CorruptionError.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CrashLife, restoresCommitted, runs, simRegion } from './setup.js'
import { Container, type PointStats } from '../../../src/container/index.js'
import { CorruptionError, type SimRegion } from '../../../regions/index.js'
import type { ByteWriter } from '../../../src/container/writer.js'
import { writeChunk } from '../../../src/container/records.js'
import { KIND_BYTES } from '../../../src/container/format.js'
import { patchLog, restoreFirst } from './patch-kit.js'

interface Root { f: Float64Array; b: Buffer; u: Buffer; n: number }

const N = 20_000
function init(): Root {
  const f = new Float64Array(N)
  for (let i = 0; i < N; i++) f[i] = i / 3
  const b = Buffer.from(new ArrayBuffer(30_000), 8, 20_000)       // own bytes of a larger ArrayBuffer (a BUFFER record), 4-aligned
  const u = Buffer.from(new ArrayBuffer(30_000), 3, 20_000)       // not aligned: no block hashes, whole chunks
  for (let i = 0; i < b.length; i++) { b[i] = i & 0xff; u[i] = (i * 7) & 0xff }
  return { f, b, u, n: 0 }
}

/** Copies of the bytes. */
function model(r: Root): { f: Buffer; b: Buffer; u: Buffer; n: number } {
  return { f: Buffer.from(new Uint8Array(r.f.buffer, r.f.byteOffset, r.f.byteLength)), b: Buffer.from(r.b), u: Buffer.from(r.u), n: r.n }
}

function sameAsModel(r: Root, want: ReturnType<typeof model>, what: string): void {
  assert.ok(Buffer.from(new Uint8Array(r.f.buffer, r.f.byteOffset, r.f.byteLength)).equals(want.f), `${what}: Float64Array`)
  assert.ok(Buffer.from(r.b).equals(want.b), `${what}: Buffer`)
  assert.ok(Buffer.from(r.u).equals(want.u), `${what}: unaligned Buffer`)
  assert.equal(r.n, want.n, `${what}: number`)
}

type Op = { t: 'f'; i: number; v: number } | { t: 'b'; i: number; v: number } | { t: 'u'; i: number; v: number } | { t: 'spread'; seed: number; k: number } | { t: 'point' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('f' as const), i: fc.nat({ max: N - 1 }), v: fc.double() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('b' as const), i: fc.nat({ max: 19_999 }), v: fc.nat({ max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('u' as const), i: fc.nat({ max: 19_999 }), v: fc.nat({ max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('spread' as const), seed: fc.nat(), k: fc.integer({ min: 50, max: 3000 }) }) },
  { weight: 3, arbitrary: fc.constant({ t: 'point' as const }) },
)

function apply(r: Root, op: Op): void {
  switch (op.t) {
    case 'f': r.f[op.i] = op.v; break
    case 'b': r.b[op.i] = op.v; break
    case 'u': r.u[op.i] = op.v; break
    case 'spread': for (let j = 0; j < op.k; j++) r.f[(op.seed + j * 7919) % N] = op.seed + j; break
    case 'point': break
  }
  r.n++
}

test('binary.ts inv. BIN4: 1% of a Float64Array changed at random is one PATCH part of the changed blocks, not the chunks; restored exactly, fully and lazily', async () => {
  const region = simRegion(1 << 23)
  const c = Container.openRegion(region, { init, compactFactor: 100 })
  await c.persist()
  const r = c.root as Root
  const spread = (p: number): void => { for (let j = 0; j < N / 100; j++) r.f[(j * 7919 + p * 104729) % N] = -p - j }
  spread(1)
  await c.persist()       // the first change of the buffer: whole chunks, and its block hashes are made
  const sizes: number[] = []
  for (let p = 2; p < 5; p++) {
    spread(p)
    const st = await c.persist()
    assert.equal(st.objects, 2, 'a PATCH part and the buffer\'s PATCH record')
    sizes.push(st.bytes)
  }
  assert.ok(Math.max(...sizes) < N * 8 / 8, `each point wrote a fraction of the ${N * 8} bytes: ${sizes.join(', ')}`)
  const mid = region.crash(5)
  sameAsModel(Container.openRegion(mid).root as Root, model(r), 'after three parts')
  // More than the parts may hold, in the first 30 of the 40 chunks: every chunk touched since
  // the base (the parts touched the last 10 too) is written whole, the record is CHUNKED again.
  for (let j = 0; j < 30 * 512; j++) r.f[j] = j
  const st = await c.persist()
  assert.ok(st.objects >= 40, `the touched chunks and the CHUNKED record: ${st.objects} records`)
  sameAsModel(Container.openRegion(region.crash(6)).root as Root, model(r), 'after the parts were folded into the chunks')
  r.f[3] = -3
  await c.persist()
  const want = model(r)
  await c.close()
  for (const lazy of [false, true]) {
    const f = Container.openRegion(region.crash(1), { lazy })
    sameAsModel(f.root as Root, want, lazy ? 'lazy' : 'full')
    const g = f.root as Root
    for (let j = 0; j < N / 100; j++) g.f[(j * 7919 + 9 * 104729) % N] = -9 - j
    const st = await f.persist()
    assert.ok(st.objects <= 3, `after the restore too: ${st.objects} records`)
    await f.close()
  }
})

test('binary-patch.ts inv. BP1, BP2 under the crash model: random writes, several points and lives (full and lazy restores), a crash image at any flush restores a committed version exactly', async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.array(opArb, { maxLength: 30 }), fc.nat({ max: 40 }), fc.nat()), { minLength: 3, maxLength: 3 }), async lives => {
    let region: SimRegion = simRegion(1 << 23)
    const first = Container.openRegion(region, { init, chunkSize: 4096, keepVersions: 2, compactFactor: 1.5 })
    await first.persist()
    let raw: Root | null = first.unwrap(first.root) as Root     // the first life writes through raw references
    const committed = new Map<number, ReturnType<typeof model>>([[1, model(raw)]])
    for (const [life, [ops, crashAt, seed]] of lives.entries()) {
      const crash = new CrashLife(region, crashAt, seed)
      const c = crash.open(() => life === 0 ? first : Container.openRegion(region, { chunkSize: 4096, lazy: life === 2 }))
      for (const v of [...committed.keys()]) if (v > c.version) committed.delete(v)
      const root = raw ?? c.root as Root
      sameAsModel(root, committed.get(c.version)!, `life ${life + 1} opened`)
      const points: Promise<PointStats>[] = []
      const point = (): void => {
        const snap = model(root)
        points.push(c.persist().then(s => { committed.set(s.version, snap); return s }))
      }
      for (const op of ops) { if (op.t === 'point') point(); else apply(root, op) }
      point()
      await Promise.all(points)
      const { crashed, durable } = await crash.end()
      raw = null
      await restoresCommitted(crashed, durable, committed, life, (root, want, what) => sameAsModel(root as Root, want, what))
      region = crashed
    }
  }), { ...runs(Number(process.env.PMEM_PATCH_RUNS ?? 6)), includeErrorInReport: true })
})

// ---------------------------------------------------------------- damage (decode.ts inv. 1, binary-patch.ts inv. BP1)

/** A log: a 5000-byte ArrayBuffer (id 1) as CHUNK records 2 and 3 (bytes 0..) and PATCH parts 4, 5, ... written by `parts` (after their mark and base kind). */
function bufferLog(parts: ((w: ByteWriter) => void)[], n = 5000): Uint8Array {
  const bytes = new Uint8Array(5000).map((_, i) => i & 0xff)
  return patchLog({
    base: w => { writeChunk(w, 2, bytes.subarray(0, 4096)); writeChunk(w, 3, bytes.subarray(4096)) },
    firstPart: 4,
    parts: parts.map(part => (w: ByteWriter): void => { w.u8(KIND_BYTES); part(w) }),
    head: w => { w.u8(KIND_BYTES); w.varint(n); w.varint(0); w.varint(4096); w.varint(2); w.varint(2); w.varint(3) },
  })
}

const restore = (log: Uint8Array): unknown => restoreFirst(log, 'binary-patch-damage')

const range = (from: number, bytes: number[]) => (w: ByteWriter): void => { w.varint(from); w.varint(bytes.length); w.bytes(new Uint8Array(bytes)) }

test('binary-patch.ts: hand-made PATCH parts of a buffer restore as inv. BP1 says (the layouts in format.ts)', () => {
  const got = new Uint8Array(restore(bufferLog([
    w => { w.varint(5000); w.varint(2); range(0, [9, 9])(w); range(4090, [1, 2, 3, 4, 5, 6, 7, 8])(w) },
    w => { w.varint(5000); w.varint(1); range(1, [7])(w) },
  ])) as ArrayBuffer)
  const want = new Uint8Array(5000).map((_, i) => i & 0xff)
  want.set([9, 7], 0); want.set([1, 2, 3, 4, 5, 6, 7, 8], 4090)
  assert.deepEqual(got, want)
})

test('binary-patch.ts inv. BP1: a damaged PATCH part of a buffer is CorruptionError, whatever is wrong', () => {
  const cases: [string, Uint8Array][] = [
    ['a range past the end', bufferLog([w => { w.varint(5000); w.varint(1); range(4999, [1, 2])(w) }])],
    ['ranges out of order', bufferLog([w => { w.varint(5000); w.varint(2); range(100, [1])(w); range(50, [1])(w) }])],
    ['overlapping ranges', bufferLog([w => { w.varint(5000); w.varint(2); range(100, [1, 2, 3])(w); range(101, [1])(w) }])],
    ['an empty range', bufferLog([w => { w.varint(5000); w.varint(1); w.varint(10); w.varint(0) }])],
    ['another buffer length', bufferLog([w => { w.varint(4999); w.varint(0) }])],
    ['trailing bytes', bufferLog([w => { w.varint(5000); w.varint(0); w.u8(1) }])],
    ['a truncated range', bufferLog([w => { w.varint(5000); w.varint(1); w.varint(10); w.varint(20); w.u8(1) }])],
  ]
  for (const [what, log] of cases) assert.throws(() => restore(log), (e: unknown) => e instanceof CorruptionError, what)
  const listsChunk = bufferLog([w => { w.varint(5000); w.varint(0) }])
  listsChunk[listsChunk.length - 1] = 3         // the part id names a CHUNK record
  assert.throws(() => restore(listsChunk), (e: unknown) => e instanceof CorruptionError, 'a part id naming a chunk')
})

// Found reading binary-patch.ts (session 7): a changed chunk's ranges came from 32-bit block
// hashes, and the whole chunk was written only when no block's hash differed. A block whose
// change kept its hash beside another changed block of the same chunk was left out of the part:
// silently lost. Random changes keep a 32-bit hash once in 2^32 blocks (1% of a Float64Array of
// a million changed at random: about 10,000 changed blocks a point, one loss every ~400,000
// points); two adjacent words can keep it deterministically. Here a change made to keep the
// first 32 bits (the old hash) of its block.
test('binary-patch.ts: a changed block whose first 32 hash bits stay the same, beside another changed block of its chunk, is written too', async () => {
  const region = simRegion(1 << 22)
  const c = Container.openRegion(region, { init, compactFactor: 100 })
  await c.persist()
  const r = c.root as Root
  r.f[5] = -5
  await c.persist()       // the first change: whole chunks, and the block hashes are made
  const words = new Int32Array(r.f.buffer, r.f.byteOffset, r.f.length * 2)
  r.f[1040] = -1040                           // block 130 of chunk 2 (words 2080-2095)
  const b = 140, w0 = b * 16                  // block 140, same chunk: words 2240, 2241 changed, its old 32-bit hash kept
  const step = (h: number, w: number): number => { h = Math.imul(h ^ w, 0x9e3779b1); return h ^ (h >>> 15) }
  const h0 = 0x2545f491 ^ b
  const changed = words[w0] ^ 0x10
  words[w0 + 1] = words[w0 + 1] ^ step(h0, words[w0]) ^ step(h0, changed)
  words[w0] = changed
  const want = model(r)
  await c.persist()
  await c.close()
  for (const lazy of [false, true]) {
    const f = Container.openRegion(region.crash(1), { lazy })
    sameAsModel(f.root as Root, want, lazy ? 'lazy' : 'full')
    await f.close()
  }
})
