/**
 * The restore's fast paths (issue 16, maps-sets and numeric corpus workloads): latin-1
 * strings made from their char codes (reader.ts `fromCodes`), array elements read without
 * a call per number (decode-values.ts `elements`), Maps and Sets each with their loop, segments
 * by content made into a Map only when the encoder asks (segments.ts `RestoredSegments`),
 * their keys views of the restore's log copy (log.ts inv. 6), and the writer's log decoded
 * in place from the region (log.ts inv. 5, ShadowStore.viewPrefix, tested in
 * test/txn/shadow.test.ts). Each restores exactly what was persisted, and damage stays a
 * typed error.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CorruptionError, SimRegion } from '../../../regions/index.js'
import { Container } from '../../../src/container/index.js'
import { Restorer } from '../../../src/container/decode.js'
import { Encoder, joinBatch } from '../../../src/container/encode.js'
import { ShapeTrie } from '../../../src/container/shapes.js'
import { RefStore } from '../../../src/container/refs.js'
import { encodeFromRoot } from '../../../src/container/walk.js'
import { DateTable } from '../../../src/container/dates.js'
import { DirtySet } from '../../../src/container/dirty.js'
import { BinaryTable } from '../../../src/container/binary.js'
import { ClassRegistry } from '../../../src/container/classes.js'
import { ObjectTable } from '../../../src/container/identity.js'
import { KIND_ARRAY, TAG_FLOAT64, TAG_INT32 } from '../../../src/container/format.js'
import { runs } from './setup.js'

/** Every byte value in strings of every length from 0 to 40 (latin-1: one char per byte). */
function latin1Strings(): string[] {
  const out: string[] = []
  for (let n = 0; n <= 40; n++) {
    for (let start = 0; start < 256; start += 37) {
      let s = ''
      for (let i = 0; i < n; i++) s += String.fromCharCode((start + i * 53) & 0xff)
      out.push(s)
    }
  }
  return out
}

/** Restores `root` from a crash image of a container that persisted it once (the writer's open: log decoded in place when it is one run). */
async function roundTrip<T extends object>(root: T, opts: { streamThreshold?: number; lazy?: boolean } = {}): Promise<T> {
  const region = SimRegion.create({ size: 1 << 22, path: 'fast.pmc' })
  const c = Container.openRegion(region, { init: () => root, streamThreshold: opts.streamThreshold })
  await c.persist()
  await c.close()
  const again = Container.openRegion(region.crash(1), { lazy: opts.lazy })
  const out = again.unwrap(again.root) as T
  if (opts.lazy === true) assert.deepStrictEqual(out, root)   // reads everything before close
  await again.close()
  return out
}

test('latin-1 strings of 0-40 chars and every byte value restore exactly, as Map keys and values, Set entries, array elements and object keys (reader.ts fromCodes)', async () => {
  const strings = latin1Strings()
  const small = strings.slice(0, 200)        // small collections: MAP, SET, ARRAY records
  const root = {
    map: new Map(strings.map((s, i) => [s, `${i}:${s}`])),
    set: new Set(strings),
    arr: [...strings],
    smallMap: new Map(small.map(s => [s, s])),
    smallSet: new Set(small),
    smallArr: [...small],
    obj: Object.fromEntries(small.filter(s => s !== '__proto__').map(s => [s, s.length])),
  }
  for (const lazy of [false, true]) {
    const out = await roundTrip(root, { lazy })
    assert.deepStrictEqual(out, root)
    assert.deepStrictEqual([...out.set], [...root.set], 'Set order kept')
    assert.deepStrictEqual([...out.map.keys()], [...root.map.keys()], 'Map order kept')
  }
})

/** Array elements of every tag `elements` (decode-values.ts) reads itself, and others it leaves to `value`. */
const element = fc.oneof(
  fc.double(),                                       // NaN, -0, Infinity included
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.integer({ min: 0, max: 127 }),
  fc.constantFrom(0, -0, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, null, undefined, true, false),
  fc.string({ maxLength: 14 }),
  fc.record({ v: fc.integer() }),
  fc.array(fc.double(), { maxLength: 3 }),
)

test('arrays of numbers and other values, segmented or not, restore element for element (decode-values.ts elements), also lazily and in place', async () => {
  await fc.assert(fc.asyncProperty(
    fc.array(element, { maxLength: 40 }), fc.nat({ max: 700 }), fc.double(), fc.integer(), fc.boolean(),
    async (mixed, n, d, k, lazy) => {
      const numbers = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? d + i : i % 3 === 1 ? k ^ i : i & 0x7f))
      const root = { mixed, numbers, long: [...numbers, ...mixed], floats: numbers.map(x => x / 7) }
      const out = await roundTrip(root, { lazy, streamThreshold: 0 })
      assert.deepStrictEqual(out, root)
      for (let i = 0; i < root.long.length; i++) {
        const x = root.long[i]
        if (typeof x !== 'object' || x === null) assert.ok(Object.is(out.long[i], x), `element ${i}: ${String(out.long[i])} for ${String(x)}`)
      }
    },
  ), runs(25))
})

test('an array element cut short by the record end is CorruptionError at that element, for a float64 and an int32 (decode.ts inv. 1)', () => {
  for (const [tag, size] of [[TAG_FLOAT64, 8], [TAG_INT32, 4]] as const) {
    for (let have = 0; have < size; have++) {
      // id 1, body: kind ARRAY, proto 0, length 2, the element 5, then the cut one; the log goes on past the record
      const body = [KIND_ARRAY, 0, 2, 5, tag, ...new Array<number>(have).fill(0x40)]
      const log = Buffer.from([1, body.length, ...body, 2, 12, KIND_ARRAY, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
      const table = new ObjectTable()
      table.reset(3)
      assert.throws(
        () => new Restorer(log, log.length, 3, 'cut', new ClassRegistry(), (o, id) => table.bind(o, id)).run(1),
        (e: unknown) => e instanceof CorruptionError && e.message.includes(`truncated (needs ${size} more bytes)`),   // the element's own bound, not a later read's
        `tag 0x${tag.toString(16)} with ${have} of ${size} bytes`,
      )
    }
  }
})

test('after a restore, a change in a large Set rewrites one segment (segments.ts RestoredSegments made on first use), and the restored segments are all known', async () => {
  const region = SimRegion.create({ size: 1 << 23, path: 'segs.pmc' })
  const words = Array.from({ length: 20_000 }, (_, i) => `w${(i * 7919) % 100_003}`)
  const c = Container.openRegion(region, { init: () => ({ words: new Set(words), list: [...words] }) })
  await c.persist()
  await c.close()
  const image = region.crash(1)
  const again = Container.openRegion(image)
  again.root.words.add('one more')
  again.root.list[10_000] = 'changed'
  const s = await again.persist()
  assert.ok(s.bytes < 12_000, `wrote ${s.bytes} bytes`)
  await again.close()
  const f = Container.openRegion(image.crash(2))
  assert.equal(f.root.words.size, 20_001)
  assert.ok(f.root.words.has('one more'))
  assert.equal(f.root.list[10_000], 'changed')
  assert.equal(f.root.list[10_001], words[10_001])
  await f.close()
})

test('a flipped byte inside a string of the log is CorruptionError at open, never a changed string (every chunk verified, copied or decoded in place: log.ts inv. 5)', async () => {
  const marker = 'M'.repeat(64)
  const root = { items: Array.from({ length: 3000 }, (_, i) => `${marker}${i}`) }
  const region = SimRegion.create({ size: 1 << 22, path: 'flip.pmc' })
  const c = Container.openRegion(region, { init: () => root })
  await c.persist()
  await c.close()
  const image = region.crash(1)
  const again = Container.openRegion(image)
  assert.deepStrictEqual(again.unwrap(again.root), root)
  await again.close()
  const bytes = image.durableImage()
  const at = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(`${marker}2999`)
  assert.ok(at > 0)
  bytes[at + 3] ^= 0x01    // 'M' -> 'L' inside one string's bytes: decodes fine, only a checksum sees it
  assert.throws(() => Container.openRegion(SimRegion.fromImage(bytes, { path: 'flip.pmc' })), CorruptionError)
})

test('a full restore\'s segment keys are views of its private log copy only when segments are at least half of the log (log.ts inv. 6), else strings', () => {
  const words = Array.from({ length: 2000 }, (_, i) => `word${i}`)
  for (const [label, root, views] of [
    ['mostly segments', { set: new Set(words) }, true],
    ['mostly other records', { set: new Set(words.slice(0, 300)), text: 'x'.repeat(50_000) }, false],
  ] as const) {
    const table = new ObjectTable()
    const enc = new Encoder({ table, shapes: new ShapeTrie(), classes: new ClassRegistry(), excluded: new WeakSet(), anyExcluded: false, anyProxies: false, refs: new RefStore(), dropped: new Map(), segments: new Map(), dates: new DateTable(), dirty: new DirtySet(), viewsOf: new Map(), verifier: null, states: new Map(), binaries: new BinaryTable(), inspect: true, attributes: false })
    const rootId = encodeFromRoot(enc, table, root)
    const log = joinBatch(enc.output())
    const out = new ObjectTable()
    out.reset(table.highWater)
    const r = new Restorer(log, log.length, table.highWater, 'keys', new ClassRegistry(), (o, id) => out.bind(o, id))
    r.keyViews = true
    const restored = r.run(rootId) as typeof root
    assert.deepStrictEqual(restored, root)
    const keys = [...r.segments.values()].flat().map(([, key]) => key)
    assert.ok(keys.length > 1, `${label}: segmented`)
    for (const key of keys) {
      if (views) assert.ok(typeof key !== 'string' && key.buffer === log.buffer, `${label}: a view of the log`)
      else assert.equal(typeof key, 'string', `${label}: a string, the log not held`)
    }
  }
})
