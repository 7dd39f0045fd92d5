/**
 * RefStore (refs.ts): the ids each current record references. A random sequence of sets and
 * clears is checked against a model (the id set after each step, every id every 25 steps) (the invariant: each id's slice holds
 * exactly its record's references), with records from 0 to 100,000 references so that
 * compactions run while a large record is replaced. Then the user-visible case that found
 * the bug: a plain object with 100,000 keys, changed at a second point (the compaction copied
 * the record's old slice into a pool sized without it: RangeError, the point failed).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RefStore } from '../../../src/container/refs.js'
import { Container } from '../../../src/container/index.js'
import { rng } from './setup.js'

function slice(r: RefStore, id: number): number[] {
  if (id >= r.start.length) return []
  return Array.from(r.pool.subarray(r.start[id], r.start[id] + r.count[id]))
}

test('RefStore: random sets and clears, large records replaced, match a model', () => {
  for (let seed = 1; seed <= 3; seed++) {
    const rand = rng(seed)
    const r = new RefStore()
    const model = new Map<number, number[]>()
    let steps = 0
    for (; steps < 300; steps++) {
      const id = 1 + Math.floor(rand() * 40)
      if (rand() < 0.15) { r.clear(id); model.delete(id) } else {
        const big = rand() < 0.1
        const n = big ? 20_000 + Math.floor(rand() * 80_000) : Math.floor(rand() * 50)
        const refs = new Int32Array(n + 4)
        for (let i = 0; i < refs.length; i++) refs[i] = 1 + Math.floor(rand() * 1000)
        r.set(id, refs, 2, 2 + n)
        model.set(id, Array.from(refs.subarray(2, 2 + n)))
      }
      const check = steps % 25 === 24 ? 40 : 0   // every id now and then, the one set always
      if (model.has(id) || check === 0) {
        const want = model.get(id) ?? []
        const got = slice(r, id)
        if (got.length !== want.length || got.some((v, i) => v !== want[i])) assert.fail(`seed ${seed} step ${steps} id ${id}: slice differs`)
      }
      for (let k = 1; k <= check; k++) {
        const want = model.get(k) ?? []
        const got = slice(r, k)
        if (got.length !== want.length || got.some((v, i) => v !== want[i])) assert.fail(`seed ${seed} step ${steps} id ${k}: slice differs`)
      }
    }
    assert.ok(r.end - r.garbage === [...model.values()].reduce((a, v) => a + v.length, 0), `seed ${seed}: live count`)
  }
})

test('a plain object with 100,000 keys persists a change to it at a later point, and restores', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pm-refs-'))
  try {
    const path = join(dir, 'dict.pmc')
    const c = Container.open<{ dict: Record<string, { v: number }> }>(path, { init: () => ({ dict: {} }) })
    const d = c.root.dict
    for (let i = 0; i < 100_000; i++) d['k' + i] = { v: i }
    await c.persist()
    d.k5 = { v: -1 }
    await c.persist()
    d.k7.v = -2
    await c.persist()
    await c.close()
    const c2 = Container.open<{ dict: Record<string, { v: number }> }>(path, { readOnly: true })
    assert.equal(c2.root.dict.k5.v, -1)
    assert.equal(c2.root.dict.k7.v, -2)
    assert.equal(c2.root.dict.k99999.v, 99_999)
    assert.equal(Object.keys(c2.root.dict).length, 100_000)
    await c2.close()
  } finally { rmSync(dir, { recursive: true, force: true }) }
})
