/**
 * The options of `open` and `PersistentMemory.fromRegion`: their checks, and the smallest
 * region a pool fits in.
 *
 * Invariants (cited as "opts inv. N"):
 *   1. Every option is checked here, before anything touches the disk; a bad value is an
 *      InvalidArgumentError naming the option and quoting the value.
 *   2. Unknown option names are refused, with the known ones listed: a misspelt `readonly`
 *      must not open for writing, a misspelt `logsize` must not silently get the default.
 *   3. A pool is never created in a region too small for it: `open` refuses such a `size`
 *      (or `logSize`) before the file is created, saying the smallest size that works.
 */
import { InvalidArgumentError, MAX_USER_SIZE, PAGE_SIZE, describe, roundUp } from '../regions/index.js'
import { MIN_LOG_SIZE, defaultLogSize } from '../txn/index.js'

/** Bytes of a pool outside its log: the superblock page and at least one page of heap. */
const POOL_OVERHEAD = 2 * PAGE_SIZE
/** The log size is stored as 32 bits; anything near that is far beyond any region anyway. */
const MAX_LOG_SIZE = MAX_USER_SIZE - POOL_OVERHEAD

const POOL_KEYS = ['logSize', 'maxSize'] as const
const OPEN_KEYS = ['size', 'readOnly', 'create', ...POOL_KEYS] as const

/** Pool options after the checks. */
export interface CheckedPoolOptions { logSize: number | undefined; maxSize: number | undefined }

/** Open options after the checks (opts inv. 1-2). */
export interface CheckedOpenOptions extends CheckedPoolOptions {
  size: number | undefined
  readOnly: boolean | undefined
  create: boolean | undefined
}

/** Checks the options of `open(path, opts)`. */
export function checkOpenOptions(path: unknown, opts: unknown): CheckedOpenOptions {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw new InvalidArgumentError(`Cannot open pool: path must be a non-empty string without NUL characters, got ${describe(path)}`)
  }
  const action = `Cannot open pool "${path}"`
  const o = checkObject(opts, action, OPEN_KEYS)
  const size = optionalInt(o, 'size', action, 1)
  const readOnly = optionalBoolean(o, 'readOnly', action)
  const create = optionalBoolean(o, 'create', action)
  const pool = poolOptions(o, action)
  if (pool.maxSize !== undefined && size !== undefined && pool.maxSize < size) {
    throw new InvalidArgumentError(`${action}: maxSize ${pool.maxSize} is smaller than size ${size}; maxSize is the largest size the region may grow to`)
  }
  return { size, readOnly, create, ...pool }
}

/** Checks the options of `PersistentMemory.fromRegion(region, opts)`. */
export function checkPoolOptions(opts: unknown, action: string): CheckedPoolOptions {
  return poolOptions(checkObject(opts, action, POOL_KEYS), action)
}

/**
 * Throws (opts inv. 3) unless a region of `size` bytes (rounded up to a page) holds a pool
 * with a log of `logSize` bytes, or of the default log size when it is undefined.
 */
export function checkPoolFits(size: number, logSize: number | undefined, action: string): void {
  const rounded = roundUp(size, PAGE_SIZE)
  const log = logSize ?? defaultLogSize(rounded)
  const need = POOL_OVERHEAD + log
  if (need <= rounded) return
  const which = logSize === undefined ? `the default ${log}-byte redo log` : `a ${log}-byte redo log (logSize)`
  const smaller = logSize === undefined
    ? `or pass a logSize from ${MIN_LOG_SIZE} to ${Math.max(MIN_LOG_SIZE, rounded - POOL_OVERHEAD)}`
    : rounded - POOL_OVERHEAD >= MIN_LOG_SIZE ? `or a logSize of at most ${rounded - POOL_OVERHEAD}` : `(the smallest pool, with a ${MIN_LOG_SIZE}-byte log, needs ${POOL_OVERHEAD + MIN_LOG_SIZE})`
  throw new InvalidArgumentError(`${action}: size ${size} is too small for a pool with ${which}: it needs at least ${need} bytes ` +
    `(a 4096-byte superblock page, the log, and at least one 4096-byte page of heap); give a size of at least ${need} ${smaller}`)
}

function poolOptions(o: Record<string, unknown>, action: string): CheckedPoolOptions {
  const logSize = optionalInt(o, 'logSize', action, MIN_LOG_SIZE)
  if (logSize !== undefined && (logSize % PAGE_SIZE !== 0 || logSize > MAX_LOG_SIZE)) {
    throw new InvalidArgumentError(`${action}: logSize must be a multiple of ${PAGE_SIZE} from ${MIN_LOG_SIZE} to ${MAX_LOG_SIZE}, got ${logSize}`)
  }
  const maxSize = optionalInt(o, 'maxSize', action, 1)
  if (maxSize !== undefined && maxSize > MAX_USER_SIZE) {
    throw new InvalidArgumentError(`${action}: maxSize ${maxSize} is larger than the largest region (${MAX_USER_SIZE} bytes)`)
  }
  return { logSize, maxSize }
}

function checkObject(opts: unknown, action: string, known: readonly string[]): Record<string, unknown> {
  if (opts === undefined) return {}
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw new InvalidArgumentError(`${action}: options must be an object such as { ${known[0]}: ... }, got ${describe(opts)}`)
  }
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) throw new InvalidArgumentError(`${action}: unknown option ${JSON.stringify(key)}; known options are ${known.join(', ')}`)
  }
  return opts as Record<string, unknown>
}

function optionalInt(o: Record<string, unknown>, key: string, action: string, min: number): number | undefined {
  const v = o[key]
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new InvalidArgumentError(`${action}: option ${key} must be an integer number of bytes of at least ${min}, got ${describe(v)}`)
  }
  return v
}

function optionalBoolean(o: Record<string, unknown>, key: string, action: string): boolean | undefined {
  const v = o[key]
  if (v === undefined || typeof v === 'boolean') return v
  throw new InvalidArgumentError(`${action}: option ${key} must be true or false, got ${describe(v)}`)
}
