// track: 'barriers', 1% points on graph.mjs's users graph (first life), in a fresh process, for
// A/B runs of two builds interleaved (watch.ts inv. W4: what calls on the real instance of a
// Map subclass reached raw stays watched after the next point):
//   PM_BENCH_LIBRARY=<dist>/src/index.js node bench/lib/kept-watch.mjs CASE [USERS]
// CASE: graph (the graph alone: nothing is watched), kept (the graph plus an index of the users
// in a Map subclass, whose method `find(id) { return super.get(id) }` is called once after the
// first point: the call's walk watches the index's reach, every user), dates (the graph, every
// user's createdAt read through c.root once after the first point: barrier.ts inv. 9 watches
// each Date handed out).
// Prints the medians over 7 points of the main thread's CPU (ns from /proc/self/task/<pid>/schedstat:
// the snapshot runs there) and of the point's blocked ms, the objects compared, and the load.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildGraph } from './graph-data.mjs'
import { loadLibrary } from './library.mjs'
import { makeScratchDir } from './tmpdir.mjs'

const [which = 'graph', usersArg = '200000'] = process.argv.slice(2)
const USERS = Number(usersArg)
const { lib, missing } = await loadLibrary(['Container.open'])
if (missing) throw new Error(missing)
class Index extends Map { find(id) { return super.get(id) } }
const graph = buildGraph(USERS)
if (which === 'kept') graph.index = new Index(graph.users.map(u => [u.id, u]))
const file = path.join(makeScratchDir('kept-watch'), 'c.pmc')
const mainNs = () => Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0])
const med = (x) => [...x].sort((p, q) => p - q)[x.length >> 1]
const c = lib.Container.open(file, { init: () => graph, classes: [Index], track: 'barriers' })
await c.persist(); await c.sync()
if (which === 'kept') c.root.index.find(1)
if (which === 'dates') { let t = 0; for (const u of c.root.users) t += u.createdAt.getTime(); if (t === 0) console.log('') }
const cpu = [], blocked = []
let verified = 0
for (let i = 0; i < 8; i++) {
  const users = c.root.users
  for (let k = 0; k < USERS / 100; k++) users[(k * 7919 + i * 104729) % USERS].name = `renamed ${i}.${k}`
  const a = mainNs()
  const st = await c.persist()
  await c.sync()
  if (i === 0) continue       // the point after the call compares what it reached in both builds
  cpu.push((mainNs() - a) / 1e6); blocked.push(st.blockedMs); verified = st.verified
}
await c.close()
console.log(JSON.stringify({ which, users: USERS, mainCpuMs: +med(cpu).toFixed(1), blockedMs: +med(blocked).toFixed(1), verified, load: os.loadavg()[0].toFixed(1) }))
process.exit(0)
