/**
 * (Imported by postgres.test.ts, to share its cluster.) Damaged or foreign rows: a chunk row
 * deleted, moved to another index, copied under a version that did not write it, a row of
 * another container, a version row deleted in the middle or at the top, rows put where the
 * next commit writes, and a chunk whose bytes and checksum were both rewritten. Each gives a
 * typed answer naming what is wrong (a fall-back saying why, or CorruptionError), never
 * another version's bytes; opening changes nothing stored (pg-load inv. L1-L3, pg inv. 7).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { crc32 } from 'node:zlib'
import { Container, CorruptionError, UnsupportedVersionError, type ChunkStore } from '../../../src/index.js'
import { FORMAT_VERSION } from '../../../src/container/meta.js'
import type { PostgresStore } from '../../../src/postgres/index.js'
import { kit, skip } from './pg-kit.js'

const SIZE = 64

/** A chunk of SIZE bytes that says which version wrote chunk k. */
const bytes = (k: number, v: number): Uint8Array => new TextEncoder().encode(`chunk ${k} by version ${v}`.padEnd(SIZE, '.'))
const text = (s: ChunkStore, k: number): string => new TextDecoder().decode(s.read(k)).replace(/\.+$/, '')

/** Version 1 writes chunks 0..3, version 2 chunks 0 and 2, version 3 chunk 1 (keep 4: all retained). */
async function threeVersions(store: PostgresStore, name: string): Promise<number> {
  const h = await store.openStore(name, { readOnly: false, create: { chunkSize: SIZE, keepVersions: 4 } })
  const s = h.store!
  s.resize(4)
  for (const k of [0, 1, 2, 3]) s.write(k, bytes(k, 1))
  s.setMeta(Uint8Array.of(1)); await s.commitAsync()
  for (const k of [0, 2]) s.write(k, bytes(k, 2))
  s.setMeta(Uint8Array.of(2)); await s.commitAsync()
  s.write(1, bytes(1, 3))
  s.setMeta(Uint8Array.of(3)); await s.commitAsync()
  await h.close()
  return (await kit.admin.query('SELECT id::int AS id FROM pmem_containers WHERE name = $1', [name])).rows[0].id
}

/** Every chunk and version row of a container, as text (what "nothing stored changed" compares). */
async function stored(id: number): Promise<string> {
  const c = await kit.admin.query('SELECT idx, version, crc, md5(data) AS d FROM pmem_chunks WHERE container_id = $1 ORDER BY idx, version', [id])
  const v = await kit.admin.query('SELECT version, chunk_count, md5(meta) AS m, written FROM pmem_versions WHERE container_id = $1 ORDER BY version', [id])
  return JSON.stringify([c.rows, v.rows])
}

/** Opens read-only and then as the writer: the versions each shows, the fall-back reason; nothing stored changes. */
async function openBoth(store: PostgresStore, name: string, id: number): Promise<{ version: number; texts: string[]; reason: string }> {
  const before = await stored(id)
  const r = await store.openStore(name, { readOnly: true, create: null })
  const w = await store.openStore(name, { readOnly: false, create: null })
  const s = r.store!
  assert.equal(w.store!.version, s.version)
  const out = { version: s.version, texts: Array.from({ length: s.chunkCount }, (_, k) => text(s, k)), reason: s.fellBack?.reason ?? '' }
  await r.close(); await w.close()
  assert.equal(await stored(id), before, 'opening changed nothing stored')
  return out
}

test('damaged or foreign chunk and version rows are named and fallen back from, never read as another version\'s bytes (pg-load inv. L1-L3)', { skip }, async () => {
  const store = await kit.connect()
  const cases: { name: string; damage: (id: number) => Promise<void>; fallsTo: number; reason: RegExp }[] = [
    { name: 'row-deleted', fallsTo: 2, reason: /chunk 1 of version 3 has no row of version 3, which wrote it/,
      damage: id => kit.admin.query('DELETE FROM pmem_chunks WHERE container_id = $1 AND idx = 1 AND version = 3', [id]).then(() => undefined) },
    { name: 'row-moved', fallsTo: 2, reason: /chunk 1 of version 3 has no row of version 3, which wrote it; only the older row of version 1/,
      damage: id => kit.admin.query('UPDATE pmem_chunks SET idx = 3 WHERE container_id = $1 AND idx = 1 AND version = 3', [id]).then(() => undefined) },
    { name: 'row-copied', fallsTo: 2, reason: /chunk 3 of version 3 reads row \(3, 3\), which version 3 did not write/,
      damage: id => kit.admin.query('INSERT INTO pmem_chunks SELECT container_id, 3, 3, crc, data FROM pmem_chunks WHERE container_id = $1 AND idx = 0 AND version = 1', [id]).then(() => undefined) },
    { name: 'row-foreign', fallsTo: 2, reason: /chunk 3 of version 3 reads row \(3, 3\), which version 3 did not write/,
      damage: async id => {
        const other = await threeVersions(store, 'rows-other')
        await kit.admin.query('INSERT INTO pmem_chunks SELECT $1, 3, 3, crc, data FROM pmem_chunks WHERE container_id = $2 AND idx = 0 AND version = 2', [id, other])
      } },
    { name: 'version-gap', fallsTo: 1, reason: /chunk 0 of version 3 reads row \(0, 2\), which belongs to no retained version \(retained: 1, 3\)/,
      damage: id => kit.admin.query('DELETE FROM pmem_versions WHERE container_id = $1 AND version = 2', [id]).then(() => undefined) },
  ]
  for (const c of cases) {
    const id = await threeVersions(store, `rows-${c.name}`)
    await c.damage(id)
    const seen = await openBoth(store, `rows-${c.name}`, id)
    assert.equal(seen.version, c.fallsTo, `${c.name}: the newest intact version`)
    assert.match(seen.reason, c.reason, c.name)
    assert.deepEqual(seen.texts, [0, 1, 2, 3].map(k => `chunk ${k} by version ${c.fallsTo === 1 || (k !== 0 && k !== 2) ? 1 : 2}`), `${c.name}: version ${c.fallsTo}'s own bytes`)
    // the writer's next commit rewrites every chunk (pg-store inv. 3): the newest version reads whole again
    const w = await store.openStore(`rows-${c.name}`, { readOnly: false, create: null })
    w.store!.write(3, bytes(3, 9)); w.store!.setMeta(Uint8Array.of(9))
    const v = await w.store!.commitAsync()
    await w.close()
    const r = await store.openStore(`rows-${c.name}`, { readOnly: true, create: null })
    assert.equal(r.store!.version, v)
    assert.equal(r.store!.fellBack, null, `${c.name}: the rewritten version is intact`)
    assert.equal(text(r.store!, 3), 'chunk 3 by version 9')
    await r.close()
  }
})

test('rows above the newest version row (its version row deleted, or rows put where the next commit writes) never show through; the writer is not fenced (pg inv. 7)', { skip }, async () => {
  const store = await kit.connect()
  // The newest version row deleted: its chunk rows stay, above the new newest.
  const id = await threeVersions(store, 'rows-top')
  await kit.admin.query('DELETE FROM pmem_versions WHERE container_id = $1 AND version = 3', [id])
  const seen = await openBoth(store, 'rows-top', id)
  assert.equal(seen.version, 2)
  assert.equal(seen.texts[1], 'chunk 1 by version 1')
  const w = await store.openStore('rows-top', { readOnly: false, create: null })
  w.store!.write(3, bytes(3, 9)); w.store!.setMeta(Uint8Array.of(9))
  assert.equal(await w.store!.commitAsync(), 3, 'the next version is 3 again, without row (1, 3) colliding or showing through')
  await w.close()
  const r = await store.openStore('rows-top', { readOnly: true, create: null })
  assert.deepEqual([0, 1, 2, 3].map(k => text(r.store!, k)), ['chunk 0 by version 2', 'chunk 1 by version 1', 'chunk 2 by version 2', 'chunk 3 by version 9'])
  await r.close()

  // Rows put where an open writer's next commit writes: CorruptionError, not a lost lease; the next commit goes through.
  const id2 = await threeVersions(store, 'rows-ahead')
  const w2 = await store.openStore('rows-ahead', { readOnly: false, create: null })
  await kit.admin.query('INSERT INTO pmem_chunks SELECT container_id, idx, 4, crc, data FROM pmem_chunks WHERE container_id = $1 AND version = 1', [id2])
  w2.store!.write(2, bytes(2, 4)); w2.store!.setMeta(Uint8Array.of(4))
  await assert.rejects(w2.store!.commitAsync(), (e: unknown) => e instanceof CorruptionError && /already exists/.test(e.message))
  w2.store!.write(2, bytes(2, 4)); w2.store!.setMeta(Uint8Array.of(4))
  assert.equal(await w2.store!.commitAsync(), 4)
  await w2.close()
  const r2 = await store.openStore('rows-ahead', { readOnly: true, create: null })
  assert.deepEqual([0, 1, 2, 3].map(k => text(r2.store!, k)), ['chunk 0 by version 2', 'chunk 1 by version 3', 'chunk 2 by version 4', 'chunk 3 by version 1'])
  await r2.close()
})

test('a container\'s newest version damaged inside its records (bytes and checksum rewritten together) falls back to the version before, as on a file', { skip }, async () => {
  const store = await kit.connect()
  const c = await Container.openStore(store, 'rows-records', { init: () => ({ items: Array.from({ length: 300 }, (_, i) => `item ${i}`) }), chunkSize: 4096 })
  await c.persist()
  c.root.items.push('second')
  await c.persist()
  await c.close()
  const id = (await kit.admin.query(`SELECT id::int AS id FROM pmem_containers WHERE name = 'rows-records'`)).rows[0].id
  // The rows version 2 wrote get garbage where the records are, with a matching checksum.
  for (const row of (await kit.admin.query('SELECT idx, data FROM pmem_chunks WHERE container_id = $1 AND version = 2', [id])).rows) {
    const data = Buffer.from(row.data as Buffer)
    data.fill(0xee, 0, data.length)
    await kit.admin.query('UPDATE pmem_chunks SET data = $3, crc = $4 WHERE container_id = $1 AND idx = $2 AND version = 2', [id, row.idx, data, crc32(data) | 0])
  }
  const before = await stored(id)
  for (const readOnly of [true, false]) {
    const d = await Container.openStore<{ items: string[] }>(store, 'rows-records', { readOnly })
    assert.deepEqual(d.fellBack && { from: d.fellBack.from, to: d.fellBack.to }, { from: 2, to: 1 })
    assert.equal(d.root.items.length, 300)
    await d.close()
  }
  assert.equal(await stored(id), before, 'opening changed nothing stored')
})

test('a version row\'s metadata with a bad checksum falls back to the version before; a newer format version in it is UnsupportedVersionError; nothing stored changes', { skip }, async () => {
  const store = await kit.connect()
  const c = await Container.openStore(store, 'rows-meta', { init: () => ({ n: 1 }) })
  await c.persist()
  c.root.n = 2
  await c.persist()
  await c.close()
  const id = (await kit.admin.query(`SELECT id::int AS id FROM pmem_containers WHERE name = 'rows-meta'`)).rows[0].id
  const meta = Buffer.from((await kit.admin.query('SELECT meta FROM pmem_versions WHERE container_id = $1 AND version = 2', [id])).rows[0].meta as Buffer)
  const setMeta = (b: Buffer) => kit.admin.query('UPDATE pmem_versions SET meta = $2 WHERE container_id = $1 AND version = 2', [id, b])
  const bad = Buffer.from(meta); bad[8] ^= 0xff
  await setMeta(bad)
  let before = await stored(id)
  for (const readOnly of [true, false]) {
    const d = await Container.openStore<{ n: number }>(store, 'rows-meta', { readOnly })
    assert.deepEqual(d.fellBack && { from: d.fellBack.from, to: d.fellBack.to }, { from: 2, to: 1 })
    assert.match(d.fellBack!.reason, /metadata checksum mismatch/)
    assert.equal(d.root.n, 1)
    await d.close()
  }
  assert.equal(await stored(id), before, 'opening changed nothing stored')
  const newer = Buffer.from(meta); newer.writeUInt16LE(FORMAT_VERSION + 1, 4); newer.writeUInt32LE(crc32(newer.subarray(0, 72)), 72)
  await setMeta(newer)
  before = await stored(id)
  for (const readOnly of [true, false]) await assert.rejects(Container.openStore(store, 'rows-meta', { readOnly }), UnsupportedVersionError)
  assert.equal(await stored(id), before, 'refusing changed nothing stored')
})

test('tables altered or dropped by hand: CorruptionError naming what differs, at connect and at a point; nothing written or recreated', { skip }, async () => {
  const alters: [string, RegExp][] = [
    ['ALTER TABLE S.pmem_versions DROP COLUMN written', /pmem_versions\.written is missing/],
    ['ALTER TABLE S.pmem_chunks ALTER COLUMN data TYPE text', /pmem_chunks\.data is text, not bytea/],
    ['DROP TABLE S.pmem_chunks', /table pmem_chunks is missing/],
    ['ALTER TABLE S.pmem_containers RENAME COLUMN lease_generation TO g', /pmem_containers\.lease_generation is missing/],
  ]
  for (const [i, [alter, says]] of alters.entries()) {
    const schema = `altered_${i}`
    const s = await kit.connect({ schema })
    const c = await Container.openStore(s, 'a', { init: () => ({ n: 1 }) })
    await c.persist()
    await kit.admin.query(alter.replaceAll('S.', `${schema}.`))
    const count = async () => (await kit.admin.query(`SELECT count(*)::int AS n FROM ${schema}.pmem_versions`).catch(() => ({ rows: [{ n: -1 }] }))).rows[0].n
    const had = await count()
    c.root.n = 2
    // A point into altered tables: refused typed (the chunk column turned text would have taken the bytes as text).
    if (!alter.includes('TYPE text')) await assert.rejects(c.persist(), CorruptionError, alter)
    await c.close().catch(() => {})
    await assert.rejects(kit.connect({ schema }), (e: unknown) => e instanceof CorruptionError && says.test(e.message), alter)
    if (!alter.includes('TYPE text')) assert.equal(await count(), had, `${alter}: nothing committed`)
    const tables = await kit.admin.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1`, [schema])
    assert.equal(tables.rows[0].n, alter.startsWith('DROP') ? 3 : 4, 'nothing recreated')
  }
})
