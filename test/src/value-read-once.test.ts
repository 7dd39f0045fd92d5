// View inv. V3 (src/view.ts): a struct or array value is read once, before anything is written:
// every field and element (a getter, a Proxy trap, a view's field) exactly once, into a copy
// that is checked and then written. So a getter that throws, or changes its answer, half way
// through cannot leave a torn struct that a caller catching the error commits. Real file.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { open, t, InvalidArgumentError } from '../../src/index.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-read-once-'))

test('view inv. V3: a getter that answers differently on a second read writes the value it gave once, whole', () => {
  const file = path.join(dir, 'a.pm')
  const pm = open(file, { size: 1 << 20 })
  const P = t.struct({ a: t.u32, s: t.string, b: t.u32 })
  const arr = pm.persistent('arr', t.array(P, 2))
  let reads = 0
  const fickle = { a: 3, s: 'a string longer than fifteen bytes', get b(): number { return (++reads === 1 ? 4 : 'not a number') as number } }
  // before V3: a = 3 and s were staged, then b's second read threw, the caller caught it and committed a torn struct
  pm.transaction(tx => { try { tx.view(arr).set(1, fickle) } catch { /* the caller goes on */ } })
  assert.deepEqual(pm.read(tx => tx.view(arr).toJSON()), [{ a: 0, s: '', b: 0 }, { a: 3, s: fickle.s, b: 4 }])
  assert.equal(reads, 1, 'each field read exactly once')
  let throws = 0
  const failing = { a: 5, get b() { if (++throws > 1) throw new Error('second read'); return 6 } }
  pm.transaction(tx => { try { tx.view(arr).set(0, failing) } catch { /* the caller goes on */ } })
  assert.deepEqual(pm.read(tx => tx.view(arr).get(0).toJSON()), { a: 5, s: '', b: 6 })
  // a getter that throws on its only read: nothing written (V1), the transaction goes on
  pm.transaction(tx => {
    try { tx.view(arr).set(0, { a: 7, get b(): number { throw new Error('no') } }) } catch { /* the caller goes on */ }
    tx.view(arr).get(1).a = 8
  })
  assert.deepEqual(pm.read(tx => tx.view(arr).toJSON()), [{ a: 5, s: '', b: 6 }, { a: 8, s: fickle.s, b: 4 }])
  pm.close()
  const again = open(file)
  assert.ok(again.check().ok)
  again.close()
})

test('view inv. V3: a Proxy value, a getter that changes another field, and a view of the destination are read once, before writing', () => {
  const pm = open(path.join(dir, 'b.pm'), { size: 1 << 20 })
  const B = t.struct({ x: t.u32, y: t.bytes(3), z: t.array(t.f64, 2) })
  const gets: Record<string, number> = {}
  const proxy = new Proxy({ x: 1, y: new Uint8Array([1, 2, 3]), z: [0.5, -0] }, {
    get(o, k, r) { if (typeof k === 'string') gets[k] = (gets[k] ?? 0) + 1; return Reflect.get(o, k, r) },
  })
  const m = pm.hashMap('m', t.u32, B)
  m.put(1, proxy)
  assert.deepEqual(gets, { x: 1, y: 1, z: 1 })
  assert.deepEqual(m.get(1), { x: 1, y: new Uint8Array([1, 2, 3]), z: [0.5, -0] })
  // a getter of a later field that rewrites an earlier field's bytes: y is written as it was read (a copy)
  const y = new Uint8Array([4, 5, 6])
  m.put(2, { x: 2, y, get z() { y.fill(9); return [1, 2] } })
  assert.deepEqual(m.get(2)?.y, new Uint8Array([4, 5, 6]))
  const pooled = Buffer.from([4, 5, 6]) // a view of Node's Buffer pool, whose slice() is no copy
  m.put(3, { x: 3, y: pooled, get z() { pooled.fill(9); return [1, 2] } })
  assert.deepEqual(m.get(3)?.y, new Uint8Array([4, 5, 6]))
  // a view whose bytes overlap the destination is read whole before the first field is written (memmove)
  const S = t.struct({ a: t.u32, b: t.u32 })
  const s = pm.persistent('s', t.array(S, 3))
  pm.transaction(tx => { tx.view(s).set(0, { a: 1, b: 2 }); tx.view(s).set(1, { a: 3, b: 4 }); tx.view(s).set(2, { a: 5, b: 6 }) })
  pm.transaction(tx => { tx.view(s).set(1, tx.at(S, s.offset + 4)) }) // the source is { a: 2, b: 3 }: elem 0's b and elem 1's a
  assert.deepEqual(pm.read(tx => tx.view(s).toJSON()), [{ a: 1, b: 2 }, { a: 2, b: 3 }, { a: 5, b: 6 }])
  assert.ok(pm.check({ reachability: true }).ok)
  pm.close()
})

test('view inv. V3: a getter of a value that writes the same collection runs before the put reads the collection', () => {
  const file = path.join(dir, 'c.pm')
  let pm = open(file, { size: 8 << 20 })
  const V = t.struct({ v: t.u32 })
  const h = pm.hashMap('h', t.u32, V), vec = pm.vector('vec', V), s = pm.sortedMap('s', t.u32, V)
  let once = true
  const auditing = (write: () => void) => ({ get v() { if (once) { once = false; write() } return 7 } })
  // 200 puts split 136 buckets: before V3 the entry was linked into the bucket found before them, and lost
  h.put(1_000_000, auditing(() => { for (let i = 0; i < 200; i++) h.put(i, { v: i }) }))
  assert.deepEqual(h.get(1_000_000), { v: 7 })
  assert.equal(h.size, 201)
  once = true
  // before V3: the element went where the first of the 20 pushed meanwhile was, and the length came back to 1
  vec.push(auditing(() => { for (let i = 0; i < 20; i++) vec.push({ v: 100 + i }) }))
  assert.deepEqual([...vec].map(x => x.v), [...Array.from({ length: 20 }, (_, i) => 100 + i), 7])
  once = true
  vec.set(3, auditing(() => { vec.pop() }))
  assert.equal(vec.length, 20)
  assert.deepEqual(vec.get(3), { v: 7 })
  for (let i = 0; i < 64; i++) s.put(i * 10, { v: i })
  once = true
  s.put(55, auditing(() => { for (let i = 0; i < 300; i++) s.put(1000 + i, { v: i }) }))
  assert.deepEqual(s.get(55), { v: 7 })
  assert.equal(s.size, 365)
  assert.deepEqual(pm.check().problems, [])
  pm.close()
  pm = open(file)
  assert.deepEqual(pm.hashMap('h', t.u32, V).get(1_000_000), { v: 7 })
  assert.ok(pm.check().ok)
  pm.close()
})

test('view inv. V1, V3: an array view is an array value: a struct view with array fields copies, and a.arr = b.arr compiles and works', () => {
  const pm = open(path.join(dir, 'd.pm'), { size: 1 << 20 })
  const S = t.struct({ n: t.u32, arr: t.array(t.u8, 2), inner: t.struct({ q: t.string, w: t.array(t.f64, 2) }) })
  const a = pm.persistent('a', S), b = pm.persistent('b', t.array(S, 1))
  pm.transaction(tx => { const v = tx.view(a); v.n = 1; v.arr.set(0, 5); v.inner.q = 'a string of more than fifteen bytes'; v.inner.w.set(1, -0.5) })
  // before: InvalidArgumentError "field .arr must be an array of 2 elements (u8[2]), got an object (View)"
  pm.transaction(tx => { tx.view(b).set(0, tx.view(a)) })
  const want = { n: 1, arr: [5, 0], inner: { q: 'a string of more than fifteen bytes', w: [0, -0.5] } }
  assert.deepEqual(pm.read(tx => tx.view(b).get(0).toJSON()), want)
  pm.transaction(tx => { tx.view(a).arr.set(1, 9); tx.view(b).get(0).arr = tx.view(a).arr; tx.view(a).arr = tx.view(a).arr })
  assert.deepEqual(pm.read(tx => tx.view(b).get(0).arr.toJSON()), [5, 9])
  assert.throws(() => pm.transaction(tx => { tx.view(a).arr = tx.view(a).inner.w as never }), InvalidArgumentError) // f64 values into u8: checked as any array
  assert.ok(pm.check({ reachability: true }).ok)
  pm.close()
})
