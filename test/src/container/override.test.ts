/**
 * barrier.ts inv. 7 with `track: 'barriers'` (barrier-override.ts): instances of Map and Set
 * subclasses that override a member the proxy answers itself (`set`, `add`, `get`, `size`,
 * `keys`) or reach the built-in through `super` are still handed out behind proxies, and
 * behave as their class says: the proxy calls those members on the real instance and marks
 * it changed, so an ordinary (not full) point persists what they did. The oracle is the same
 * operations on a raw model graph outside any container (override-kit.ts). The default mode
 * hands such instances out raw (class-proxy.test.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { types } from 'node:util'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Container } from '../../../src/container/index.js'
import { CLASSES, Counted, Recent, Tags, init, ops, summary, type Graph } from './override-kit.js'

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'override-child.js')
const tmp = (): string => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-override-')), 'o.pmc')

/** The file's state as a fresh process restores it, fully and lazily. */
function inChild(file: string): { full: unknown; lazy: unknown } {
  return JSON.parse(execFileSync(process.execPath, [child, file]).toString().trim()) as { full: unknown; lazy: unknown }
}

test('inv. 7, track: \'barriers\': overrides of set, add, get, size and keys, own methods calling them or super, run as their class says through c.root in three lives (the first, a full and a lazy restore), and ordinary points persist what they change (a fresh process restores it fully and lazily)', async () => {
  const file = tmp()
  const want = init()
  for (let life = 1; life <= 3; life++) {
    const c = life === 1
      ? Container.open<Graph>(file, { classes: CLASSES, track: 'barriers', init })
      : Container.open<Graph>(file, { classes: CLASSES, track: 'barriers', lazy: life === 3 })
    if (life === 1) await c.persist()          // the first point is full: the changes below go to an ordinary one
    const r = c.root
    assert.ok(types.isProxy(r.m) && r.m instanceof Counted && r.tags instanceof Tags && r.lru instanceof Recent, `life ${life}: proxies, of their classes`)
    assert.equal(r.m, c.root.m, 'one proxy per object')
    assert.deepEqual(ops(r, life), ops(want, life), `life ${life}: what the operations return, as the classes say`)
    assert.ok(types.isProxy(r.later) && r.later === c.root.later, `life ${life}: the instance handed in raw is read back as a proxy`)
    assert.ok(types.isProxy(r.m.get('b')), 'a value read through an override-free member is a proxy')
    assert.ok(types.isProxy(r.lru.get('p')) && want.lru.get('p') !== undefined, 'a value an override returns is handed out as a proxy (the model too: get moves the key)')
    const st = await c.persist()
    assert.equal(st.full, false, `life ${life}: an ordinary point`)
    assert.deepEqual(summary(c.unwrap(c.root)), summary(want), `life ${life}: the graph in memory`)
    await c.close()
    const got = inChild(file)
    assert.deepEqual(got.full, summary(want), `life ${life}: a fresh process, full restore`)
    assert.deepEqual(got.lazy, summary(want), `life ${life}: a fresh process, lazy restore`)
  }
  Container.delete(file)
})
