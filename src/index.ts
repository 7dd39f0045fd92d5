/**
 * persistent-memory: persistent regions, durable transactions and a persistent heap on
 * ordinary files. This is the package's main door.
 */
export { open, check } from './open.js'
export type { OpenOptions } from './open.js'
export { PersistentMemory, PmTx } from './pm.js'
export type { CheckReport, PoolOptions } from './pm.js'
export type { CheckOptions, DanglingPointer, UnreachableBlock } from './reachability.js'
export { t } from './types.js'
export type { TypeDesc, ScalarType, BytesType, ArrayType, StructType, PtrType, StringType, BlobType, PlainOf, ValueOf, InputOf, ViewOf, StructView, ArrayView, ValueView, ViewCommon } from './types.js'
export type { Persistent } from './vars.js'
export { HashMap, SortedMap, Vector } from './collections/index.js'
export type { CollectionOptions, WriteOptions, RangeOptions, KeyType, CollectionReport } from './collections/index.js'
export type { ViewBase } from './view.js'
export type { Durability, TransactionOptions } from '../txn/index.js'
export { TransactionActiveError, SnapshotConflictError, readerTiming, pathTiming } from '../txn/index.js'
export { Region, SimRegion } from '../regions/index.js'
export type { RegionLike, ViewCtor } from '../regions/index.js'
export {
  PmemError, InvalidArgumentError, OutOfRangeError, MisalignedError, RegionClosedError, RegionLockedError,
  RegionNotFoundError, RegionExistsError, NotARegionError, NotAPoolError, CorruptionError, UnsupportedVersionError,
  ReadOnlyError, OutOfSpaceError, TransactionEndedError, TransactionTooLargeError, TypeMismatchError, BrokenError, FileSystemError,
  FlushThreadError, ContainerLockedError, LeaseLostError, StoreUnavailableError,
} from '../regions/index.js'
export { ChangedWhileEncodedError, ClassHookError, Container, DEFAULT_CHUNK_SIZE, UnknownClassError } from './container/index.js'
export type { ChunkStore, ChunkStoreHost, HostedStore, HostOpenOptions, StoreVersion } from '../txn/index.js'
export type { ContainerOptions, ContainerCheck, PersistOptions, PointStats, VersionInfo, FallBack, DroppedEntry, Registrable } from './container/index.js'
