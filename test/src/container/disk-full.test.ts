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
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { BrokenError, OutOfSpaceError, SimRegion, type RegionLike } from '../../../regions/index.js'
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
  assert.equal(stats.full, true, 'the point after a lost one rewrites the graph (the lost one compacted the log: its records are not kept, inv. 4c)')
  await c.sync()
  assert.deepEqual(c.check(), { ok: true, problems: [] })
  small.n = 43                     // and points go on as before
  const after = await c.persist()
  assert.equal(after.full, false)
  const want = { big: c.unwrap(c.root.big).slice(), small: { n: 43, tags: ['a', 'b'] } }
  await c.sync()
  await c.close()
  await everyImageRestores(region, want)
})

/** A process crash and up to 8 power-loss images of `sim` each restore `want`, and check clean. */
async function everyImageRestores(sim: SimRegion, want: unknown): Promise<void> {
  for (const image of [sim.processCrash(), ...sim.crashImages({ max: 8 })]) {
    const back = Container.openRegion(image)
    assert.deepEqual(back.unwrap(back.root), want)
    assert.deepEqual(back.check(), { ok: true, problems: [] })
    await back.close()
  }
}

/** `sim` whose disk is full while `full()` says so: a growth fails with OutOfSpaceError, as Region.grow on ENOSPC (the space came back once it returns false). Counts the append streams opened. */
function fillingDisk(sim: SimRegion, full: () => boolean): { region: RegionLike; streams: () => number } {
  let streams = 0
  const region = new Proxy(sim, {
    get(target, prop) {
      if (prop === 'grow' && full()) return (size: number) => { throw new OutOfSpaceError(`Cannot grow region "${target.path}" to ${size} bytes: no space left on the disk (ENOSPC, simulated)`) }
      const v = Reflect.get(target, prop, target)
      if (prop === 'appendStream') return (at: number, block: number) => { streams++; return (v as SimRegion['appendStream']).call(target, at, block) }
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  return { region, streams: () => streams }
}

type Rows = { rows: string[]; hot: { n: number }; tags: string[] }
type Bulk = { rows: { s: string }[]; hot: { n: number }; tags: string[] }
const rowsOf = (n: number, tag: string): string[] => Array.from({ length: n }, (_, i) => `${tag} row ${i} `.padEnd(100, '.'))

test('inv. 4a: a STREAMED point that meets a full disk is lost, not fatal: the store never adopted its chunks, the next point rewrites the graph and trusts nothing the stream wrote; every crash image restores it', async () => {
  const sim = SimRegion.create({ size: 256 << 10, maxSize: 4 << 20, path: 'stream-full.pmc' })
  const { region, streams } = fillingDisk(sim, () => false)
  const hot = { n: 0 }
  const c = Container.openRegion<Bulk>(region, { init: () => ({ rows: rowsOf(60_000, 'big').map(s => ({ s })), hot, tags: [] }), streamThreshold: 0 })
  // ~6.5 MB of records (one per row object: a single array's segments are not streamed): streamed (the first sealed buffer opens the stream), and the store
  // cannot grow the 4 MiB disk over them when it adopts them
  await assert.rejects(c.persist(), OutOfSpaceError)
  assert.equal(streams(), 1, 'the point was streamed')
  assert.equal(c.root.rows.length, 60_000, 'the container goes on (before: broken, BrokenError here)')
  hot.n = 1                            // a kept raw reference (the init graph)
  c.root.tags.push('after the lost point')
  await assert.rejects(c.sync(), OutOfSpaceError)
  c.root.rows.length = 2_000           // room again: the program drops its bulk
  const stats = await c.persist()
  assert.equal(stats.full, true, 'the point after a lost full point rewrites the graph')
  assert.deepEqual(c.check(), { ok: true, problems: [] })
  c.root.hot.n = 2
  assert.equal((await c.persist()).full, false)
  const want = { rows: c.unwrap(c.root.rows).map(r => ({ s: r.s })), hot: { n: 2 }, tags: ['after the lost point'] }
  await c.close()
  await everyImageRestores(sim, want)
})

for (const mode of [{ name: 'track all (verify)', opts: {} }, { name: 'track barriers', opts: { track: 'barriers' as const } }, { name: 'lazy', opts: { lazy: true } }]) {
  test(`inv. 4c (${mode.name}): a lost incremental point's records are kept: the retry once the disk has room writes them and its own, about the change's size, not the graph's; points queued behind it are written too; every crash image restores it`, async () => {
    const sim = SimRegion.create({ size: 256 << 10, path: `kept-${mode.name}.pmc` })
    let full = false
    const { region } = fillingDisk(sim, () => full)
    const first = Container.openRegion<Rows>(region, { init: () => ({ rows: rowsOf(30_000, 'base'), hot: { n: 0 }, tags: [] }) })
    await first.persist()
    const graph = first.lastPoint!.bytes
    await first.close()
    const c = Container.openRegion<Rows>(region, mode.opts)       // reopened: lazy restores on demand
    const hot = c.unwrap(c.root.hot)            // a raw reference the program keeps
    full = true
    // appends until one needs the region to grow (the region kept some room past the log)
    let lost: unknown = null, rounds = 0
    for (; lost === null && rounds < 50; rounds++) {
      for (const r of rowsOf(1_000, `round ${rounds}`)) c.root.rows.push(r)
      try { await c.persist() } catch (e) { lost = e }
    }
    assert.ok(lost instanceof OutOfSpaceError, `a point meets the full disk: ${String(lost)}`)
    // more points while the disk is full, one queued behind another (its snapshot taken before the first was lost)
    hot.n = 1
    const a = c.persist()
    c.root.tags.push('queued')
    const b = c.persist()
    await assert.rejects(a, OutOfSpaceError)
    await assert.rejects(b, OutOfSpaceError)
    await assert.rejects(c.sync(), OutOfSpaceError)
    full = false                                   // room again (a file deleted elsewhere)
    c.root.hot.n = 2
    const retry = await c.persist()
    assert.equal(retry.full, false, 'the retry is incremental (before: full)')
    assert.ok(retry.bytes < graph / 4, `the retry writes about the lost points' records and its own (${retry.bytes} bytes), not the graph (${graph})`)
    await c.sync()
    assert.deepEqual(c.check(), { ok: true, problems: [] })
    c.root.tags.push('after')
    assert.equal((await c.persist()).full, false)
    const want = { rows: c.unwrap(c.root.rows).slice(), hot: { n: 2 }, tags: ['queued', 'after'] }
    assert.equal(want.rows.length, 30_000 + rounds * 1_000)
    await c.close()
    await everyImageRestores(sim, want)
  })
}

test('inv. 4c: a program that makes room by dropping data asks for a full point, which drops the kept records and rewrites the graph alone', async () => {
  const sim = SimRegion.create({ size: 256 << 10, path: 'kept-full.pmc' })
  let full = false
  const { region } = fillingDisk(sim, () => full)
  const c = Container.openRegion<Rows>(region, { init: () => ({ rows: rowsOf(20_000, 'base'), hot: { n: 0 }, tags: [] }) })
  await c.persist()
  full = true
  let lost: unknown = null
  for (let round = 0; lost === null && round < 50; round++) {
    for (const r of rowsOf(1_000, `round ${round}`)) c.root.rows.push(r)
    try { await c.persist() } catch (e) { lost = e }
  }
  assert.ok(lost instanceof OutOfSpaceError)
  c.root.rows.length = 100
  full = false
  const stats = await c.persist({ full: true })
  assert.equal(stats.full, true)
  c.root.hot.n = 5
  const next = await c.persist()
  assert.ok(next.bytes < 4096, `nothing kept is written again (${next.bytes} bytes)`)
  await c.close()
  const back = Container.openRegion<Rows>(sim.processCrash())
  assert.equal(back.root.rows.length, 100)
  assert.equal(back.root.hot.n, 5)
  assert.deepEqual(back.check(), { ok: true, problems: [] })
  await back.close()
})

test('inv. 4 vs 4a: a growth that fails with an I/O error (the region broken, Region inv. R6) is that BrokenError, never an OutOfSpaceError taken for a lost point', async () => {
  const sim = SimRegion.create({ size: 256 << 10, path: 'grow-eio.pmc' })
  let failing = false
  const region = new Proxy(sim, {
    get(target, prop) {
      if (prop === 'grow' && failing) return () => { throw new BrokenError(`Region "${target.path}" is broken: fsync after extending the file failed (EIO, simulated)`) }
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  const c = Container.openRegion<Rows>(region, { init: () => ({ rows: rowsOf(2_000, 'base'), hot: { n: 0 }, tags: [] }) })
  await c.persist()
  failing = true
  for (const r of rowsOf(20_000, 'more')) c.root.rows.push(r)
  await assert.rejects(c.persist(), (e: unknown) => e instanceof BrokenError && !(e instanceof OutOfSpaceError), 'not "no space ... nothing was changed" (before session 14)')
  assert.throws(() => c.root, BrokenError, 'the container is broken (inv. 4): reopen it')
  await c.close()
  const back = Container.openRegion<Rows>(sim.processCrash())
  assert.equal(back.root.rows.length, 2_000, 'the last committed version')
  await back.close()
})

const here = path.dirname(fileURLToPath(import.meta.url))
const canMount = ((): boolean => {
  try { execFileSync('unshare', ['--mount', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$1"', 'sh', fs.mkdtempSync(path.join(os.tmpdir(), 'pm-probe-'))], { stdio: 'ignore', timeout: 20_000 }); return true } catch { return false }
})()
/** The options of a test on a real tmpfs: skipped, with the reason, where none can be mounted. */
const onTmpfs = { skip: canMount ? false : 'cannot mount a tmpfs in a private mount namespace here (needs root: unshare --mount, mount -t tmpfs)' }

/**
 * Runs `script` with sh in a private mount namespace (its $1 the mount point, $2 node, $3 the
 * child script) and splits what the children printed, one JSON object a line, into lives:
 * each ends with the `{"exit": status}` line the script prints after it. Three lives and a
 * reader's events make four.
 */
function tmpfsLives(script: string, mount: string, child: string, timeout: number): { lives: Record<string, any>[][]; r: SpawnSyncReturns<string> } {
  const r = spawnSync('unshare', ['--mount', 'sh', '-c', script, 'sh', mount, process.execPath, child], { encoding: 'utf8', timeout })
  assert.equal(r.status, 0, r.stderr)
  const lines = r.stdout.trim().split('\n').map(l => JSON.parse(l) as Record<string, any>)
  const lives = [[] as Record<string, any>[]]
  for (const l of lines) { lives.at(-1)!.push(l); if ('exit' in l) lives.push([]) }
  assert.equal(lives.length, 4, r.stdout)
  return { lives, r }
}

test('inv. 4a on a real full disk (a 6 MiB tmpfs), three lives: each fills the disk, goes on, persists everything once a filler is deleted, and is SIGKILLed; every reopen holds the last durable point', onTmpfs, () => {
  const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-full-'))
  const child = path.join(here, 'full-child.js')
  // One namespace for all lives (the tmpfs lives as long as the shell): three 1 MiB fillers,
  // then life 1, 2, 3 (each ends in a SIGKILL: `;` goes on), then a reader.
  const script = 'D=$1 N=$2 C=$3; mount -t tmpfs -o size=6m tmpfs "$D" && for i in 1 2 3; do head -c 1048576 /dev/zero > "$D/fill-$i"; done && ' +
    'for life in 1 2 3; do "$N" "$C" $life "$D"; echo "{\\"exit\\":$?}"; done; "$N" "$C" read "$D"'
  const { lives } = tmpfsLives(script, mount, child, 120_000)
  let durable: Record<string, any> | null = null
  for (const [i, events] of lives.slice(0, 3).entries()) {
    const at = (k: string) => events.find(e => k in e)!
    assert.equal(at('full').full, 'OutOfSpaceError', `life ${i + 1}: ${JSON.stringify(events)}`)
    assert.match(at('full').message, /ENOSPC|no space/)
    assert.equal(at('again').again, 'OutOfSpaceError', 'still full: the point is lost again, the container goes on')
    // the point after the lost ones fits: full after a lost compaction, else an append with the lost records kept (inv. 4c)
    assert.equal(typeof at('freed').full, 'boolean', JSON.stringify(events))
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

test('inv. 4a, 4c on a real full disk (a 16 MiB tmpfs): a streamed first point meets ENOSPC and is lost, not fatal; a life later the disk fills again, and once 1 MiB comes back (less than the log) the retry writes only the lost points\' records; each life SIGKILLed with a point in flight, a reader killed while it opens, then a reader', onTmpfs, () => {
  const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-keep-'))
  const child = path.join(here, 'full-keep-child.js')
  const script = 'D=$1 N=$2 C=$3; mount -t tmpfs -o size=16m tmpfs "$D" && head -c 6291456 /dev/zero > "$D/fill-big" && ' +
    'for life in stream keep; do "$N" "$C" $life "$D"; echo "{\\"exit\\":$?}"; done; ' +
    'timeout -s KILL 0.3 "$N" "$C" read "$D" > /dev/null; echo "{\\"exit\\":$?}"; "$N" "$C" read "$D"'
  const { lives, r } = tmpfsLives(script, mount, child, 180_000)
  const at = (events: Record<string, any>[], k: string) => events.find(e => k in e) ?? assert.fail(`no "${k}" event: ${JSON.stringify(events)} ${r.stderr}`)
  const [stream, keep, , last] = lives
  assert.equal(at(stream!, 'streamFull').streamFull, 'OutOfSpaceError', 'the streamed point is lost (before: the container broke)')
  assert.match(at(stream!, 'streamFull').message, /streamed point \(ENOSPC/)
  assert.equal(at(stream!, 'freed').full, true)
  assert.equal(at(stream!, 'freed').n, 1, 'the raw kept reference\'s change is in it')
  assert.equal(at(stream!, 'exit').exit, 137)
  assert.equal(at(keep!, 'filled').filled, 'ENOSPC')
  assert.equal(at(keep!, 'lost').lost, 'OutOfSpaceError')
  assert.deepEqual(at(keep!, 'queued').queued, ['OutOfSpaceError', 'OutOfSpaceError'])
  const retry = at(keep!, 'retry').retry
  assert.equal(retry.full, false, `the retry fits in the 1 MiB freed, writing the lost points' records and its own (before: a full point, OutOfSpaceError): ${JSON.stringify(retry)}`)
  assert.ok(retry.bytes < 1 << 20, `${retry.bytes} bytes`)
  assert.equal(at(keep!, 'exit').exit, 137)
  const durable = at(keep!, 'after').durable
  assert.equal(durable.n, 3)
  assert.deepEqual(durable.tags, ['stream', 'keep'])
  const read = at(last!, 'read')
  assert.equal(read.check, true)
  assert.ok(read.read.rows === durable.rows || read.read.rows === durable.rows + 1, `the last durable point (${durable.rows} rows) or the one begun after it: ${read.read.rows}`)
  assert.equal(read.read.n, 3)
  assert.deepEqual(read.read.tags, ['stream', 'keep'])
  fs.rmSync(mount, { recursive: true, force: true })
})
