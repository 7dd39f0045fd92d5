// Persistent collections beside lmdb-js and better-sqlite3 on the same data: N string keys
// ("user:0000123", 12 bytes) with a small struct value { name, age, tags } (two short strings
// and a u32). Every competitor holds the same N entries before the timed rounds.
//
//   get            a random key: pm hashMap.get (a plain object back), lmdb get (msgpack
//                  decode), sqlite SELECT by primary key; also pm sortedMap.get and
//                  pm vector.get (a random index of a vector of the same N values).
//   put sync       one put of a random key, durable when it returns: pm put (its own sync
//                  transaction: one log flush), lmdb transactionSync with one put, sqlite WAL
//                  FULL; the floor is one 8-byte store plus msync(MS_SYNC) of one 4 KiB page.
//   put group x64  64 puts in flight, awaited together: pm put { durability: 'group' }, lmdb
//                  put (its async batched commits); each promise resolves when durable.
//   range 1000     1,000 entries from a random start key in key order: pm sortedMap.getRange,
//                  lmdb getRange, sqlite SELECT ... ORDER BY key LIMIT 1000.
//
// Usage: node collections.mjs [--keys N] [--quick] [--rounds 5] [--duration 1000] [--only get]
//   --keys N   entries per store (default 1,000,000; --quick: 50,000 and short rounds)

import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import mmap from '@riaskov/mmap-io'
import Database from 'better-sqlite3'
import { open as openLmdb } from 'lmdb'
import { runSuite, skip } from './lib/runner.mjs'
import { filesystemName, makeScratchDir } from './lib/tmpdir.mjs'
import { loadLibrary } from './lib/library.mjs'

const { values: flags } = parseArgs({ options: { keys: { type: 'string' }, quick: { type: 'boolean' } }, strict: false })
const quick = flags.quick === true
const N = Number(flags.keys ?? (quick ? 50_000 : 1_000_000))
const IN_FLIGHT = 64
const RANGE = 1000
const PAGE = 4096

const dir = makeScratchDir('collections')
const { lib, missing, source } = await loadLibrary(['open', 't.string', 't.struct'])

/** The keys, made once: the timed loops measure the stores, not string formatting. */
const KEYS = Array.from({ length: N }, (_, i) => `user:${String(i).padStart(7, '0')}`)
const key = (i) => KEYS[i]
const valueOf = (i) => ({ name: `User ${i}`, age: 20 + (i % 60), tags: i % 3 === 0 ? 'admin' : 'member' })
const rnd = (n) => (Math.random() * n) | 0

/** Fill a store in batches, with a progress line (loading 1M entries takes a while). */
function load(what, batch, putBatch) {
  const t0 = Date.now()
  for (let i = 0; i < N; i += batch) putBatch(i, Math.min(N, i + batch))
  console.log(`  loaded ${N.toLocaleString('en-US')} entries into ${what} in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
}

// --- persistent-memory ---------------------------------------------------------------

let pmStore
/** One pool holding the hash map and the sorted map, loaded once and shared by the pm rows. */
function pm() {
  if (missing) skip(missing)
  if (pmStore) return pmStore
  const { open, t } = lib
  const db = open(path.join(dir, 'pm.pm'), { size: 64 << 20, maxSize: 2 ** 31 - 4096 })
  const User = t.struct({ name: t.string, age: t.u32, tags: t.string })
  const users = db.hashMap('users', t.string, User)
  const sorted = db.sortedMap('sorted', t.string, User)
  const vec = db.vector('vec', User)
  // 'none' while loading (a flush at the end), in small transactions (each put is its own)
  load('pm hashMap', 10_000, (a, b) => { for (let i = a; i < b; i++) users.put(key(i), valueOf(i), { durability: 'none' }) })
  load('pm sortedMap', 10_000, (a, b) => { for (let i = a; i < b; i++) sorted.put(key(i), valueOf(i), { durability: 'none' }) })
  load('pm vector', 10_000, (a, b) => db.transaction(() => { for (let i = a; i < b; i++) vec.push(valueOf(i)) }, { durability: 'none' }))
  db.flush()
  pmStore = { db, users, sorted, vec }
  return pmStore
}

// --- lmdb ----------------------------------------------------------------------------

let lmdbStore
function lmdb() {
  if (lmdbStore) return lmdbStore
  const db = openLmdb({ path: path.join(dir, 'lmdb.mdb'), compression: false, noSync: false, overlappingSync: false, cache: false })
  load('lmdb', 10_000, (a, b) => db.transactionSync(() => { for (let i = a; i < b; i++) db.put(key(i), valueOf(i)) }))
  lmdbStore = db
  return db
}

// --- sqlite --------------------------------------------------------------------------

let sqliteStore
function sqlite() {
  if (sqliteStore) return sqliteStore
  const db = new Database(path.join(dir, 'sqlite.db'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE users (key TEXT PRIMARY KEY, name TEXT, age INTEGER, tags TEXT) WITHOUT ROWID')
  const insert = db.prepare('INSERT INTO users VALUES (?, ?, ?, ?)')
  const many = db.transaction((a, b) => { for (let i = a; i < b; i++) { const v = valueOf(i); insert.run(key(i), v.name, v.age, v.tags) } })
  load('sqlite', 10_000, many)
  const get = db.prepare('SELECT name, age, tags FROM users WHERE key = ?')
  const upsert = db.prepare('INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?)')
  const range = db.prepare(`SELECT key, name, age, tags FROM users WHERE key >= ? ORDER BY key LIMIT ${RANGE}`)
  sqliteStore = { db, get, upsert, range }
  return sqliteStore
}

// --- scenarios -----------------------------------------------------------------------

const scenario = (name, vs, note, setup, run) => ({ name, vs, note, setup, run })
let sink = 0

/** The floor: one 8-byte store into a mapped page and msync(MS_SYNC) of that page per op. */
function msyncFloor() {
  let fd, buf, f64
  return {
    name: 'msync floor', note: 'one store + msync of one 4 KiB page per op',
    setup() {
      const file = path.join(dir, 'floor.region')
      const w = fs.openSync(file, 'w')
      fs.writeSync(w, Buffer.alloc(PAGE), 0, PAGE, 0)
      fs.fsyncSync(w)
      fs.closeSync(w)
      fd = fs.openSync(file, 'r+')
      buf = mmap.map(PAGE, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd)
      f64 = new Float64Array(buf.buffer, buf.byteOffset, PAGE / 8)
    },
    run(n) {
      for (let i = 0; i < n; i++) { f64[rnd(512)] = Math.random(); mmap.sync(buf, 0, PAGE, true) }
      return n
    },
    teardown() { fs.closeSync(fd) },
  }
}

const scenarios = [
  scenario('pm hashMap get', 'lmdb get', 'a plain object back', () => void pm(), (n) => {
    const { users } = pmStore
    for (let i = 0; i < n; i++) sink += users.get(key(rnd(N))).age
    return n
  }),
  scenario('pm sortedMap get', 'lmdb get', 'B+tree descent, a plain object back', () => void pm(), (n) => {
    const { sorted } = pmStore
    for (let i = 0; i < n; i++) sink += sorted.get(key(rnd(N))).age
    return n
  }),
  scenario('pm vector get', 'lmdb get', 'a random index, a plain object back', () => void pm(), (n) => {
    const { vec } = pmStore
    for (let i = 0; i < n; i++) sink += vec.get(rnd(N)).age
    return n
  }),
  scenario('lmdb get', 'lmdb get', 'msgpack decode', () => void lmdb(), (n) => {
    for (let i = 0; i < n; i++) sink += lmdbStore.get(key(rnd(N))).age
    return n
  }),
  scenario('sqlite get', 'lmdb get', 'prepared SELECT by primary key', () => void sqlite(), (n) => {
    for (let i = 0; i < n; i++) sink += sqliteStore.get.get(key(rnd(N))).age
    return n
  }),
  msyncFloor(),
  scenario('pm put sync', 'msync floor', 'one transaction, one log flush per put', () => void pm(), (n) => {
    const { users } = pmStore
    for (let i = 0; i < n; i++) { const k = rnd(N); users.put(key(k), valueOf(k + 1)) }
    return n
  }),
  scenario('lmdb put sync', 'msync floor', 'transactionSync with one put (fdatasync)', () => void lmdb(), (n) => {
    for (let i = 0; i < n; i++) { const k = rnd(N); lmdbStore.transactionSync(() => lmdbStore.put(key(k), valueOf(k + 1))) }
    return n
  }),
  scenario('sqlite put sync', 'msync floor', 'WAL, synchronous=FULL', () => void sqlite(), (n) => {
    for (let i = 0; i < n; i++) { const k = rnd(N), v = valueOf(k + 1); sqliteStore.upsert.run(key(k), v.name, v.age, v.tags) }
    return n
  }),
  scenario(`pm put group x${IN_FLIGHT}`, `lmdb put async x${IN_FLIGHT}`, "durability 'group': one flush per turn", () => void pm(), async (n) => {
    const { users } = pmStore
    const groups = Math.ceil(n / IN_FLIGHT)
    for (let g = 0; g < groups; g++) {
      const pending = []
      for (let q = 0; q < IN_FLIGHT; q++) { const k = rnd(N); pending.push(users.put(key(k), valueOf(k + 2), { durability: 'group' })) }
      await Promise.all(pending)
    }
    return groups * IN_FLIGHT
  }),
  scenario(`lmdb put async x${IN_FLIGHT}`, `lmdb put async x${IN_FLIGHT}`, 'batched async commits, resolved when durable', () => void lmdb(), async (n) => {
    const groups = Math.ceil(n / IN_FLIGHT)
    for (let g = 0; g < groups; g++) {
      const pending = []
      for (let q = 0; q < IN_FLIGHT; q++) { const k = rnd(N); pending.push(lmdbStore.put(key(k), valueOf(k + 2))) }
      await Promise.all(pending)
    }
    return groups * IN_FLIGHT
  }),
  scenario(`pm getRange ${RANGE}`, `lmdb getRange ${RANGE}`, 'sortedMap, plain objects back', () => void pm(), (n) => {
    const { sorted } = pmStore
    for (let i = 0; i < n; i++) for (const [, v] of sorted.getRange({ start: key(rnd(N - RANGE)), limit: RANGE })) sink += v.age
    return n
  }),
  scenario(`lmdb getRange ${RANGE}`, `lmdb getRange ${RANGE}`, 'msgpack decode', () => void lmdb(), (n) => {
    for (let i = 0; i < n; i++) for (const { value } of lmdbStore.getRange({ start: key(rnd(N - RANGE)), limit: RANGE })) sink += value.age
    return n
  }),
  scenario(`sqlite range ${RANGE}`, `lmdb getRange ${RANGE}`, 'SELECT ... ORDER BY key LIMIT', () => void sqlite(), (n) => {
    for (let i = 0; i < n; i++) for (const r of sqliteStore.range.iterate(key(rnd(N - RANGE)))) sink += r.age
    return n
  }),
]

if (missing) console.log(`note: persistent-memory rows will be skipped: ${missing}`)
await runSuite({
  name: 'collections',
  title: `Collections: ${N.toLocaleString('en-US')} string keys with small struct values`,
  unit: 'op',
  baseline: 'lmdb get',
  durationMs: quick ? 300 : 1000,
  warmupMs: quick ? 100 : 300,
  rounds: quick ? 2 : 5,
  env: { scratch: dir, filesystem: filesystemName(dir), library: source, keys: N },
  scenarios,
  targets: [
    { row: 'pm hashMap get', vs: 'lmdb get', ratio: 2 },
    { row: 'pm put sync', vs: 'msync floor', ratio: 0.8 },
    { row: `pm put group x${IN_FLIGHT}`, vs: `lmdb put async x${IN_FLIGHT}`, ratio: 1 },
    { row: `pm getRange ${RANGE}`, vs: `lmdb getRange ${RANGE}`, ratio: 1 },
  ],
})
pmStore?.db.close()
lmdbStore?.close()
sqliteStore?.db.close()
if (sink === 0.5) console.log('')
