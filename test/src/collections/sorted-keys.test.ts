// SortedMap with string and blob keys against a Map model ordered by the keys' bytes: keys of
// every slot form (empty, short ASCII compared from their inline slot words, non-ASCII inline,
// out of line over 15 bytes), many sharing prefixes, so the descent's comparisons of stored
// slots (keys.ts compareStored: inline slots compared in place) decide every get and the order.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { PersistentMemory, SimRegion, t } from '../../../src/index.js'

const utf8 = (s: string) => Buffer.from(s, 'utf8')
const alphabet = fc.constantFrom('a', 'b', 'z', 'A', '0', '~', '\x7f', 'é', 'ä', '\u20ac', '\0')
const keyArb = fc.array(alphabet, { maxLength: 20 }).map(cs => cs.join(''))
/** Each key with two of its prefixes: a stored key that is a prefix of the one looked up, and the reverse. */
const withPrefixes = <T extends string | Uint8Array>(keys: T[]): T[] => keys.flatMap(k => [k, k.slice(0, k.length >> 1) as T, k.slice(0, Math.max(0, k.length - 1)) as T])

test('sortedMap: string keys of every slot form get and sort by their UTF-8 bytes (compareStored)', () => {
  fc.assert(fc.property(fc.array(keyArb, { minLength: 1, maxLength: 120 }), fc.array(keyArb, { maxLength: 40 }), (generated, probes) => {
    const keys = withPrefixes(generated)
    const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 4 << 20 }), { logSize: 512 * 1024 })
    const s = pm.sortedMap('s', t.string, t.u32)
    const model = new Map<string, number>()
    pm.transaction(() => keys.forEach((k, i) => { s.put(k, i); model.set(k, i) }), { durability: 'none' })
    for (const k of [...keys, ...probes]) assert.equal(s.get(k), model.get(k), `get(${JSON.stringify(k)})`)
    const sorted = [...model.keys()].sort((x, y) => Buffer.compare(utf8(x), utf8(y)))
    assert.deepEqual([...s.keys()], sorted)
    const start = probes[0] ?? ''
    assert.deepEqual([...s.getRange({ start })].map(e => e[0]), sorted.filter(k => Buffer.compare(utf8(k), utf8(start)) >= 0))
    pm.close()
  }), { numRuns: Number(process.env.PMEM_COLLECTION_RUNS ?? 30) })
})

test('sortedMap: blob keys, inline and out of line, get and sort by their bytes (compareStored)', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 24, max: 3 }), { minLength: 1, maxLength: 200 }), generated => {
    const keys = withPrefixes(generated)
    const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 4 << 20 }), { logSize: 512 * 1024 })
    const s = pm.sortedMap('b', t.blob, t.u32)
    const model = new Map<string, [Uint8Array, number]>()
    pm.transaction(() => keys.forEach((k, i) => { s.put(k, i); model.set(Buffer.from(k).toString('hex'), [k, i]) }), { durability: 'none' })
    for (const [k, i] of model.values()) assert.equal(s.get(k), i)
    const sorted = [...model.values()].map(e => Buffer.from(e[0])).sort(Buffer.compare)
    assert.deepEqual([...s.keys()].map(k => Buffer.from(k)), sorted)
    pm.close()
  }), { numRuns: Number(process.env.PMEM_COLLECTION_RUNS ?? 30) })
})
