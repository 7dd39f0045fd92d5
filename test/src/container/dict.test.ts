/**
 * A plain object used as a dictionary of 40,000 keys (15,000 with `track: 'barriers'`) (V8's dictionary mode; integer-like
 * keys mixed in, deletes, re-adds that move a key to the end, objects and primitives as
 * values, one object under two keys), written by a child process over several points in
 * both tracking modes, then restored here in full and lazily, changed through its proxies
 * over points that compact the log, and restored again: content, key order (JSON.stringify
 * follows it) and identity must be the model's at every step, and `check()` must pass.
 * Encoding keys (encode-bodies.ts inv. B2: the keys of a dictionary come from the for-in that
 * missed the known shapes) are covered by the child's points.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import './setup.js'
import { Container } from '../../../src/container/index.js'
import { dictHash, keyOrderDiff, mutateDict, sameAliasing, type Dict } from './dict-kit.js'

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dict-child.js')
/** Keys per mode: 40,000 raw; the barrier mode's proxies over 15,000 (npm test's time; both far past V8's dictionary mode and the 64-key shapes). */
const SIZES = { all: 40_000, barriers: 15_000 } as const

for (const track of ['all', 'barriers'] as const) {
  const N = SIZES[track]
  test(`a plain object of ${N} keys, track '${track}': written by a child, restored full and lazily, changed through proxies over compacting points, restored again: same keys, order, values and identity`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-dict-'))
    const file = path.join(dir, 'dict.pmc')
    try {
      const out = JSON.parse(execFileSync(process.execPath, [child, file, String(N), track], { maxBuffer: 1 << 20 }).toString()) as { hash: string; keys: number; version: number }
      let model: Dict = {}
      {
        const c = Container.open<{ dict: Dict }>(file, { track })
        const d = c.unwrap(c.root).dict
        assert.equal(c.version, out.version)
        assert.equal(Object.keys(d).length, out.keys)
        assert.equal(dictHash(d), out.hash, 'full restore: content or key order differs from the child\'s model')
        model = JSON.parse(JSON.stringify(d)) as Dict        // the same keys in the same order
        if (d.alias === d.k1) model.alias = model.k1
        assert.ok(sameAliasing(d, model))
        assert.deepEqual(c.check(), { ok: true, problems: [] })
        await c.close()
      }
      let seed = 7
      const rnd = (k: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % k }
      let compacted = 0
      {
        const c = Container.open<{ dict: Dict }>(file, { track, lazy: true, compactFactor: 1.1 })
        const d = c.root.dict     // a proxy
        assert.equal(dictHash(d), out.hash, 'lazy restore, read through the proxy: content or key order differs')
        assert.ok(sameAliasing(d, model))
        for (let round = 10; round < 12; round++) {
          mutateDict(c.root.dict, model, N, 300, rnd, round)
          const s = await c.persist()
          if (s.compacted) compacted++
        }
        assert.equal(keyOrderDiff(d, model), null)
        await c.close()
      }
      assert.ok(compacted >= 1, 'no point compacted the log')
      for (const lazy of [false, true]) {
        const c = Container.open<{ dict: Dict }>(file, { track, lazy })
        const d = lazy ? c.root.dict : c.unwrap(c.root).dict
        assert.equal(keyOrderDiff(d, model), null, `restore after compaction (lazy ${lazy})`)
        assert.equal(dictHash(d), dictHash(model), `restore after compaction (lazy ${lazy}): content differs`)
        assert.ok(sameAliasing(d, model))
        assert.deepEqual(c.check(), { ok: true, problems: [] })
        await c.close()
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
}

test('a plain object that grows past any shape\'s keys and shrinks back, across restores (wide.ts inv. WD1, encode-bodies.ts inv. B2): every version restores its keys in order', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-dict-'))
  const file = path.join(dir, 'wide.pmc')
  const order = (o: Dict): string => JSON.stringify(Object.entries(o))
  try {
    const model: Dict = { b: 1, a: { x: 1 }, 7: 'seven' }
    let c = Container.open<{ o: Dict; small: Dict }>(file, { init: () => ({ o: { ...model }, small: { b: 0, a: 0, 7: 0 } }) })
    const steps: Array<(o: Dict) => void> = [
      o => { for (let i = 0; i < 300; i++) o[i % 5 === 0 ? String(i * 3) : 'w' + i] = i },     // wide now
      o => { delete o.b; o.b = 'moved' },
      o => { for (const k of Object.keys(o)) if (k !== 'b' && k !== '7' && k !== 'w1') delete o[k] },     // small again
      o => { o.a = 'a'; o[3] = 3 },
    ]
    for (let i = 0; i < steps.length; i++) {
      steps[i](c.root.o); steps[i](model)
      await c.persist()
      assert.equal(order(c.unwrap(c.root).o), order(model), `step ${i}, in the writing container`)
      await c.close()
      c = Container.open(file, { lazy: i % 2 === 1 })
      assert.equal(order(c.root.o), order(model), `step ${i}, restored`)
      assert.equal(order(c.root.small), order({ b: 0, a: 0, 7: 0 }))
    }
    assert.deepEqual(c.check(), { ok: true, problems: [] })
    await c.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
