// Long torture run, outside npm test: `npm run torture -- <seconds> [bank|collections|both|containers|pg]`
// (default 120 seconds of the bank torture, torture-kit.ts; `collections` runs the collections
// torture of torture-coll.ts instead, `both` gives each half of the time; `containers` runs
// lives of container files killed during points and opens, container/kill-kit.ts; `pg` runs
// readers refreshing beside a PostgreSQL writer that is SIGKILLed, postgres/readers-kit.ts, on
// a private cluster, postgres/cluster.ts).
import { torture } from './torture-kit.js'
import { tortureCollections } from './torture-coll.js'

const seconds = Number(process.argv[2] ?? 120)
const which = process.argv[3] ?? 'bank'
const MODES = ['bank', 'collections', 'both', 'containers', 'pg']
if (!MODES.includes(which)) throw new Error(`usage: npm run torture -- <seconds> [${MODES.join('|')}], got ${which}`)
if (which === 'containers') {
  const { tortureContainers } = await import('./container/torture-containers.js')
  await tortureContainers(seconds)
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
