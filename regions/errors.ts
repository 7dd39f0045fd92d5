/**
 * Typed errors for every layer (DESIGN.md section 4).
 *
 * One class per kind of failure, all derived from {@link PmemError}, each with a stable
 * `code` string that programs can switch on. Messages are sentence case, quote the value
 * that was wrong, and say which action failed and what to do, for example
 * `Cannot open region "a.pm": file is locked by process 4127`.
 *
 * Invariant kept by every caller: an operation that throws one of these has changed
 * nothing on disk.
 */

/** Base class of every error this library throws on purpose. */
export class PmemError extends Error {
  /** Stable machine-readable code, e.g. `ERR_PMEM_LOCKED`. */
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** An argument has the wrong type or an impossible value. */
export class InvalidArgumentError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_INVALID_ARGUMENT', message) }
}

/** An offset or length falls outside the region, log, heap or object it addresses. */
export class OutOfRangeError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_OUT_OF_RANGE', message) }
}

/** A word access is not aligned to its size. */
export class MisalignedError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_MISALIGNED', message) }
}

/** The region, view, heap or container was used after it was closed. */
export class RegionClosedError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_CLOSED', message) }
}

/** Another writer holds the region's lock. `holderPid` is its process id when known. */
export class RegionLockedError extends PmemError {
  readonly holderPid: number | undefined
  constructor(message: string, holderPid?: number) {
    super('ERR_PMEM_LOCKED', message)
    this.holderPid = holderPid
  }
}

/** The file does not exist and creation was not requested (or `size` was not given). */
export class RegionNotFoundError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_NOT_FOUND', message) }
}

/** Creation was asked to be exclusive and the file already exists. */
export class RegionExistsError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_EXISTS', message) }
}

/** The file is not one of ours: wrong magic number or impossible header. */
export class NotARegionError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_NOT_A_REGION', message) }
}

/**
 * The region (or file) does not hold a pool or container where one was expected: it holds
 * other data, or its superblock is gone. Nothing was formatted or changed; only a file this
 * call created is ever formatted.
 */
export class NotAPoolError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_NOT_A_POOL', message) }
}

/** The file is ours but damaged beyond what the crash model allows (checksum, truncation). */
export class CorruptionError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_CORRUPT', message) }
}

/** The file was written by a newer format version than this library reads. */
export class UnsupportedVersionError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_VERSION', message) }
}

/** A write was attempted on a region or object opened read-only. */
export class ReadOnlyError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_READ_ONLY', message) }
}

/** The region, heap or disk has no room for what was asked. */
export class OutOfSpaceError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_OUT_OF_SPACE', message) }
}

/** A transaction handle was used after its transaction committed or aborted. */
export class TransactionEndedError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_TX_ENDED', message) }
}

/** A transaction writes more than its log can ever hold; nothing was applied. */
export class TransactionTooLargeError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_TX_TOO_LARGE', message) }
}

/** A named persistent variable was declared again with a different type. */
export class TypeMismatchError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_TYPE_MISMATCH', message) }
}

/**
 * The operating system refused a file operation (permission denied, read-only file system,
 * an I/O error...). `errno` is the system code, e.g. `EACCES`.
 */
export class FileSystemError extends PmemError {
  readonly errno: string | undefined
  constructor(message: string, errno: string | undefined, options?: { cause?: unknown }) {
    super('ERR_PMEM_FS', message, options)
    this.errno = errno
  }
}

/**
 * An earlier I/O failure left the in-memory state unknown; like LMDB's MDB_PANIC the
 * handle refuses all further work until it is closed and the file reopened (recovery
 * then restores a consistent state).
 */
export class BrokenError extends PmemError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_PMEM_BROKEN', message, options) }
}

/**
 * The region's flush thread (the worker thread behind `flushAsync`, `reserveAsync` and
 * `appendStream`) did not finish a write in time, or died: the region itself is intact,
 * and the operation can be retried.
 */
export class FlushThreadError extends PmemError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_PMEM_FLUSH_THREAD', message, options) }
}
