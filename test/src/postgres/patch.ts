/**
 * (Imported by postgres.test.ts, to share its cluster.) Format 5 on PostgreSQL: large
 * collections whose changes are PATCH parts (patch-record.ts inv. PR1, PR2: object values
 * and keys, an array pushed, popped and truncated) over several lives (each a restore from
 * the database, its parts applied), every retained version restored fully and lazily, an
 * earlier version restored into a writer (its parts read from the rows the newest version
 * superseded: load.ts, the open's kept rows) and persisted on from there.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Container } from '../../../src/index.js'
import { assertSameGraph, cloneGraph } from '../container/graph-kit.js'
import { kit, skip } from './pg-kit.js'

interface Root { users: Map<number, { name: string; tags: string[] } | null>; seen: Set<unknown>; list: unknown[] }

const N = 1000

/** Point p's change: small and spread, each kind of part (an object value, a key added, the array's length). */
function change(r: Root, p: number): void {
  r.users.set((p * 37) % N, { name: `changed ${p}`, tags: [`p${p}`] })
  r.users.set(N + p, null)
  r.seen.add({ point: p })
  r.seen.delete(`s${(p * 11) % N}`)
  if (p % 3 === 0) r.list.push({ at: p }, p)
  else if (p % 3 === 1) r.list.pop()
  else r.list.length = r.list.length - 2
}

test('format 5 on PostgreSQL: PATCH parts over several lives, every retained version restored fully and lazily, an earlier version restored and persisted on', { skip }, async () => {
  const store = await kit.connect()
  const models = new Map<number, unknown>()
  let c = await Container.openStore<Root>(store, 'patch', {
    init: () => ({
      users: new Map(Array.from({ length: N }, (_, i) => [i, { name: `u${i}`, tags: [`t${i % 7}`] }] as [number, { name: string; tags: string[] }])),
      seen: new Set<unknown>(Array.from({ length: N }, (_, i) => `s${i}`)),
      list: Array.from({ length: N }, (_, i) => i),
    }),
    keepVersions: 6,
  })
  const base = await c.persist()
  models.set(base.version, cloneGraph(c.unwrap(c.root)))
  let p = 0
  for (let life = 0; life < 3; life++) {
    for (let i = 0; i < 3; i++, p++) {
      change(c.root, p)
      const st = await c.persist()
      assert.ok(st.bytes < base.bytes / 20, `life ${life}, point ${p}: parts, not segments (${st.bytes} bytes; the base took ${base.bytes})`)
      models.set(st.version, cloneGraph(c.unwrap(c.root)))
    }
    await c.close()
    c = await Container.openStore<Root>(store, 'patch', {})        // a restore: the parts applied (inv. PR4 counts them)
    assertSameGraph(c.unwrap(c.root), models.get(c.version))
  }
  await c.close()
  const retained = (await store.versions('patch')).map(v => v.version)
  assert.equal(retained.length, 6)
  for (const v of retained) {
    for (const lazy of v === retained[0] || v === retained.at(-1) ? [false, true] : [false]) {
      const r = await Container.openStore<Root>(store, 'patch', { readOnly: true, version: v, lazy })
      assertSameGraph(r.unwrap(r.root), models.get(v))
      await r.close()
    }
  }
  // An earlier version restored into the writer and persisted on: a full point, then parts again.
  const oldest = retained[0]
  const w = await Container.openStore<Root>(store, 'patch', { version: oldest })
  assertSameGraph(w.unwrap(w.root), models.get(oldest))
  change(w.root, 100)
  const full = await w.persist()
  assert.equal(full.full, true, 'the first point after restoring an older version rewrites the graph')
  change(w.root, 101)
  const part = await w.persist()
  assert.ok(part.bytes < base.bytes / 20, `parts again (${part.bytes} bytes)`)
  const want = cloneGraph(w.unwrap(w.root))
  await w.close()
  const r = await Container.openStore<Root>(await kit.connect(), 'patch', { readOnly: true })
  assert.equal(r.version, part.version)
  assertSameGraph(r.unwrap(r.root), want)
  await r.close()
})

test('format 7 on PostgreSQL: a plain object of 2,000 keys changed through its proxy over several lives is PATCH parts (patch-record.ts inv. PR6); key order and content restore fully and lazily', { skip }, async () => {
  const store = await kit.connect()
  const model: Record<string, unknown> = {}
  for (let i = 0; i < 2000; i++) model['k' + i] = i % 2 === 0 ? i : { v: i }
  let c = await Container.openStore<{ d: Record<string, unknown> }>(store, 'dict', { init: () => ({ d: structuredClone(model) }) })
  const base = await c.persist()
  await c.close()
  for (let life = 0; life < 3; life++) {
    c = await Container.openStore<{ d: Record<string, unknown> }>(store, 'dict', {})
    for (let p = 0; p < 2; p++) {
      const step = (o: Record<string, unknown>): void => { const k = 'k' + (life * 7 + p * 3); delete o[k]; o[k] = { life, p }; o[String(100 + life)] = life; o['k' + (900 + life * 2 + p)] = 'set' }
      step(c.root.d); step(model)
      const st = await c.persist()
      assert.ok(st.bytes < base.bytes / 20, `life ${life}, point ${p}: a part (${st.bytes} bytes; the base took ${base.bytes})`)
    }
    await c.close()
  }
  for (const lazy of [false, true]) {
    const r = await Container.openStore<{ d: Record<string, unknown> }>(store, 'dict', { readOnly: true, lazy })
    assert.deepEqual(Object.keys(r.root.d), Object.keys(model), `lazy ${lazy}: key order`)
    assert.equal(JSON.stringify(r.root.d), JSON.stringify(model), `lazy ${lazy}: content`)
    await r.close()
  }
})
