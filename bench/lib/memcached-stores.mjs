// ItemStores for `pmem serve`'s server code over lmdb-js and better-sqlite3, for the memcached
// benchmark only (bench/memcached.mjs): the same handlers and batching as `pmem serve`, another
// engine underneath. Both are durable per operation: a batch is one write transaction that is
// synced when it returns (lmdb: transactionSync with sync on; sqlite: WAL, synchronous=FULL).
//
// Item encoding (both stores): flags u32 | exptime u32 | time u32 | 0 u32 | cas u64 | data, little-endian.
import fs from 'node:fs'
import path from 'node:path'

function encode(it) {
  const b = Buffer.allocUnsafe(24 + it.data.length)
  b.writeUInt32LE(it.flags, 0); b.writeUInt32LE(it.exptime, 4); b.writeUInt32LE(it.time, 8); b.writeUInt32LE(0, 12)
  b.writeBigUInt64LE(it.cas, 16)
  b.set(it.data, 24)
  return b
}
function decode(b) {
  if (b === undefined || b === null) return undefined
  return { flags: b.readUInt32LE(0), exptime: b.readUInt32LE(4), time: b.readUInt32LE(8), cas: b.readBigUInt64LE(16), data: b.subarray(24) }
}

/** lmdb-js: one sync write transaction per batch. */
export async function openLmdbStore(dir) {
  const { open } = await import('lmdb')
  // overlappingSync off: transactionSync returns after its fdatasync (as in collections.mjs)
  const db = open({ path: path.join(dir, 'mc.lmdb'), encoding: 'binary', mapSize: 2 ** 31, compression: false, noSync: false, overlappingSync: false, cache: false })
  return {
    name: 'lmdb-js (transactionSync)',
    durablePerOp: true,
    get: k => decode(db.get(k)),
    put: (k, it) => { db.putSync(k, encode(it)) },
    delete: k => db.removeSync(k),
    clear: () => db.clearSync(),
    count: () => db.getCount(),
    batch: fn => db.transactionSync(fn),
    close: () => db.close(),
  }
}

/** better-sqlite3 in WAL mode with synchronous=FULL: one transaction per batch. */
export async function openSqliteStore(dir) {
  const Database = (await import('better-sqlite3')).default
  fs.mkdirSync(dir, { recursive: true })
  const db = new Database(path.join(dir, 'mc.sqlite'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE IF NOT EXISTS items (k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID')
  const get = db.prepare('SELECT v FROM items WHERE k = ?').pluck()
  const put = db.prepare('INSERT OR REPLACE INTO items (k, v) VALUES (?, ?)')
  const del = db.prepare('DELETE FROM items WHERE k = ?')
  const count = db.prepare('SELECT count(*) FROM items').pluck()
  return {
    name: 'better-sqlite3 (WAL, FULL)',
    durablePerOp: true,
    get: k => decode(get.get(k)),
    put: (k, it) => { put.run(k, encode(it)) },
    delete: k => del.run(k).changes > 0,
    clear: () => db.exec('DELETE FROM items'),
    count: () => count.get(),
    batch: fn => db.transaction(fn)(),
    close: () => db.close(),
  }
}
