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
//
// Usage: node txn.mjs [--rounds 5] [--duration 1000] [--only lmdb] [--baseline FILE] [--strict]

import fs from 'node:fs'
import path from 'node:path'
import mmap from '@riaskov/mmap-io'
import Database from 'better-sqlite3'
import { open as openLmdb } from 'lmdb'
import { runSuite, skip } from './lib/runner.mjs'
import { filesystemName, makeScratchDir } from './lib/tmpdir.mjs'
import { loadLibrary } from './lib/library.mjs'

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

if (missing) console.log(`note: persistent-memory rows will be skipped: ${missing}`)

await runSuite({
  name: 'txn',
  title: `Durable transaction: ${WRITES} random f64 writes into a ${SLOTS}-element f64 array`,
  unit: 'tx',
  baseline: 'raw msync loop',
  durationMs: 1000,
  warmupMs: 300,
  rounds: 5,
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
  ],
  targets: [
    { row: 'pm sync', vs: 'raw msync loop', ratio: 0.8 },
    { row: 'pm sync', vs: 'lmdb transactionSync', ratio: 3 },
    { row: `pm group x${IN_FLIGHT}`, vs: `lmdb pipelined x${IN_FLIGHT}`, ratio: 1 },
    { row: 'pm none', min: 1_000_000 },
  ],
})
