// Containers on a corpus of workloads, beside v8.serialize and msgpackr (issue 16).
//
// Workloads (lib/corpus-workloads.mjs): parsed JSON files from node_modules, fast-check
// generated JSON and objects, registered class instances, Maps and Sets of short strings,
// large numeric arrays, the users graph of perf-users.ts, a deep linked list.
//
// Every measurement runs in a fresh process (lib/corpus-child.mjs) that builds the
// workload itself (deterministic), so no competitor inherits another's heap, JIT or
// garbage. Rounds are interleaved: each round measures every workload with every
// competitor, starting at a rotating workload and competitor; medians are reported.
// Children get a 1 GiB stack (ulimit -s, --stack-size): v8.serialize, v8.deserialize and
// msgpackr recurse, and overflow the default stack on the linked list from about 5,000
// nodes on (the container never recurses and does not need it).
//
//   save    = encode + write a temp file + fsync + rename + fsync of the directory
//   restore = read the file + decode (Container.open(file).root)
//   lazy    = Container.open(file, { lazy: true }).root (lazy.ts: nothing decoded yet), and
//             lazy open + reading every object through c.root beside a full open + the same
//             reads (touch all)
//   first   = the container's first point (full), persist() until durable; blocked = the
//             part of it the program waited for synchronously (blockedMs)
//   1%      = median of five points after changing about 1% of the workload through c.root,
//             in the first life (the init graph is the program's raw graph: by default every
//             object of it is compared at each point) and after closing and restoring (the
//             restored objects are behind write-barrier proxies)
//
// Targets (issue 16): first <= 1.5x v8 save; restore <= 1.0x v8 restore; 1% point >= 20x
// faster than the v8 save; blocked time of a 1% point <= 10% of the v8 save; lazy open <= 5%
// of the v8 restore; lazy open + touch all <= 1.2x full open + touch all.
//
// Usage: node corpus.mjs [--quick] [--rounds N] [--only NAME] [--verify] [--json FILE]
//   --quick   small sizes and one round: a smoke check of the harness (about a minute)
//   --verify  the load children compare the container's restored graph with the built one
//   --json    also write the medians to FILE

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { WORKLOADS } from './lib/corpus-workloads.mjs'
import { makeScratchDir } from './lib/tmpdir.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const child = path.join(here, 'lib', 'corpus-child.mjs')
const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean' }, rounds: { type: 'string' }, only: { type: 'string', multiple: true },
    verify: { type: 'boolean' }, json: { type: 'string' },
  },
})
const size = opt.quick ? 'quick' : 'full'
const rounds = Number(opt.rounds ?? (opt.quick ? 1 : 5))
const workloads = WORKLOADS.filter((w) => !opt.only || opt.only.some((o) => w.name.includes(o)))
const dir = makeScratchDir('corpus')
const STACK_KIB = 1 << 20

function run(mode, w, file) {
  const env = { ...process.env, PM_CORPUS_VERIFY: opt.verify ? '1' : '0' }
  const cmd = `ulimit -s ${STACK_KIB + 65536} && exec "$0" --expose-gc --stack-size=${STACK_KIB - 65536} "$@"`
  const text = execFileSync('sh', ['-c', cmd, process.execPath, child, mode, w.name, size, file], { env, maxBuffer: 1 << 20, cwd: here }).toString()
  return JSON.parse(text.trim().split('\n').pop())
}

const loadBefore = os.loadavg()[0]
console.log(`corpus: ${size} sizes, ${rounds} round(s), load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ${os.cpus().length} cores, node ${process.version}`)
for (const w of workloads) console.log(`  ${w.name}: ${w.what(size)}`)

const COMPETITORS = [['v8-save', 'v8-load'], ['mp-save', 'mp-load'], ['pm-save', 'pm-load', 'pl-load', 'pm-touch', 'pl-touch']]
const samples = new Map()   // workload -> key -> numbers
const add = (w, k, v) => {
  if (typeof v !== 'number') return
  let m = samples.get(w)
  if (m === undefined) samples.set(w, (m = new Map()))
  let a = m.get(k)
  if (a === undefined) m.set(k, (a = []))
  a.push(v)
}
const skipped = new Map()
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < workloads.length; i++) {
    const w = workloads[(i + r) % workloads.length]
    for (let j = 0; j < COMPETITORS.length; j++) {
      const modes = COMPETITORS[(j + r) % COMPETITORS.length]
      const file = path.join(dir, `${w.name}.${modes[0].slice(0, 2)}`)
      for (const mode of modes) {
        const res = run(mode, w, file)
        if (res.skip) { skipped.set(mode, res.skip); continue }
        for (const [k, v] of Object.entries(res)) add(w.name, `${mode}.${k}`, v)
      }
    }
    process.stdout.write(`  round ${r + 1}/${rounds}: ${w.name} done\n`)
  }
}
const loadAfter = os.loadavg()[0]

const med = (a) => (a === undefined ? NaN : [...a].sort((x, y) => x - y)[a.length >> 1])
const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1))
const ratio = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-')
const mark = (ok) => (ok ? '' : ' **miss**')
const times = (x) => (x >= 10 ? x.toFixed(0) : x.toFixed(1))   // how many times faster
const rows = []
const results = {}
for (const w of workloads) {
  const m = samples.get(w.name)
  const g = (k) => med(m?.get(k))
  const v8s = g('v8-save.ms'), v8l = g('v8-load.ms'), mps = g('mp-save.ms'), mpl = g('mp-load.ms')
  const first = g('pm-save.first'), point = g('pm-save.point'), blocked = g('pm-save.pointBlocked'), restore = g('pm-load.ms')
  const r = {
    v8Save: v8s, v8Load: v8l, mpSave: mps, mpLoad: mpl, first, firstBlocked: g('pm-save.firstBlocked'), point, pointBlocked: blocked, restore,
    rPoint: g('pm-save.rPoint'), rBlocked: g('pm-save.rBlocked'),
    objects: g('pm-save.objects'), changed: g('pm-save.changed'), v8MiB: g('v8-save.fileMiB'), pmMiB: g('pm-save.fileMiB'),
  }
  results[w.name] = r
  rows.push([
    w.name,
    `${fmt(v8s)} / ${fmt(v8l)}`,
    `${fmt(mps)} / ${fmt(mpl)}`,
    `${fmt(first)} (${fmt(r.firstBlocked)}) = ${ratio(first / v8s)}x${mark(first <= 1.5 * v8s)}`,
    `${fmt(point)} = ${times(v8s / point)}x${mark(v8s / point >= 20)}`,
    `${fmt(blocked)} = ${(100 * blocked / v8s).toFixed(1)}%${mark(blocked <= 0.1 * v8s)}`,
    `${fmt(r.rPoint)} = ${times(v8s / r.rPoint)}x${mark(v8s / r.rPoint >= 20)}, ${fmt(r.rBlocked)} = ${(100 * r.rBlocked / v8s).toFixed(1)}%${mark(r.rBlocked <= 0.1 * v8s)}`,
    `${fmt(restore)} = ${ratio(restore / v8l)}x${mark(restore <= v8l)}`,
    `${r.objects} obj, ${r.v8MiB?.toFixed(1)} / ${r.pmMiB?.toFixed(1)} MiB`,
  ])
}
const head = ['workload', 'v8 save / restore ms', 'msgpackr save / restore ms', 'first point ms (blocked) vs v8 save', '1% point ms (first life), v8 save / it', '1% blocked, of v8 save', '1% point after a restore, blocked', 'restore ms vs v8 restore', 'size (v8 / container file)']
console.log(`\nmedians of ${rounds} round(s); load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after; targets: first <= 1.5x, 1% >= 20x, blocked <= 10%, restore <= 1.0x\n`)
console.log(`| ${head.join(' | ')} |`)
console.log(`| ${head.map(() => '---').join(' | ')} |`)
for (const row of rows) console.log(`| ${row.join(' | ')} |`)
console.log(`\nLazy restore (lazy.ts): open alone, and open + reading every object through c.root, beside a full open + the same reads; targets: lazy open <= 5% of the v8 restore, touch all <= 1.2x:\n`)
console.log('| workload | v8 restore ms | lazy open ms, of v8 restore | full open + touch all ms | lazy open + touch all ms, vs full | objects |')
console.log('| --- | --- | --- | --- | --- | --- |')
for (const w of workloads) {
  const m = samples.get(w.name)
  const g = (k) => med(m?.get(k))
  const v8l = g('v8-load.ms'), open = g('pl-load.ms'), full = g('pm-touch.ms'), lazy = g('pl-touch.ms')
  results[w.name].lazy = { open, fullTouch: full, lazyTouch: lazy, openCpu: g('pl-load.cpu'), fullTouchCpu: g('pm-touch.cpu'), lazyTouchCpu: g('pl-touch.cpu') }
  console.log(`| ${w.name} | ${fmt(v8l)} | ${fmt(open)} = ${(100 * open / v8l).toFixed(1)}%${mark(open <= 0.05 * v8l)} | ${fmt(full)} | ${fmt(lazy)} = ${ratio(lazy / full)}x${mark(lazy <= 1.2 * full)} | ${g('pl-touch.objects')} |`)
}
console.log(`\nCPU time (user + system, all threads of the process) over the same spans, medians; the container's first point also counts its flush thread:\n`)
console.log('| workload | v8 save / restore CPU ms | first point CPU vs v8 save | 1% point CPU (first life), v8 save / it | after a restore | restore CPU vs v8 restore |')
console.log('| --- | --- | --- | --- | --- | --- |')
for (const w of workloads) {
  const m = samples.get(w.name)
  const g = (k) => med(m?.get(k))
  const s = g('v8-save.cpu'), l = g('v8-load.cpu'), f = g('pm-save.firstCpu'), p = g('pm-save.pointCpu'), rp = g('pm-save.rCpu'), r = g('pm-load.cpu')
  results[w.name].cpu = { v8Save: s, v8Load: l, first: f, point: p, rPoint: rp, restore: r }
  console.log(`| ${w.name} | ${fmt(s)} / ${fmt(l)} | ${fmt(f)} = ${ratio(f / s)}x | ${fmt(p)} = ${times(s / p)}x | ${fmt(rp)} = ${times(s / rp)}x | ${fmt(r)} = ${ratio(r / l)}x |`)
}
for (const [mode, why] of skipped) console.log(`skipped ${mode}: ${why}`)
if (opt.json) fs.writeFileSync(opt.json, JSON.stringify({ size, rounds, loadBefore, loadAfter, results }, null, 2))
fs.rmSync(dir, { recursive: true, force: true })
