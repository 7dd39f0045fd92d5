/**
 * The encoder's fast paths for values (issue 16): `ByteWriter.num` (every number the encoder
 * writes), and the inline loop of large dense arrays (encode-bodies.ts `segmentedArray`),
 * which writes numbers itself and hashes them by value (segments.ts `numberHash`). Each
 * must write what the general path writes: the edge values of the number encoding, and
 * arrays that mix numbers with everything else, around and past SEGMENT_MIN.
 */
import { test } from 'node:test'
import { BigMap } from '../../../src/container/big-map.js'
import assert from 'node:assert/strict'
import { simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { ByteWriter } from '../../../src/container/writer.js'
import { SEGMENT_MIN } from '../../../src/container/segments.js'
import { TAG_FLOAT64, TAG_INT32 } from '../../../src/container/format.js'
import { Encoder } from '../../../src/container/encode.js'
import { ObjectTable } from '../../../src/container/identity.js'
import { ShapeTrie } from '../../../src/container/shapes.js'
import { ClassRegistry } from '../../../src/container/classes.js'
import { RefStore } from '../../../src/container/refs.js'
import { DateTable } from '../../../src/container/dates.js'
import { DirtySet } from '../../../src/container/dirty.js'
import { BinaryTable } from '../../../src/container/binary.js'
import { encodeFromRoot } from '../../../src/container/walk.js'

/** The bytes format.ts specifies for a number value. */
function expected(v: number): number[] {
  if (Number.isInteger(v) && v >= 0 && v < 0x80 && !Object.is(v, -0)) return [v]
  if ((v | 0) === v && !Object.is(v, -0)) { const u = v >>> 0; return [TAG_INT32, u & 0xff, (u >>> 8) & 0xff, (u >>> 16) & 0xff, u >>> 24] }
  const b = Buffer.alloc(8)
  b.writeDoubleLE(v)
  return [TAG_FLOAT64, ...b]
}

const EDGES = [0, -0, 1, 127, 128, 255, -1, -128, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53, -(2 ** 53), 0.5, -1.5, 1e-310, Number.MAX_VALUE, Number.MIN_VALUE, Infinity, -Infinity, NaN]

test('ByteWriter.num writes the tagged bytes of format.ts for every edge of the number encoding', () => {
  for (const v of EDGES) {
    const w = new ByteWriter(16)
    w.num(v)
    assert.deepEqual([...w.view()], expected(v), `bytes of ${Object.is(v, -0) ? '-0' : v}`)
  }
  const w = new ByteWriter(4)     // grows across its first buffer
  for (let i = 0; i < 1000; i++) w.num(i * 1.25)
  assert.equal(w.length, [...Array(1000).keys()].reduce((n, i) => n + expected(i * 1.25).length, 0))
})

test('ByteWriter.boundary: a point of a few records stays in its first buffers (no 4 MiB buffer per point), and a large one in whole records', () => {
  // An incremental point of ~900 records of ~70 bytes (65 KB, the corpus's json-files 1%
  // point): before, the first record's boundary already sealed the 64 KiB buffer and the
  // second allocated a 4 MiB one, at every point (external memory, V8's GCs with it).
  const small = new ByteWriter(1 << 16)
  for (let i = 1; i <= 900; i++) { const at = small.beginRecord(i); for (let j = 0; j < 70; j++) small.u8(j); small.endRecord(at) }
  assert.ok(small.buf.length <= 1 << 17, `the writer's buffer is ${small.buf.length} bytes for a ${small.length}-byte point`)
  assert.equal(small.parts().length, 1, 'one part')
  // A large point: the first buffer doubles up to 4 MiB, then 4 MiB parts are sealed (what
  // a streamed full point hands over, stream.ts); every part holds whole records, in order.
  const big = new ByteWriter(1 << 16)
  const n = 120_000
  for (let i = 1; i <= n; i++) { const at = big.beginRecord(i); for (let j = 0; j < 70; j++) big.u8((i + j) & 0xff); big.endRecord(at) }
  const parts = big.parts()
  assert.ok(parts.length >= 2, `${parts.length} parts`)
  assert.ok(parts.every(p => p.length <= 1 << 22), 'no part past 4 MiB')
  assert.ok(parts.slice(0, -1).every(p => p.length > (1 << 22) - (1 << 16)), 'sealed parts of about 4 MiB')
  let id = 1
  for (const p of parts) {
    for (let at = 0; at < p.length;) {
      let v = 0, shift = 0, b: number
      do { b = p[at++]; v += (b & 0x7f) * 2 ** shift; shift += 7 } while (b & 0x80)
      assert.equal(v, id, 'records in order, none split across parts')
      assert.equal(p[at], 70, 'body length')
      assert.equal(p[at + 1 + 69], (id + 69) & 0xff, 'last body byte')
      at += 1 + 70
      id++
    }
  }
  assert.equal(id, n + 1)
})

/** An array of `n` entries: mostly numbers (every edge), with strings, objects, null, undefined, booleans, bigints mixed in. */
function mixed(n: number, shared: object): unknown[] {
  const a: unknown[] = []
  for (let i = 0; i < n; i++) {
    const k = i % 40
    if (k < EDGES.length) a.push(EDGES[k])
    else if (k === 30) a.push(`s${i}`)
    else if (k === 31) a.push('\ud800' + i)           // a lone surrogate: UTF-16
    else if (k === 32) a.push(shared)
    else if (k === 33) a.push(null)
    else if (k === 34) a.push(undefined)
    else if (k === 35) a.push(i % 2 === 0)
    else if (k === 36) a.push(BigInt(i) * 10n ** 20n)
    else if (k === 37) a.push({ i })
    else a.push(i * 0.1)
  }
  return a
}

function assertSameEntries(got: unknown[], want: unknown[], what: string): void {
  assert.equal(got.length, want.length, `${what}: length`)
  for (let i = 0; i < want.length; i++) {
    const g = got[i], x = want[i]
    if (typeof x === 'object' && x !== null) assert.deepEqual(g, x, `${what}[${i}]`)
    else assert.ok(Object.is(g, x), `${what}[${i}]: ${String(g)} !== ${String(x)}`)
    assert.equal(i in got, i in want, `${what}[${i}]: hole or not`)
  }
}

test('large arrays of numbers mixed with other values restore exactly (-0, NaN, int32 edges, holes, named keys)', async () => {
  const shared = { shared: 1 }
  const dense = mixed(SEGMENT_MIN * 8 + 3, shared)           // segmented, numbers by the inline loop
  const small = mixed(SEGMENT_MIN, shared)                   // not segmented
  const holey = mixed(SEGMENT_MIN * 4, shared)
  delete holey[100]; delete holey[SEGMENT_MIN * 2]           // holes: not segmented
  const named = mixed(SEGMENT_MIN * 4, shared) as unknown[] & { label?: string }
  named.label = 'extra'                                      // a named key: not segmented
  const doubles = Array.from({ length: 20_000 }, (_, i) => (i % 1000 === 0 ? -0 : i % 997 === 0 ? NaN : i / 7))
  const root = { dense, small, holey, named, doubles, again: dense }
  const region = simRegion(1 << 23)
  const c = Container.openRegion(region, { init: () => root })
  await c.persist()
  ;(root as Record<string, unknown>).marker = 1
  const quiet = await c.persist()
  assert.equal(quiet.objects, 1, 'only the root changed: the arrays\' shadows (verify.ts) match them')
  dense[5] = -0; dense[SEGMENT_MIN * 4] = 'changed'; doubles[12_345] = -0   // a later point re-encodes them
  await c.persist()
  const f = Container.openRegion(region.crash(1))
  const r = f.unwrap(f.root) as typeof root
  assertSameEntries(r.dense, dense, 'dense')
  assertSameEntries(r.small, small, 'small')
  assertSameEntries(r.holey, holey, 'holey')
  assertSameEntries(r.named, named, 'named')
  assert.equal((r.named as typeof named).label, 'extra')
  assertSameEntries(r.doubles, doubles, 'doubles')
  assert.equal(r.again, r.dense)
  assert.equal(r.dense[32], r.small[32], 'the shared object is one object')
})

test('each SEGMENT of a large collection references exactly the objects of its own entries (segments.ts SegmentCutter)', () => {
  const objs = Array.from({ length: 3000 }, (_, i) => ({ i }))
  const set = new Set<object>(objs)
  const table = new ObjectTable()
  const refs = new RefStore()
  const enc = new Encoder({ table, shapes: new ShapeTrie(), classes: new ClassRegistry(), excluded: new WeakSet(), anyExcluded: false, anyProxies: false, refs, dropped: new BigMap(), segments: new Map(), dates: new DateTable(), dirty: new DirtySet(), viewsOf: new Map(), verifier: null, states: new Map(), binaries: new BinaryTable(), inspect: true, attributes: false })
  encodeFromRoot(enc, table, { set, list: objs })
  const slice = (id: number) => [...refs.pool.subarray(refs.start[id], refs.start[id] + refs.count[id])]
  for (const holder of [set, objs]) {
    const segments = slice(table.idOf(holder))
    assert.ok(segments.length > 3, `${segments.length} segments`)
    const seen = segments.flatMap(sid => slice(sid)).map(id => table.objects[id])
    assert.equal(seen.length, objs.length, 'one reference per entry, none repeated from an earlier segment')
    assert.deepEqual(seen, objs)
  }
})
