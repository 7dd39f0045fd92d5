// The first point of bench/graph.mjs's users graph alone, in a fresh process, for A/B runs of
// builds (issue 11): one JSON line per process.
//
//   node --expose-gc graph-first.mjs MODE [OPTIONS_JSON] [USERS]
//
// MODE c: build the graph (fixed seed), gc(), then time Container.open + persist + sync (the
// close is not timed); reports wall and CPU ms (process.cpuUsage: every thread, the flush
// thread and V8's collector helpers included), the point's blocked ms, the main thread's GC
// pauses (minor = scavenges, major = the rest) and the heap the point left (after gc()).
// MODE v8: the same graph's v8.serialize save (serialize + write + fsync + rename).
// MODE p: after the first point, five 1% points in the first life (2,000 users renamed
// through c.root; every object of the init graph is verified): medians of the five.
// PM_BENCH_LIBRARY=/abs/path/dist/src/index.js selects the build (lib/library.mjs).
// Interleave the builds' processes and report medians (the machine is shared).

import fs from 'node:fs'
import path from 'node:path'
import v8 from 'node:v8'
import { PerformanceObserver } from 'node:perf_hooks'
import { buildGraph } from './graph-data.mjs'
import { durableWrite } from './experiment.mjs'
import { makeScratchDir } from './tmpdir.mjs'
import { loadLibrary } from './library.mjs'

const [mode = 'c', opts = '{}', usersArg = '200000'] = process.argv.slice(2)
const USERS = Number(usersArg)
const { lib, missing } = await loadLibrary(['Container.open'])
if (missing) throw new Error(missing)
const dir = makeScratchDir('graph-first')
const graph = buildGraph(USERS)
globalThis.gc?.()
const gcs = { minor: 0, major: 0 }
let gcOn = false
new PerformanceObserver((l) => { if (gcOn) for (const e of l.getEntries()) { if (e.detail?.kind === 1) gcs.minor += e.duration; else gcs.major += e.duration } }).observe({ entryTypes: ['gc'] })
const heap0 = process.memoryUsage().heapUsed
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
const med = (x) => [...x].sort((p, q) => p - q)[x.length >> 1]
const out = (o) => console.log(JSON.stringify({ mode, ...Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? +v.toFixed(1) : v])) }))

if (mode === 'v8') {
  const t = performance.now(), c0 = cpu()
  durableWrite(path.join(dir, 'v8.bin'), v8.serialize(graph))
  out({ wall: performance.now() - t, cpu: cpu() - c0 })
} else {
  gcOn = true
  const t = performance.now(), c0 = cpu()
  const c = lib.Container.open(path.join(dir, 'c.pmc'), { init: () => graph, ...JSON.parse(opts) })
  const first = await c.persist()
  await c.sync()
  const wall = performance.now() - t, used = cpu() - c0
  gcOn = false
  if (mode === 'c') {
    globalThis.gc?.()
    out({ wall, cpu: used, blocked: first.blockedMs, gcMinor: gcs.minor, gcMajor: gcs.major, heapMB: (process.memoryUsage().heapUsed - heap0) / 2 ** 20 })
  } else {
    const ws = [], cs = [], bs = []
    let verified = 0
    for (let i = 0; i < 5; i++) {
      const users = c.root.users
      for (let k = 0; k < USERS / 100; k++) users[(k * 7919 + i * 104729) % USERS].name = `renamed ${i}.${k}`
      const a = performance.now(), b = cpu()
      const st = await c.persist()
      await c.sync()
      ws.push(performance.now() - a); cs.push(cpu() - b); bs.push(st.blockedMs); verified = st.verified
    }
    out({ wall: med(ws), cpu: med(cs), blocked: med(bs), verified })
  }
  await c.close()
}
process.exit(0)
