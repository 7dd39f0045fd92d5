// The collections' local decoders (decode.ts) against what was stored: struct values whose
// string fields take every inline length 0-15 (ASCII made by one String.fromCharCode call,
// anything else through decodeString) and out-of-line lengths, read back by hashMap.get,
// sortedMap.get and vector.get.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { PersistentMemory, SimRegion, t } from '../../../src/index.js'

const chars = fc.constantFrom('a', 'Z', ' ', '~', '\0', '\x7f', 'é', '\u20ac', '\u{1F600}')
const str = fc.array(chars, { maxLength: 20 }).map(cs => cs.join(''))

test('decode.ts: string fields of every inline length and form read back equal through get', () => {
  const V = t.struct({ a: t.string, n: t.u32, b: t.string })
  fc.assert(fc.property(fc.array(fc.tuple(str, str), { minLength: 1, maxLength: 40 }), values => {
    const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 2 << 20 }), { logSize: 256 * 1024 })
    const h = pm.hashMap('h', t.u32, V), s = pm.sortedMap('s', t.u32, V), v = pm.vector('v', V)
    pm.transaction(() => values.forEach(([a, b], i) => { const x = { a, n: i, b }; h.put(i, x); s.put(i, x); v.push(x) }), { durability: 'none' })
    values.forEach(([a, b], i) => {
      const want = { a, n: i, b }
      assert.deepEqual(h.get(i), want)
      assert.deepEqual(s.get(i), want)
      assert.deepEqual(v.get(i), want)
    })
    pm.close()
  }), { numRuns: Number(process.env.PMEM_COLLECTION_RUNS ?? 30) })
  // every inline ASCII length, exactly
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 1 << 20 }), { logSize: 128 * 1024 })
  const h = pm.hashMap('every', t.u32, V)
  for (let n = 0; n <= 16; n++) h.put(n, { a: 'abcdefghijklmnop'.slice(0, n), n, b: 'x'.repeat(n) })
  for (let n = 0; n <= 16; n++) assert.deepEqual(h.get(n), { a: 'abcdefghijklmnop'.slice(0, n), n, b: 'x'.repeat(n) })
  pm.close()
})
