// track: 'barriers': operations through the proxies of a restored container, one CASE per fresh process
// (CPU ns per operation, or CPU ms of a point / a first call), for A/B runs of two builds interleaved:
//   node bench/lib/override-calls.mjs <dist dir> CASE
// CASE: map, set (a plain Map/Set: set+get, add+has), plainsub, setsub (a subclass without members),
// override (a `set` override calling super.set, 1000 primitive entries), method (a class method through
// its proxy), firstcall (the first `bump(k) { super.get(k).n++ }` between two points on a Map of
// 200,000 objects: the walk of watch.ts), bumppoint (a point after 100 such calls: the comparison),
// bigset (a point after 100 calls of a store-only `set` override on that Map: override-source.ts).
import path from 'node:path'
import { pathToFileURL } from 'node:url'
const [dist, which] = process.argv.slice(2)
const { Container } = await import(pathToFileURL(path.resolve(dist, 'src/index.js')).href)
class Counted extends Map { set(k, v) { this.sets = (this.sets ?? 0) + 1; return super.set(k, v) } }
class Plain extends Map {}
class Bag extends Set {}
class Obj { n = 0; inc() { this.n++ } }
class Bumper extends Map { bump(k) { super.get(k).n++ } }
const N = 200_000, OPS = 400_000
const file = `/tmp/pm-override-${which}-${process.pid}.pmc`
const mk = {
  map: () => new Map(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i])),
  set: () => new Set(Array.from({ length: 1000 }, (_, i) => `k${i}`)),
  plainsub: () => new Plain(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i])),
  setsub: () => new Bag(Array.from({ length: 1000 }, (_, i) => `k${i}`)),
  override: () => { const m = new Counted(); for (let i = 0; i < 1000; i++) Map.prototype.set.call(m, `k${i}`, i); return m },
  firstcall: () => mk.bumppoint(),
  method: () => new Obj(),
  bigset: () => { const m = new Counted(); for (let i = 0; i < N; i++) Map.prototype.set.call(m, `k${i}`, { n: i }); return m },
  bumppoint: () => { const m = new Bumper(); for (let i = 0; i < N; i++) Map.prototype.set.call(m, `k${i}`, { n: i }); return m },
}
let c = Container.open(file, { classes: [Counted, Plain, Bag, Bumper, Obj], track: 'barriers', init: () => ({ x: mk[which]() }) })
await c.persist(); await c.close()
c = Container.open(file, { classes: [Counted, Plain, Bag, Bumper, Obj], track: 'barriers' })
const x = c.root.x
const t0 = process.cpuUsage(), w0 = performance.now()
let ops = OPS, pointMs = 0
if (which === 'map' || which === 'plainsub' || which === 'override') {
  for (let i = 0; i < OPS; i++) { x.set(`k${i % 1000}`, i); x.get(`k${(i * 7) % 1000}`) }
  ops = 2 * OPS
} else if (which === 'set' || which === 'setsub') {
  for (let i = 0; i < OPS; i++) { x.add(`k${i % 1000}`); x.has(`k${(i * 7) % 1000}`) }
  ops = 2 * OPS
} else if (which === 'method') {
  for (let i = 0; i < OPS; i++) x.inc()
} else if (which === 'firstcall') {
  ops = 0
  const p0 = process.cpuUsage()
  x.bump('k1')
  const d = process.cpuUsage(p0); pointMs = (d.user + d.system) / 1000
} else if (which === 'bigset') {
  ops = 0
  const times = []
  for (let r = 0; r < 5; r++) {
    for (let i = 0; i < 100; i++) x.set(`k${(i * 7919 + r) % N}`, { n: r })
    const p0 = process.cpuUsage()
    await c.persist()
    const d = process.cpuUsage(p0); times.push((d.user + d.system) / 1000)
  }
  times.sort((a, b) => a - b); pointMs = times[2]
} else if (which === 'bumppoint') {
  ops = 0
  const times = []
  for (let r = 0; r < 5; r++) {
    for (let i = 0; i < 100; i++) x.bump(`k${(i * 7919 + r) % N}`)
    const p0 = process.cpuUsage()
    await c.persist()
    const d = process.cpuUsage(p0); times.push((d.user + d.system) / 1000)
  }
  times.sort((a, b) => a - b); pointMs = times[2]
}
const d = process.cpuUsage(t0), w = performance.now() - w0
await c.close(); Container.delete(file)
console.log(JSON.stringify({ which, cpuNs: ops ? (d.user + d.system) * 1000 / ops : 0, wallNs: ops ? w * 1e6 / ops : 0, pointMs }))
