/**
 * Containers on PostgreSQL (src/postgres) against a real private cluster: the round trip,
 * readers anywhere, versions and retention (pg inv. 3), bytes in proportion to the change,
 * random mutation sequences (every retained version restores its point's graph), the writer
 * lease, damage falling back, and the typed errors of misuse.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Container } from '../../../src/index.js'
import { skip, useCluster } from './pg-kit.js'

const kit = useCluster()

test('round trip: a point, a reader from another store (another machine), versions, delete', { skip }, async () => {
  const store = await kit.connect()
  const c = await Container.openStore(store, 'sessions', { init: () => ({ users: new Map() }) })
  c.root.users.set('ada', { name: 'Ada' })
  await c.persist(); await c.sync()
  c.root.users.set('bob', { name: 'Bob' })
  const s2 = await c.persist()
  assert.equal(s2.version, 2)
  const other = await kit.connect()
  const r = await Container.openStore(other, 'sessions', { readOnly: true })
  assert.deepEqual([...r.root.users.keys()], ['ada', 'bob'])
  const v1 = await Container.openStore(other, 'sessions', { version: 1, readOnly: true })
  assert.deepEqual([...v1.root.users.keys()], ['ada'])
  assert.deepEqual((await other.versions('sessions')).map(v => v.version), [1, 2])
  await c.close(); await r.close(); await v1.close()
  await store.delete('sessions')
  assert.deepEqual(await store.list(), [])
})
