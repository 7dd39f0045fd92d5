// Durable-transaction comparison: one transaction writes 8 random f64 values into a
// 1000-element f64 array, committed durably (or not, for the "none"/"OFF" rows).
//
// Competitors, all in one run on the same disk (see README.md for the fairness notes):
//   raw msync loop        8 stores into an mmap'd region file + msync(MS_SYNC) of one
//                         4 KiB page: the floor, one flush per commit.
//   lmdb transactionSync  1000 integer keys, one f64 each; 8 puts per transaction,
//                         each commit synced before transactionSync returns.
//   lmdb pipelined x64    64 db.transaction() promises in flight, awaited together
//                         (lmdb commits them as one batch with one sync).
//   sqlite WAL FULL/OFF   table accounts(id, value REAL) of 1000 rows; one transaction
//                         updates 8 rows; WAL with synchronous=FULL, then OFF.
//   pm sync/group/none    the persistent-memory API (skipped until it is built).
//   pmdk tx ...           native anchor: PMDK libpmemobj TX_BEGIN/pmemobj_tx_add_range
//                         transactions on the same kind of file (native/pmemobj_txn.c).
//   bdb txn ...           native anchor: Berkeley DB B-tree of 1000 keys, 8 puts per
//                         transaction, synchronous commit and DB_TXN_NOSYNC (native/bdb_txn.c).
//
// Usage: node txn.mjs [--quick] [--rounds 5] [--duration 1000] [--only lmdb] [--baseline FILE] [--strict]
// Without --only it also writes plots/txn.json and plots/txn.svg (ratios to the floor).

import fs from 'node:fs'
import path from 'node:path'
import mmap from '@riaskov/mmap-io'
import Database from 'better-sqlite3'
import { open as openLmdb } from 'lmdb'
import { runSuite, skip } from './lib/runner.mjs'
import { filesystemName, makeScratchDir } from './lib/tmpdir.mjs'
import { loadLibrary } from './lib/library.mjs'
import { nativeScenario } from './lib/native.mjs'
import { loadNow, makeMeta, writeChart } from './lib/plot.mjs'

const SLOTS = 1000 // f64 elements in the array
const WRITES = 8 // f64 writes per transaction
const IN_FLIGHT = 64 // concurrent transactions in the pipelined/group rows
const PAGE = 4096
const REGION_BYTES = Math.ceil((SLOTS * 8) / PAGE) * PAGE // 8000 bytes + padding = 8 KiB

const dir = makeScratchDir('txn')
const { lib, missing, source } = await loadLibrary(['open', 't.array', 't.f64'])

/** A random slot index in [0, SLOTS). */
const slot = () => (Math.random() * SLOTS) | 0

/** Create a zero-filled file with 4 KiB writes (DESIGN 7: keeps small page-cache folios), fsynced. */
function writeRegionFile(file, bytes) {
  const fd = fs.openSync(file, 'w')
  const page = Buffer.alloc(PAGE)
  for (let at = 0; at < bytes; at += PAGE) fs.writeSync(fd, page, 0, PAGE, at)
  fs.fsyncSync(fd)
  fs.closeSync(fd)
}

/** Raw floor: 8 f64 stores into a mapped region, then msync(MS_SYNC) of `flushBytes`. */
function rawMsync(name, flushBytes, note) {
  let fd, buf, f64
  return {
    name,
    note,
    setup() {
      const file = path.join(dir, `raw-${flushBytes}.region`)
      writeRegionFile(file, REGION_BYTES)
      fd = fs.openSync(file, 'r+')
      buf = mmap.map(REGION_BYTES, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd)
      f64 = new Float64Array(buf.buffer, buf.byteOffset, SLOTS)
    },
    run(n) {
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < WRITES; k++) f64[slot()] = Math.random()
        mmap.sync(buf, 0, flushBytes, true)
      }
      return n
    },
    teardown() {
      fs.closeSync(fd)
      buf = f64 = undefined // the mapping is released when the Buffer is collected
    },
  }
}

/** lmdb environment with durable commits: sync inside commit, no overlapping sync. */
function openDurableLmdb(file) {
  const db = openLmdb({
    path: file,
    noSync: false, // default; fdatasync on every commit
    noMetaSync: false, // default; the meta page is written through an O_DSYNC fd
    overlappingSync: false, // default is true on Linux: the flush would run after commit returns
    useWritemap: false, // default
    compression: false,
    cache: false,
  })
  db.transactionSync(() => {
    for (let i = 0; i < SLOTS; i++) db.put(i, 0)
  })
  return db
}

/** lmdb: one synchronous, synced transaction per op. */
function lmdbSync() {
  let db
  const body = () => {
    for (let k = 0; k < WRITES; k++) db.put(slot(), Math.random())
  }
  return {
    name: 'lmdb transactionSync',
    note: 'fdatasync per commit',
    setup: () => void (db = openDurableLmdb(path.join(dir, 'lmdb-sync.mdb'))),
    run(n) {
      for (let i = 0; i < n; i++) db.transactionSync(body)
      return n
    },
    teardown: () => db.close(),
  }
}

/** lmdb: IN_FLIGHT async transactions started together, then awaited together. */
function lmdbPipelined() {
  let db
  const body = () => {
    for (let k = 0; k < WRITES; k++) db.put(slot(), Math.random())
  }
  return {
    name: `lmdb pipelined x${IN_FLIGHT}`,
    note: 'batched: one sync per batch, each promise resolves when durable',
    setup: () => void (db = openDurableLmdb(path.join(dir, 'lmdb-pipelined.mdb'))),
    async run(n) {
      const groups = Math.ceil(n / IN_FLIGHT)
      for (let g = 0; g < groups; g++) {
        const pending = []
        for (let q = 0; q < IN_FLIGHT; q++) pending.push(db.transaction(body))
        await Promise.all(pending)
      }
      return groups * IN_FLIGHT
    },
    teardown: () => db.close(),
  }
}

/** better-sqlite3 in WAL mode with the given `synchronous` setting. */
function sqlite(synchronous, note) {
  let db, commit
  return {
    name: `sqlite WAL ${synchronous}`,
    note,
    setup() {
      db = new Database(path.join(dir, `sqlite-${synchronous}.db`))
      db.pragma('journal_mode = WAL')
      db.pragma(`synchronous = ${synchronous}`)
      db.exec('CREATE TABLE accounts (id INTEGER PRIMARY KEY, value REAL NOT NULL)')
      const insert = db.prepare('INSERT INTO accounts (id, value) VALUES (?, 0)')
      db.transaction(() => {
        for (let i = 0; i < SLOTS; i++) insert.run(i)
      })()
      const update = db.prepare('UPDATE accounts SET value = ? WHERE id = ?')
      commit = db.transaction(() => {
        for (let k = 0; k < WRITES; k++) update.run(Math.random(), slot())
      })
    },
    run(n) {
      for (let i = 0; i < n; i++) commit()
      return n
    },
    teardown: () => db.close(),
  }
}

/** Open a persistent-memory file with the `accounts` array; skip if the API is missing. */
function openPm(name) {
  if (missing) skip(missing)
  const pm = lib.open(path.join(dir, `${name}.pm`), { size: 16 << 20 })
  const arr = pm.persistent('accounts', lib.t.array(lib.t.f64, SLOTS))
  if (typeof arr?.offset !== 'number') skip('pm.persistent() returned no numeric .offset yet')
  const body = (tx) => {
    for (let k = 0; k < WRITES; k++) tx.writeF64(arr.offset + 8 * slot(), Math.random())
  }
  return { pm, body }
}

/** persistent-memory, one transaction at a time; options undefined means the default ('sync'). */
function pmSerial(name, options, note) {
  let pm, body
  return {
    name,
    note,
    setup: () => void ({ pm, body } = openPm(name.replace(/\W+/g, '-'))),
    async run(n) {
      for (let i = 0; i < n; i++) {
        const done = options === undefined ? pm.transaction(body) : pm.transaction(body, options)
        if (typeof done?.then === 'function') await done
      }
      return n
    },
    teardown: () => pm?.close(),
  }
}

/** persistent-memory, IN_FLIGHT group-durability transactions awaited together. */
function pmGroup() {
  let pm, body
  return {
    name: `pm group x${IN_FLIGHT}`,
    note: "durability 'group'",
    setup: () => void ({ pm, body } = openPm('pm-group')),
    async run(n) {
      const groups = Math.ceil(n / IN_FLIGHT)
      for (let g = 0; g < groups; g++) {
        const pending = []
        for (let q = 0; q < IN_FLIGHT; q++) pending.push(pm.transaction(body, { durability: 'group' }))
        await Promise.all(pending)
      }
      return groups * IN_FLIGHT
    },
    teardown: () => pm?.close(),
  }
}

/** PMDK libpmemobj: the same array as the root object, 8 pmemobj_tx_add_range + stores per tx. */
function pmdk(name, env, note) {
  return nativeScenario({
    name,
    note,
    driver: 'pmemobj_txn',
    env,
    args: () => [path.join(dir, `${name.replace(/\W+/g, '-')}.pool`), String(SLOTS), String(WRITES), '8'],
  })
}

/** Berkeley DB: B-tree of SLOTS keys with one f64 each; 8 puts per transaction. */
function bdb(mode, note) {
  return nativeScenario({
    name: `bdb txn ${mode}`,
    note,
    driver: 'bdb_txn',
    args: () => {
      const env = path.join(dir, `bdb-${mode}`)
      fs.mkdirSync(env)
      return [env, String(SLOTS), String(WRITES), '8', mode]
    },
  })
}

if (missing) console.log(`note: persistent-memory rows will be skipped: ${missing}`)
const quick = process.argv.includes('--quick')
const loadBefore = loadNow()

const results = await runSuite({
  name: 'txn',
  title: `Durable transaction: ${WRITES} random f64 writes into a ${SLOTS}-element f64 array`,
  unit: 'tx',
  baseline: 'raw msync loop',
  durationMs: quick ? 300 : 1000,
  warmupMs: quick ? 100 : 300,
  rounds: quick ? 2 : 5,
  env: { scratch: dir, filesystem: filesystemName(dir), library: source },
  scenarios: [
    rawMsync('raw msync loop', PAGE, 'msync MS_SYNC of 1 page per commit (the floor)'),
    rawMsync('raw msync 2 pages', REGION_BYTES, 'info: msync of the whole 8 KiB array'),
    lmdbSync(),
    lmdbPipelined(),
    sqlite('FULL', 'fsync of the WAL per commit'),
    sqlite('OFF', 'no fsync: not durable'),
    pmSerial('pm sync', undefined, "durability 'sync' (default)"),
    pmGroup(),
    pmSerial('pm none', { durability: 'none' }, "durability 'none': not durable"),
    pmdk('pmdk tx msync', {}, 'libpmemobj on a file: msync(MS_SYNC) per persist, about 25 per commit'),
    pmdk('pmdk tx PMEM_IS_PMEM_FORCE', { PMEM_IS_PMEM_FORCE: '1' }, 'not durable on a disk: cache-line flushes of page-cache pages'),
    bdb('sync', 'fdatasync of the log per commit'),
    bdb('nosync', 'DB_TXN_NOSYNC: not durable'),
  ],
  targets: [
    { row: 'pm sync', vs: 'raw msync loop', ratio: 0.8 },
    { row: 'pm sync', vs: 'lmdb transactionSync', ratio: 3 },
    { row: `pm group x${IN_FLIGHT}`, vs: `lmdb pipelined x${IN_FLIGHT}`, ratio: 1 },
    { row: 'pm none', min: 1_000_000 },
  ],
})

/** Which rows are durable against power loss (colour of the chart's bars). */
const NOT_DURABLE = new Set(['sqlite WAL OFF', 'pm none', 'pmdk tx PMEM_IS_PMEM_FORCE', 'bdb txn nosync', 'raw msync 2 pages'])
const floor = results.find((r) => r.name === 'raw msync loop')?.opsPerSec
if (results.env && results.only.length === 0 && floor) {
  const data = results.filter((r) => r.opsPerSec !== null).map((r) => ({
    row: r.name,
    txPerSec: Math.round(r.opsPerSec),
    ratio: r.opsPerSec / floor,
    label: `${(r.opsPerSec / floor).toFixed(r.opsPerSec / floor >= 10 ? 1 : r.opsPerSec / floor >= 0.1 ? 2 : 3)}x  (${Math.round(r.opsPerSec).toLocaleString('en-US')} tx/s)`,
    kind: r.name === 'raw msync loop' || r.name === 'raw msync 2 pages' ? 'floor (one msync)' : NOT_DURABLE.has(r.name) ? 'not durable' : 'durable per commit',
    spread: r.spread,
  }))
  const skipped = results.filter((r) => r.opsPerSec === null).map((r) => `${r.name}: ${r.status} (${(r.reason ?? '').split('\n')[0].slice(0, 90)})`)
  const meta = makeMeta({
    title: `Durable transactions: ${WRITES} random f64 writes into a ${SLOTS}-element array, ratio to one msync per commit`,
    loadBefore,
    quick,
    filesystem: filesystemName(dir),
    notes: [`floor: raw msync loop = ${Math.round(floor).toLocaleString('en-US')} tx/s; medians of ${results.plan.rounds} interleaved rounds of ${results.plan.durationMs} ms`, ...skipped.map((s) => `skipped ${s}`)],
    params: results.plan,
  })
  const spec = {
    width: 560,
    height: { step: 22 },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          y: { field: 'row', type: 'nominal', sort: { field: 'ratio', op: 'max', order: 'descending' }, title: null, axis: { labelLimit: 260 } },
          x: { field: 'ratio', type: 'quantitative', scale: { type: 'log', domain: [0.001, 3000] }, axis: { values: [0.001, 0.01, 0.1, 1, 10, 100, 1000], format: '~g' }, title: 'tx/s relative to the raw msync loop (log scale; right is faster)' },
          x2: { datum: 0.001 },
          color: { field: 'kind', type: 'nominal', title: null, scale: { domain: ['durable per commit', 'floor (one msync)', 'not durable'], range: ['#4c78a8', '#999999', '#f58518'] }, legend: { orient: 'bottom' } },
        },
      },
      { mark: { type: 'text', align: 'left', dx: 4, fontSize: 10 }, encoding: { y: { field: 'row', type: 'nominal', sort: { field: 'ratio', op: 'max', order: 'descending' } }, x: { field: 'ratio', type: 'quantitative' }, text: { field: 'label' } } },
      { mark: { type: 'rule', strokeDash: [4, 3], color: '#333' }, encoding: { x: { datum: 1 } } },
    ],
  }
  console.log(`chart: ${path.relative(process.cwd(), await writeChart('txn', { meta, data, spec }))}`)
}
