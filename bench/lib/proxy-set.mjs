// A write through a container proxy (a restored object, so its proxy), hot: ns per set, median of 9 rounds of 64 x 20,000 sets.
//   node bench/lib/proxy-set.mjs <dist dir>   (e.g. ../dist) -- run against two builds interleaved to compare.
import fs from 'node:fs'
const dist = process.argv[2]
const { Container } = await import(dist + '/src/index.js')
const f = `/tmp/pset2-${process.pid}.pmc`; fs.rmSync(f, { force: true })
let c = Container.open(f, { init: () => ({ items: Array.from({ length: 64 }, (_, i) => ({ a: i, b: 'x' + i })) }) })
await c.persist(); await c.close()
c = Container.open(f)
const items = Array.from({ length: 64 }, (_, i) => c.root.items[i])
const res = []
for (let r = 0; r < 9; r++) {
  const t = process.hrtime.bigint()
  for (let j = 0; j < 20000; j++) for (let i = 0; i < 64; i++) items[i].a = j
  res.push(Number(process.hrtime.bigint() - t) / (20000 * 64))
}
res.sort((a, b) => a - b)
console.log(JSON.stringify({ dist: dist.includes('base8') ? 'base' : 'new', nsPerSet: +res[4].toFixed(1) }))
await c.close(); fs.rmSync(f, { force: true })
