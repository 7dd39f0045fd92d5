// One measurement of corpus.mjs in a fresh process; prints one JSON line.
//
//   node --expose-gc corpus-child.mjs MODE WORKLOAD SIZE FILE
//
// MODE: v8-save | v8-load | mp-save | mp-load | pm-save | pm-load | pl-load | pm-touch | pl-touch
//   *-save   build the workload, gc(), then time encode + write + fsync + rename + fsync of
//            the directory (pm-save: the container's first point, then five 1% points in that
//            first life, then five more after closing and restoring the container)
//            (FILE.first keeps the container as its first point left it)
//   *-load   time read + decode of FILE (pm-load: Container.open(FILE.first).root); with
//            PM_CORPUS_VERIFY=1 the result is compared with a freshly built workload
//   pl-load  the same with { lazy: true } (lazy.ts: the root's shell, nothing decoded)
//   pm-touch / pl-touch  Container.open(FILE.first), full or lazy, then every property,
//            element and entry read through c.root (touchAll: a lazy open decodes it all)
// Besides wall time (ms), each reports the process's CPU time over the same span (cpu:
// user + system of all its threads), steadier than wall time on a shared machine.

import fs from 'node:fs'
import v8 from 'node:v8'
import util from 'node:util'
import { Packr } from 'msgpackr'
import { WORKLOADS } from './corpus-workloads.mjs'
import { loadLibrary } from './library.mjs'
import { durableWrite } from './experiment.mjs'
import { touchAll } from './graph-data.mjs'

const [mode, name, size, file] = process.argv.slice(2)
const workload = WORKLOADS.find((w) => w.name === name)
if (workload === undefined) throw new Error(`unknown workload ${name}`)
const gc = globalThis.gc ?? (() => {})
const now = () => performance.now()
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const packr = new Packr({ structuredClone: true })

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]

async function verify(restored) {
  if (process.env.PM_CORPUS_VERIFY !== '1') return
  if (!mode.startsWith('pm')) return   // v8 and msgpackr lose class prototypes and are not ours to check
  const expected = await workload.build(size)
  if (!util.isDeepStrictEqual(restored, expected)) throw new Error(`${mode} of ${name}: the restored graph differs from the built one`)
}


async function main() {
  if (mode === 'v8-load' || mode === 'mp-load') {
    const t = now(), c0 = cpu()
    const bytes = fs.readFileSync(file)
    const root = mode === 'v8-load' ? v8.deserialize(bytes) : packr.unpack(bytes)
    out({ ms: now() - t, cpu: cpu() - c0 })
    await verify(root)
    return
  }
  const { lib, missing } = await loadLibrary(['Container.open'])
  if (mode === 'pm-touch' || mode === 'pl-touch') {
    if (missing) { out({ skip: missing }); return }
    const t = now(), c0 = cpu()
    const c = lib.Container.open(`${file}.first`, { classes: workload.classes, lazy: mode === 'pl-touch' })
    const objects = touchAll(c.root)
    out({ ms: now() - t, cpu: cpu() - c0, objects })
    await c.close()
    return
  }
  if (mode === 'pm-load' || mode === 'pl-load') {
    if (missing) { out({ skip: missing }); return }
    const t = now(), c0 = cpu()
    const c = lib.Container.open(`${file}.first`, { classes: workload.classes, ...(mode === 'pl-load' ? { lazy: true } : {}) })
    const root = c.root
    const ms = now() - t
    out({ ms, cpu: cpu() - c0, heapMiB: process.memoryUsage().heapUsed / 2 ** 20 })
    await verify(c.unwrap(root))
    await c.close()
    return
  }
  const graph = await workload.build(size)
  gc()
  if (mode === 'v8-save' || mode === 'mp-save') {
    const t = now(), c0 = cpu()
    const bytes = mode === 'v8-save' ? v8.serialize(graph) : packr.pack(graph)
    durableWrite(file, bytes)
    out({ ms: now() - t, cpu: cpu() - c0, fileMiB: bytes.length / 2 ** 20 })
    return
  }
  if (missing) { out({ skip: missing }); return }
  fs.rmSync(file, { force: true })
  let t = now()
  const c0 = cpu()
  const c = lib.Container.open(file, { init: () => graph, classes: workload.classes })
  const first = await c.persist()
  const firstMs = now() - t, firstCpu = cpu() - c0
  fs.copyFileSync(file, `${file}.first`)   // what pm-load restores: the graph of the first point, as the v8 file holds
  gc()   // the first point's garbage is not left to the 1% points (perf-graph.ts does the same)
  /** Five points, each after the workload's 1% change through `box.root`: medians of time, blocked time, CPU time. */
  const fivePoints = async (box, from) => {
    const points = [], blocked = [], cpus = []
    for (let round = from; round < from + 5; round++) {
      changed = workload.mutate(box.root, round, graph)
      t = now()
      const c1 = cpu()
      const st = await box.persist()
      points.push(now() - t)
      cpus.push(cpu() - c1)
      blocked.push(st.blockedMs)
    }
    return [median(points), median(blocked), median(cpus)]
  }
  let changed = 0
  // First life: the init graph is the program's own (raw) graph, compared at each point by default.
  const [point, pointBlocked, pointCpu] = await fivePoints(c, 0)
  await c.close()
  // After a restore: the restored objects are behind write-barrier proxies (the usual life of a
  // long-running program); the changes continue from where the first life left them.
  const again = lib.Container.open(file, { classes: workload.classes })
  gc()
  const [rPoint, rBlocked, rCpu] = await fivePoints(again, 5)
  await again.close()
  out({ first: firstMs, firstCpu, pointCpu, point, pointBlocked, rPoint, rBlocked, rCpu, firstBlocked: first.blockedMs, objects: first.objects, changed, fileMiB: fs.statSync(file).size / 2 ** 20 })
}

await main()
process.exit(0)
