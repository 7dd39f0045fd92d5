/**
 * (Imported by postgres.test.ts, to share its cluster.) `PostgresStore.close()` while a
 * container's point is committing: the commit already begun ends first and its outcome is
 * the point's (pg-hosted inv. P2; before, a point the database had committed rejected with
 * RegionClosedError and broke the container), the lease is released after it, and a point
 * queued behind it is refused, nothing committed. A reader's refresh, `versions` and an
 * open begun before the close settle, typed, and the container's close after them resolves
 * (inv. P3; before, pg-pool's end() left their connects pending: all of them hung for ever).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Container, PmemError, RegionClosedError, type PointStats } from '../../../src/index.js'
import { kit, skip, waitForLockWait } from './pg-kit.js'

test('closing the store while a point commits: the point resolves with the version the database committed, the lease is released after it (pg-hosted inv. P2)', { skip }, async () => {
  const store = await kit.connect()
  const c = await Container.openStore<{ list: number[] }>(store, 'closing', { init: () => ({ list: [] }) })
  await c.persist()
  const blocker = await kit.admin.connect()
  await blocker.query('BEGIN')
  await blocker.query('LOCK TABLE pmem_versions IN SHARE MODE')     // the commit's INSERT of its version row waits
  c.root.list.push(1)
  const committing = c.persist()
  c.root.list.push(2)
  const queued = c.persist()
  const settled = (p: Promise<PointStats>) => p.then(s => s.version, (e: unknown) => e)
  const outcomes = [settled(committing), settled(queued)]
  await waitForLockWait(kit.admin)
  const closed = store.close()
  await new Promise(r => setTimeout(r, 20))      // let the close run as far as it goes (no assertion on time)
  await blocker.query('ROLLBACK'); blocker.release()
  await closed
  const [first, second] = await Promise.all(outcomes)
  assert.equal(first, 2, `the point the database committed resolves with its version (got ${String(first)})`)
  assert.ok(second instanceof PmemError, `the point queued behind it is refused, typed (got ${String(second)})`)
  const other = await kit.connect()
  assert.deepEqual((await other.versions('closing')).map(v => v.version), [1, 2], 'nothing committed after the close')
  const w = await Container.openStore<{ list: number[] }>(other, 'closing', {})     // the lease was released (its 30 s would refuse this)
  assert.deepEqual([...w.root.list], [1])
  await w.close(); await c.close().catch(() => {})
  await other.delete('closing')
})

test('a refresh, versions and an open racing PostgresStore.close settle, typed, and the reader\'s close resolves (pg-hosted inv. P3)', { skip, timeout: 30_000 }, async () => {
  const store = await kit.connect()
  const c = await Container.openStore<{ n: number }>(store, 'closing-readers', { init: () => ({ n: 1 }) })
  await c.persist()
  const other = await kit.connect()
  const r = await Container.openStore<{ n: number }>(other, 'closing-readers', { readOnly: true })
  c.root.n = 2
  await c.persist()
  const settled = <T>(p: Promise<T>) => p.then(v => v, (e: unknown) => e)
  // Begun before the close, on a pool with an idle connection: their connects wait for the pool's next tick.
  const refreshed = settled(r.refresh())
  const listed = settled(other.versions('closing-readers'))
  await other.close()
  const got = await refreshed
  assert.ok(got === 2 || got instanceof RegionClosedError, `the refresh resolves or is RegionClosedError (got ${String(got)})`)
  assert.deepEqual(((await listed) as { version: number }[]).map(v => v.version), [1, 2], 'versions begun before the close completes')
  await assert.rejects(r.refresh(), RegionClosedError, 'its store is closed: RegionClosedError, not "retry once the database is back"')
  assert.equal(r.root.n, got === 2 ? 2 : 1)
  // An open begun before the close completes, and the close closes what it opened.
  const third = await kit.connect()
  const opened = settled(third.openStore('closing-readers', { readOnly: true, create: null }))
  await third.close()
  const h = await opened
  assert.ok(!(h instanceof Error), `the open begun before the close completes (got ${String(h)})`)
  assert.throws(() => (h as { store: { read(k: number): Uint8Array } }).store.read(0), RegionClosedError, 'and is closed by it')
  await r.close()
  await c.close()
})
