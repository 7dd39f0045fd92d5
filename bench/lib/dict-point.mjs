// One key of a large plain-object dictionary changed per point (format 7's segmented and
// patched dictionaries, patch-record.ts inv. PR6), in a fresh process:
//
//   node --expose-gc dict-point.mjs KEYS first|restore [POINTS] [DIR]
//
// first: builds { dict } of KEYS keys (values { v, s } objects and numbers), writes the
// first point, then POINTS times sets one existing key to a new number on the raw object (the
// first life: the dictionary is held raw, compared at each point) and persists.
// restore: reuses DIR/dict-KEYS.pm (written by a `first` run with the same DIR), copies it,
// opens the copy, collects the heap, then POINTS times sets one key through c.root (a proxy)
// and persists. Prints one JSON line: medians over the points after the first two (JIT
// warm-up) of CPU ms (process), wall ms and bytes written, and the format version of the
// file. PM_BENCH_LIBRARY selects the build (library.mjs), for A/B runs against main.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadLibrary } from './library.mjs'

const [keysArg, mode, count = '12', dirArg] = process.argv.slice(2)
const N = Number(keysArg)
const { lib, missing } = await loadLibrary(['Container.open'])
if (missing) throw new Error(missing)
const dir = dirArg ?? fs.mkdtempSync(path.join(os.tmpdir(), 'dict-point-'))
const gc = globalThis.gc ?? (() => {})
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1] }
const base = path.join(dir, `dict-${N}.pm`)

const rows = []
async function point(c, change) {
  const c0 = cpu(), t0 = performance.now()
  change()
  const s = await c.persist()
  rows.push({ cpu: cpu() - c0, wall: performance.now() - t0, bytes: s.bytes })
}

let c
if (mode === 'first') {
  const dict = {}
  for (let i = 0; i < N; i++) dict['key' + i] = i % 2 === 0 ? i : { v: i, s: 'value ' + i }
  fs.rmSync(base, { force: true })
  c = lib.Container.open(base, { init: () => ({ dict }) })
  await c.persist()
  for (let p = 0; p < Number(count); p++) await point(c, () => { dict['key' + ((p * 7919) % N)] = -p - 1 })
} else {
  const file = path.join(dir, `dict-${N}.restore.pm`)
  fs.copyFileSync(base, file)
  c = lib.Container.open(file)
  gc()
  const d = c.root.dict
  for (let p = 0; p < Number(count); p++) await point(c, () => { d['key' + ((p * 7919) % N)] = -p - 1 })
}
const file = mode === 'first' ? base : path.join(dir, `dict-${N}.restore.pm`)
const meta = c.versions?.()?.at(-1)
await c.close()
const used = rows.slice(2)
console.log(JSON.stringify({ keys: N, mode, points: used.length, cpuMs: +median(used.map(r => r.cpu)).toFixed(1), wallMs: +median(used.map(r => r.wall)).toFixed(1), bytes: median(used.map(r => r.bytes)), format: lib.Container.check ? undefined : undefined, file: path.basename(file), version: meta?.version }))
