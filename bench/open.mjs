// Open and close latency, for programs that open a store per request or per CLI call:
// persistent-memory beside lmdb-js and better-sqlite3, in a small directory and in one
// holding 10,000 other files, interleaved round by round (each round runs every store's
// rows in a rotated order), reporting the median per operation and the ratios.
//
//   writer open+close      pm open/close (16 MiB pool, one hashMap entry); lmdb open/close;
//                          sqlite new Database/close (WAL)
//   read-only open+close   the same, read-only
//   open+get+close         a writer open, one get of a u32 key, close
//   open+put+close         a writer open, one committed durable put, close: pm put (sync
//                          transaction), lmdb putSync, sqlite INSERT OR REPLACE with
//                          synchronous=FULL
//   container open+close   ours only: Container.open of a small container file (writer, read-only)
//
// Usage: node open.mjs [--rounds 7] [--ops 20] [--files 10000] [--base /abs/path/to/dist/src/index.js]
//   --base  also runs a second build of the library (rows "pm@base"), interleaved: an A/B.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import Database from 'better-sqlite3'
import { open as openLmdb } from 'lmdb'
import { filesystemName, makeScratchDir } from './lib/tmpdir.mjs'
import { loadLibrary } from './lib/library.mjs'

const { values: flags } = parseArgs({ options: { rounds: { type: 'string' }, ops: { type: 'string' }, files: { type: 'string' }, base: { type: 'string' } }, strict: false })
const ROUNDS = Number(flags.rounds ?? 7)
const OPS = Number(flags.ops ?? 20)
const FILES = Number(flags.files ?? 10_000)

const { lib, missing, source } = await loadLibrary(['open', 'Container', 't.u32'])
if (missing) { console.log(missing); process.exit(1) }
const libs = [['pm', lib]]
if (flags.base) libs.push(['pm@base', await import(pathToFileURL(path.resolve(flags.base)).href)])

/** Stores of one directory: each kind's files made once, then opened again and again. */
async function storesIn(dir) {
  const rows = []
  for (const [name, l] of libs) {
    const file = path.join(dir, `${name}.pm`)
    const pm = l.open(file, { size: 16 << 20 })
    pm.hashMap('m', l.t.u32, l.t.u32).put(1, 2)
    pm.close()
    const cfile = path.join(dir, `${name}.pmc`)
    const c = l.Container.open(cfile, { init: () => ({ users: { a: 1 }, n: 1 }) })
    await c.persist()
    await c.close()
    let k = 0
    rows.push({
      store: name,
      writer: () => l.open(file).close(),
      readOnly: () => l.open(file, { readOnly: true }).close(),
      get: () => { const p = l.open(file); p.hashMap('m', l.t.u32, l.t.u32).get(1); p.close() },
      put: () => { const p = l.open(file); p.hashMap('m', l.t.u32, l.t.u32).put(2 + (k++ % 100), 7); p.close() },
      container: () => l.Container.open(cfile).close(),
      containerReadOnly: () => l.Container.open(cfile, { readOnly: true }).close(),
    })
  }
  const mdb = path.join(dir, 'lmdb.mdb')
  const env = openLmdb({ path: mdb }); env.putSync(1, 2); env.close()
  let k = 0
  rows.push({
    store: 'lmdb',
    writer: () => openLmdb({ path: mdb }).close(),
    readOnly: () => openLmdb({ path: mdb, readOnly: true }).close(),
    get: () => { const e = openLmdb({ path: mdb }); e.get(1); e.close() },
    put: () => { const e = openLmdb({ path: mdb }); e.putSync(2 + (k++ % 100), 7); e.close() },
  })
  const sq = path.join(dir, 'sqlite.db')
  const db = new Database(sq); db.pragma('journal_mode = WAL'); db.exec('CREATE TABLE kv (k INTEGER PRIMARY KEY, v INTEGER)'); db.prepare('INSERT INTO kv VALUES (1, 2)').run(); db.close()
  let j = 0
  rows.push({
    store: 'sqlite',
    writer: () => new Database(sq).close(),
    readOnly: () => new Database(sq, { readonly: true }).close(),
    get: () => { const d = new Database(sq); d.prepare('SELECT v FROM kv WHERE k = ?').get(1); d.close() },
    put: () => { const d = new Database(sq); d.pragma('synchronous = FULL'); d.prepare('INSERT OR REPLACE INTO kv VALUES (?, ?)').run(2 + (j++ % 100), 7); d.close() },
  })
  return rows
}

const KINDS = [['writer', 'writer open+close'], ['readOnly', 'read-only open+close'], ['get', 'open+get+close'], ['put', 'open+put+close'], ['container', 'container open+close'], ['containerReadOnly', 'container read-only open+close']]

/** Median ms per operation of each (store, kind), over ROUNDS interleaved rounds. */
async function measure(rows) {
  const samples = new Map()
  for (let r = 0; r < ROUNDS; r++) {
    const order = rows.slice(r % rows.length).concat(rows.slice(0, r % rows.length))
    for (const [kind] of KINDS) {
      for (const row of order) {
        const fn = row[kind]
        if (fn === undefined) continue
        await fn() // one untimed call (lmdb-js and sqlite warm their code on first use too)
        const t0 = performance.now()
        for (let i = 0; i < OPS; i++) await fn() // a container's close is a promise; the others' await a plain value
        const ms = (performance.now() - t0) / OPS
        const key = `${row.store}\t${kind}`
        if (!samples.has(key)) samples.set(key, [])
        samples.get(key).push(ms)
      }
      await new Promise((res) => setImmediate(res)) // let lmdb-js finish its closes
    }
  }
  const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1] }
  return new Map([...samples].map(([k, v]) => [k, med(v)]))
}

function report(title, rows, m) {
  console.log(`\n${title}`)
  const stores = rows.map((r) => r.store)
  console.log(['', ...stores.map((s) => `${s} ms`), 'pm/lmdb', 'pm/sqlite', ...(libs.length > 1 ? ['pm/pm@base'] : [])].map((c, i) => i === 0 ? c.padEnd(32) : c.padStart(11)).join(''))
  for (const [kind, label] of KINDS) {
    const v = (s) => m.get(`${s}\t${kind}`)
    const ratio = (a, b) => (v(a) !== undefined && v(b) !== undefined ? `${(v(a) / v(b)).toFixed(2)}x` : '-')
    const cells = stores.map((s) => (v(s) === undefined ? '-' : v(s).toFixed(3)))
    console.log([label.padEnd(32), ...cells.map((c) => c.padStart(11)), ratio('pm', 'lmdb').padStart(11), ratio('pm', 'sqlite').padStart(11), ...(libs.length > 1 ? [ratio('pm', 'pm@base').padStart(11)] : [])].join(''))
  }
}

const small = makeScratchDir('open-small')
const crowded = makeScratchDir('open-crowded')
for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(crowded, `other-${i}.dat`), '')
console.log(`open/close latency: ${ROUNDS} interleaved rounds of ${OPS} operations per row; library ${source}${flags.base ? `, base ${flags.base}` : ''}`)
console.log(`filesystem ${filesystemName(small)}; node ${process.version}; ${os.cpus().length} cpus; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`)
const smallRows = await storesIn(small)
const crowdedRows = await storesIn(crowded)
report(`a directory holding only the stores' files`, smallRows, await measure(smallRows))
report(`a directory holding ${FILES.toLocaleString('en-US')} other files`, crowdedRows, await measure(crowdedRows))
console.log(`\nload average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`)
