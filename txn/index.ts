/**
 * Layer 2 door: persistence primitives (atomic word write, redo log, shadow paging) and
 * durable transactions built on them. Layer 3 imports from here only.
 */
export { atomicWrite64, readWord64 } from './word.js'
export { hash32, wordsOf } from './hash.js'
export { RecordBuilder, decodeRecord, forEachEntry, RECORD_HEADER, RECORD_MAGIC } from './record.js'
export type { DecodedRecord } from './record.js'
export { RedoLog, RECORDS_OFFSET, MIN_LOG_SIZE } from './redo-log.js'
export { TxEngine, defaultLogSize } from './engine.js'
export type { Durability, TransactionOptions } from './engine.js'
export { Tx } from './tx.js'
export type { TxHost } from './tx.js'
export type { PoolLayout } from './pool.js'
export { ShadowStore } from './shadow.js'
export type { ChunkStore, StoreVersion, ChunkStoreHost, HostedStore, HostOpenOptions } from './chunk-store.js'
export type { ShadowCreateOptions, ShadowOpenOptions, ShadowVersionInfo, ShadowStats } from './shadow.js'
export { CommitInProgressError } from './shadow-errors.js'
export { TransactionActiveError, SnapshotConflictError } from './tx-errors.js'
export { SnapshotReader, readerTiming } from './reader.js'
export { pathTiming } from './engine-path.js'
export { RCB_OFFSET, RCB_BYTES } from './publish.js'
