/**
 * write.ts inv. 4a: a point that meets a full disk before its commit began is lost, not
 * fatal. The container stays usable (its root readable, mutations and points accepted), the
 * points fail with OutOfSpaceError until one fits, and that one is full: it writes every
 * change made since the last committed point, through proxies and through kept raw
 * references alike. Before session 13 the container was broken until reopened, which dropped
 * those changes. On a SimRegion whose disk holds at most `maxSize` bytes, then on a real
 * full disk (a tmpfs) in full-child.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { OutOfSpaceError, SimRegion } from '../../../regions/index.js'
import { Container } from '../../../src/container/index.js'

type Root = { big: string[]; small: { n: number; tags: string[] } }

test('inv. 4a: a full disk loses the point, not the container; once a point fits it writes everything since the last commit, and every crash image restores it', async () => {
  const region = SimRegion.create({ size: 256 << 10, maxSize: 1 << 20, path: 'full.pmc' })
  const small = { n: 0, tags: ['a'] }
  const c = Container.openRegion<Root>(region, { init: () => ({ big: [], small }) })
  await c.persist()
  let points = 0
  let failure: unknown = null
  for (let round = 0; failure === null && round < 100; round++) {
    for (let i = 0; i < 500; i++) c.root.big.push(`row ${round}.${i} ` + 'x'.repeat(100))
    try { await c.persist(); points++ } catch (e) { failure = e }
  }
  assert.ok(failure instanceof OutOfSpaceError, `a point meets the full disk: ${String(failure)}`)
  assert.ok(points >= 1, 'some points fit first')
  // The container goes on: its root reads, mutations through the proxies and through the
  // raw init graph are accepted, and each point fails the same way while nothing fits.
  assert.equal(c.root.small.n, 0)
  small.n = 42                     // a kept raw reference (the init graph)
  c.root.small.tags.push('b')      // through the proxies
  await assert.rejects(c.sync(), OutOfSpaceError, 'sync reports the lost point')
  await assert.rejects(c.persist(), OutOfSpaceError, 'still no room for the whole graph')
  // Room again: the program drops its bulk, and the next point (full) fits.
  c.root.big.length = 10
  const stats = await c.persist()
  assert.equal(stats.full, true, 'the point after a lost one rewrites the graph')
  await c.sync()
  assert.deepEqual(c.check(), { ok: true, problems: [] })
  small.n = 43                     // and points go on as before
  const after = await c.persist()
  assert.equal(after.full, false)
  const want = { big: c.unwrap(c.root.big).slice(), small: { n: 43, tags: ['a', 'b'] } }
  await c.sync()
  await c.close()
  for (const image of [region.processCrash(), ...region.crashImages({ max: 8 })]) {
    const back = Container.openRegion<Root>(image)
    assert.deepEqual(back.unwrap(back.root), want)
    assert.deepEqual(back.check(), { ok: true, problems: [] })
    await back.close()
  }
})

const here = path.dirname(fileURLToPath(import.meta.url))
const canMount = ((): boolean => {
  try { execFileSync('unshare', ['--mount', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$1"', 'sh', fs.mkdtempSync(path.join(os.tmpdir(), 'pm-probe-'))], { stdio: 'ignore', timeout: 20_000 }); return true } catch { return false }
})()

test('inv. 4a on a real full disk (a 6 MiB tmpfs), three lives: each fills the disk, goes on, persists everything once a filler is deleted, and is SIGKILLed; every reopen holds the last durable point', {
  skip: canMount ? false : 'cannot mount a tmpfs in a private mount namespace here (needs root: unshare --mount, mount -t tmpfs)',
}, () => {
  const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-full-'))
  const child = path.join(here, 'full-child.js')
  // One namespace for all lives (the tmpfs lives as long as the shell): three 1 MiB fillers,
  // then life 1, 2, 3 (each ends in a SIGKILL: `;` goes on), then a reader.
  const script = 'D=$1 N=$2 C=$3; mount -t tmpfs -o size=6m tmpfs "$D" && for i in 1 2 3; do head -c 1048576 /dev/zero > "$D/fill-$i"; done && ' +
    'for life in 1 2 3; do "$N" "$C" $life "$D"; echo "{\\"exit\\":$?}"; done; "$N" "$C" read "$D"'
  const r = spawnSync('unshare', ['--mount', 'sh', '-c', script, 'sh', mount, process.execPath, child], { encoding: 'utf8', timeout: 120_000 })
  assert.equal(r.status, 0, r.stderr)
  const lines = r.stdout.trim().split('\n').map(l => JSON.parse(l) as Record<string, any>)
  const lives = [[] as Record<string, any>[]]
  for (const l of lines) { lives.at(-1)!.push(l); if ('exit' in l) lives.push([]) }
  assert.equal(lives.length, 4, r.stdout)
  let durable: Record<string, any> | null = null
  for (const [i, events] of lives.slice(0, 3).entries()) {
    const at = (k: string) => events.find(e => k in e)!
    assert.equal(at('full').full, 'OutOfSpaceError', `life ${i + 1}: ${JSON.stringify(events)}`)
    assert.match(at('full').message, /ENOSPC|no space/)
    assert.equal(at('again').again, 'OutOfSpaceError', 'still full: the point is lost again, the container goes on')
    assert.equal(at('freed').full, true, 'the point after the lost ones rewrites the graph')
    assert.equal(at('freed').n, i + 1, 'the raw kept reference\'s change is in it')
    assert.equal(at('freed').tags, i + 1)
    assert.equal(at('exit').exit, 137, 'the life ends in its SIGKILL')
    durable = at('after').durable
  }
  const read = lives[3]!.find(e => 'read' in e)!
  assert.equal(read.check, true)
  assert.deepEqual(read.read.lives, [1, 2, 3])
  assert.ok(read.read.rows === durable!.rows || read.read.rows === durable!.rows + 1, `the last durable point (${durable!.rows} rows) or the one begun after it: ${read.read.rows}`)
  assert.equal(read.read.small.n, 3)
  assert.deepEqual(read.read.small.tags, ['life 1', 'life 2', 'life 3'])
  fs.rmSync(mount, { recursive: true, force: true })
})
