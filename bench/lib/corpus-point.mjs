// The 1% point after a restore of one corpus workload, alone, for profiles (issue 16):
//
//   node --expose-gc [--cpu-prof] corpus-point.mjs WORKLOAD [SIZE] [POINTS] [DIR]
//
// Builds the workload (SIZE: full or quick), writes its container's first point (kept in DIR
// as WORKLOAD.first.pm and reused by later runs with the same DIR), copies it, restores the
// copy (Container.open), collects the heap, then POINTS times (default 20) changes 1% of it
// through c.root (the workload's mutate) and persists until durable. Prints one line per
// point (wall ms, blocked ms, CPU ms of the process and of its main thread) and the medians. PM_POINT_SKIP=N leaves the first N
// points out of the medians (JIT warm-up); default 2. PM_POINT_CORPUS=1 runs what
// corpus-child.mjs's pm-save runs before its points after a restore (the first point and five
// 1% points in the first life, in this process, then close), so the points measured are its
// (with PM_POINT_SKIP=0 and POINTS=5 the medians are the corpus's rPoint, rBlocked, rCpu).

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { WORKLOADS } from './corpus-workloads.mjs'
import { loadLibrary } from './library.mjs'

const [name, size = 'full', count = '20', dirArg] = process.argv.slice(2)
const workload = WORKLOADS.find((w) => w.name === name)
if (workload === undefined) throw new Error(`unknown workload ${name}; one of ${WORKLOADS.map((w) => w.name).join(', ')}`)
const { lib, missing } = await loadLibrary(['Container.open'])
if (missing) throw new Error(missing)
const dir = dirArg ?? fs.mkdtempSync(path.join(os.tmpdir(), 'corpus-point-'))
const gc = globalThis.gc ?? (() => {})
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
/** CPU time of the main thread alone (ms; /proc's schedstat, in ns), where Linux has it; else NaN. */
const mainCpu = () => { try { return Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'latin1').split(' ')[0]) / 1e6 } catch { return NaN } }
const graph = await workload.build(size)
const first = path.join(dir, `${name}.${size}.first.pm`)
let from = 0
if (process.env.PM_POINT_CORPUS === '1') {
  fs.rmSync(first, { force: true })
  gc()
  const c = lib.Container.open(first, { init: () => graph, classes: workload.classes })
  await c.persist()
  gc()
  for (; from < 5; from++) { workload.mutate(c.root, from, graph); await c.persist() }
  await c.close()
} else if (!fs.existsSync(first)) {
  const c = lib.Container.open(first + '.tmp', { init: () => graph, classes: workload.classes })
  await c.persist()
  await c.close()
  fs.renameSync(first + '.tmp', first)
}
const file = path.join(dir, `${name}.${size}.${process.pid}.pm`)
fs.copyFileSync(first, file)
const c = lib.Container.open(file, { classes: workload.classes })
gc()
// PM_POINT_PROFILE=FILE: a CPU profile of the points past PM_POINT_SKIP (node:inspector; PM_POINT_INTERVAL us, default 100), written to FILE
const session = process.env.PM_POINT_PROFILE ? new (await import('node:inspector')).Session() : null
const post = (m, p) => new Promise((res, rej) => session.post(m, p ?? {}, (e, r) => (e ? rej(e) : res(r))))
if (session !== null) {
  session.connect()
  await post('Profiler.enable')
  await post('Profiler.setSamplingInterval', { interval: Number(process.env.PM_POINT_INTERVAL ?? 100) })
}
/** PM_POINT_THREADS=1: CPU ms of each thread (name/tid) over the points. */
function threads() {
  const m = new Map()
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try { m.set(`${fs.readFileSync(`/proc/self/task/${tid}/comm`, 'latin1').trim()}/${tid}`, Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1').split(' ')[0]) / 1e6) } catch {}
  }
  return m
}
const threads0 = process.env.PM_POINT_THREADS === '1' ? threads() : null
const walls = [], blocked = [], cpus = [], mains = []
const skip = Number(process.env.PM_POINT_SKIP ?? 2)
for (let round = 0; round < Number(count); round++) {
  if (session !== null && round === skip) await post('Profiler.start')     // the points past PM_POINT_SKIP only
  const changed = workload.mutate(c.root, from + round, graph)
  const t = performance.now(), c0 = cpu(), m0 = mainCpu()
  const st = await c.persist()
  const ms = performance.now() - t, cms = cpu() - c0, mms = mainCpu() - m0
  if (round >= skip) { walls.push(ms); blocked.push(st.blockedMs); cpus.push(cms); mains.push(mms) }
  if (process.env.PM_POINT_QUIET !== '1') console.log(`${name} point ${round + 1}: ${ms.toFixed(2)} ms (blocked ${st.blockedMs.toFixed(2)}), cpu ${cms.toFixed(2)} ms (main thread ${mms.toFixed(2)}), ${st.objects} records, ${changed} changed, ${st.bytes} bytes, verified ${st.verified}`)
}
if (process.env.PM_POINT_THREADS === '1') {
  const now = threads()
  for (const [k, v] of now) if (v - (threads0.get(k) ?? 0) > 0.5) console.log(`  thread ${k}: ${(v - (threads0.get(k) ?? 0)).toFixed(1)} ms over the points`)
}
if (session !== null) fs.writeFileSync(process.env.PM_POINT_PROFILE, JSON.stringify((await post('Profiler.stop')).profile))
await c.close()
fs.rmSync(file, { force: true })
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
console.log(JSON.stringify({ name, wall: med(walls), blocked: med(blocked), cpu: med(cpus), main: med(mains) }))
if (dirArg === undefined) fs.rmSync(dir, { recursive: true, force: true })
process.exit(0)
