/**
 * (Imported by postgres.test.ts, to share its cluster.) `PostgresStore.check(name)`: every
 * record of every retained version, checked in one snapshot beside a live writer, as
 * `Container.check(path)` checks a file; damage in an older version, which the open and
 * `c.check()` (the newest version only) never read, makes `ok` false and is named.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Container, InvalidArgumentError, RegionClosedError, RegionNotFoundError } from '../../../src/index.js'
import { kit, skip } from './pg-kit.js'

type Root = { list: string[] }
const OPTIONS = { init: (): Root => ({ list: [] }), chunkSize: 512, keepVersions: 3 }
const point = async (c: Container<Root>, p: number): Promise<void> => {
  for (let i = 0; i < 30; i++) c.root.list.push(`point ${p} entry ${i}`)
  await c.persist()
}

test('PostgresStore.check checks every retained version as Container.check checks a file; damage only an older version reads is named, which c.check() never sees', { skip }, async () => {
  const store = await kit.connect(), other = await kit.connect()
  const c = await Container.openStore<Root>(store, 'checked', OPTIONS)
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pmem-pgcheck-')), 'c')
  const f = await Container.open<Root>(file, OPTIONS)
  for (let p = 1; p <= 4; p++) { await point(c, p); await point(f, p) }
  const sound = await other.check('checked')           // beside the live writer: no lease needed
  assert.deepEqual(sound, { ok: true, version: 4, versions: [2, 3, 4], problems: [] })
  assert.deepEqual({ ...Container.check(file), problems: [] }, sound, 'the same versions as the file check')
  await f.close()
  fs.rmSync(path.dirname(file), { recursive: true, force: true })
  // A row only version 2 reads (its chunk rewritten by version 3 or 4), its bytes changed by hand.
  const id = (await kit.admin.query(`SELECT id FROM pmem_containers WHERE name = 'checked'`)).rows[0].id
  const hit = await kit.admin.query(
    `UPDATE pmem_chunks SET data = overlay(data PLACING '\\xff'::bytea FROM 20) WHERE (container_id, idx, version) = (
       SELECT container_id, idx, version FROM pmem_chunks WHERE container_id = $1 AND version = 2
       AND idx = ANY (SELECT unnest(written) FROM pmem_versions WHERE container_id = $1 AND version > 2) ORDER BY idx LIMIT 1) RETURNING idx`, [id])
  assert.equal(hit.rowCount, 1)
  assert.equal(c.check().ok, true, 'the open container checks its newest version only (as on a file)')
  const r = await Container.openStore<Root>(other, 'checked', { readOnly: true })
  assert.equal(r.fellBack, null, 'an open never reads version 2')
  await r.close()
  const damaged = await other.check('checked')
  assert.equal(damaged.ok, false)
  assert.deepEqual(damaged.versions, [2, 3, 4])
  assert.equal(damaged.version, 4)
  assert.equal(damaged.problems.length, 1)
  assert.match(damaged.problems[0], new RegExp(`^version 2: .*chunk ${hit.rows[0].idx} of version 2 fails its checksum`))
  // Misuse: typed, nothing created.
  await assert.rejects(other.check('no-such'), RegionNotFoundError)
  await assert.rejects(other.check('' as string), InvalidArgumentError)
  assert.ok(!(await other.list()).includes('no-such'))
  await c.close()
  await other.delete('checked')
  const closed = await kit.connect()
  await closed.close()
  await assert.rejects(async () => closed.check('checked'), RegionClosedError)
})
