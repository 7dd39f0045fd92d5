// Containers on PostgreSQL vs the file back-end vs the naive way (v8.serialize written as one
// bytea row), on the same local server, for the 200,000-user graph of perf-graph
// (test/src/container/perf-users.ts: 1,000,054 objects).
//
//   first point  = Container.openStore(init) + persist + sync (the whole graph; the containers share the program's graph, which the 1% points rename)
//   1% point     = rename 2,000 users through c.root, persist + sync
//   restore      = Container.openStore({ readOnly: true }) + a walk over every user
//   naive save   = v8.serialize + INSERT of one bytea row in a transaction (a 1% change saves it all again)
//   naive restore= SELECT of the row + v8.deserialize + the walk
//   file         = the same three on Container.open (a region file in the OS temp directory)
//
// "bytes" is what the database wrote for it: the WAL between before and after
// (pg_current_wal_lsn), which includes the rows' data; "stored" is the chunk bytes the
// point inserted (PointStats.stored).
//
// Usage (after npm run build at the root; needs PostgreSQL's initdb, or --url):
//   node --expose-gc bench/postgres.mjs [--users 200000] [--rounds 5] [--url postgres://...]
// Without --url it starts a private cluster (fsync on, full_page_writes on, shared_buffers 256MB).

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import v8 from 'node:v8'
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({ options: { users: { type: 'string' }, rounds: { type: 'string' }, url: { type: 'string' } } })
const USERS = Number(args.users ?? 200_000)
const ROUNDS = Number(args.rounds ?? 5)
const root = new URL('../dist/', import.meta.url)
const { Container } = await import(new URL('src/index.js', root))
const { PostgresStore } = await import(new URL('src/postgres/index.js', root))
const { makeUsers } = await import(new URL('test/src/container/perf-users.js', root))
const { startCluster } = await import(new URL('test/src/postgres/cluster.js', root))
const pg = (await import(new URL('../node_modules/pg/lib/index.js', import.meta.url))).default

const cluster = args.url ? null : await startCluster({ fsync: true, sharedBuffers: '256MB' })
const url = args.url ?? cluster.url
const admin = new pg.Pool({ connectionString: url, max: 2 })
const store = await PostgresStore.connect(url)
await admin.query('CREATE TABLE IF NOT EXISTS naive_bench (name text PRIMARY KEY, data bytea NOT NULL)')
await admin.query('ALTER TABLE naive_bench ALTER COLUMN data SET STORAGE EXTERNAL')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmem-pg-bench-'))

const gc = globalThis.gc ?? (() => {})
const median = a => [...a].sort((x, y) => x - y)[a.length >> 1]
const lsn = async () => (await admin.query('SELECT pg_current_wal_lsn() AS l')).rows[0].l
const walSince = async from => Number((await admin.query('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::float8 AS d', [from])).rows[0].d)
const walk = g => { let s = 0; for (const u of g.users) s += u.name.length + u.tags.length + u.friends.length + u.created.getTime() % 7; return s }
const results = new Map()
const record = (name, ms, extra = {}) => { const r = results.get(name) ?? { ms: [], bytes: [], stored: [] }; r.ms.push(ms); if (extra.bytes !== undefined) r.bytes.push(extra.bytes); if (extra.stored !== undefined) r.stored.push(extra.stored); results.set(name, r) }
const time = async (fn) => { gc(); const t = performance.now(); const x = await fn(); return [performance.now() - t, x] }
const change = (c, round) => { const users = c.root.users; for (let k = 0; k < USERS / 100; k++) users[(k * 7919 + round * 104729) % USERS].name = `renamed ${round}.${k}` }

const graph = makeUsers(USERS)
const load = () => { const l = os.loadavg(); return l.map(x => x.toFixed(1)).join(' ') }
console.log(`${USERS.toLocaleString('en-US')} users, ${ROUNDS} rounds; load average before: ${load()}`)

for (let round = 0; round < ROUNDS; round++) {
  // naive: v8.serialize as one bytea row
  let from = await lsn()
  let [ms] = await time(async () => {
    const bytes = v8.serialize(graph)
    await admin.query('INSERT INTO naive_bench (name, data) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data', ['g', bytes])
  })
  record('naive save (v8.serialize + one bytea row)', ms, { bytes: await walSince(from) })
  ;[ms] = await time(async () => { const r = await admin.query('SELECT data FROM naive_bench WHERE name = $1', ['g']); if (walk(v8.deserialize(r.rows[0].data)) !== walk(graph)) throw new Error('naive restore differs') })
  record('naive restore', ms)

  // PostgreSQL back-end
  const name = `bench-${round}`
  from = await lsn()
  let c
  ;[ms] = await time(async () => { c = await Container.openStore(store, name, { init: () => graph }); await c.persist(); await c.sync() })
  record('pg first point', ms, { bytes: await walSince(from), stored: c.lastPoint.stored })
  for (let k = 0; k < 3; k++) {
    change(c, round * 3 + k)
    from = await lsn()
    const [t, s] = await time(async () => { const s = await c.persist(); await c.sync(); return s })
    record('pg 1% point', t, { bytes: await walSince(from), stored: s.stored })
  }
  await c.close()
  ;[ms] = await time(async () => { const r = await Container.openStore(store, name, { readOnly: true }); if (walk(r.unwrap(r.root)) !== walk(graph)) throw new Error('pg restore differs'); await r.close() })
  record('pg restore', ms)
  await store.delete(name)

  // file back-end
  const file = path.join(dir, `bench-${round}.pmc`)
  ;[ms] = await time(async () => { c = Container.open(file, { init: () => graph }); await c.persist(); await c.sync() })
  record('file first point', ms, { stored: c.lastPoint.stored })
  for (let k = 0; k < 3; k++) {
    change(c, round * 3 + k)
    const [t, s] = await time(async () => { const s = await c.persist(); await c.sync(); return s })
    record('file 1% point', t, { stored: s.stored })
  }
  await c.close()
  ;[ms] = await time(async () => { const r = Container.open(file, { readOnly: true }); walk(r.unwrap(r.root)); await r.close() })
  record('file restore', ms)
  fs.rmSync(file, { force: true })
  process.stdout.write(`round ${round + 1} done (load ${load()})\n`)
}

const naive = median(results.get('naive save (v8.serialize + one bytea row)').ms)
const rows = [...results].map(([name, r]) => {
  const ms = median(r.ms)
  const mb = b => b.length ? `${(median(b) / 1e6).toFixed(2)} MB` : ''
  return `| ${name} | ${ms.toFixed(1)} ms | ${(naive / ms).toFixed(2)}x | ${mb(r.bytes)} | ${mb(r.stored)} |`
})
console.log(`\n| measurement (median of ${ROUNDS}; 1% points: of ${ROUNDS * 3}) | time | naive save / this | WAL written | chunk bytes inserted |\n| --- | ---: | ---: | ---: | ---: |\n${rows.join('\n')}`)
console.log(`load average after: ${load()}`)
await store.close()
await admin.query('DROP TABLE naive_bench')
await admin.end()
fs.rmSync(dir, { recursive: true, force: true })
if (cluster) await cluster.destroy()
