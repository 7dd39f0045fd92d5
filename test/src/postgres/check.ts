/**
 * (Imported by postgres.test.ts, to share its cluster.) `PostgresStore.check(name)`: every
 * record of every retained version, checked in one snapshot beside a live writer, as
 * `Container.check(path)` checks a file; damage in an older version, which the open and
 * `c.check()` (the newest version only) never read, makes `ok` false and is named; and
 * `pmem check | info | versions postgres://...#name` through a read-only store.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Container, InvalidArgumentError, ReadOnlyError, RegionClosedError, RegionNotFoundError } from '../../../src/index.js'
import { kit, skip } from './pg-kit.js'

type Root = { list: string[] }
const OPTIONS = { init: (): Root => ({ list: [] }), chunkSize: 512, keepVersions: 3 }
const point = async (c: Container<Root>, p: number): Promise<void> => {
  for (let i = 0; i < 30; i++) c.root.list.push(`point ${p} entry ${i}`)
  await c.persist()
}

/** Changes by hand the bytes of a chunk row that only version 2 of container `name` reads (versions 3 or 4 rewrote its chunk); returns its index. */
async function damageOnlyVersion2Reads(name: string): Promise<number> {
  const id = (await kit.admin.query(`SELECT id FROM pmem_containers WHERE name = $1`, [name])).rows[0].id
  const hit = await kit.admin.query(
    `UPDATE pmem_chunks SET data = overlay(data PLACING '\\xff'::bytea FROM 20) WHERE (container_id, idx, version) = (
       SELECT container_id, idx, version FROM pmem_chunks WHERE container_id = $1 AND version = 2
       AND idx = ANY (SELECT unnest(written) FROM pmem_versions WHERE container_id = $1 AND version > 2) ORDER BY idx LIMIT 1) RETURNING idx`, [id])
  assert.equal(hit.rowCount, 1)
  return hit.rows[0].idx
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
  const idx = await damageOnlyVersion2Reads('checked')
  assert.equal(c.check().ok, true, 'the open container checks its newest version only (as on a file)')
  const r = await Container.openStore<Root>(other, 'checked', { readOnly: true })
  assert.equal(r.fellBack, null, 'an open never reads version 2')
  await r.close()
  const damaged = await other.check('checked')
  assert.equal(damaged.ok, false)
  assert.deepEqual(damaged.versions, [2, 3, 4])
  assert.equal(damaged.version, 4)
  assert.equal(damaged.problems.length, 1)
  assert.match(damaged.problems[0], new RegExp(`^version 2: .*chunk ${idx} of version 2 fails its checksum`))
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

/** `pmem <args>` as a real process; resolves with its exit status and output. */
function pmem(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'cli', 'pmem.js')
  return new Promise(resolve => {
    execFile(process.execPath, [cli, ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr })
    })
  })
}

/** Every row of the store's tables, and the database's schemas: what a read-only connect must leave as it found it. */
async function everything(): Promise<string> {
  const q = async (sql: string) => JSON.stringify((await kit.admin.query(sql)).rows)
  return [
    // A held lease's expiry is left out: its writer (this test's own, beside which the CLI
    // checks) renews it on its own, and under load a renewal falls between the two readings.
    // A lease the CLI took would still show, in lease_holder and lease_generation.
    await q(`SELECT id, name, lease_holder, lease_generation, CASE WHEN lease_holder IS NULL THEN lease_expires END AS lease_expires FROM pmem_containers ORDER BY id`),
    await q(`SELECT container_id, version, committed_at FROM pmem_versions ORDER BY 1, 2`),
    await q(`SELECT container_id, idx, version, md5(data) FROM pmem_chunks ORDER BY 1, 2, 3`),
    await q(`SELECT nspname FROM pg_namespace ORDER BY 1`),
  ].join('\n')
}

test('pmem check, info and versions of a container in PostgreSQL (postgres://...#name) through a read-only store: exit 0 sound, 1 damaged, 2 misuse; nothing created or written', { skip }, async () => {
  const store = await kit.connect()
  const c = await Container.openStore<Root>(store, 'cli check', OPTIONS)
  for (let p = 1; p <= 4; p++) await point(c, p)
  const target = `${kit.cluster.url}#${encodeURIComponent('cli check')}`
  const before = await everything()
  const ok = await pmem('check', target)            // beside the live writer, which holds its lease
  assert.equal(ok.status, 0, ok.stderr)
  assert.match(ok.stdout, /#cli check: ok \(container, version 4, 3 versions kept\)/)
  const info = await pmem('info', target)
  assert.equal(info.status, 0, info.stderr)
  assert.deepEqual(JSON.parse(info.stdout), { ok: true, version: 4, versions: [2, 3, 4], problems: [] })
  const versions = await pmem('versions', target)
  assert.equal(versions.status, 0, versions.stderr)
  assert.deepEqual(versions.stdout.trim().split('\n').map(l => l.split('\t')[0]), ['2', '3', '4'])
  // A read-only store: misuse is refused before anything is written.
  const ro = await kit.connect({ readOnly: true })
  await assert.rejects(Container.openStore(ro, 'cli check', OPTIONS), ReadOnlyError)
  await assert.rejects(Container.openStore(ro, 'cli new', OPTIONS), ReadOnlyError)
  await assert.rejects(ro.delete('cli check'), ReadOnlyError)
  const r = await Container.openStore<Root>(ro, 'cli check', { readOnly: true })
  assert.equal(r.root.list.length, 120)
  await r.close()
  await assert.rejects(kit.connect({ readOnly: 'yes' as unknown as boolean }), InvalidArgumentError)
  // A schema holding no store: exit 2, and the schema is not created.
  const none = await pmem('check', target, '--schema', 'pmem_cli_none')
  assert.equal(none.status, 2)
  assert.match(none.stderr, /holds no container store/)
  await assert.rejects(kit.connect({ readOnly: true, schema: 'pmem_cli_none' }), RegionNotFoundError)
  assert.equal(await everything(), before, 'nothing was written: no lease, no row, no schema')
  // Usage errors.
  for (const args of [['check', kit.cluster.url], ['check', target, '--frobnicate'], ['versions', `${kit.cluster.url}#no%20such`]]) {
    const bad = await pmem(...args)
    assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stdout}`)
  }
  // Damage in a chunk only version 2 reads: exit 1, named.
  await damageOnlyVersion2Reads('cli check')
  const damaged = await pmem('check', target)
  assert.equal(damaged.status, 1, damaged.stderr)
  assert.match(damaged.stdout, /#cli check: DAMAGED\n {2}- version 2: .*fails its checksum/)
  await c.close()
  await store.delete('cli check')
})
