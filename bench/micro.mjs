// Micro-operations of the library, timed with the `benchmark` package (DESIGN.md section 6):
// the costs a transaction is made of, so a change to one of them shows up on its own.
// Usage: npm run build (at the root), then: node micro.mjs [--only TEXT]
// Nothing here touches the disk except the two commit rows, which run on a temp file.
import Benchmark from 'benchmark'
import path from 'node:path'
import { loadLibrary } from './lib/library.mjs'
import { makeScratchDir, removeScratchDir } from './lib/tmpdir.mjs'

const { lib, missing } = await loadLibrary(['open', 't', 'SimRegion', 'PersistentMemory'])
if (missing) { console.log(`skipped: ${missing}`); process.exit(0) }
const txn = await import(new URL('../dist/txn/index.js', import.meta.url).href)
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : ''

const dir = makeScratchDir('micro')
const file = path.join(dir, 'micro.pm')
const pm = lib.open(file, { size: 16 << 20 })
const arr = pm.persistent('a', lib.t.array(lib.t.f64, 1000))
const Point = lib.t.struct({ x: lib.t.f64, y: lib.t.f64, id: lib.t.u64 })
const pt = pm.persistent('p', Point)
const sim = lib.PersistentMemory.fromRegion(lib.SimRegion.create({ size: 1 << 20 }))
const simArr = sim.persistent('a', lib.t.array(lib.t.f64, 1000))
const words = new Uint32Array(38)
const builder = new txn.RecordBuilder(1 << 20)
let x = 0

const suite = new Benchmark.Suite('micro')
const add = (name, fn) => { if (name.includes(only)) suite.add(name, fn) }
add('empty none transaction', () => { pm.transaction(() => {}, { durability: 'none' }) })
add('none transaction, 8 writeF64', () => {
  pm.transaction(tx => { for (let k = 0; k < 8; k++) tx.writeF64(arr.offset + 8 * ((x++ * 131) % 1000), x) }, { durability: 'none' })
})
add('read-only pm.read, 8 readF64', () => { pm.read(tx => { let s = 0; for (let k = 0; k < 8; k++) s += tx.readF64(arr.offset + 8 * k); return s }) })
add('typed view: struct field set + get', () => { pm.transaction(tx => { const v = tx.view(pt); v.x = v.x + 1 }, { durability: 'none' }) })
add('hash32 of a 152-byte record', () => { x ^= txn.hash32(words, 0, 38, x) })
add('record: 8 entries staged and sealed', () => {
  builder.reset()
  for (let k = 0; k < 8; k++) builder.f64[builder.entry(8 * k, 8) >>> 3] = k
  builder.seal(x++, 7, 0)
})
add('SimRegion none transaction, 8 writeF64', () => {
  sim.transaction(tx => { for (let k = 0; k < 8; k++) tx.writeF64(simArr.offset + 8 * k, x++) }, { durability: 'none' })
})
add('sync transaction, 8 writeF64 (one msync)', () => {
  pm.transaction(tx => { for (let k = 0; k < 8; k++) tx.writeF64(arr.offset + 8 * ((x++ * 131) % 1000), x) })
})

suite
  .on('cycle', (e) => console.log(String(e.target)))
  .on('complete', () => { pm.close(); sim.close(); removeScratchDir(dir) })
  .run({ async: false })
