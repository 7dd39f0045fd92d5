/**
 * A writer in another process for the readers-beside-a-writer test (readers.ts): opens
 * container `name` at `url` (keep 2 versions, compacting at 1.2) and persists forever,
 * each point one of: append an entry, replace one (garbage for compaction), or replace
 * the whole list; `n` always equals the list's length and entry i always reads `e<i>`
 * (a reader checks a whole version by that). Sends 'ready' after its first point; killed
 * with SIGKILL by the test.
 * argv: url name
 */
import { Container } from '../../../src/index.js'
import { PostgresStore } from '../../../src/postgres/index.js'

const [url, name] = process.argv.slice(2)
const store = await PostgresStore.connect(url, { leaseMs: 2000 })
const c = await Container.openStore(store, name, { init: () => ({ n: 0, list: [] as string[], pad: '' }), keepVersions: 2, compactFactor: 1.2, chunkSize: 1024 })
await c.persist()
process.send!('ready')
for (let i = 0; ; i++) {
  const r = c.root
  if (i % 50 === 49) { r.list = Array.from({ length: r.n }, (_, k) => `e${k}`) }
  else if (i % 3 === 2 && r.n > 0) { const k = i % r.n; r.list[k] = `e${k}`; r.pad = 'p'.repeat(i % 700) }
  else { r.list.push(`e${r.n}`); r.n++ }
  await c.persist()
}
