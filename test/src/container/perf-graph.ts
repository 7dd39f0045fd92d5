/**
 * Performance measurement of containers on a graph of users (not a test; run by hand):
 *
 *   node dist/test/src/container/perf-graph.js USERS [chunkSize=4096] [runs=3]      (e.g. 200000)
 *
 * Every measurement runs in a fresh process (perf-child.ts) that builds the same graph, and
 * each is repeated `runs` times, alternating, so that all competitors see the same machine
 * state; the medians and their ratios are printed. Competitors: v8.serialize and msgpackr
 * (structuredClone: true, from bench/node_modules when present), each doing serialize +
 * write + fsync + rename, and read + deserialize. The container: its first full point, a
 * full garbage collection (timed and printed: the first point's garbage, mostly id stamps,
 * would otherwise be collected during the points that follow), five points after changing
 * 1% of the users through the proxies (total and blocking time), and a restore.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'perf-child.js')

function run(args: string[]): Record<string, number> {
  const out = execFileSync(process.execPath, ['--expose-gc', child, ...args], { maxBuffer: 1 << 20 }).toString()
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

if (process.argv[2] === undefined) {        // run without arguments (e.g. by a test runner): nothing to do
  console.log('usage: node perf-graph.js USERS [chunkSize] [runs]')
  process.exit(0)
}
const n = process.argv[2]
const chunkSize = process.argv[3] ?? '4096'
const runs = Number(process.argv[4] ?? 3)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-perf-'))
const r: Record<string, number[]> = {}
const add = (k: string, v: number): void => { (r[k] ??= []).push(v) }
for (let i = 0; i < runs; i++) {
  const v8 = run(['save-v8', n, path.join(dir, 'g.v8')])
  add('v8Save', v8.ms)
  const mp = run(['save-msgpackr', n, path.join(dir, 'g.mp')])
  if (mp.ms >= 0) add('mpSave', mp.ms)
  fs.rmSync(path.join(dir, 'g.pmc'), { force: true })
  const c = run(['container', n, path.join(dir, 'g.pmc'), chunkSize])
  for (const k of Object.keys(c)) add(k, c[k])
  add('v8Load', run(['load-v8', n, path.join(dir, 'g.v8')]).ms)
  if (mp.ms >= 0) add('mpLoad', run(['load-msgpackr', n, path.join(dir, 'g.mp')]).ms)
  add('restore', run(['load-container', n, path.join(dir, 'g.pmc')]).ms)
}
const m = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, median(v)]))
const f = (x: number): string => x.toFixed(1)
const fastest = Math.min(m.v8Save, m.mpSave ?? Infinity)
console.log(`users ${n}, chunk size ${chunkSize}, medians of ${runs} runs, file ${f(m.fileMiB)} MiB`)
console.log(`  v8.serialize save ${f(m.v8Save)} ms, load ${f(m.v8Load)} ms; msgpackr save ${f(m.mpSave ?? NaN)} ms, load ${f(m.mpLoad ?? NaN)} ms`)
console.log(`  first point ${f(m.first)} ms (blocked ${f(m.firstBlocked)} ms) = ${(m.first / m.v8Save).toFixed(2)}x the v8.serialize save (target <= 1.5)`)
console.log(`  then gc() before the next measurements: ${f(m.gcAfterFirst)} ms (a forced, non-incremental collection of the whole heap, graph included; see README)`)
console.log(`  1% point ${f(m.point)} ms (blocked ${f(m.pointBlocked)} ms, ${f(m.pointKiB)} KiB of records, ${f(m.storedKiB)} KiB stored) = ${(fastest / m.point).toFixed(1)}x faster than the fastest full save (target >= 20); blocked ${(100 * m.pointBlocked / fastest).toFixed(1)}% of it (target < 10%)`)
console.log(`  restore ${f(m.restore)} ms = ${(m.restore / m.v8Load).toFixed(2)}x v8.deserialize (target <= 1); msgpackr load ${(m.restore / (m.mpLoad ?? NaN)).toFixed(2)}x`)
fs.rmSync(dir, { recursive: true, force: true })
