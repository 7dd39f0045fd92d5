/**
 * (Imported by postgres.test.ts, to share its cluster: a cluster takes seconds to start.)
 * Faults of containers on PostgreSQL, against a real private cluster: the server SIGKILLed
 * in the middle of a point (its chunk rows inserted, its version row not yet), at a random
 * moment of a large point, and again during its own crash recovery, several lives in a
 * row: the point fails typed (StoreUnavailableError), nothing is half-committed, the
 * previous version restores, and the same container persists again once the server is
 * back. Then two writers in two processes: the second is refused naming the first; the
 * first, paused (SIGSTOP) past its lease, is fenced when it resumes (LeaseLostError). Then
 * the server killed while a writer and a reader open (and during its recovery), three lives.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Container, ContainerLockedError, StoreUnavailableError, type PointStats } from '../../../src/index.js'
import { assertSameGraph, cloneGraph } from '../container/graph-kit.js'
import { kit, skip, waitForLockWait } from './pg-kit.js'

function users(n: number): { users: { id: number; name: string; score: number; tags: string[] }[]; log: unknown[] } {
  return { users: Array.from({ length: n }, (_, i) => ({ id: i, name: `user ${i} ${'x'.repeat(i % 40)}`, score: i, tags: ['t', String(i % 7)] })), log: [] }
}

/** The newest version read by a fresh store (another machine), and the chunk rows above it (must be none). */
async function restored(name: string): Promise<{ root: unknown; version: number; orphans: number }> {
  const s = await kit.connect()
  const r = await Container.openStore(s, name, { readOnly: true })
  const root = cloneGraph(r.unwrap(r.root))
  const version = r.version
  await r.close(); await s.close()
  const orphans = (await kit.rows(name)).chunks.filter(c => c.version > version).length
  return { root, version, orphans }
}

test('the server SIGKILLed mid-point, at a random moment, and during its recovery: never half-committed; the same container persists again', { skip }, async () => {
  const T0 = performance.now(); const mark = (w: string) => { if (process.env.PMEM_PG_TIMES) console.log(w, Math.round(performance.now() - T0)) }
  const store = await kit.connect()
  const c = await Container.openStore(store, 'crash', { init: () => users(2000) })
  let last = cloneGraph(c.unwrap(c.root))
  await c.persist()

  // Life 1: the commit has inserted its chunk rows and waits to insert its version row.
  const blocker = await kit.admin.connect()
  blocker.on('error', () => {})
  await blocker.query('BEGIN')
  await blocker.query('LOCK TABLE pmem_versions IN SHARE MODE')
  for (let i = 0; i < 2000; i += 10) c.root.users[i].score = -i
  const p = c.persist()
  await waitForLockWait(kit.admin)
  const inserted = (await kit.rows('crash')).chunks.length
  mark('blocked'); await kit.cluster.kill(); mark('killed')
  await assert.rejects(p, StoreUnavailableError)
  blocker.release(new Error('server killed'))
  await assert.rejects(Container.openStore(store, 'crash', { readOnly: true }), StoreUnavailableError, 'opening while the server is down is typed too')
  await kit.cluster.start(); mark('started')
  let seen = await restored('crash')
  assert.equal(seen.version, 1)
  assert.equal(seen.orphans, 0, `none of the killed point's rows survived (${inserted} rows were visible before)`)
  assertSameGraph(seen.root, last)
  last = cloneGraph(c.unwrap(c.root))
  const again = await c.persist()                  // the same container, once the server is back (inv. 4a), writing the lost point's records before its own (inv. 4c)
  assert.equal(again.full, false, 'the lost incremental point is written by the next one, not a full rewrite (before session 14: full)')
  seen = await restored('crash'); mark('life 1')
  assertSameGraph(seen.root, last)

  // Lives 2 and 3: a kill at a random moment of a point; the last life also kills the server during its recovery.
  for (let life = 2; life <= 3; life++) {
    for (let i = life; i < 2000; i += 3) c.root.users[i].name = `life ${life} ${i}`
    c.root.log.push({ life })
    const expected = cloneGraph(c.unwrap(c.root))
    const point: Promise<PointStats | Error> = c.persist().catch((e: Error) => e)
    await new Promise(r => setTimeout(r, Math.floor(Math.random() * 40)))
    await kit.cluster.kill()
    const outcome = await point
    if (life === 3) { await kit.cluster.start(); await kit.cluster.kill() }     // killed during (or right after) crash recovery
    await kit.cluster.start()
    seen = await restored('crash')
    assert.equal(seen.orphans, 0)
    if (outcome instanceof Error) {
      assert.ok(outcome instanceof StoreUnavailableError, String(outcome))
      // The commit may have landed with its answer lost: either graph is one persisted point.
      try { assertSameGraph(seen.root, last) } catch { assertSameGraph(seen.root, expected) }
    } else {
      assertSameGraph(seen.root, expected)
    }
    last = expected
    const s = await c.persist().catch(async e => { assert.ok(e instanceof StoreUnavailableError); return c.persist() })
    assert.ok(s.version > 0)
    seen = await restored('crash'); mark(`life ${life}`)
    assertSameGraph(seen.root, last)
  }
  await c.close()
})

test('two writers in two processes: the second is refused naming the first; the first, paused past its lease, is fenced', { skip }, async () => {
  const child = fork(fileURLToPath(new URL('./writer-child.js', import.meta.url)), [kit.cluster.url, 'two', '600'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const next = (): Promise<any> => new Promise((resolve, reject) => { child.once('message', resolve); child.once('exit', code => reject(new Error(`writer child exited with ${code}`))) })
  try {
    const { holder } = await next()
    assert.match(holder, new RegExp(` pid ${child.pid} `))
    const store = await kit.connect({ leaseMs: 600 })
    await assert.rejects(Container.openStore(store, 'two', {}), (e: unknown) => e instanceof ContainerLockedError && e.holder === holder && e.message.includes(holder))
    child.send({ op: 'persist', n: 1 })
    assert.deepEqual(await next(), { ok: true, version: 1 })

    process.kill(child.pid!, 'SIGSTOP')           // a paused process: its lease runs out
    let c: Container<{ n: number }> | null = null
    for (let i = 0; c === null; i++) {
      try { c = await Container.openStore(store, 'two', {}) } catch (e) {
        assert.ok(e instanceof ContainerLockedError && i < 100, String(e))
        await new Promise(r => setTimeout(r, 100))
      }
    }
    assert.equal(c.root.n, 1)
    c.root.n = 2
    await c.persist()
    process.kill(child.pid!, 'SIGCONT')
    child.send({ op: 'persist', n: 3 })
    const fenced = await next()
    assert.equal(fenced.ok, false)
    assert.equal(fenced.code, 'ERR_PMEM_LEASE_LOST', fenced.message)
    assert.deepEqual((await store.versions('two')).map(v => v.version), [1, 2])
    await c.close()
    const r = await Container.openStore(store, 'two', { readOnly: true })
    assert.equal(r.root.n, 2)
    await r.close()
  } finally {
    if (child.exitCode === null) { child.kill('SIGCONT'); child.kill('SIGKILL') }
  }
})

test('the server SIGKILLed while a writer and a reader open, three lives (the last killed again during its recovery): each open is whole or typed; the same store opens, writes and reads on', { skip }, async () => {
  const store = await kit.connect()
  let c = await Container.openStore(store, 'opening', { init: () => users(1500) })
  await c.persist()
  let expected = cloneGraph(c.unwrap(c.root))
  await c.close()
  for (let life = 1; life <= 3; life++) {
    const other = await kit.connect()
    const opens = [Container.openStore(store, 'opening', {}), Container.openStore(other, 'opening', { readOnly: true })].map(p => p.catch((e: Error) => e))
    await new Promise(r => setTimeout(r, Math.floor(Math.random() * 30)))
    await kit.cluster.kill()
    for (const o of await Promise.all(opens)) {
      if (o instanceof Error) { assert.ok(o instanceof StoreUnavailableError, String(o)); continue }
      assertSameGraph(o.unwrap(o.root), expected)         // an open that finished shows the whole version
      await o.close()                                     // its lease release fails (server down): it expires, or this store takes it again
    }
    if (life === 3) { await kit.cluster.start(); await kit.cluster.kill() }
    await kit.cluster.start()
    c = await Container.openStore(store, 'opening', {})   // the same store: its own lease, if left, is taken again at once
    assertSameGraph(c.unwrap(c.root), expected)
    for (let i = life; i < 1500; i += 97) c.root.users[i].score = -life
    await c.persist()
    expected = cloneGraph(c.unwrap(c.root))
    await c.close()
    const seen = await restored('opening')
    assert.equal(seen.orphans, 0)
    assertSameGraph(seen.root, expected)
  }
})
