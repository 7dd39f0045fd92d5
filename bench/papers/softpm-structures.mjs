// SoftPM, Figure 5: data structure operations made persistent, against serializing
// the whole structure and fsyncing it (the paper's TPL baseline).
//
// For each structure (array, linked list, red-black tree, hash table of N elements):
//   create  build the structure, then the first point (container) or one full save
//   query   K lookups, then a point / a save (nothing changed)
//   modify  K values changed, then a point / a save
//   add     K elements added, then a point / a save (not for the fixed-size array)
//   remove  K elements removed, then a point / a save (not for the array)
// container = the operations through c.root, then `await c.persist()` and `c.sync()`
// (durable when it resolves); v8 / msgpackr = the same operations on raw objects, then
// serialize the whole structure and save it durably (temp file, fsync, rename, fsync
// of the directory). Times are medians over --reps repetitions; the chart shows each
// time divided by the v8 time (below 1: faster than serializing).
// Each system has its own copy, driven by the same seeds. At the end each container is
// closed, reopened and compared (digest) with the raw copies.
//
// Usage: node --expose-gc papers/softpm-structures.mjs [--quick] [--n 100000] [--k 100] [--reps 5]

import fs from 'node:fs'
import path from 'node:path'
import { STRUCTURES, initialPool, prng } from './structures.mjs'
import { collect, experimentArgs, loadContainer, median, ms, printTable, serializers, timeMs } from '../lib/experiment.mjs'
import { filesystemName, makeScratchDir } from '../lib/tmpdir.mjs'
import { loadNow, makeMeta, writeChart } from '../lib/plot.mjs'

const args = experimentArgs({ n: { default: 100_000, quick: 10_000 }, k: { default: 100, quick: 20 } })
const REPS = args.reps ?? (args.quick ? 2 : 5)
const CREATE_REPS = Math.min(REPS, 3)
const Container = await loadContainer()
const dir = makeScratchDir('structures')
const loadBefore = loadNow()
const SYSTEMS = ['container', 'v8', 'msgpackr']
const rows = [] // { structure, op, system, ms, bytes }

console.log(`SoftPM Figure 5: N = ${args.n}, K = ${args.k} operations per point, ${REPS} reps (create: ${CREATE_REPS})`)

for (const [name, s] of Object.entries(STRUCTURES)) {
  const slug = name.replace(/\W+/g, '-')
  const file = (sys, i = '') => path.join(dir, `${slug}-${sys}${i}.${sys === 'container' ? 'pmc' : 'bin'}`)
  const times = {} // op -> system -> [ms]
  const bytes = {}
  const record = (op, sys, t, b) => {
    ;((times[op] ??= {})[sys] ??= []).push(t)
    ;((bytes[op] ??= {})[sys] ??= []).push(b)
  }

  // create: the container keeps its last one; the baselines keep one raw copy
  let c
  const raw = {}
  for (let r = 0; r < CREATE_REPS; r++) {
    collect()
    let stats
    const tc = await timeMs(async () => {
      const built = s.build(args.n, prng(7))
      c = Container.open(file('container', r), { init: () => built })
      stats = await c.persist()
      await c.sync()
    })
    record('create', 'container', tc, stats.stored)
    if (r < CREATE_REPS - 1) await c.close()
    for (const sys of ['v8', 'msgpackr']) {
      collect()
      let b
      const t = await timeMs(() => {
        raw[sys] = s.build(args.n, prng(7))
        b = serializers[sys](file(sys), s.plain(raw[sys]))
      })
      record('create', sys, t, b)
    }
  }
  // Both copies continue from the same state with the same operation seed (inv. 1 of structures.mjs).
  const state = {
    container: { root: () => c.root, rand: prng(11), pool: initialPool(args.n) },
    v8: { root: () => raw.v8, rand: prng(11), pool: initialPool(args.n) },
    msgpackr: { root: () => raw.msgpackr, rand: prng(11), pool: initialPool(args.n) },
  }
  const ops = ['query', 'modify', 'add', 'remove'].filter((op) => s[op])
  for (const op of ops) {
    for (let r = 0; r < REPS; r++) {
      collect()
      // container first on even reps, baselines first on odd ones
      const order = r % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse()
      for (const sys of order) {
        if (sys === 'container') {
          let stats
          const st = state.container
          const t = await timeMs(async () => {
            s[op](st.root(), args.k, st.rand, st.pool)
            stats = await c.persist()
            await c.sync()
          })
          record(op, sys, t, stats.stored)
        } else {
          const st = state[sys]
          let b
          const t = await timeMs(() => {
            s[op](st.root(), args.k, st.rand, st.pool)
            b = serializers[sys](file(sys), s.plain(st.root()))
          })
          record(op, sys, t, b)
        }
      }
    }
  }
  const want = s.digest(raw.v8)
  if (s.digest(raw.msgpackr) !== want) throw new Error(`${name}: the two raw copies differ`)
  const live = s.digest(c.root)
  await c.close()
  const back = Container.open(file('container', CREATE_REPS - 1))
  const restored = s.digest(back.root)
  await back.close()
  if (restored !== want || live !== want) throw new Error(`${name}: container digest ${live} / restored ${restored} differs from the raw copy ${want}`)

  const lines = []
  for (const op of ['create', ...ops]) {
    const base = median(times[op].v8)
    for (const sys of SYSTEMS) {
      const m = median(times[op][sys])
      rows.push({ structure: name, op, system: sys, ms: m, ratio: m / base, bytes: median(bytes[op][sys]), samples: times[op][sys] })
      lines.push([op, sys, ms(m), `${(m / base).toFixed(3)}x`, Math.round(median(bytes[op][sys])).toLocaleString('en-US')])
    }
  }
  console.log(`\n${name} (restored digest matches: ${restored})`)
  printTable(['op', 'system', 'ms', 'vs v8', 'bytes written'], lines)
}

const meta = makeMeta({
  title: 'SoftPM Fig. 5: time of operations + persistence point, relative to serializing the whole structure (v8) and fsync',
  loadBefore,
  quick: args.quick,
  filesystem: filesystemName(dir),
  notes: [`N = ${args.n.toLocaleString('en-US')} elements, K = ${args.k} operations per point, medians of ${REPS} reps (create: ${CREATE_REPS})`, 'dashed line = v8.serialize of the whole structure + fsync (the baseline); bars below it are faster'],
  params: { n: args.n, k: args.k, reps: REPS },
})
const spec = {
  facet: { column: { field: 'structure', type: 'nominal', title: null, sort: Object.keys(STRUCTURES) } },
  spec: {
    width: 170,
    height: 260,
    layer: [
      {
        transform: [{ filter: "datum.system !== 'v8'" }],
        mark: 'bar',
        encoding: {
          x: { field: 'op', type: 'nominal', title: null, sort: ['create', 'query', 'modify', 'add', 'remove'], axis: { labelAngle: -30 } },
          xOffset: { field: 'system', sort: ['container', 'msgpackr'] },
          y: { field: 'ratio', type: 'quantitative', scale: { type: 'log' }, axis: { values: [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100], format: '~g' }, title: 'time relative to v8 serialize + fsync (log; below 1 = faster)' },
          y2: { datum: 1 },
          color: { field: 'system', type: 'nominal', title: null, scale: { domain: ['container', 'msgpackr'], range: ['#4c78a8', '#f58518'] }, legend: { orient: 'bottom', labelExpr: "{container: 'container: operations + persist() + sync()', msgpackr: 'msgpackr whole structure + fsync'}[datum.label]" } },
          tooltip: [{ field: 'ms', format: '.2f' }, { field: 'bytes' }],
        },
      },
      { mark: { type: 'rule', strokeDash: [4, 3], color: '#333' }, encoding: { y: { datum: 1 } } },
    ],
  },
  resolve: { scale: { y: 'shared' } },
}
console.log(`\nchart: ${path.relative(process.cwd(), await writeChart('softpm-structures', { meta, data: rows, spec }))}`)
fs.rmSync(dir, { recursive: true, force: true })
