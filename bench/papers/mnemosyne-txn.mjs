// Mnemosyne: small durable transactions against Berkeley DB (the abstract: "for small
// data sizes, Mnemosyne transactions perform 50-250 percent better than Berkeley
// DB"; Mnemosyne ran on emulated PCM and BDB on a RAM disk, we run both on the disk).
//
// One transaction overwrites one random value of S bytes among 1000 (S = 8 B to
// 4 KiB) and is durable when it returns:
//   pm sync        pm.transaction + tx.writeBytes into a persistent array of 1000 x S
//                  bytes (durability 'sync', the default)
//   bdb sync       Berkeley DB B-tree of 1000 keys, one put per transaction, commit
//                  flushes the log (native/bdb_txn.c)
//   pmdk msync     PMDK libpmemobj, one pmemobj_tx_add_range + store per transaction on
//                  an ordinary file, persisted with msync (native/pmemobj_txn.c)
//   kyoto hash     Kyoto Cabinet hash database, one set in a hard (fsync) transaction
//                  (native/kc_kv.c)
// All rows write random bytes. Medians of interleaved rounds; the chart shows each
// row's transactions per second divided by Berkeley DB's at the same size.
//
// Usage: node papers/mnemosyne-txn.mjs [--quick] [--rounds 3] [--duration 500]

import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { experimentArgs, measureScenarios, printTable } from '../lib/experiment.mjs'
import { filesystemName, makeScratchDir } from '../lib/tmpdir.mjs'
import { loadNow, makeMeta, writeChart } from '../lib/plot.mjs'
import { loadLibrary } from '../lib/library.mjs'
import { nativeScenario } from '../lib/native.mjs'
import { skip, formatRate } from '../lib/runner.mjs'

const args = experimentArgs({ rounds: { default: 3, quick: 2 }, duration: { default: 500, quick: 200 } })
const SIZES = [8, 64, 256, 1024, 4096]
const SLOTS = 1000
const { lib, missing } = await loadLibrary(['open', 't.bytes'])
const dir = makeScratchDir('mnemosyne-txn')
const loadBefore = loadNow()

function pmSync(size) {
  let pm, offset
  const value = new Uint8Array(size)
  const body = (tx) => tx.writeBytes(offset + size * ((Math.random() * SLOTS) | 0), value)
  return {
    name: 'pm sync',
    setup() {
      if (missing) skip(missing)
      pm = lib.open(path.join(dir, `pm-${size}.pm`), { size: 32 << 20 })
      offset = pm.persistent('values', lib.t.bytes(SLOTS * size)).offset
    },
    run(n) {
      for (let i = 0; i < n; i++) {
        crypto.randomFillSync(value)
        pm.transaction(body)
      }
      return n
    },
    teardown: () => pm?.close(),
  }
}

const scenarios = (size) => [
  pmSync(size),
  nativeScenario({
    name: 'bdb sync',
    driver: 'bdb_txn',
    args: () => {
      const env = path.join(dir, `bdb-${size}`)
      fs.mkdirSync(env)
      return [env, String(SLOTS), '1', String(size), 'sync']
    },
  }),
  nativeScenario({ name: 'pmdk msync', driver: 'pmemobj_txn', args: () => [path.join(dir, `pmdk-${size}.pool`), String(SLOTS), '1', String(size)] }),
  nativeScenario({ name: 'kyoto hash', driver: 'kc_kv', args: () => [path.join(dir, `kc-${size}.kch`), String(SLOTS), '1', String(size), 'sync'] }),
]

console.log(`Mnemosyne: one durable transaction of one S-byte value among ${SLOTS}; ${args.rounds} rounds of ${args.duration} ms`)
const rows = []
const lines = []
const skipped = new Set()
for (const size of SIZES) {
  const results = await measureScenarios(scenarios(size), { rounds: args.rounds, durationMs: args.duration, warmupMs: args.quick ? 100 : 300 })
  const bdb = results.find((r) => r.name === 'bdb sync')?.opsPerSec ?? null
  for (const r of results) {
    if (r.opsPerSec === null) {
      skipped.add(`${r.name}: ${r.status} (${r.reason.split('\n')[0].slice(0, 90)})`)
      continue
    }
    rows.push({ size, row: r.name, txPerSec: r.opsPerSec, ratio: bdb ? r.opsPerSec / bdb : null, spread: r.spread, samples: r.rounds })
    lines.push([`${size} B`, r.name, formatRate(r.opsPerSec), `${((r.spread ?? 0) * 100).toFixed(0)}%`, bdb ? `${(r.opsPerSec / bdb).toFixed(2)}x` : '-'])
  }
}
printTable(['value', 'row', 'tx/s', 'spread', 'vs bdb sync'], lines)

const meta = makeMeta({
  title: 'Mnemosyne: small durable transactions, throughput relative to Berkeley DB (synchronous commit)',
  loadBefore,
  quick: args.quick,
  filesystem: filesystemName(dir),
  notes: [`one transaction = one random value of S bytes among ${SLOTS}, durable at commit; medians of ${args.rounds} interleaved rounds of ${args.duration} ms`, ...[...skipped].map((s) => `skipped ${s}`)],
  params: { rounds: args.rounds, durationMs: args.duration, slots: SLOTS },
})
const spec = {
  width: 420,
  height: 260,
  layer: [
    {
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'size', type: 'quantitative', scale: { type: 'log', base: 2 }, axis: { values: SIZES, labelExpr: "datum.value >= 1024 ? datum.value / 1024 + ' KiB' : datum.value + ' B'" }, title: 'value size written per transaction' },
        y: { field: 'ratio', type: 'quantitative', scale: { type: 'log' }, axis: { values: [0.01, 0.03, 0.1, 0.3, 1, 2, 3, 5, 10], format: '~g' }, title: 'tx/s relative to Berkeley DB sync (log)' },
        color: { field: 'row', type: 'nominal', title: null, scale: { domain: ['pm sync', 'bdb sync', 'pmdk msync', 'kyoto hash'], range: ['#4c78a8', '#999999', '#e45756', '#54a24b'] }, legend: { orient: 'bottom' } },
      },
    },
    { mark: { type: 'rule', strokeDash: [4, 3], color: '#333' }, encoding: { y: { datum: 1 } } },
  ],
}
console.log(`\nchart: ${path.relative(process.cwd(), await writeChart('mnemosyne-txn', { meta, data: rows, spec }))}`)
fs.rmSync(dir, { recursive: true, force: true })
