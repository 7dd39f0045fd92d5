/**
 * Argument checks shared by Region and SimRegion, so both reject bad input with the same
 * typed errors and messages.
 */
import { InvalidArgumentError, MisalignedError, OutOfRangeError } from './errors.js'
import { elementSize } from './checked-view.js'
import type { ViewCtor } from './types.js'

/** Page size used for region sizes, growth and flush rounding. */
export const PAGE_SIZE = 4096
/** Sector size of the crash model: the unit that tears (DESIGN.md section 2). */
export const SECTOR_SIZE = 512

const VIEW_CTORS: ReadonlySet<unknown> = new Set<unknown>([
  Uint8Array, Uint16Array, Uint32Array, Int32Array, Float64Array, BigUint64Array, DataView,
])

/** Throws unless `n` is a non-negative safe integer. */
export function checkNonNegInt(what: string, n: unknown, action: string): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError(`${action}: ${what} must be a non-negative integer, got ${describe(n)}`)
  }
}

/**
 * Region's flush arguments: checks `[offset, offset + length)` (defaults: the whole `size`-byte
 * user area) and returns it rounded out to whole pages, `[start, end)`.
 */
export function flushPages(path: string, size: number, action: string, offset: number | undefined, length: number | undefined): [number, number] {
  const named = `${action} region "${path}"`
  const off = offset === undefined ? 0 : offset // null is a wrong value, not "the default"
  checkNonNegInt('offset', off, named)
  const len = length === undefined ? Math.max(0, size - off) : length
  checkNonNegInt('length', len, named)
  checkRange(path, size, off, len, action)
  if (len === 0) return [0, 0]
  return [off - (off % PAGE_SIZE), Math.min(size, roundUp(off + len, PAGE_SIZE))]
}

/** Throws unless `[offset, offset + length)` lies within `[0, size)`. */
export function checkRange(path: string, size: number, offset: number, length: number, action: string): void {
  checkNonNegInt('offset', offset, action)
  checkNonNegInt('length', length, action)
  if (offset + length > size) {
    throw new OutOfRangeError(
      `${action} on region "${path}": range [${offset}, ${offset + length}) is outside the user area of ${size} bytes`)
  }
}

/** Validates the arguments of `region.view` and returns the byte length of the view. */
export function checkViewArgs(path: string, size: number, ctor: unknown, byteOffset: number, length: number): number {
  const action = `Cannot create view on region "${path}"`
  if (!VIEW_CTORS.has(ctor)) {
    throw new InvalidArgumentError(`${action}: unsupported view type ${describe(ctor)}; use Uint8Array, Uint16Array, Uint32Array, Int32Array, Float64Array, BigUint64Array or DataView`)
  }
  checkNonNegInt('byteOffset', byteOffset, action)
  checkNonNegInt('length', length, action)
  const es = elementSize(ctor as ViewCtor)
  if (byteOffset % es !== 0) {
    throw new MisalignedError(`${action}: byteOffset ${byteOffset} is not aligned to ${es} bytes for ${(ctor as { name: string }).name}`)
  }
  checkRange(path, size, byteOffset, length * es, 'Cannot create view')
  return length * es
}

/** Rounds `n` up to a multiple of `unit` (a power of two). */
export function roundUp(n: number, unit: number): number {
  return Math.ceil(n / unit) * unit
}

/** Short printable form of any value for error messages. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'bigint') return `${v}n`
  if (typeof v === 'function') return v.name ? `function ${v.name}` : 'a function'
  if (v === null || typeof v !== 'object') return String(v)
  return Array.isArray(v) ? 'an array' : `an object (${(v as object).constructor?.name ?? 'null prototype'})`
}
