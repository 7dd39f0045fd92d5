// SoftPM, Figure 9: checkpointing a computation. A blocked matrix multiplication
// C = A x B (n x n, blocks of n/8 x n/8) runs on W worker threads (default 2, the
// machine's cores; SoftPM used 9 MPI processes), each computing its share of C's
// blocks and checkpointing its own state after every block:
//   none       no checkpoint: the reference
//   serialize  v8.serialize of the worker's completed blocks + temp file, fsync, rename
//   sync       a container per worker; persist() and await durability after each block
//   async      a container per worker; persist() after each block without waiting: the
//              point's write overlaps the next block's computation (one sync at the end)
// Setup is not timed (inputs, importing the library, opening the container and its
// first point of the empty state: 0.3-0.7 s per worker, a once-per-program cost).
// Reported: wall time from the start signal to all blocks computed and durable,
// medians over --reps (modes interleaved within a rep), and the overhead over `none`.
// Every mode's C is checked against `none`'s (sum of all elements).
//
// Usage: node papers/softpm-matrix.mjs [--quick] [--workers 2] [--reps 3]
//        sizes: 256, 512, 1024 (--quick: 128, 256)

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import { experimentArgs, median, ms, printTable } from '../lib/experiment.mjs'
import { filesystemName, makeScratchDir } from '../lib/tmpdir.mjs'
import { loadNow, makeMeta, writeChart } from '../lib/plot.mjs'
import { loadLibrary } from '../lib/library.mjs'

const args = experimentArgs({ workers: { default: os.cpus().length } })
const REPS = args.reps ?? (args.quick ? 1 : 3)
const SIZES = args.quick ? [128, 256] : [256, 512, 1024]
const MODES = ['none', 'serialize', 'sync', 'async']
const workerFile = path.join(path.dirname(fileURLToPath(import.meta.url)), 'matrix-worker.mjs')
const { missing } = await loadLibrary(['Container'])
if (missing) {
  console.error(`cannot run: ${missing}`)
  process.exit(2)
}
const dir = makeScratchDir('matrix')
const loadBefore = loadNow()

/** One run: W workers, blocks dealt round-robin; resolves with { ms, checksum, points }. */
async function run(mode, n, r) {
  const b = n / 8
  const total = (n / b) ** 2
  const workers = Array.from({ length: args.workers }, (_, w) => {
    const blocks = []
    for (let i = w; i < total; i += args.workers) blocks.push(i)
    const file = path.join(dir, `${mode}-${n}-${r}-${w}.${mode === 'serialize' ? 'bin' : 'pmc'}`)
    const worker = new Worker(workerFile, { workerData: { mode, n, b, blocks, file, seed: 1234 } })
    worker.exited = new Promise((resolve) => worker.once('exit', resolve))
    return worker
  })
  const message = (w) => new Promise((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
    w.once('exit', (code) => reject(new Error(`a ${mode} worker exited (${code}) before answering`)))
  })
  await Promise.all(workers.map(message)) // ready: setup is not timed
  const t0 = performance.now()
  const done = workers.map(message)
  for (const w of workers) w.postMessage('go')
  const results = await Promise.all(done)
  const wall = performance.now() - t0
  await Promise.all(workers.map((w) => w.exited))
  return { ms: wall, checksum: results.reduce((s, x) => s + x.checksum, 0), points: results.reduce((s, x) => s + x.points, 0) }
}

console.log(`SoftPM Figure 9: blocked matrix multiplication on ${args.workers} worker threads, 64 blocks, ${REPS} reps`)
const rows = []
const lines = []
for (const n of SIZES) {
  const times = Object.fromEntries(MODES.map((m) => [m, []]))
  const sums = {}
  let points = 0
  for (let r = 0; r < REPS; r++) {
    const order = MODES.map((_, i) => MODES[(i + r) % MODES.length])
    for (const mode of order) {
      const o = await run(mode, n, r)
      times[mode].push(o.ms)
      sums[mode] = o.checksum
      if (mode === 'sync') points = o.points
    }
  }
  for (const mode of MODES) {
    if (Math.abs(sums[mode] - sums.none) > 1e-6 * Math.max(1, Math.abs(sums.none))) throw new Error(`n=${n} ${mode}: checksum ${sums[mode]} differs from ${sums.none}`)
  }
  const base = median(times.none)
  for (const mode of MODES) {
    const t = median(times[mode])
    rows.push({ n, mode, ms: t, overhead: t / base - 1, samples: times[mode] })
    lines.push([n, mode, ms(t), `${((t / base - 1) * 100).toFixed(1)}%`])
  }
  console.log(`  n = ${n} done (${points} checkpoints per checkpointing run)`)
}
printTable(['n', 'mode', 'wall ms', 'overhead vs none'], lines)

const meta = makeMeta({
  title: 'SoftPM Fig. 9: checkpointing a blocked matrix multiplication, overhead over no checkpoint',
  loadBefore,
  quick: args.quick,
  filesystem: filesystemName(dir),
  notes: [`${args.workers} worker threads, 8 x 8 blocks, a checkpoint after every block; medians of ${REPS} reps; the paper: asynchronous points within 1% of none for large matrices`],
  params: { workers: args.workers, sizes: SIZES, reps: REPS },
})
const spec = {
  width: 420,
  height: 260,
  transform: [{ filter: "datum.mode !== 'none'" }, { calculate: 'datum.overhead * 100', as: 'overheadPct' }],
  layer: [
    {
      mark: 'bar',
      encoding: {
        x: { field: 'n', type: 'ordinal', title: 'matrix size n (n x n doubles)' },
        xOffset: { field: 'mode', sort: ['serialize', 'sync', 'async'] },
        y: { field: 'overheadPct', type: 'quantitative', title: 'wall time over no checkpoint (%)' },
        color: { field: 'mode', type: 'nominal', title: null, sort: ['serialize', 'sync', 'async'], scale: { domain: ['serialize', 'sync', 'async'], range: ['#999999', '#72b7b2', '#4c78a8'] }, legend: { orient: 'bottom', labelExpr: "{serialize: 'v8.serialize + fsync per block', sync: 'container, synchronous points', async: 'container, asynchronous points'}[datum.label]" } },
      },
    },
    { mark: { type: 'rule', color: '#333' }, encoding: { y: { datum: 0 } } },
  ],
}
console.log(`\nchart: ${path.relative(process.cwd(), await writeChart('softpm-matrix', { meta, data: rows, spec }))}`)
fs.rmSync(dir, { recursive: true, force: true })
