/**
 * (Imported by postgres.test.ts, to share its cluster.) A container deleted under the
 * programs that have it open: a reader's refresh rejects with RegionNotFoundError, also when
 * a container of the same name was created since, and keeps its version (pg-hosted inv. P1;
 * before, it resolved "no change" for ever); a writer's next point fails with LeaseLostError
 * and commits nothing (pg inv. 4: its fence finds no row).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BrokenError, Container, LeaseLostError, RegionNotFoundError } from '../../../src/index.js'
import { kit, skip } from './pg-kit.js'

type Root = { n: number; list: number[] }

test('a reader whose container was deleted, or deleted and created again, gets RegionNotFoundError from refresh and keeps its version (pg-hosted inv. P1)', { skip }, async () => {
  const store = await kit.connect(), other = await kit.connect()
  const c = await Container.openStore<Root>(store, 'deleted', { init: () => ({ n: 1, list: [1] }) })
  await c.persist()
  const r = await Container.openStore<Root>(other, 'deleted', { readOnly: true })
  const hook = await other.openStore('deleted', { readOnly: true, create: null })    // the host's refresh hook itself
  c.root.n = 2; c.root.list.push(2)
  await c.persist()
  assert.equal(await r.refresh(), 2)
  await c.close()
  await store.delete('deleted')
  for (let i = 0; i < 2; i++) {     // every refresh says so, not only the first
    await assert.rejects(r.refresh(), (e: unknown) => e instanceof RegionNotFoundError && /was deleted \(PostgresStore\.delete/.test(e.message) && /still shows version 2/.test(e.message))
    await assert.rejects(hook.refresh!(), RegionNotFoundError)
  }
  assert.equal(r.version, 2, 'the reader keeps the version it holds')
  assert.deepEqual([r.root.n, [...r.root.list]], [2, [1, 2]])
  // A container of the same name again: another row, which the old reader must not mistake for "no change" either.
  const again = await Container.openStore<Root>(store, 'deleted', { init: () => ({ n: 7, list: [] }) })
  await again.persist()
  await assert.rejects(r.refresh(), (e: unknown) => e instanceof RegionNotFoundError && /deleted and created again/.test(e.message))
  assert.equal(r.root.n, 2)
  const fresh = await Container.openStore<Root>(other, 'deleted', { readOnly: true })
  assert.equal(fresh.root.n, 7, 'a new open follows the new container')
  await fresh.close(); await r.close(); await hook.close(); await again.close()
  await store.delete('deleted')
})

test('a writer whose row is deleted under it (its lease expired, another store deleted it) fails its next point with LeaseLostError and commits nothing', { skip }, async () => {
  const store = await kit.connect(), other = await kit.connect()
  const c = await Container.openStore<Root>(store, 'deleted-writer', { init: () => ({ n: 1, list: [] }) })
  await c.persist()
  // The writer stalled past its lease (a pause, a partition): another program may delete the container then.
  await kit.admin.query(`UPDATE pmem_containers SET lease_expires = now() - interval '1 second' WHERE name = 'deleted-writer'`)
  await other.delete('deleted-writer')
  c.root.n = 2
  await assert.rejects(c.persist(), (e: unknown) => e instanceof LeaseLostError && /deleted while this writer held it; nothing was committed/.test(e.message))
  await assert.rejects(c.sync(), BrokenError)
  assert.ok(!(await other.list()).includes('deleted-writer'), 'the point created nothing')
  await c.close()
})
