// Lazy restore (issue 16, src/container/lazy.ts) on graph.mjs's users graph, every
// measurement in a fresh process (no heap, JIT or garbage shared with another row).
//
//   v8          read the v8.serialize file + v8.deserialize
//   lazy, full  Container.open(file, { lazy }) + c.root
//   ... 1%      then read the name and friends of every 100th user; the heap is measured
//               after gc() before the open and after the reads
//   ... walk    then graph.mjs's walk over every user (the restore row's reads)
//   ... all     then every property, element and entry through c.root (touchAll)
//
// Rounds are interleaved (each round runs every mode once); medians are reported with the
// ratios the targets name: lazy open <= 5% of v8, lazy + all <= 1.2x full + all.
//
// Usage: node --expose-gc lazy.mjs [--users 200000] [--rounds 3]

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import v8 from 'node:v8'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildGraph, touchAll, walk } from './lib/graph-data.mjs'
import { loadLibrary } from './lib/library.mjs'
import { makeScratchDir } from './lib/tmpdir.mjs'

const { values: opt, positionals } = parseArgs({ options: { users: { type: 'string' }, rounds: { type: 'string' } }, allowPositionals: true })
const USERS = Number(opt.users ?? 200_000)
const now = () => performance.now()

async function child([mode, file]) {
  const gc = globalThis.gc ?? (() => {})
  if (mode === 'v8') {
    const t = now()
    walk(v8.deserialize(fs.readFileSync(`${file}.v8`)))
    return { ms: now() - t }
  }
  const { lib } = await loadLibrary(['Container.open'])
  const [kind, then] = mode.split('-')
  gc()
  const before = process.memoryUsage().heapUsed
  const t = now()
  const c = lib.Container.open(file, { lazy: kind === 'lazy' })
  const root = c.root
  const open = now() - t
  if (then === '1%') {
    const users = root.users
    let sum = 0
    for (let i = 0; i < USERS; i += 100) sum += users[i].name.length + users[i].friends.length
    if (sum < 0) throw new Error('unreachable')
  } else if (then === 'walk') walk(root)
  else if (then === 'all') touchAll(root)
  const ms = now() - t
  gc()
  const heapMiB = (process.memoryUsage().heapUsed - before) / 2 ** 20
  await c.close()
  return { open, ms, heapMiB }
}

if (positionals[0] === 'child') {
  process.stdout.write(JSON.stringify(await child(positionals.slice(1))) + '\n')
  process.exit(0)
}

const { lib, missing } = await loadLibrary(['Container.open'])
if (missing) { console.log(`skipped: ${missing}`); process.exit(0) }
const dir = makeScratchDir('lazy')
const file = path.join(dir, 'users.pmc')
const graph = buildGraph(USERS)
fs.writeFileSync(`${file}.v8`, v8.serialize(graph))
const c = lib.Container.open(file, { init: () => graph })
await c.persist()
await c.close()
const MODES = ['v8', 'lazy', 'full', 'lazy-1%', 'full-1%', 'lazy-walk', 'full-walk', 'lazy-all', 'full-all']
const rounds = Number(opt.rounds ?? 3)
const loadBefore = os.loadavg()[0]
const samples = new Map(MODES.map((m) => [m, []]))
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < MODES.length; i++) {
    const mode = MODES[(i + r) % MODES.length]
    const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--users', String(USERS), 'child', mode, file], { maxBuffer: 1 << 20 })
    samples.get(mode).push(JSON.parse(out.toString().trim().split('\n').pop()))
  }
  console.log(`round ${r + 1}/${rounds} done`)
}
const med = (m, k) => { const a = samples.get(m).map((s) => s[k]).sort((x, y) => x - y); return a[a.length >> 1] }
const ms = (x) => `${x.toFixed(0)} ms`
console.log(`\n${USERS} users, ${(fs.statSync(file).size / 2 ** 20).toFixed(0)} MiB file; medians of ${rounds} round(s); load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after\n`)
console.log('| measurement | full restore | lazy restore | lazy / full |')
console.log('| --- | --- | --- | --- |')
console.log(`| open + c.root (v8 read + deserialize: ${ms(med('v8', 'ms'))}) | ${ms(med('full', 'ms'))} = ${(100 * med('full', 'ms') / med('v8', 'ms')).toFixed(0)}% of v8 | ${ms(med('lazy', 'ms'))} = ${(100 * med('lazy', 'ms') / med('v8', 'ms')).toFixed(1)}% of v8 (target <= 5%) | ${(med('lazy', 'ms') / med('full', 'ms')).toFixed(2)}x |`)
for (const [then, what] of [['1%', 'open + 1% of the users read'], ['walk', 'open + the walk over the users'], ['all', 'open + every object read (target <= 1.2x)']]) {
  const f = med(`full-${then}`, 'ms'), l = med(`lazy-${then}`, 'ms')
  console.log(`| ${what} | ${ms(f)} | ${ms(l)} | ${(l / f).toFixed(2)}x |`)
}
console.log(`| heap after open + 1% read, after gc() | ${med('full-1%', 'heapMiB').toFixed(1)} MiB | ${med('lazy-1%', 'heapMiB').toFixed(1)} MiB | ${(med('lazy-1%', 'heapMiB') / med('full-1%', 'heapMiB')).toFixed(2)}x |`)
fs.rmSync(dir, { recursive: true, force: true })
