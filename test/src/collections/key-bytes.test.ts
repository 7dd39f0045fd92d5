// Keys inv. K1 (src/collections/keys.ts): a key that outlives user code owns its bytes. A blob
// key given to put is hashed (hash map) or descended with (sorted map) before the value is read,
// and the value's getters are user code; a getRange bound is used batch by batch while the caller
// runs. The caller's bytes changing meanwhile (a reused Buffer, often a view of Node's shared
// pool) must change neither what is stored nor the range. Real files; check() after each.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { open, t } from '../../../src/index.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-key-bytes-'))
const key = (i: number): Buffer => Buffer.from(String(i).padStart(4, '0')) // a view of Node's Buffer pool

test('keys inv. K1: a getRange bound Buffer the caller reuses, before or during the iteration, does not move the range', () => {
  const file = path.join(dir, 'range.pm')
  const pm = open(file, { size: 4 << 20 })
  const m = pm.sortedMap('m', t.blob, t.u32)
  for (let i = 0; i < 1000; i++) m.put(key(i), i, { durability: 'none' })
  const end = key(600), start = key(100)
  const it = m.getRange({ start, end })
  end.write('0105') // reused before the first batch is read (the range is lazy)
  let n = 0
  for (const [, v] of it) {
    if (n++ === 0) { start.write('0990'); end.write('0101') } // and again after the first batch of 128
    assert.equal(v, 99 + n)
  }
  assert.equal(n, 500, 'keys 0100..0599: before K1 the first batch stopped at 0105')
  const back = key(300)
  const rev = [...m.getRange({ end: back, reverse: true, limit: 200 })].map(([, v]) => v)
  back.write('0000')
  assert.deepEqual(rev, Array.from({ length: 200 }, (_, i) => 299 - i))
  assert.ok(pm.check().ok)
  pm.close()
})

test('keys inv. K1: a blob key changed by a getter of the value being put is stored as it was given', () => {
  const file = path.join(dir, 'put.pm')
  let pm = open(file, { size: 4 << 20 })
  const V = t.struct({ v: t.u32 })
  const h = pm.hashMap('h', t.blob, V), s = pm.sortedMap('s', t.blob, V)
  for (let i = 0; i < 300; i++) { h.put(key(i), { v: i }); s.put(key(i), { v: i }) }
  for (const m of [h, s]) {
    const k = Buffer.from('0500x') // sorts after every key above
    m.put(k, { get v() { k.write('0000'); return 7 } }) // user code between the key's hashing/descent and its write
    // before K1: the hash map held it under the hash of '0500x' with the bytes '0000x' (found by neither),
    // the sorted map held '0000x' after '0299' (keys out of order)
    assert.deepEqual(m.get(Buffer.from('0500x')), { v: 7 })
    assert.equal(m.get(Buffer.from('0000x')), undefined)
  }
  assert.deepEqual(pm.check().problems, [])
  pm.close()
  pm = open(file)
  assert.deepEqual(pm.sortedMap('s', t.blob, V).get(Buffer.from('0500x')), { v: 7 })
  assert.deepEqual(pm.hashMap('h', t.blob, V).get(Buffer.from('0500x')), { v: 7 })
  assert.ok(pm.check().ok)
  pm.close()
})
