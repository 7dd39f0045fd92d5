/**
 * `c.unwrap(x)` with `track: 'barriers'`: the raw object it returns, and what it reaches, are
 * watched (container.ts `unwrap`, watch.ts inv. W4), as the default mode exposes them. Before
 * session 12 nothing watched them in that mode: a write through an unwrapped object after a
 * point was lost silently at ordinary points.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Container } from '../../../src/container/index.js'

type Root = { list: { n: number; tags: string[] }[]; meta: { count: number } }
const tmp = (): string => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-unwrap-')), 'u.pmc')
const open = (file: string): Container<Root> => Container.open<Root>(file, {
  track: 'barriers', init: () => ({ list: [{ n: 1, tags: ['a'] }, { n: 2, tags: [] }], meta: { count: 0 } }),
})

test("c.unwrap with track: 'barriers': writes through the unwrapped object and what it reaches, after later points, persist at ordinary points, in the first life and after a restore", async () => {
  const file = tmp()
  for (const life of [1, 2]) {
    const c = open(file)
    await c.persist()
    const list = c.unwrap(c.root.list)           // raw array, kept by the program
    const meta = c.unwrap(c.root).meta          // reached raw from an unwrapped root
    await c.persist()
    list[0]!.n += 10                            // what the unwrapped array reaches
    list[1]!.tags.push(`life ${life}`)
    meta.count += 1
    const p1 = await c.persist()
    list.push({ n: 3 * life, tags: [] })        // new object through the raw array
    const p2 = await c.persist()
    list[2]!.n += 1                             // the new object, now with an id
    const p3 = await c.persist()
    assert.ok([p1, p2, p3].every(p => !p.full), 'ordinary points')
    await c.close()
    const r = Container.open<Root>(file, { track: 'barriers', readOnly: true })
    assert.deepEqual(r.snapshot(), {
      list: [{ n: 1 + 10 * life, tags: ['a'] }, { n: 2, tags: life === 1 ? ['life 1'] : ['life 1', 'life 2'] }, { n: 3 * life + 1, tags: [] }],
      meta: { count: life },
    }, `life ${life}`)
    await r.close()
    if (life === 1) {                           // drop the third element so both lives add one
      const w = open(file); w.root.list.pop(); await w.persist(); await w.close()
    }
  }
})
