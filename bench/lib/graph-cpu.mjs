// CPU time (process, all threads) of a container's first point and of its restore for
// bench/graph.mjs's users graph, in one fresh process: for A/B runs of builds that should not
// differ on ordinary graphs (PM_BENCH_LIBRARY selects the build, library.mjs).
//
//   node --expose-gc graph-cpu.mjs [USERS] [DIR]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadLibrary } from './library.mjs'
import { buildGraph } from './graph-data.mjs'

const users = Number(process.argv[2] ?? 20000)
const dir = process.argv[3] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'graph-cpu-'))
const { lib, missing } = await loadLibrary(['Container.open'])
if (missing) throw new Error(missing)
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
const file = path.join(dir, `g-${process.pid}.pm`)
const g = buildGraph(users)
globalThis.gc?.()
let t = cpu()
const c = lib.Container.open(file, { init: () => g })
await c.persist()
const first = cpu() - t
await c.close()
globalThis.gc?.()
t = cpu()
const r = lib.Container.open(file)
const restore = cpu() - t
await r.close()
fs.rmSync(file, { force: true }); fs.rmSync(file + '.lock', { force: true })
console.log(JSON.stringify({ users, firstCpuMs: +first.toFixed(0), restoreCpuMs: +restore.toFixed(0) }))
