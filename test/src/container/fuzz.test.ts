/**
 * Decoder fuzzing: random bytes and mutations of valid logs (bit flips, truncations,
 * inserted and overwritten bytes, changed lengths and ids) fed to the object-record decoder
 * and the metadata decoder give a typed error (PmemError) or a graph, never another
 * exception, a crash or a hang. (On disk, chunk and metadata checksums catch damage before
 * the decoder sees it; this covers what slips through and bugs of our own.)
 */
import { test } from 'node:test'
import { BigMap } from '../../../src/container/big-map.js'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { PmemError } from '../../../regions/index.js'
import { Restorer } from '../../../src/container/decode.js'
import { Encoder, joinBatch } from '../../../src/container/encode.js'
import { ObjectTable } from '../../../src/container/identity.js'
import { ShapeTrie } from '../../../src/container/shapes.js'
import { ClassRegistry } from '../../../src/container/classes.js'
import { RefStore } from '../../../src/container/refs.js'
import { ByteWriter } from '../../../src/container/writer.js'
import { ByteReader } from '../../../src/container/reader.js'
import { encodeFromRoot } from '../../../src/container/walk.js'
import { decodeMeta, encodeMeta } from '../../../src/container/meta.js'
import { DateTable } from '../../../src/container/dates.js'
import { DirtySet } from '../../../src/container/dirty.js'
import { BinaryTable } from '../../../src/container/binary.js'
import { buildGraph, graphRecipe, Point } from './graph-kit.js'

function encode(root: object): { log: Buffer; rootId: number; high: number } {
  const table = new ObjectTable()
  const enc = new Encoder({ table, shapes: new ShapeTrie(), classes: registry(), excluded: new WeakSet(), anyExcluded: false, anyProxies: false, refs: new RefStore(), dropped: new BigMap(), segments: new Map(), dates: new DateTable(), dirty: new DirtySet(), viewsOf: new Map(), verifier: null, states: new Map(), binaries: new BinaryTable(), inspect: true, attributes: true })
  const rootId = encodeFromRoot(enc, table, root)
  return { log: joinBatch(enc.output()), rootId, high: table.highWater }
}

function registry(): ClassRegistry { const r = new ClassRegistry(); r.add(Point); return r }

function decodeOrTypedError(log: Uint8Array, rootId: number, high: number): void {
  const table = new ObjectTable()
  table.reset(high)
  try {
    new Restorer(log, log.length, high, 'fuzz', registry(), (o, id) => table.bind(o, id)).run(rootId)
  } catch (e) {
    if (!(e instanceof PmemError)) assert.fail(`untyped error ${(e as Error).name}: ${(e as Error).message}`)
  }
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), v: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 8 }) }),
)

/** Runs of the mutated-log property (PMEM_FUZZ_RUNS for longer runs; 3,000 took 25 s of npm test). */
const MUTATED_RUNS = Number(process.env.PMEM_FUZZ_RUNS ?? 1000)

test('mutated logs decode to a graph or a typed error', async () => {
  fc.assert(fc.property(graphRecipe(10), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.nat({ max: 3 }), (recipe, muts, rootShift) => {
    const { log, rootId, high } = encode(buildGraph(recipe))
    let b = Buffer.from(log)
    for (const m of muts) {
      if (b.length === 0) break
      const at = m.at % b.length
      if (m.kind === 'flip') b[at] ^= 1 << m.bit
      else if (m.kind === 'set') b[at] = m.v
      else if (m.kind === 'cut') b = b.subarray(0, at)
      else b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)])
    }
    decodeOrTypedError(b, rootId + rootShift, high + rootShift)
  }), { numRuns: MUTATED_RUNS })
})

test('random bytes decode to a typed error', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 50 }), (bytes, high) => {
    decodeOrTypedError(bytes, 1, high)
  }), { numRuns: 3000 })
})

test('records with huge counts and lengths fail fast instead of allocating', () => {
  const varint = (v: number): number[] => { const out: number[] = []; while (v >= 0x80) { out.push((v % 0x80) | 0x80); v = Math.floor(v / 0x80) } out.push(v); return out }
  const header = (id: number, len: number, body: number[]): Buffer => Buffer.from([...varint(id), ...varint(len), ...body])
  // CPU time, not wall time: a loop over 2^32 elements costs seconds of CPU, while a process
  // descheduled for a second on a loaded machine (CI, other test files beside it) costs none.
  const started = process.cpuUsage()
  decodeOrTypedError(header(1, 7, [3, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]), 1, 2)    // array of 2^32 elements
  decodeOrTypedError(header(1, 7, [4, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]), 1, 2)    // sparse array
  decodeOrTypedError(header(1, 7, [9, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]), 1, 2)    // ArrayBuffer of 4 GiB
  decodeOrTypedError(header(1, 0xffffff, [5, 0]), 1, 2)
  const used = process.cpuUsage(started)
  assert.ok(used.user + used.system < 1_000_000, `decoding the four records took ${used.user + used.system} µs of CPU`)
})

test('metadata decoder: damaged blobs are typed errors', () => {
  const good = encodeMeta({ logEnd: 100, rootId: 1, highWater: 5, objectsWritten: 3, records: 4, bytesWritten: 100, compactedSize: 100, time: 1, blockedMs: 0.5, indexAt: 40 })
  assert.equal(decodeMeta(good, 'm').logEnd, 100)
  fc.assert(fc.property(fc.nat({ max: good.length - 1 }), fc.nat({ max: 7 }), (at, bit) => {
    const b = good.slice(); b[at] ^= 1 << bit
    assert.throws(() => decodeMeta(b, 'm'), PmemError)
  }))
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), b => {
    try { decodeMeta(b, 'm') } catch (e) { assert.ok(e instanceof PmemError) }
  }))
})

test('writer and reader agree on varints of every size, across the 32-bit fast path boundary', () => {
  const edges = [0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 0x1f_ffff, 0x20_0000, 0xfff_ffff, 0x1000_0000, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x1_0000_0000, 2 ** 48, Number.MAX_SAFE_INTEGER]
  fc.assert(fc.property(fc.array(fc.oneof(fc.constantFrom(...edges), fc.nat(), fc.maxSafeNat()), { maxLength: 50 }), values => {
    const w = new ByteWriter(16)
    for (const v of values) { w.varint(v); w.tagU32(7, v >>> 0) }
    const r = new ByteReader(w.view(), 0, w.pos, 'varint')
    for (const v of values) {
      assert.equal(r.varint(), v)
      assert.equal(r.u8(), 7)
      assert.equal(r.u32(), v >>> 0)
    }
    assert.equal(r.pos, w.pos)
  }))
})
