/**
 * BigMap (big-map.ts) and the loose ids it holds (identity.ts inv. 3): more than V8's 2^24
 * entries of one Map. Before session 15 a graph of 16.8 million plain objects (each given a
 * loose id in a container that verifies) failed its point with `RangeError: Map maximum
 * size exceeded`, and every point after it (probe: an array of 17,000,000 `{ n: i }`).
 * Here: a model check of the shards with a small shard limit; the id table over several
 * shards; and, opt-in (`PMEM_SCALE_LONG=1`, run by `npm run torture -- <s> containers`: it
 * takes 1-2 minutes and 2 GB), the real limit, 2^24 + 1 loose ids in one table; and a
 * snapshot's copy of a graph of more than 2^24 objects (copy.ts keeps its copies in a BigMap).
 * Session 16: BigSet (inv. BM2), and opt-in, `c.dropped` over an array of 2^24 + 8 objects
 * (paths.ts threw `Set maximum size exceeded`) and 2^24 + 8 objects each holding a function
 * (the dropped table threw `Map maximum size exceeded` at every point).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BigMap, BigSet } from '../../../src/container/big-map.js'
import { ObjectTable } from '../../../src/container/identity.js'
import { ClassRegistry } from '../../../src/container/classes.js'
import { copyGraph } from '../../../src/container/copy.js'
import { rng } from './setup.js'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Container } from '../../../src/container/index.js'

test('inv. BM1: BigMap with shards of 8 answers get, set, delete, size and clear as one Map would', () => {
  for (let seed = 1; seed <= 5; seed++) {
    const rand = rng(seed)
    const keys = Array.from({ length: 60 }, (_, i) => ({ i }))
    const m = new BigMap<object, number>(8), model = new Map<object, number>()
    let maxShards = 1
    for (let step = 0; step < 3000; step++) {
      const k = keys[Math.floor(rand() * keys.length)]!, r = rand()
      if (r < 0.6) { m.set(k, step); model.set(k, step) }
      else if (r < 0.97) assert.equal(m.delete(k), model.delete(k))
      else if (r < 0.975) { m.clear(); model.clear() }
      maxShards = Math.max(maxShards, m.shards)
      assert.equal(m.size, model.size, `seed ${seed} step ${step}`)
      if (step % 50 === 0) {
        for (const key of keys) { assert.equal(m.get(key), model.get(key), `seed ${seed} step ${step}`); assert.equal(m.has(key), model.has(key)) }
        assert.deepEqual(new Map([...m]), model, 'iteration gives every entry once')
        assert.equal([...m.keys()].length, model.size)
      }
    }
    assert.ok(maxShards >= 4, `the run used ${maxShards} shards`)
  }
})

test('inv. BM2: BigSet with shards of 8 answers has, add and size as one Set would', () => {
  for (let seed = 1; seed <= 5; seed++) {
    const rand = rng(seed)
    const values: unknown[] = Array.from({ length: 80 }, (_, i) => i % 2 === 0 ? { i } : i)
    const s = new BigSet<unknown>(8), model = new Set<unknown>()
    for (let step = 0; step < 400; step++) {
      const v = values[Math.floor(rand() * values.length)]
      s.add(v); model.add(v)
      assert.equal(s.size, model.size, `seed ${seed} step ${step}`)
      if (step % 20 === 0) for (const x of values) assert.equal(s.has(x), model.has(x), `seed ${seed} step ${step}`)
    }
    assert.ok(s.shards >= 8, `the run used ${s.shards} shards`)
  }
})

test('inv. 3: an id table whose loose ids span several Maps finds, stamps and frees each one', () => {
  const t = new ObjectTable(16)
  const objs = Array.from({ length: 100 }, (_, i) => ({ i }))
  const ids = objs.map(o => t.assign(o, true))
  assert.equal(t.looseCount, 100)
  objs.forEach((o, i) => assert.equal(t.idOf(o), ids[i]))
  for (let i = 0; i < 100; i += 3) t.stamp(objs[i]!, ids[i]!)      // moves the id into a stamp (inv. 3: never both)
  for (let i = 1; i < 100; i += 3) t.release(ids[i]!)
  assert.equal(t.looseCount, 100 - 34 - 33)
  objs.forEach((o, i) => assert.equal(t.idOf(o), i % 3 === 1 ? 0 : ids[i], `object ${i}`))
  const again = objs.filter((_, i) => i % 3 === 1).map(o => t.assign(o, true))     // freed ids reused, loose again
  assert.equal(t.looseCount, 100 - 34)
  objs.filter((_, i) => i % 3 === 1).forEach((o, j) => assert.equal(t.idOf(o), again[j]))
})

test('inv. 3: 2^24 + 1 loose ids in one id table (PMEM_SCALE_LONG=1)', { skip: process.env.PMEM_SCALE_LONG !== '1' && 'opt-in: 1-2 minutes, 2 GB (npm run torture -- <s> containers runs it)' }, () => {
  const t = new ObjectTable()
  const n = 2 ** 24 + 1
  const objs: object[] = new Array(n)
  for (let i = 0; i < n; i++) { const o = {}; objs[i] = o; t.assign(o, true) }     // before session 15: RangeError at the 2^24th
  assert.equal(t.looseCount, n)
  for (let i = 0; i < n; i += 4099) assert.equal(t.idOf(objs[i]!), i + 1)
  assert.equal(t.idOf(objs[n - 1]!), n)
})

test('copy.ts: c.snapshot() of a graph of more than 2^24 objects, shared references kept (PMEM_SCALE_LONG=1)', { skip: process.env.PMEM_SCALE_LONG !== '1' && 'opt-in: 1-2 minutes, a heap of over 4 GB (npm run torture -- <s> containers runs it with 8 GB)' }, () => {
  const n = 2 ** 24 + 100      // 17 of them the same object: 2^24 + 84 distinct
  const shared = { shared: true }
  const items: object[] = new Array(n)
  for (let i = 0; i < n; i++) items[i] = i % 1_000_000 === 0 ? shared : {}
  const copy = copyGraph({ items }, new ObjectTable(), new ClassRegistry(), new WeakSet()) as { items: object[] }     // before session 15: RangeError: Map maximum size exceeded
  assert.equal(copy.items.length, n)
  assert.notEqual(copy.items[0], shared)
  assert.equal(copy.items[0], copy.items[16_000_000], 'a shared object is copied once')
  assert.notEqual(copy.items[1], copy.items[2])
})

test('paths.ts, tables.ts: c.dropped over an array of 2^24 + 8 objects names the value dropped (PMEM_SCALE_LONG=1)', { skip: process.env.PMEM_SCALE_LONG !== '1' && 'opt-in: 3-5 minutes, a heap of over 4 GB (npm run torture -- <s> containers runs it with 12 GB)' }, async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pm-big-')), 'dropped.pmc')
  const n = 2 ** 24 + 8
  const c = Container.open<{ a: Record<string, unknown>[] }>(file, { track: 'barriers', properties: 'enumerable', init: () => {
    const a: Record<string, unknown>[] = new Array(n)
    for (let i = 0; i < n; i++) a[i] = { n: i }
    a[5]!.f = () => 1
    return { a }
  } })
  try {
    await c.persist()
    assert.deepEqual(c.dropped, [{ path: 'root.a[5].f', reason: 'function' }])    // before session 16: RangeError: Set maximum size exceeded (membersOf)
  } finally { await c.close(); fs.rmSync(file, { force: true }) }
})

test('encode.ts, tables.ts: 2^24 + 8 objects each holding a function persist, and c.dropped reports each (PMEM_SCALE_LONG=1)', { skip: process.env.PMEM_SCALE_LONG !== '1' && 'opt-in: 10-30 minutes on a loaded machine, over 7 GB (npm run torture -- <s> containers runs it with a 12 GB heap)' }, async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pm-big-')), 'methods.pmc')
  const n = 2 ** 24 + 8
  const f = (): number => 1
  // A tree of arrays of 16 (not one array: naming each of n holders in one array is
  // quadratic, paths.ts stepTo, found by this test's first version; left as it is).
  let level: object[] = new Array(n)
  for (let i = 0; i < n; i++) level[i] = { f }
  while (level.length > 16) {
    const up: object[] = []
    for (let i = 0; i < level.length; i += 16) up.push(level.slice(i, i + 16))
    level = up
  }
  const c = Container.open<{ t: object[] }>(file, { track: 'barriers', properties: 'enumerable', init: () => ({ t: level }) })
  try {
    await c.persist()     // before session 16: RangeError: Map maximum size exceeded (the table of dropped values, Encoder.drop), at every point
    const d = c.dropped
    assert.equal(d.length, n)
    assert.ok(d.every(x => x.reason === 'function' && /^root\.t(\[\d+\])+\.f$/.test(x.path)))
  } finally { await c.close(); fs.rmSync(file, { force: true }) }
})
