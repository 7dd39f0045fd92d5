/**
 * `pmem serve`: a persistent memcached (text and binary protocols) over a persistent hash map. The door of
 * src/serve/: the server, the store interface (so other engines can be plugged in, as the
 * benchmark does), the pool-backed store and the protocol parser.
 */
export { startServer, type MemcachedServer, type ServeOptions } from './server.js'
export { openPmStore, PmItemStore, ItemType, type Item, type ItemStore, type PmStoreOptions } from './store.js'
export { Handlers, absoluteExptime } from './handlers.js'
export { BinaryParser, runBinary, type BinRequest } from './binary.js'
export { RequestParser, parseLine, validKey, KEY_MAX_LENGTH, type Request } from './protocol.js'
export { serveMain } from './cli.js'
