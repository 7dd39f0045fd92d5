/**
 * watch.ts inv. W4, `track: 'barriers'`: a raw member that a call on the real instance of a Map
 * subclass handed out (`leak = super.get(k)`) and that the program keeps past the next point
 * is still watched after it, so a later write through it persists at an ordinary point.
 * Before, a point forgot everything watched, and such a write was lost silently (the README
 * listed it as a limit). Each case restores in a fresh process.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Container } from '../../../src/container/index.js'
import { Keeper, kept, type Item } from './watch-kept-kit.js'

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'watch-kept-child.js')
const tmp = (): string => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-kept-')), 'k.pmc')
const inChild = (file: string): unknown => JSON.parse(execFileSync(process.execPath, [child, file]).toString().trim())

type Root = { m: Keeper }
const open = (file: string): Container<Root> => Container.open<Root>(file, {
  classes: [Keeper], track: 'barriers',
  init: () => ({ m: new Keeper([['a', { n: 1, child: { n: 10 } }], ['b', { n: 2, list: [1] }]]) }),
})

test('watch.ts inv. W4, track: \'barriers\': a value super.get handed out, kept past the next point and written after it (itself, what it reaches, a new object it was given), persists at the next ordinary points, in the first life and after a restore', async () => {
  const file = tmp()
  for (const life of [1, 2]) {
    kept.length = 0
    const c = open(file)
    await c.persist()
    c.root.m.grab('a')
    const a = kept[0]!
    await c.persist()                 // the call's watch ends here before W4
    a.n += 100                        // through the kept raw reference
    a.child!.n += 100                 // what it reaches
    const p1 = await c.persist()
    a.n -= 100                        // back to the value its shadow had before p1 re-encoded it (a stale shadow would call this unchanged)
    a.child = { n: 7 }                // a new object: watched once p2 gives it an id
    const p2 = await c.persist()
    a.child.n = 8
    const p3 = await c.persist()
    assert.ok([p1, p2, p3].every(p => !p.full), 'ordinary points')
    await c.close()
    assert.deepEqual(inChild(file), [['a', life, 8, null], ['b', 2, null, [1]]], `life ${life}`)
    // the next life restores a.n = 1 and child 8; set them back so both lives expect the same
    const r = Container.open<Root>(file, { classes: [Keeper], track: 'barriers' })
    const v = r.root.m.get('a') as Item
    v.n = 2; v.child = { n: 10 }
    await r.persist(); await r.close()
  }
})

test('watch.ts inv. W4, track: \'barriers\': raw members kept across full points stay watched (watched again when a full point ends); one the program removed from the Map (freed by the full point) and keeps is not written back', async () => {
  const file = tmp()
  kept.length = 0
  const c = open(file)
  await c.persist()
  c.root.m.grabAll()
  const [a, b] = kept as [Item, Item]
  await c.persist({ full: true })
  b.list!.push(2)
  a.n = 5
  await c.persist()
  c.root.m.delete('a')
  await c.persist({ full: true })
  a.n = 6                             // not in the graph any more
  b.list!.push(3)
  const st = await c.persist()
  assert.equal(st.full, false)
  await c.close()
  assert.deepEqual(inChild(file), [['b', 2, null, [1, 2, 3]]])
})
