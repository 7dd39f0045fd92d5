// SoftPM, Figure 12: persistence points of several processes at once. P processes
// (1, 2, 4) each hold a linked list of TOTAL / P nodes in their own container (or
// save their own file with v8.serialize), so the total persisted stays constant. The
// parent starts every process's point at the same moment and times until the last
// one is durable; two kinds of point: the first (full) point of each container, and a
// point after 1% of each list's nodes were updated. The v8 baseline saves the whole
// list both times. Medians over --reps, each rep with fresh processes.
// (The machine has 2 cores: with 4 processes the points also compete for the CPU.)
//
// Usage: node papers/softpm-parallel.mjs [--quick] [--total 400000] [--reps 3]

import { fork } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { experimentArgs, median, ms, printTable } from '../lib/experiment.mjs'
import { filesystemName, makeScratchDir } from '../lib/tmpdir.mjs'
import { loadNow, makeMeta, writeChart } from '../lib/plot.mjs'
import { loadLibrary } from '../lib/library.mjs'

const args = experimentArgs({ total: { default: 400_000, quick: 40_000 } })
const REPS = args.reps ?? (args.quick ? 1 : 3)
const PROCS = [1, 2, 4]
const SYSTEMS = ['container', 'v8']
const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'parallel-child.mjs')
const { missing } = await loadLibrary(['Container'])
if (missing) {
  console.error(`cannot run: ${missing}`)
  process.exit(2)
}
const dir = makeScratchDir('parallel')
const loadBefore = loadNow()

/** Wait for the next message of a child process. */
const nextMessage = (p) => new Promise((resolve, reject) => {
  p.once('message', resolve)
  p.once('exit', (code) => reject(new Error(`child exited with ${code}`)))
})

/** One rep: P fresh processes; returns { full, update } wall times in ms. */
async function rep(system, P, r) {
  const procs = Array.from({ length: P }, (_, i) => fork(child, [system, String(Math.round(args.total / P)), path.join(dir, `${system}-${P}-${r}-${i}.${system === 'container' ? 'pmc' : 'bin'}`)], { stdio: 'inherit' }))
  await Promise.all(procs.map(nextMessage))
  const out = {}
  for (const go of ['full', 'update']) {
    const prepared = procs.map(nextMessage)
    for (const p of procs) p.send({ prepare: go })
    await Promise.all(prepared)
    const t0 = performance.now()
    const replies = procs.map(nextMessage)
    for (const p of procs) p.send({ go })
    const answers = await Promise.all(replies)
    out[go] = performance.now() - t0
    out[`${go}Bytes`] = answers.reduce((s, a) => s + a.bytes, 0)
  }
  for (const p of procs) p.send({ exit: true })
  await Promise.all(procs.map((p) => new Promise((resolve) => p.once('exit', resolve))))
  return out
}

console.log(`SoftPM Figure 12: ${args.total} list nodes in total over 1, 2, 4 processes, ${REPS} reps`)
const rows = []
const lines = []
for (const P of PROCS) {
  for (const system of SYSTEMS) {
    const full = []
    const update = []
    let bytes
    for (let r = 0; r < REPS; r++) {
      const o = await rep(system, P, r)
      full.push(o.full)
      update.push(o.update)
      bytes = o
    }
    rows.push({ processes: P, system, point: 'full (first) point', ms: median(full), bytes: bytes.fullBytes, samples: full })
    rows.push({ processes: P, system, point: 'after updating 1%', ms: median(update), bytes: bytes.updateBytes, samples: update })
    if (system === 'v8') for (const row of rows) if (row.processes === P) row.ratio = row.ms / rows.find((x) => x.processes === P && x.system === 'v8' && x.point === row.point).ms
    lines.push([P, system, ms(median(full)), ms(median(update)), bytes.fullBytes.toLocaleString('en-US'), bytes.updateBytes.toLocaleString('en-US')])
  }
}
printTable(['processes', 'system', 'full point ms', '1% point ms', 'full bytes', '1% bytes'], lines)

const meta = makeMeta({
  title: 'SoftPM Fig. 12: time until every process\'s point is durable, fixed total size',
  loadBefore,
  quick: args.quick,
  filesystem: filesystemName(dir),
  notes: [`${args.total.toLocaleString('en-US')} list nodes in total, split over the processes; medians of ${REPS} reps, fresh processes each; 2 cores`, 'left: container time over v8 time; right: absolute times, solid = full (first) point, dashed = after updating 1%'],
  params: { total: args.total, reps: REPS },
})
const spec = {
  hconcat: [
    {
      width: 260,
      height: 240,
      transform: [{ filter: "datum.system === 'container'" }],
      layer: [
        {
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'processes', type: 'quantitative', scale: { type: 'log', base: 2, domain: [1, 4] }, axis: { values: PROCS }, title: 'processes persisting at once' },
            y: { field: 'ratio', type: 'quantitative', scale: { type: 'log' }, axis: { values: [0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 10], format: '~g' }, title: 'container time / v8 save time (log; below 1 = faster)' },
            color: { field: 'point', type: 'nominal', title: null, scale: { domain: ['full (first) point', 'after updating 1%'], range: ['#e45756', '#4c78a8'] }, legend: { orient: 'bottom', direction: 'vertical' } },
          },
        },
        { mark: { type: 'rule', strokeDash: [4, 3], color: '#333' }, encoding: { y: { datum: 1 } } },
      ],
    },
    {
      width: 260,
      height: 240,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'processes', type: 'quantitative', scale: { type: 'log', base: 2, domain: [1, 4] }, axis: { values: PROCS }, title: 'processes persisting at once' },
        y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'wall time until all are durable (ms, log)' },
        color: { field: 'system', type: 'nominal', title: null, scale: { domain: SYSTEMS, range: ['#4c78a8', '#999999'] }, legend: { orient: 'bottom', direction: 'vertical' } },
        strokeDash: { field: 'point', type: 'nominal', title: null, scale: { domain: ['full (first) point', 'after updating 1%'] }, legend: null },
      },
    },
  ],
  resolve: { scale: { color: 'independent' } },
}
console.log(`\nchart: ${path.relative(process.cwd(), await writeChart('softpm-parallel', { meta, data: rows, spec }))}`)
fs.rmSync(dir, { recursive: true, force: true })
