/**
 * The options of `Region.open`: their checks and defaults, and the path check shared by
 * open, delete and check.
 *
 * Invariant: every option is validated here, before `Region.open` touches the disk, and
 * each bad value is an `InvalidArgumentError` naming the path, the option and the value.
 * Unknown option names are refused too (a misspelt `readonly` must not silently open for
 * writing).
 */
import { InvalidArgumentError } from './errors.js'
import { describe, PAGE_SIZE, roundUp } from './bounds.js'
import { MAX_USER_SIZE } from './header.js'

/** Options of `Region.open`. */
export interface RegionOpenOptions {
  /**
   * User-area size in bytes of a new region, rounded up to a multiple of 4096 (from 1 to
   * 2 GiB - 4 KiB). Only used when the file is created: an existing file keeps its size
   * (see `region.size`; call `grow` to enlarge it).
   */
  size?: number
  /** Map the file read-only, without taking the writer lock. Never creates. Default false. */
  readOnly?: boolean
  /**
   * Create the file when it does not exist. Default: true when `size` is given (and not
   * read-only), else false. `create: true` requires `size`; `create: false` never creates.
   */
  create?: boolean
  /** Fail with `RegionExistsError` when the file already exists (like O_EXCL). Requires creation. Default false. */
  exclusive?: boolean
}

/** `RegionOpenOptions` after checks and defaults. */
export interface ResolvedOpenOptions {
  readonly size: number | undefined
  readonly readOnly: boolean
  readonly create: boolean
  readonly exclusive: boolean
}

const OPTION_KEYS: ReadonlySet<string> = new Set(['size', 'readOnly', 'create', 'exclusive'])

/** Throws unless `path` is a usable file path. */
export function checkPath(path: unknown, action: string): asserts path is string {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw new InvalidArgumentError(`${action}: path must be a non-empty string without NUL characters, got ${describe(path)}`)
  }
}

/** Checks `Region.open` arguments (inv. C4) and applies the defaults documented on `RegionOpenOptions`. */
export function resolveOpenOptions(path: unknown, options: unknown): ResolvedOpenOptions {
  checkPath(path, 'Cannot open region')
  const action = `Cannot open region "${path}"`
  if (options === undefined) options = {}
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`${action}: options must be an object, got ${describe(options)}`)
  }
  const o = options as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (!OPTION_KEYS.has(key)) throw new InvalidArgumentError(`${action}: unknown option ${JSON.stringify(key)}; known options are size, readOnly, create and exclusive`)
  }
  const readOnly = optionalBoolean(o, 'readOnly', action) ?? false
  const exclusive = optionalBoolean(o, 'exclusive', action) ?? false
  const size = optionalSize(o.size, action)
  const create = optionalBoolean(o, 'create', action) ?? (size !== undefined && !readOnly)
  if (readOnly && (create || exclusive)) throw new InvalidArgumentError(`${action}: a read-only open never creates; drop create/exclusive or readOnly`)
  if (create && size === undefined) throw new InvalidArgumentError(`${action}: creating a region needs { size } (bytes of user area)`)
  if (exclusive && !create) throw new InvalidArgumentError(`${action}: { exclusive: true } needs creation: give { size } and do not pass create: false`)
  return { size, readOnly, create, exclusive }
}

function optionalBoolean(o: Record<string, unknown>, key: string, action: string): boolean | undefined {
  const v = o[key]
  if (v === undefined || typeof v === 'boolean') return v
  throw new InvalidArgumentError(`${action}: option ${key} must be a boolean, got ${describe(v)}`)
}

function optionalSize(v: unknown, action: string): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new InvalidArgumentError(`${action}: size must be a positive integer number of bytes, got ${describe(v)}`)
  }
  const rounded = roundUp(v, PAGE_SIZE)
  if (rounded > MAX_USER_SIZE) {
    throw new InvalidArgumentError(`${action}: size ${v} is larger than the maximum region size of ${MAX_USER_SIZE} bytes (2 GiB - 4 KiB, a limit of the mmap binding)`)
  }
  return rounded
}
