// t.string / t.blob through views and variables (varlen inv. 1-3: inline and out-of-line,
// freed on replace), collections found again after reopening a real file, read-only pools that
// find collections without writing, TypeMismatchError naming both types, and pm.check finding
// damage in each collection's structure (every check here fails on a deliberately broken image).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PersistentMemory, SimRegion, check, open, t, type PmemError } from '../../../src/index.js'

const User = t.struct({ name: t.string, age: t.u32, tags: t.string, avatar: t.blob })

test('t.string and t.blob in a variable: inline up to 15 bytes, a heap block beyond, freed when replaced (varlen inv. 1-2)', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 256 * 1024 }), { logSize: 32 * 1024 })
  const u = pm.persistent('u', User)
  const live0 = pm.read(tx => pm.heap.live(tx))
  assert.deepEqual(pm.read(tx => tx.view(u).toJSON()), { name: '', age: 0, tags: '', avatar: new Uint8Array(0) }, 'zero slots read as empty')
  for (const name of ['', 'Ada', 'exactly15bytes!', 'sixteen bytes!!!', 'ünïcødé ✓ 🎉 and more text', 'x'.repeat(5000), 'short']) {
    pm.transaction(tx => { tx.view(u).name = name })
    assert.equal(pm.read(tx => tx.view(u).name), name)
    const grew = pm.read(tx => pm.heap.live(tx)) - live0
    assert.ok(Buffer.byteLength(name) <= 15 ? grew === 0 : grew >= Buffer.byteLength(name), `${name.length} chars: ${grew} heap bytes`)
  }
  pm.transaction(tx => Object.assign(tx.view(u), { avatar: new Uint8Array(40).fill(9), tags: 'a, b' }))
  assert.deepEqual(pm.read(tx => tx.view(u).avatar), new Uint8Array(40).fill(9))
  assert.deepEqual(pm.check({ reachability: true }).problems, [], 'the typed walk reaches every string block')
  pm.transaction(tx => { tx.view(u).avatar = new Uint8Array(0) })
  assert.equal(pm.read(tx => pm.heap.live(tx)), live0, 'every out-of-line block was freed when replaced')
  assert.throws(() => pm.transaction(tx => { tx.view(u).name = 5 as never }), { code: 'ERR_PMEM_INVALID_ARGUMENT' })
  assert.throws(() => pm.transaction(tx => { tx.view(u).avatar = 'x' as never }), { code: 'ERR_PMEM_INVALID_ARGUMENT' })
})

test('collections on a real file: found again by name after reopening, on a read-only open without writing, and misuse is typed', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-coll-'))
  try {
    const file = path.join(dir, 'app.pm')
    let pm = open(file, { size: 1 << 20, maxSize: 64 << 20 })
    const users = pm.hashMap('users', t.string, User)
    users.put('ada', { name: 'Ada', age: 36, tags: 'math', avatar: new Uint8Array([1]) })
    pm.transaction(() => {
      users.put('bob', { name: 'Bob', age: 40 })
      pm.sortedMap('events', t.f64, t.string).put(1.5, 'bob joined')
      pm.vector('log', t.f64).push(2.5)
    })
    assert.throws(() => pm.hashMap('users', t.string, t.struct({ name: t.string })), (e: PmemError) =>
      e.code === 'ERR_PMEM_TYPE_MISMATCH' && e.message.includes('hashMap(string,{name:string})') && e.message.includes('hashMap(string,{name:string,age:u32,tags:string,avatar:blob})'))
    assert.throws(() => pm.sortedMap('users', t.string, User), { code: 'ERR_PMEM_TYPE_MISMATCH' })
    assert.throws(() => pm.persistent('log', t.f64), /already exists as vector\(f64\)/)
    pm.close()
    const bytes = fs.readFileSync(file)
    pm = open(file, { readOnly: true })
    const ro = pm.hashMap('users', t.string, User)
    assert.deepEqual(ro.get('bob'), { name: 'Bob', age: 40, tags: '', avatar: new Uint8Array(0) })
    assert.deepEqual([...pm.sortedMap('events', t.f64, t.string).entries()], [[1.5, 'bob joined']])
    assert.deepEqual([...pm.vector('log', t.f64)], [2.5])
    assert.throws(() => pm.hashMap('missing', t.string, t.u8), { code: 'ERR_PMEM_READ_ONLY' })
    assert.throws(() => ro.put('x', { age: 1 }), { code: 'ERR_PMEM_READ_ONLY' })
    pm.close()
    assert.ok(fs.readFileSync(file).equals(bytes), 'a read-only open wrote nothing')
    const r = check(file)
    assert.ok(r.ok, r.problems.join('; '))
    assert.deepEqual(r.collections.map(c => [c.kind, c.name, c.count]).sort(), [['hashMap', 'users', 2], ['sortedMap', 'events', 1], ['vector', 'log', 1]])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

/** A pool with one of each collection, and where their structures lie. */
function damaged() {
  const sim = SimRegion.create({ size: 1 << 20 })
  const pm = PersistentMemory.fromRegion(sim, { logSize: 128 * 1024 })
  const h = pm.hashMap('h', t.string, t.string)
  const s = pm.sortedMap('s', t.u32, t.struct({ v: t.string, pad: t.bytes(232) }))
  const v = pm.vector('v', t.string)
  for (let i = 0; i < 100; i++) h.put(`key ${i}`, `value number ${i} is long`, { durability: 'none' })
  for (let i = 0; i < 60; i++) s.put(i * 2, { v: `v${i}` }, { durability: 'none' })
  for (let i = 0; i < 40; i++) v.push(`element ${i} of the vector`, { durability: 'none' })
  assert.deepEqual(pm.check({ reachability: true }).problems, [])
  const rd = (off: number) => pm.read(tx => Number(tx.readBigU64(off)))
  const seg0 = rd(h.offset + 32)
  const entry = [...Array(64).keys()].map(i => rd(seg0 + 8 * i)).find(e => e !== 0)!
  const root = rd(s.offset + 16), leaf = rd(s.offset + 32), vseg = rd(v.offset + 16 + 8 * 1)
  pm.close()
  return { sim, h, s, v, entry, root, leaf, vseg }
}

test('pm.check finds damage in every collection: hash, chain, count, node order, node size, leaf links, segments, string slots', () => {
  const d = damaged()
  const cases: Array<[string, (dv: DataView) => void, RegExp]> = [
    ['an entry\'s stored hash', dv => dv.setUint32(d.entry + 8, dv.getUint32(d.entry + 8, true) ^ 1, true), /hashMap "h": entry \d+: stored hash/],
    ['the hash map count', dv => dv.setUint32(d.h.offset + 8, 5, true), /hashMap "h": .*count 5/],
    ['a chain that loops', dv => dv.setBigUint64(d.entry, BigInt(d.entry), true), /reached twice/],
    ['a string slot of a hash entry', dv => dv.setUint32(d.entry + 16 + 8, 3, true), /string slot .*varlen inv\. 1/],
    ['the B+tree root kind', dv => dv.setUint32(d.root, 1, true), /sortedMap "s": node \d+: kind 1/],
    ['a leaf key order', dv => dv.setUint32(d.leaf + 24, 999, true), /sortedMap "s": node \d+: key 1 is not greater|outside the range/],
    ['a leaf\'s key count', dv => dv.setUint32(d.leaf + 4, 1, true), /sortedMap "s": node \d+: 1 keys|count/],
    ['a leaf link', dv => dv.setBigUint64(d.leaf + 8, 0n, true), /next\/previous links/],
    ['a vector segment', dv => dv.setBigUint64(d.v.offset + 16 + 8, BigInt(d.vseg + 16), true), /vector "v": segment 1 at \d+ is not an allocated heap block/],
    ['a vector length', dv => dv.setUint32(d.v.offset + 8, 1000, true), /vector "v": segment \d+ at 0 is not/],
  ]
  for (const [what, damage, says] of cases) {
    const img = d.sim.volatileImage()
    damage(new DataView(img.buffer, img.byteOffset))
    const pm = PersistentMemory.fromRegion(SimRegion.fromImage(img))
    const r = pm.check()
    assert.equal(r.ok, false, `${what}: went unnoticed`)
    assert.ok(r.problems.some(p => says.test(p)), `${what}: ${r.problems.join(' | ')}`)
    pm.close()
  }
})

test('tx.readInto reads what readBytes reads: the mapping, none-commit overlays, and the transaction\'s own writes', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 256 * 1024 }), { logSize: 32 * 1024 })
  const v = pm.persistent('v', t.bytes(300))
  const same = (tx: Parameters<Parameters<typeof pm.read>[0]>[0], len: number) => assert.deepEqual(tx.readInto(v.offset, new Uint8Array(len)), tx.readBytes(v.offset, len))
  pm.transaction(tx => tx.writeBytes(v.offset, new Uint8Array(300).fill(1)))
  pm.read(tx => { same(tx, 72); same(tx, 300) })
  pm.transaction(tx => tx.writeBytes(v.offset + 10, new Uint8Array(50).fill(2)), { durability: 'none' }) // an overlay
  pm.read(tx => { same(tx, 72); same(tx, 300); assert.equal(tx.readInto(v.offset, new Uint8Array(72))[20], 2) })
  pm.transaction(tx => {
    tx.writeU8(v.offset + 5, 9)
    same(tx, 72); same(tx, 300)
    assert.equal(tx.readInto(v.offset, new Uint8Array(8))[5], 9, 'read-your-writes')
  })
  pm.flush()
  pm.read(tx => { same(tx, 72); assert.equal(tx.readInto(v.offset, new Uint8Array(8))[5], 9) })
})
