// What PATCH parts cost a restore (container README, "Segmented collections"): a Map of N
// objects whose record lists MAX_PARTS (64) parts holding up to 1/4 of it in changes (the
// most a record takes before the collection is re-encoded), against the same graph written
// by a full point (no parts). Each restore in a fresh process:
//   node bench/lib/patch-restore.mjs <dist dir> make DIR [N]   writes DIR/parts.pmc and DIR/base.pmc
//   node bench/lib/patch-restore.mjs <dist dir> restore FILE   one full restore: {"wallMs","cpuMs"}
import path from 'node:path'
import fs from 'node:fs'
import { pathToFileURL } from 'node:url'
const [dist, what, arg, nText] = process.argv.slice(2)
const { Container } = await import(pathToFileURL(path.resolve(dist, 'src/index.js')).href)
if (what === 'make') {
  const N = Number(nText ?? 100_000)
  const parts = path.join(arg, 'parts.pmc'), base = path.join(arg, 'base.pmc')
  for (const f of [parts, base]) fs.rmSync(f, { force: true })
  const c = Container.open(parts, { init: () => ({ m: new Map(Array.from({ length: N }, (_, i) => [i, { key: i, value: i * 2, name: `user ${i}` }])) }) })
  await c.persist()
  await c.close()
  const d = Container.open(parts)
  const per = Math.floor((N >> 2) / 64) - 1
  let next = N, bytes = 0
  for (let p = 0; p < 64; p++) {          // through the proxies of a restore: PATCH parts
    for (let j = 0; j < per; j++) {
      const k = (p * 7919 + j * 104729) % N
      if (j % 3 === 0) d.root.m.set(k, { key: k, value: -p, name: `changed ${p}` })
      else if (j % 3 === 1) { if (d.root.m.delete(k)) d.root.m.set(next++, { key: next, value: p, name: 'new' }) }
      else d.root.m.set(next++, { key: next, value: p, name: 'added' })
    }
    const st = await d.persist()
    bytes += st.bytes
  }
  await d.close()
  fs.copyFileSync(parts, base)
  const e = Container.open(base)
  await e.persist({ full: true })       // the same graph, no parts
  await e.close()
  console.log(JSON.stringify({ n: N, changesPerPart: per, partBytes: bytes, parts: fs.statSync(parts).size, base: fs.statSync(base).size }))
} else {
  const t0 = performance.now(), c0 = process.cpuUsage()
  const c = Container.open(arg, { readOnly: true })
  const size = c.root.m.size
  const cpu = process.cpuUsage(c0), wall = performance.now() - t0
  await c.close()
  console.log(JSON.stringify({ file: path.basename(arg), size, wallMs: +wall.toFixed(1), cpuMs: +((cpu.user + cpu.system) / 1000).toFixed(1) }))
}
