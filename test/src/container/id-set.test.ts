/**
 * IdSet (id-set.ts inv. IS1): against a Set, with a small switch limit so that random adds
 * cross from the Set to the bytes and grow them; ids added again, ids far past the largest.
 * (The real limit, 2^22 ids before V8's 2^24, is reached by bench/scale-many.mjs's lazy walk.)
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { IdSet } from '../../../src/container/id-set.js'
import { rng } from './setup.js'

test('IdSet: has() is true exactly for the ids added, before and after the switch to bytes (inv. IS1)', () => {
  for (let seed = 1; seed <= 5; seed++) {
    const next = rng(seed)
    const rand = (n: number): number => Math.floor(next() * n)
    const ids = new IdSet(16)
    const model = new Set<number>()
    for (let step = 0; step < 2000; step++) {
      const id = 1 + (step > 1500 ? rand(100_000) : rand(300))
      ids.add(id)
      model.add(id)
      const probe = 1 + rand(100_000)
      assert.equal(ids.has(probe), model.has(probe), `seed ${seed} step ${step}: id ${probe}`)
      assert.equal(ids.has(id), true)
    }
    for (let id = 0; id < 300; id++) assert.equal(ids.has(id), model.has(id), `seed ${seed}: id ${id}`)
  }
})
