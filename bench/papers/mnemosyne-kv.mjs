// Mnemosyne: "moving an existing in-memory structure to persistent memory" against a
// store built for it and against flushing the whole structure to a file (the abstract:
// 20-280 percent faster than Berkeley DB's optimized storage or flushing the whole
// structure to a file; Mnemosyne converted OpenLDAP and Tokyo Cabinet).
//
// A key-value table of K keys ("k" and 8 digits) with V-byte values; one operation is
// a batch of B sets of random keys to new random values, then durability:
//   container Map      the table is a Map in a container, sets through c.root, then
//                      persist() and sync()
//   container buckets  the same table as 4096 buckets (plain objects keyed by the key),
//                      the shape a C hash table has: a set dirties one small bucket
//   v8 whole file      a Map in memory, saved whole after each batch (v8.serialize,
//                      temp file, fsync, rename, fsync of the directory)
//   kyoto hash / tree  Kyoto Cabinet hash and B+ tree databases, the batch in one hard
//                      (fsync) transaction (native/kc_kv.c)
//   bdb btree          Berkeley DB B-tree, the batch in one synchronous transaction
//                      (native/bdb_txn.c; 4-byte integer keys)
// The chart shows sets per second relative to Kyoto Cabinet's hash database.
//
// Usage: node papers/mnemosyne-kv.mjs [--quick] [--keys 100000] [--value 100] [--rounds 3] [--duration 1000]

import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { durableWrite, experimentArgs, loadContainer, measureScenarios, printTable } from '../lib/experiment.mjs'
import { filesystemName, makeScratchDir } from '../lib/tmpdir.mjs'
import { loadNow, makeMeta, writeChart } from '../lib/plot.mjs'
import { nativeScenario } from '../lib/native.mjs'
import { formatRate } from '../lib/runner.mjs'
import v8 from 'node:v8'

const args = experimentArgs({
  keys: { default: 100_000, quick: 10_000 },
  value: { default: 100 },
  rounds: { default: 3, quick: 2 },
  duration: { default: 1000, quick: 300 },
})
const BATCHES = [1, 10, 100]
const BUCKETS = 4096
const Container = await loadContainer()
const dir = makeScratchDir('mnemosyne-kv')
const loadBefore = loadNow()
const keyOf = (i) => `k${String(i).padStart(8, '0')}`
const randomKey = () => keyOf((Math.random() * args.keys) | 0)
const randomValue = () => crypto.randomBytes(args.value / 2).toString('hex') // V characters

/** FNV-1a of a key, for the bucketed table. */
function bucketOf(key) {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  return (h >>> 0) % BUCKETS
}

function buildMap() {
  const m = new Map()
  for (let i = 0; i < args.keys; i++) m.set(keyOf(i), randomValue())
  return m
}

/** Container rows: batches of B sets through c.root, then a durable point. */
function containerRow(name, batch, shape) {
  let c
  return {
    name,
    async setup() {
      const init = shape === 'map'
        ? () => ({ table: buildMap() })
        : () => {
          const buckets = Array.from({ length: BUCKETS }, () => ({}))
          for (let i = 0; i < args.keys; i++) buckets[bucketOf(keyOf(i))][keyOf(i)] = randomValue()
          return { buckets }
        }
      c = Container.open(path.join(dir, `${shape}-${batch}.pmc`), { init })
      await c.persist()
      await c.sync()
    },
    async run(n) {
      const root = c.root
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < batch; k++) {
          const key = randomKey()
          if (shape === 'map') root.table.set(key, randomValue())
          else root.buckets[bucketOf(key)][key] = randomValue()
        }
        await c.persist()
        await c.sync()
      }
      return n * batch
    },
    teardown: () => c?.close(),
  }
}

function wholeFileRow(batch) {
  let map
  const file = path.join(dir, `whole-${batch}.bin`)
  return {
    name: 'v8 whole file',
    setup() {
      map = buildMap()
      durableWrite(file, v8.serialize(map))
    },
    run(n) {
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < batch; k++) map.set(randomKey(), randomValue())
        durableWrite(file, v8.serialize(map))
      }
      return n * batch
    },
  }
}

/** A native row; its driver counts transactions, the row reports sets. */
function nativeRow(name, driver, argsOf, batch) {
  const s = nativeScenario({ name, driver, args: argsOf })
  return { ...s, run: async (n) => (await s.run(n)) * batch }
}

const scenarios = (batch) => [
  containerRow('container Map', batch, 'map'),
  containerRow('container buckets', batch, 'buckets'),
  wholeFileRow(batch),
  nativeRow('kyoto hash', 'kc_kv', () => [path.join(dir, `kc-${batch}.kch`), String(args.keys), String(batch), String(args.value), 'sync'], batch),
  nativeRow('kyoto tree', 'kc_kv', () => [path.join(dir, `kc-${batch}.kct`), String(args.keys), String(batch), String(args.value), 'sync'], batch),
  nativeRow('bdb btree', 'bdb_txn', () => {
    const env = path.join(dir, `bdb-${batch}`)
    fs.mkdirSync(env)
    return [env, String(args.keys), String(batch), String(args.value), 'sync']
  }, batch),
]

console.log(`Mnemosyne: ${args.keys} keys of ${args.value} B, batches of ${BATCHES.join('/')} sets then durable; ${args.rounds} rounds of ${args.duration} ms`)
const rows = []
const lines = []
const skipped = new Set()
for (const batch of BATCHES) {
  const results = await measureScenarios(scenarios(batch), { rounds: args.rounds, durationMs: args.duration, warmupMs: args.quick ? 100 : 300 })
  const ref = results.find((r) => r.name === 'kyoto hash')?.opsPerSec ?? null
  for (const r of results) {
    if (r.opsPerSec === null) {
      skipped.add(`${r.name}: ${r.status} (${r.reason.split('\n')[0].slice(0, 90)})`)
      continue
    }
    rows.push({ batch, row: r.name, setsPerSec: r.opsPerSec, ratio: ref ? r.opsPerSec / ref : null, spread: r.spread, samples: r.rounds })
    lines.push([batch, r.name, formatRate(r.opsPerSec), `${((r.spread ?? 0) * 100).toFixed(0)}%`, ref ? `${(r.opsPerSec / ref).toFixed(2)}x` : '-'])
  }
}
printTable(['batch', 'row', 'sets/s', 'spread', 'vs kyoto hash'], lines)

const meta = makeMeta({
  title: 'Mnemosyne: an in-memory key-value table made durable, sets/s relative to Kyoto Cabinet (hash, fsync transactions)',
  loadBefore,
  quick: args.quick,
  filesystem: filesystemName(dir),
  notes: [`${args.keys.toLocaleString('en-US')} keys, ${args.value}-byte values; a batch of sets, then durable; medians of ${args.rounds} interleaved rounds of ${args.duration} ms`, 'dashed line = Kyoto Cabinet hash database, the batch in one hard (fsync) transaction', ...[...skipped].map((s) => `skipped ${s}`)],
  params: { keys: args.keys, value: args.value, rounds: args.rounds, durationMs: args.duration },
})
const SHOWN = ['container Map', 'container buckets', 'v8 whole file', 'kyoto tree', 'bdb btree'] // kyoto hash is the dashed line
const spec = {
  width: 420,
  height: 260,
  layer: [
    {
      transform: [{ filter: "datum.row !== 'kyoto hash'" }],
      mark: 'bar',
      encoding: {
        x: { field: 'batch', type: 'ordinal', title: 'sets per durable batch', axis: { labelAngle: 0 } },
        xOffset: { field: 'row', sort: SHOWN },
        y: { field: 'ratio', type: 'quantitative', scale: { type: 'log' }, axis: { values: [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30], format: '~g' }, title: 'sets/s relative to Kyoto Cabinet hash (log)' },
        y2: { datum: 1 },
        color: { field: 'row', type: 'nominal', title: null, sort: SHOWN, scale: { domain: SHOWN, range: ['#4c78a8', '#72b7b2', '#bbbbbb', '#88d27a', '#e45756'] }, legend: { orient: 'bottom', columns: 3 } },
      },
    },
    { mark: { type: 'rule', strokeDash: [4, 3], color: '#333' }, encoding: { y: { datum: 1 } } },
  ],
}
console.log(`\nchart: ${path.relative(process.cwd(), await writeChart('mnemosyne-kv', { meta, data: rows, spec }))}`)
fs.rmSync(dir, { recursive: true, force: true })
