/**
 * The upgrade path of format 5 (meta.ts, format.ts; patch-record.ts inv. PR1, PR2): a
 * container written by the build before format 5 (fixtures/make-v4-patch.mjs: segmented
 * Maps, a Set and an array of numbers, with format-4 PATCH parts of form 0) opens with this
 * build, and parts of form 1 (deletions, object values and keys, array length changes) are
 * written over its bases, in lives that end with a SIGKILL in the middle of a point
 * (patch-upgrade-child.ts; compactions among them). Every life restores a committed state
 * exactly. That the old build then refuses the file is checked with that build, not here:
 * `node fixtures/make-v4-patch.mjs OLD_DIST FILE --refuse` (session 10: UnsupportedVersionError
 * "written by a newer format version 5", for open, a read-only or lazy open and
 * `Container.versions`; `Container.check` reports it as a problem of each version).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mulberry32 } from '../../../regions/index.js'
import { Container } from '../../../src/container/index.js'
import { graphText } from './graph-json.js'
import { v4Graph, type V4Root } from './patch-upgrade-kit.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const FIXTURE = path.join(here, '../../../../test/src/container/fixtures/v4-patch.pmc.gz')

/** A copy of the fixture in a fresh directory. */
function fixtureCopy(): { dir: string; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-upgrade-'))
  const file = path.join(dir, 'v4.pmc')
  fs.writeFileSync(file, zlib.gunzipSync(fs.readFileSync(FIXTURE)))
  return { dir, file }
}

/** The newest version of `file` (read-only, fully or lazily) and its graph's text. */
function restoredText(file: string, lazy = false): { version: number; text: string } {
  const c = Container.open<V4Root>(file, { lazy, readOnly: true })
  try {
    assert.equal(c.fellBack, null, `${file}: the newest version restored, no fall-back (a fall-back to an older version would hide damage)`)
    return { version: c.version, text: graphText(c.snapshot()) }
  } finally { void c.close() }
}

test('a format-4 container (the build before format 5, fixtures/make-v4-patch.mjs) opens exactly, fully and lazily; a point over its form-0 parts writes form-1 parts (deletions, objects, length changes), not segments', async () => {
  const { dir, file } = fixtureCopy()
  const want = graphText(v4Graph())
  for (const lazy of [false, true]) assert.equal(restoredText(file, lazy).text, want, `the fixture's graph (${lazy ? 'lazy' : 'full'})`)
  const c = Container.open<V4Root>(file)
  const r = c.root
  r.m.delete('k1'); r.m.set('k2', { obj: 2 })
  r.users.delete(5); r.users.set(6, { id: 6, name: 'six again' }); r.users.set(1000, { id: 1000, name: 'new' })
  r.s.delete('s3'); r.s.add({ tag: 'object entry' })
  r.xs.pop(); r.xs.push({ last: true }, 7)
  const st = await c.persist()
  // Four collections: a part and a PATCH record each, the 4 new objects and their shapes; a
  // re-encode of any of them would write segments of 128 entries (800+ bytes each).
  assert.ok(st.objects <= 4 * 2 + 4 + 3 && st.bytes < 600, `form-1 parts and the new objects only (${st.objects} records, ${st.bytes} bytes)`)
  const expect = graphText(c.snapshot())
  await c.close()
  for (const lazy of [false, true]) assert.equal(restoredText(file, lazy).text, expect, `after the first form-1 parts (${lazy ? 'lazy' : 'full'})`)
  const d = Container.open(file)
  assert.deepEqual(d.check(), { ok: true, problems: [] })
  await d.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

/** Runs the child on `file` for up to `points` points and SIGKILLs it once it has started point `killAt` (or lets it finish); its lines. */
function lifeUntilKilled(file: string, seed: number, life: number, points: number, killAt: number): Promise<{ pending?: string; version?: number }[]> {
  const child = spawn(process.execPath, [path.join(here, 'patch-upgrade-child.js'), file, String(seed), String(life), String(points)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: { pending?: string; version?: number }[] = []
  let buf = '', err = '', started = 0
  child.stdout.on('data', (b: Buffer) => {
    buf += b.toString()
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = JSON.parse(buf.slice(0, nl)) as { pending?: string; version?: number }
      buf = buf.slice(nl + 1)
      lines.push(line)
      if (line.pending !== undefined && ++started === killAt) child.kill('SIGKILL')      // the point is being written
    }
  })
  child.stderr.on('data', (b: Buffer) => { err += b.toString() })
  return new Promise((resolve, reject) => {
    child.on('close', (code, signal) => {        // after its output is read to the end ('exit' may come before the last lines)
      if (signal !== 'SIGKILL' && code !== 0) reject(new Error(`child failed (${code}): ${err}`))
      else resolve(lines)
    })
  })
}

test('format-4 container upgraded in lives that end with a SIGKILL in the middle of a point (patch-upgrade-child.ts): each life restores a committed state exactly; form-1 parts over form-0 bases, the 1/4 limit rolling over to new bases, compactions (compactFactor 1.2)', async t => {
  const { dir, file } = fixtureCopy()
  const seed = Number(process.env.PMEM_UPGRADE_SEED ?? Date.now() % 100_000)
  const rand = mulberry32(seed)
  const start = restoredText(file)
  assert.equal(start.text, graphText(v4Graph()), 'the fixture\'s graph')
  const committed = new Map<number, string>([[start.version, start.text]])
  let parts = 0, compactions = 0
  for (let life = 1; life <= 4; life++) {
    const killAt = 1 + Math.floor(rand() * 8)
    const lines = await lifeUntilKilled(file, seed, life, 10, killAt)
    let pending: string | undefined
    for (const line of lines) {
      if (line.pending !== undefined) pending = line.pending
      else {
        committed.set(line.version!, pending!); pending = undefined
        if ((line as { full?: boolean }).full === false) parts++
        if ((line as { compacted?: boolean }).compacted === true) compactions++
      }
    }
    const newest = Math.max(...committed.keys())
    const got = restoredText(file)
    const what = `seed ${seed}, life ${life} (killed at point ${killAt})`
    if (got.version === newest + 1 && pending !== undefined) committed.set(got.version, pending)     // the point killed had committed
    assert.ok(got.version >= newest, `${what}: restored version ${got.version}, older than the committed ${newest}`)
    assert.ok(committed.has(got.version), `${what}: restored version ${got.version} was never committed (committed: ${[...committed.keys()].join(', ')}; a point in flight: ${pending !== undefined}; lines: ${lines.map(l => l.version ?? 'pending').join(' ')})`)
    assert.equal(got.text, committed.get(got.version), `${what}: the graph of version ${got.version}`)
    assert.equal(restoredText(file, true).text, got.text, `${what}: lazily`)
    for (const v of [...committed.keys()]) if (v > got.version) committed.delete(v)
  }
  assert.ok(parts > 0, 'incremental points were written')
  t.diagnostic(`seed ${seed} (PMEM_UPGRADE_SEED): ${parts} incremental points, ${compactions} compactions`)
  const c = Container.open(file)
  assert.deepEqual(c.check(), { ok: true, problems: [] })
  await c.close()
  fs.rmSync(dir, { recursive: true, force: true })
})
