// `node lib/serve-store.mjs lmdb|sqlite DIR`: pmem serve's server code (dist/src/serve) over an
// lmdb-js or better-sqlite3 store, on a free loopback port; prints the same "listening on" line
// as `pmem serve` and stops on SIGTERM. For bench/memcached.mjs.
import { openLmdbStore, openSqliteStore } from './memcached-stores.mjs'

const [kind, dir] = process.argv.slice(2)
const { startServer } = await import(new URL('../../dist/src/serve/index.js', import.meta.url))
const store = kind === 'lmdb' ? await openLmdbStore(dir) : kind === 'sqlite' ? await openSqliteStore(dir) : null
if (store === null) { console.error('usage: node lib/serve-store.mjs lmdb|sqlite DIR'); process.exit(2) }
const server = await startServer({ store, port: 0, host: '127.0.0.1' })
console.log(`${kind}: listening on ${server.host}:${server.port}`)
process.once('SIGTERM', () => { server.close().then(() => process.exit(0)) })
