// SoftPM, Figure 11: persistence-point time and store metadata for chunk sizes from
// 512 B to 1 MiB (the Container option chunkSize; the default is DEFAULT_CHUNK_SIZE).
//
// For each chunk size a fresh container holds a linked list of N nodes; after its
// first (full) point, each measured point follows N/100 value updates at random
// nodes (plus one run of as many consecutive nodes, so half the updates are local).
// Reported, medians over --reps: time from the first update to durability, the
// bytes of records the point wrote (PointStats.bytes), what the chunk store wrote
// for it (PointStats.stored: whole chunks copied on write, the chunk map and the
// metadata slot), their difference (the store's overhead per point: SoftPM's "SID
// metadata" plus the copy-on-write of partly filled chunks), the first point's
// time, the file size, and the size of the chunk map for the log the list needs
// (computed from the format in txn/shadow-format.ts: a radix tree of whole-chunk nodes
// with 8-byte entries, plus the two 4 KiB metadata slots; SoftPM's "SID metadata").
//
// Usage: node --expose-gc papers/softpm-chunks.mjs [--quick] [--n 200000] [--reps 5]

import fs from 'node:fs'
import path from 'node:path'
import { STRUCTURES, prng } from './structures.mjs'
import { collect, experimentArgs, loadContainer, median, ms, printTable, timeMs } from '../lib/experiment.mjs'
import { filesystemName, makeScratchDir } from '../lib/tmpdir.mjs'
import { loadNow, makeMeta, writeChart } from '../lib/plot.mjs'
import { loadLibrary } from '../lib/library.mjs'

const args = experimentArgs({ n: { default: 200_000, quick: 20_000 } })
const REPS = args.reps ?? (args.quick ? 2 : 5)
const U = Math.max(2, Math.round(args.n / 100))
const SIZES = [512, 2048, 4096, 16384, 65536, 262144, 1048576]
const list = STRUCTURES['linked list']
const Container = await loadContainer()
const { lib } = await loadLibrary(['DEFAULT_CHUNK_SIZE'])
const DEFAULT = lib?.DEFAULT_CHUNK_SIZE ?? null
const dir = makeScratchDir('chunks')
const loadBefore = loadNow()
/** Chunk-map bytes for a log of `logical` bytes: whole-chunk nodes of chunk/8 entries, plus 2 slots. */
function mapBytes(logical, chunk) {
  const fanout = chunk / 8
  let count = Math.ceil(logical / chunk)
  let nodes = 0
  while (count > 1) {
    count = Math.ceil(count / fanout)
    nodes += count
  }
  return nodes * chunk + 2 * 4096
}
const kib = (b) => (b >= 1024 ? `${b / 1024} KiB` : `${b} B`)

console.log(`SoftPM Figure 11: list of ${args.n} nodes, ${U} updates per point, ${REPS} reps, default chunk ${DEFAULT}`)
const rows = []
const lines = []
for (const size of SIZES) {
  collect()
  const file = path.join(dir, `list-${size}.pmc`)
  let c
  let first
  const firstMs = await timeMs(async () => {
    c = Container.open(file, { chunkSize: size, init: () => list.build(args.n, prng(3)) })
    first = await c.persist()
    await c.sync()
  })
  const nodes = []
  for (let n = c.root.head; n !== null; n = n.next) nodes.push(n)
  const t = []
  const stored = []
  const bytes = []
  for (let r = 0; r < REPS; r++) {
    const rand = prng(500 + r)
    const start = (rand() * (args.n - U / 2)) | 0
    collect()
    let stats
    t.push(await timeMs(async () => {
      for (let i = 0; i < U / 2; i++) nodes[start + i].value = rand()
      for (let i = 0; i < U / 2; i++) nodes[(rand() * args.n) | 0].value = rand()
      stats = await c.persist()
      await c.sync()
    }))
    stored.push(stats.stored)
    bytes.push(stats.bytes)
  }
  await c.close()
  const row = {
    chunk: size,
    chunkLabel: kib(size),
    isDefault: size === DEFAULT,
    ms: median(t),
    recordBytes: median(bytes),
    storedBytes: median(stored),
    overheadBytes: median(stored) - median(bytes),
    firstPointMs: firstMs,
    firstStored: first.stored,
    fileBytes: fs.statSync(file).size,
    mapBytes: mapBytes(first.bytes, size),
    samples: t,
  }
  rows.push(row)
  if (size === SIZES[SIZES.length - 1]) {
    const ref = rows.find((r) => r.isDefault) ?? rows[0]
    for (const r of rows) r.msVsDefault = r.ms / ref.ms
  }
  lines.push([kib(size) + (row.isDefault ? ' (default)' : ''), ms(row.ms), row.recordBytes.toLocaleString('en-US'), row.storedBytes.toLocaleString('en-US'), row.overheadBytes.toLocaleString('en-US'), ms(firstMs), (row.fileBytes / 2 ** 20).toFixed(1), row.mapBytes.toLocaleString('en-US')])
}
printTable(['chunk', 'ms/point', 'record bytes', 'stored bytes', 'store overhead', 'first point ms', 'file MiB'], lines)

const meta = makeMeta({
  title: 'SoftPM Fig. 11: persistence point time and chunk-store overhead vs chunk size',
  loadBefore,
  quick: args.quick,
  filesystem: filesystemName(dir),
  notes: [`linked list of ${args.n.toLocaleString('en-US')} nodes, ${U.toLocaleString('en-US')} updates per point (half consecutive); medians of ${REPS} reps; default chunk size ${DEFAULT === null ? '?' : kib(DEFAULT)}`],
  params: { n: args.n, updates: U, reps: REPS, defaultChunk: DEFAULT },
})
const x = { field: 'chunk', type: 'quantitative', scale: { type: 'log', base: 2 }, axis: { values: SIZES, labelExpr: "datum.value >= 1024 ? datum.value / 1024 + ' KiB' : datum.value + ' B'" }, title: 'chunk size' }
const panel = (field, title, extra = {}) => ({
  width: 300,
  height: 240,
  layer: [
    { mark: { type: 'line', point: true }, encoding: { x, y: { field, type: 'quantitative', scale: { type: 'log' }, title }, ...extra } },
    { transform: [{ filter: 'datum.isDefault' }], mark: { type: 'point', shape: 'diamond', size: 160, filled: true, color: '#e45756' }, encoding: { x, y: { field, type: 'quantitative' } } },
  ],
})
const spec = {
  hconcat: [
    panel('msVsDefault', 'time per point relative to the default chunk size (log)'),
    {
      width: 300,
      height: 240,
      transform: [{ fold: ['storedBytes', 'recordBytes', 'mapBytes'], as: ['what', 'value'] }],
      mark: { type: 'line', point: true },
      encoding: {
        x,
        y: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: 'bytes (log)' },
        color: { field: 'what', type: 'nominal', title: null, scale: { domain: ['storedBytes', 'recordBytes', 'mapBytes'], range: ['#4c78a8', '#54a24b', '#f58518'] }, legend: { orient: 'bottom', direction: 'vertical', labelExpr: "{storedBytes: 'bytes the store wrote per point', recordBytes: 'record bytes per point', mapBytes: 'metadata: chunk map + slots'}[datum.label]" } },
      },
    },
  ],
}
console.log(`\nchart: ${path.relative(process.cwd(), await writeChart('softpm-chunks', { meta, data: rows, spec }))} (red diamond: the default)`)
fs.rmSync(dir, { recursive: true, force: true })
