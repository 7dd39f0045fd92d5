// The container's first point of one corpus workload, alone, for profiles (issue 16):
//
//   node --expose-gc [--cpu-prof] corpus-first.mjs WORKLOAD [SIZE] [REPEAT] [DIR]
//
// Builds the workload (SIZE: full or quick), collects the heap, then REPEAT times (default
// 1): opens a new container file on the same graph and times its first point (persist()
// until durable), then the v8.serialize save of the same graph. Prints one line per
// repetition: first point ms (blocked ms), CPU ms, v8 save ms. With REPEAT > 1 the later
// points show the encoder after the JIT has warmed up (each container stamps its own ids).
// PM_FIRST_OPTIONS='{"track":"barriers","properties":"enumerable"}' adds container options
// (to see what change detection and own-property inspection cost).

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import v8 from 'node:v8'
import { WORKLOADS } from './corpus-workloads.mjs'
import { loadLibrary } from './library.mjs'
import { durableWrite } from './experiment.mjs'

const [name, size = 'full', repeat = '1', dirArg] = process.argv.slice(2)
const workload = WORKLOADS.find((w) => w.name === name)
if (workload === undefined) throw new Error(`unknown workload ${name}; one of ${WORKLOADS.map((w) => w.name).join(', ')}`)
const { lib, missing } = await loadLibrary(['Container.open'])
if (missing) throw new Error(missing)
const dir = dirArg ?? fs.mkdtempSync(path.join(os.tmpdir(), 'corpus-first-'))
const gc = globalThis.gc ?? (() => {})
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
const graph = await workload.build(size)
gc()
for (let r = 0; r < Number(repeat); r++) {
  const file = path.join(dir, `${name}.${r}.pm`)
  fs.rmSync(file, { force: true })
  const t = performance.now(), c0 = cpu()
  const c = lib.Container.open(file, { init: () => graph, classes: workload.classes, ...JSON.parse(process.env.PM_FIRST_OPTIONS ?? '{}') })
  const st = await c.persist()
  const ms = performance.now() - t, cms = cpu() - c0
  await c.close()
  gc()
  const t2 = performance.now()
  durableWrite(path.join(dir, `${name}.v8`), v8.serialize(graph))
  const v8ms = performance.now() - t2
  console.log(`${name} #${r + 1}: first ${ms.toFixed(1)} ms (blocked ${st.blockedMs.toFixed(1)}), cpu ${cms.toFixed(1)} ms, ${st.objects} objects; v8 save ${v8ms.toFixed(1)} ms = ${(ms / v8ms).toFixed(2)}x`)
  gc()
}
if (dirArg === undefined) fs.rmSync(dir, { recursive: true, force: true })
process.exit(0)
