/**
 * Binary data (binary.ts, fingerprint.ts): a point writes the 4 KiB chunks whose bytes
 * changed and nothing else (inv. BIN2), restores give byte-identical buffers with their
 * views sharing them, resizable buffers stay resizable, detached ones come back empty, and
 * containers written before chunked records (format version 1) still open.
 *
 * The property test restores in a fresh process (binary-child.ts): random buffers (fixed
 * and resizable, under and over 4 KiB), views of every kind sharing them, Buffer slices of
 * a larger Buffer, then random writes (one element, a range, a resize, a detach) and points.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { simRegion } from './setup.js'
import { Container, type PointStats } from '../../../src/container/index.js'
import { fingerprint, wordsOf } from '../../../src/container/fingerprint.js'
import { applyOp, binaryOp, binaryRecipe, buildBinary, describeBinary, type BinaryRoot } from './binary-kit.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-bin-'))
const ResizableArrayBuffer = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void; resizable: boolean; maxByteLength: number }

test('one element of a 16 MiB Float32Array: the next point writes one 4 KiB chunk, not 16 MiB (inv. BIN2)', async () => {
  const dir = tmp()
  const file = path.join(dir, 'big.pmc')
  const c = Container.open(file, { init: () => ({ a: new Float32Array(1 << 22).map((_, i) => i) }) })
  const first = await c.persist()
  assert.ok(first.bytes > 16 << 20, `the first point writes the array (${first.bytes} bytes)`)
  c.root.a[3_000_000] = -1
  const one = await c.persist()
  assert.equal(one.objects, 1, 'one CHUNK record')
  assert.ok(one.bytes >= 4096 && one.bytes < 4096 + 16, `bytes of records: ${one.bytes}`)
  assert.ok(one.stored <= 8 * 4096, `bytes the store wrote: ${one.stored}`)
  const none = await c.persist()
  assert.equal(none.objects, 0)
  assert.equal(none.bytes, 0)
  await c.close()
  const d = Container.open<{ a: Float32Array }>(file)
  assert.equal(d.root.a[3_000_000], -1)
  assert.equal(d.root.a[2_999_999], 2_999_999)
  assert.equal(d.root.a.length, 1 << 22)
  await d.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('a range across chunk boundaries writes exactly the chunks it touches; a view of the buffer is not rewritten', async () => {
  const region = simRegion()
  const buf = new ArrayBuffer(40_000)
  const c = Container.openRegion(region, { init: () => ({ buf, view: new Uint16Array(buf, 2, 100) }) })
  await c.persist()
  new Uint8Array(c.root.buf).fill(9, 4095, 3 * 4096 + 1)     // chunks 0, 1, 2 and 3
  const s = await c.persist()
  assert.equal(s.objects, 4)
  assert.ok(s.bytes < 4 * 4096 + 64, String(s.bytes))
  const fresh = Container.openRegion(region.crash(1))
  const r = fresh.unwrap(fresh.root) as { buf: ArrayBuffer; view: Uint16Array }
  assert.deepEqual(new Uint8Array(r.buf), new Uint8Array(buf))
  assert.ok(r.view.buffer === r.buf, 'the view shares the restored buffer')
})

test('a resizable buffer stays resizable; growing it writes the new and changed chunks only; its views follow', async () => {
  const region = simRegion()
  const buf = new ResizableArrayBuffer(10_000, { maxByteLength: 100_000 })
  new Uint8Array(buf).fill(7)
  const c = Container.openRegion(region, { init: () => ({ buf, view: new Uint8Array(buf, 0, 10) }) })
  await c.persist()
  buf.resize(10_001)
  new Uint8Array(buf)[10_000] = 1
  const grown = await c.persist()
  assert.equal(grown.objects, 3, 'the CHUNKED record, its last chunk (its length changed) and the view (re-encoded on every length change)')
  buf.resize(5)
  const shrunk = await c.persist()
  assert.ok(shrunk.objects <= 3, `the CHUNKED record, the last chunk and the view: ${shrunk.objects}`)
  const fresh = Container.openRegion(region.crash(2))
  const r = fresh.unwrap(fresh.root) as { buf: typeof buf; view: Uint8Array }
  assert.equal(r.buf.resizable, true)
  assert.equal(r.buf.maxByteLength, 100_000)
  assert.deepEqual(new Uint8Array(r.buf), new Uint8Array(buf))
  r.buf.resize(50_000)      // works after the restore
  assert.ok(r.view.buffer === r.buf)
})

test('a detached buffer comes back empty, its views empty on it (a DataView on it no longer fails the point with a TypeError)', async () => {
  const region = simRegion()
  const buf = new ArrayBuffer(9000)
  const c = Container.openRegion(region, { init: () => ({ buf, f: new Float64Array(buf, 8, 10), dv: new DataView(buf, 3, 100) }) })
  await c.persist()
  structuredClone(buf, { transfer: [buf] })
  const s = await c.persist()
  assert.equal(s.objects, 3, 'the buffer and its views')
  const fresh = Container.openRegion(region.crash(3))
  const r = fresh.unwrap(fresh.root) as { buf: ArrayBuffer; f: Float64Array; dv: DataView }
  assert.equal(r.buf.byteLength, 0)
  assert.equal(r.f.length, 0)
  assert.equal(r.dv.byteLength, 0)
  assert.ok(r.f.buffer === r.buf && r.dv.buffer === r.buf)
})

test('after a restore, new objects never take the ids of restored chunks (open.ts binds them before it lists free ids)', async () => {
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ a: 1, buf: new ArrayBuffer(20_000) }) })
  await c.persist()
  let image = region.crash(5)
  for (let life = 0; life < 2; life++) {
    const d = Container.openRegion(image)
    d.root['k' + life] = { shape: life, list: [life] }       // a new shape, object and array take free ids
    new Uint8Array(d.root.buf as ArrayBuffer)[life * 5000] = 7
    await d.persist()
    image = image.crash(6 + life)
    const e = Container.openRegion(image)
    assert.equal(e.fellBack, null)
    assert.deepEqual(e.check(), { ok: true, problems: [] })
    assert.deepEqual((e.unwrap(e.root) as Record<string, { shape: number }>)['k' + life]?.shape, life)
    assert.equal(new Uint8Array(e.root.buf as ArrayBuffer)[life * 5000], 7)
  }
})

test('shrinking a buffer leaves its old chunks to compaction; ids are reused afterwards without mixing bytes (inv. BIN3)', async () => {
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ list: [] as unknown[], buf: new ResizableArrayBuffer(40_000, { maxByteLength: 40_000 }) }), compactFactor: 1.1 })
  await c.persist()
  const buf = c.root.buf as InstanceType<typeof ResizableArrayBuffer>
  buf.resize(5000)
  let compacted = 0
  for (let i = 0; i < 30; i++) {
    c.root.list.push(new Uint8Array(5000).fill(i))       // new chunked buffers take freed ids
    const s = await c.persist()
    if (s.compacted) compacted++
  }
  assert.ok(compacted > 0, 'a compaction ran')
  buf.resize(40_000)
  new Uint8Array(buf).fill(3, 5000)
  await c.persist()
  assert.deepEqual(c.check(), { ok: true, problems: [] })
  const fresh = Container.openRegion(region.crash(4))
  const r = fresh.unwrap(fresh.root) as { list: Uint8Array[]; buf: ArrayBuffer }
  r.list.forEach((a, i) => assert.ok(a.every(x => x === i), `list[${i}]`))
  assert.deepEqual(new Uint8Array(r.buf), new Uint8Array(buf))
})

test('fingerprints: a change inside one aligned 16-byte block always changes the fingerprint (fingerprint.ts inv. F1)', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.nat(), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), (data, blockPick, mask, unaligned) => {
    if (mask.every(x => x === 0)) return
    const at = unaligned ? 1 : 0
    const a = new Uint8Array(data.length + at)
    a.set(data, at)
    const b = a.slice()
    const blocks = Math.ceil(data.length / 16)
    const block = blockPick % blocks
    let changed = false
    for (let i = 0; i < 16; i++) { const j = at + block * 16 + i; if (j < b.length && mask[i] !== 0) { b[j] ^= mask[i]; changed = true } }
    if (!changed) return
    const fa = new Int32Array(4), fb = new Int32Array(4)
    const va = a.subarray(at), vb = b.subarray(at)
    fingerprint(va, wordsOf(va), 0, va.length, fa, 0)
    fingerprint(vb, wordsOf(vb), 0, vb.length, fb, 0)
    assert.notDeepEqual(fa, fb)
  }), { numRuns: 2000 })
})

test('a container written before chunked records (format version 1) opens; its large buffer becomes chunked at its next change', async () => {
  const dir = tmp()
  const file = path.join(dir, 'v1.pmc')
  fs.writeFileSync(file, zlib.gunzipSync(fs.readFileSync(path.join(here, '../../../../test/src/container/fixtures/v1-binary.pmc.gz'))))
  const c = Container.open<{ big: ArrayBuffer; f64: Float64Array; dv: DataView; small: Uint8Array; part: Buffer; pooled: Buffer }>(file)
  const r = c.unwrap(c.root)
  const expected = new Uint8Array(20000).map((_, i) => (i * 7) & 255)
  new DataView(expected.buffer).setFloat64(8, 1.5, true)
  assert.deepEqual(new Uint8Array(r.big), expected)
  assert.ok(r.f64.buffer === r.big && r.dv.buffer === r.big, 'views share the buffer')
  assert.equal(r.f64[0], 1.5)
  assert.deepEqual([...r.small], [1, 2, 3])
  assert.ok(Buffer.isBuffer(r.part) && r.part.length === 8000 && r.part.every(x => x === 3))
  assert.equal(r.pooled.toString(), 'pooled bytes')
  r.f64[1] = 2.5
  const convert = await c.persist()
  assert.equal(convert.objects, 1 + 5, 'the buffer rewritten as a CHUNKED record and its 5 chunks')
  r.f64[2] = 3.5
  const next = await c.persist()
  assert.equal(next.objects, 1)
  await c.close()
  const d = Container.open<{ big: ArrayBuffer; f64: Float64Array }>(file)
  assert.deepEqual([d.root.f64[0], d.root.f64[1], d.root.f64[2]], [1.5, 2.5, 3.5])
  assert.deepEqual(d.check(), { ok: true, problems: [] })
  await d.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('random buffers, views and writes (element, range, resize, detach): a fresh process restores the bytes, lengths and sharing of the last point', async () => {
  const dir = tmp()
  const expected = new Map<string, string[]>()
  let run = 0
  await fc.assert(fc.asyncProperty(binaryRecipe(), fc.array(binaryOp(), { maxLength: 25 }), async (recipe, ops) => {
    const file = path.join(dir, `r${run++}.pmc`)
    const c = Container.open<BinaryRoot>(file, { init: () => buildBinary(recipe), keepVersions: 2 })
    const root = c.unwrap(c.root)
    const points: Promise<PointStats>[] = [c.persist()]
    for (const op of ops) {
      if (op.op === 'point') points.push(c.persist())
      else if (op.op === 'full') points.push(c.persist({ full: true }))
      else applyOp(root, op)
    }
    points.push(c.persist())
    expected.set(file, describeBinary(root))
    await Promise.all(points)
    await c.close()
  }), { numRuns: 30, includeErrorInReport: true })
  const out = execFileSync(process.execPath, [path.join(here, 'binary-child.js'), ...expected.keys()], { maxBuffer: 1 << 24 }).toString()
  const lines = out.trim().split('\n').map(l => JSON.parse(l) as { file: string; describe: string[]; ok: boolean; problems: string[] })
  assert.equal(lines.length, expected.size)
  for (const l of lines) {
    assert.deepEqual(l.describe, expected.get(l.file), l.file)
    assert.ok(l.ok, `${l.file}: ${l.problems.join('; ')}`)
  }
  fs.rmSync(dir, { recursive: true, force: true })
})
