// SoftPM, Figure 10: persistence-point time and bytes written as the locality of the
// updates in a large linked list varies, against serializing the whole list.
//
// A linked list of N nodes ({ key, value, name, next }) lives in a container. Each
// point follows U = N/100 value updates; locality L means L% of them hit consecutive
// nodes (one run starting at a random node) and the rest hit random nodes. The
// updates go through the container's proxies (a volatile array holds one proxy per
// node, so no walk is timed); the baselines update the same nodes of a raw list and
// save it whole (walk into an array of [key, value], serialize, temp file, fsync,
// rename, fsync of the directory). Reported: medians over --reps of the time from the
// first update to durability, and the bytes the point stored (PointStats.stored: the
// chunks the store wrote, chunk map and metadata included) or the file written.
//
// Usage: node --expose-gc papers/softpm-locality.mjs [--quick] [--n 200000] [--reps 5]

import fs from 'node:fs'
import path from 'node:path'
import { STRUCTURES, prng } from './structures.mjs'
import { collect, experimentArgs, loadContainer, median, ms, printTable, serializers, timeMs } from '../lib/experiment.mjs'
import { filesystemName, makeScratchDir } from '../lib/tmpdir.mjs'
import { loadNow, makeMeta, writeChart } from '../lib/plot.mjs'

const args = experimentArgs({ n: { default: 200_000, quick: 20_000 } })
const REPS = args.reps ?? (args.quick ? 2 : 5)
const U = Math.max(1, Math.round(args.n / 100))
const LOCALITIES = [0, 25, 50, 75, 100]
const list = STRUCTURES['linked list']
const Container = await loadContainer()
const dir = makeScratchDir('locality')
const loadBefore = loadNow()

/** The nodes of a list in order (proxies when read through c.root). */
function nodesOf(root) {
  const out = []
  for (let n = root.head; n !== null; n = n.next) out.push(n)
  return out
}

/** U node indexes: L% in one run from a random start, the rest uniformly random. */
function targets(locality, rand) {
  const run = Math.round((U * locality) / 100)
  const start = (rand() * (args.n - run)) | 0
  const out = []
  for (let i = 0; i < run; i++) out.push(start + i)
  for (let i = run; i < U; i++) out.push((rand() * args.n) | 0)
  return out
}

console.log(`SoftPM Figure 10: list of ${args.n} nodes, ${U} updates per point, ${REPS} reps`)
const c = Container.open(path.join(dir, 'list.pmc'), { init: () => list.build(args.n, prng(3)) })
await c.persist()
await c.sync()
const pNodes = nodesOf(c.root)
const raw = list.build(args.n, prng(3))
const rNodes = nodesOf(raw)
const rows = []
const lines = []
for (const L of LOCALITIES) {
  const m = { container: [], v8: [], msgpackr: [] }
  const b = { container: [], v8: [], msgpackr: [] }
  for (let r = 0; r < REPS; r++) {
    const rand = prng(100 + r)
    const idx = targets(L, rand)
    const values = idx.map(() => rand())
    collect()
    let stats
    m.container.push(await timeMs(async () => {
      for (let i = 0; i < idx.length; i++) pNodes[idx[i]].value = values[i]
      stats = await c.persist()
      await c.sync()
    }))
    b.container.push(stats.stored)
    for (const sys of ['v8', 'msgpackr']) {
      collect()
      let written
      m[sys].push(await timeMs(() => {
        for (let i = 0; i < idx.length; i++) rNodes[idx[i]].value = values[i]
        written = serializers[sys](path.join(dir, `list.${sys}`), list.plain(raw))
      }))
      b[sys].push(written)
    }
  }
  for (const sys of ['container', 'v8', 'msgpackr']) {
    const t = median(m[sys])
    rows.push({ locality: L, system: sys, ms: t, bytes: median(b[sys]), ratio: t / median(m.v8), samples: m[sys] })
    lines.push([`${L}%`, sys, ms(t), `${(t / median(m.v8)).toFixed(3)}x`, Math.round(median(b[sys])).toLocaleString('en-US')])
  }
}
await c.close()
printTable(['locality', 'system', 'ms/point', 'vs v8', 'bytes/point'], lines)

const meta = makeMeta({
  title: 'SoftPM Fig. 10: persistence point vs locality of updates in a linked list',
  loadBefore,
  quick: args.quick,
  filesystem: filesystemName(dir),
  notes: [`${args.n.toLocaleString('en-US')} nodes, ${U.toLocaleString('en-US')} updated per point; locality = % of them on consecutive nodes; medians of ${REPS} reps`],
  params: { n: args.n, updates: U, reps: REPS },
})
const enc = (field, title) => ({
  width: 300,
  height: 240,
  mark: { type: 'line', point: true },
  encoding: {
    x: { field: 'locality', type: 'quantitative', title: 'locality of updates (%)', scale: { domain: [0, 100] } },
    y: { field, type: 'quantitative', scale: { type: 'log' }, title },
    color: { field: 'system', type: 'nominal', title: null, sort: ['container', 'msgpackr', 'v8'], scale: { range: ['#4c78a8', '#f58518', '#999999'] }, legend: { orient: 'bottom' } },
  },
})
const ratioPanel = enc('ratio', 'time per point relative to the v8 save (log; below 1 = faster)')
ratioPanel.layer = [{ mark: ratioPanel.mark, encoding: ratioPanel.encoding }, { mark: { type: 'rule', strokeDash: [4, 3], color: '#333' }, encoding: { y: { datum: 1 } } }]
delete ratioPanel.mark
delete ratioPanel.encoding
const spec = { hconcat: [ratioPanel, enc('bytes', 'bytes written per point (log)')] }
console.log(`\nchart: ${path.relative(process.cwd(), await writeChart('softpm-locality', { meta, data: rows, spec }))}`)
fs.rmSync(dir, { recursive: true, force: true })
