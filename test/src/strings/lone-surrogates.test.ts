// varlen inv. 4 (src/varlen.ts): a string with a lone surrogate is InvalidArgumentError naming
// its index, with nothing written, wherever a string becomes stored bytes: struct fields,
// array elements, vector elements, map keys and values, lookups, range bounds, variable and
// collection names. Before session 12 TextEncoder stored U+FFFD in its place: the value read
// back different, and the keys '\uD800' and '\uDBFF' were one (the second put overwrote the
// first entry). Well-formed strings, surrogate pairs included, round-trip through a reopen.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { open, t, InvalidArgumentError } from '../../../src/index.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-lone-surrogates-'))
const LONE = ['\uD800', '\uDBFF', '\uDC00', 'a\uDFFFb', 'x'.repeat(20) + '\uD83D', '\uD83D\uDE00'.slice(1) + 'é', '😀'.slice(0, 1)]
const GOOD = ['', 'a', 'é', '\uD83D\uDE00', 'x'.repeat(15) + '😀', '\uFFFD', '\u{10FFFF}'.repeat(9)]

/** Asserts `fn` throws InvalidArgumentError naming the index of the lone surrogate of `s`. */
function refuses(fn: () => unknown, s: string, what: string): void {
  const at = [...s].findIndex(ch => ch.length === 1 && ch.charCodeAt(0) >= 0xd800 && ch.charCodeAt(0) <= 0xdfff)
  const index = [...s].slice(0, at).join('').length
  assert.throws(fn, (e: unknown) => e instanceof InvalidArgumentError && e.message.includes(`at index ${index}`) && e.message.includes('lone surrogate'), `${what} ${JSON.stringify(s)}`)
}

test('varlen inv. 4: a lone surrogate in a struct field, an array element or a variable is refused whole, nothing written', () => {
  const pm = open(path.join(dir, 'fields.pm'), { size: 4 << 20 })
  const S = t.struct({ a: t.u32, s: t.string, b: t.string })
  const v = pm.persistent('v', t.array(S, 2))
  const one = pm.persistent('one', t.string)
  pm.transaction(tx => { tx.view(v).set(0, { a: 1, s: 'keep', b: 'y'.repeat(40) }); tx.view(one).value = 'kept' })
  for (const s of LONE) {
    pm.transaction(tx => {
      const before = tx.readBytes(v.offset, 2 * S.size), heap = tx.readBytes(pm.engine.dataOffset, 256)
      refuses(() => tx.view(v).set(0, { a: 9, s: 'z'.repeat(30), b: s }), s, 'whole struct') // caught inside the transaction
      refuses(() => { (tx.view(v).get(1) as unknown as { s: string }).s = s }, s, 'field setter')
      refuses(() => { tx.view(one).value = s }, s, 'variable')
      assert.deepEqual(tx.readBytes(v.offset, 2 * S.size), before, 'no field written, not even a before the bad one')
      assert.deepEqual(tx.readBytes(pm.engine.dataOffset, 256), heap, 'no heap block allocated')
    })
  }
  pm.close()
  const again = open(path.join(dir, 'fields.pm'))
  again.read(tx => {
    assert.deepEqual(tx.view(again.persistent('v', t.array(S, 2))).toJSON(), [{ a: 1, s: 'keep', b: 'y'.repeat(40) }, { a: 0, s: '', b: '' }])
    assert.equal(tx.view(again.persistent('one', t.string)).value, 'kept')
  })
  assert.equal(again.check().ok, true)
  again.close()
})

test('varlen inv. 4: collections refuse a lone surrogate in a key, a value, a lookup or a range bound; well-formed strings round-trip', () => {
  const file = path.join(dir, 'colls.pm')
  let pm = open(file, { size: 8 << 20 })
  const h = pm.hashMap('h', t.string, t.string), s = pm.sortedMap('s', t.string, t.string), vec = pm.vector('vec', t.string)
  for (const m of [h, s]) GOOD.forEach((k, i) => m.put(k, GOOD[(i + 1) % GOOD.length]!))
  GOOD.forEach(g => vec.push(g))
  for (const bad of LONE) {
    for (const m of [h, s]) {
      refuses(() => m.put(bad, 'v'), bad, 'put key')
      refuses(() => m.put('k', bad), bad, 'put value')
      refuses(() => m.get(bad), bad, 'get')
      refuses(() => m.has(bad), bad, 'has')
      refuses(() => m.delete(bad), bad, 'delete')
    }
    refuses(() => [...s.getRange({ start: bad })], bad, 'range start')
    refuses(() => [...s.getRange({ end: bad })], bad, 'range end')
    refuses(() => vec.push(bad), bad, 'push')
    refuses(() => vec.set(0, bad), bad, 'set')
    // caught inside a transaction: the sub-transaction leaves nothing behind either
    pm.transaction(() => { refuses(() => h.put(bad, bad), bad, 'put in a transaction') })
  }
  assert.equal(h.size, GOOD.length)
  assert.equal(s.size, GOOD.length)
  assert.equal(vec.length, GOOD.length)
  pm.close()
  pm = open(file)
  const h2 = pm.hashMap('h', t.string, t.string), s2 = pm.sortedMap('s', t.string, t.string)
  GOOD.forEach((k, i) => { assert.equal(h2.get(k), GOOD[(i + 1) % GOOD.length]); assert.equal(s2.get(k), GOOD[(i + 1) % GOOD.length]) })
  assert.deepEqual([...pm.vector('vec', t.string)], GOOD)
  assert.equal(h2.get('\uFFFD'), GOOD[6], 'U+FFFD itself is a key like any other')
  assert.equal(pm.check().ok, true)
  pm.close()
})

test('varlen inv. 4: variable and collection names with a lone surrogate are refused, so no two names become one', () => {
  const file = path.join(dir, 'names.pm')
  let pm = open(file, { size: 4 << 20 })
  refuses(() => pm.persistent('\uD800', t.u32), '\uD800', 'persistent')
  refuses(() => pm.persistent('n\uDBFF', t.u32), 'n\uDBFF', 'persistent')
  refuses(() => pm.hashMap('\uDC00', t.u32, t.u32), '\uDC00', 'hashMap name')
  refuses(() => pm.sortedMap('s\uD800', t.u32, t.u32), 's\uD800', 'sortedMap name')
  refuses(() => pm.vector('\uDFFF', t.u32), '\uDFFF', 'vector name')
  const pair = pm.persistent('\uD83D\uDE00', t.u32)
  pm.transaction(tx => tx.writeU32(pair.offset, 7))
  // field names may be any strings: a lone surrogate is escaped in the stored signature
  const odd = t.struct({ '\uD800': t.u32, '\uDBFF': t.u32 })
  const f = pm.persistent('fields', odd)
  pm.transaction(tx => { const fv = tx.view(f) as unknown as Record<string, number>; fv['\uD800'] = 1; fv['\uDBFF'] = 2 })
  pm.close()
  pm = open(file)
  pm.read(tx => {
    assert.equal(tx.readU32(pm.persistent('\uD83D\uDE00', t.u32).offset), 7)
    assert.deepEqual(tx.view(pm.persistent('fields', odd)).toJSON(), { '\uD800': 1, '\uDBFF': 2 })
  })
  assert.equal(pm.check().ok, true)
  pm.close()
})
