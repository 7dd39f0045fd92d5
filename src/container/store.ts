/**
 * The chunk-store interface containers are written against lives in the layer that owns
 * storage (txn/chunk-store.ts); this file re-exports it for the container's files.
 */
export type { ChunkStore, StoreVersion, ChunkStoreHost, HostedStore, HostOpenOptions } from '../../txn/index.js'
