// Long torture run, outside npm test: `npm run torture -- <seconds> [bank|collections|both|containers|pg]`
// (default 120 seconds of the bank torture, torture-kit.ts; `collections` runs the collections
// torture of torture-coll.ts instead, `both` gives each half of the time; `containers` runs
// lives of container files killed during points and opens, container/kill-kit.ts; `pg` runs
// readers refreshing beside a PostgreSQL writer that is SIGKILLed, postgres/readers-kit.ts, on
// a private cluster, postgres/cluster.ts).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { torture } from './torture-kit.js'
import { tortureCollections } from './torture-coll.js'
import { killLives, type KillPlan } from './container/kill-kit.js'

const seconds = Number(process.argv[2] ?? 120)
const which = process.argv[3] ?? 'bank'
const MODES = ['bank', 'collections', 'both', 'containers', 'pg']
if (!MODES.includes(which)) throw new Error(`usage: npm run torture -- <seconds> [${MODES.join('|')}], got ${which}`)
if (which === 'containers') {
  // Three quarters of the time on small points with frequent compactions, a quarter on 7 MB
  // streamed full points; a quarter of the lives killed during their open.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-torture-'))
  const rnd = (n: number): number => Math.floor(Math.random() * n)
  const plan = (openMax: number) => (): KillPlan => rnd(4) === 0 ? { openMs: rnd(openMax) } : { points: 1 + rnd(8), extraMs: rnd(40) }
  let end = Date.now()
  for (const [large, share] of [[false, 0.75], [true, 0.25]] as const) {
    end += seconds * share * 1000
    const stop = end
    const r = await killLives({ file: path.join(dir, large ? 'large.pmc' : 'small.pmc'), seed: Date.now() % 100_000, large, compactFactor: large ? undefined : 1.3, plan: plan(large ? 200 : 40), more: () => Date.now() < stop })
    console.log(`containers (${large ? 'large' : 'small'}): ${r.lives} lives passed, ${r.durableLives} with durable points, ${r.openKills} killed during their open; last version ${r.version}`)
  }
  fs.rmSync(dir, { recursive: true, force: true })
  process.exit(0)
}
if (which === 'pg') {
  const { tortureReaders } = await import('./postgres/torture-pg.js')
  await tortureReaders(seconds)
  process.exit(0)
}
const bankSeconds = which === 'bank' ? seconds : which === 'both' ? seconds / 2 : 0
const end = Date.now() + bankSeconds * 1000
let rounds = 0, total = 0
while (Date.now() < end) {
  total = await torture(10, ['sync', 'group', 'mixed'])
  rounds += 10
  console.log(`${rounds} kill rounds passed (${total} transfers in the last file)`)
}
if (which !== 'bank') {
  const s = which === 'both' ? seconds / 2 : seconds
  const r = await tortureCollections(s)
  console.log(`collections: ${r.rounds} kill rounds passed in ${s} s (${r.ops} operations, file of ${r.bytes} bytes)`)
}
