/**
 * `open(path, options)` and `check(path)`: the file-level entry points of durable
 * transactions. `open` maps (creating if asked) a region file and opens the pool on it;
 * `check` validates a file without changing it (read-only mapping; committed log records
 * are replayed into memory only).
 */
import fs from 'node:fs'
import { Region, PmemError, type RegionOpenOptions } from '../regions/index.js'
import { PersistentMemory, type CheckReport, type PoolOptions } from './pm.js'
import { checkOptions, type CheckOptions } from './reachability.js'
import { checkOpenOptions, checkPoolFits } from './pool-options.js'

/** Options of {@link open}. */
export interface OpenOptions extends PoolOptions {
  /** Size in bytes of the region to create when the file does not exist. */
  size?: number
  /** Open without the writer lock; transactions throw ReadOnlyError. */
  readOnly?: boolean
  /** Create the file if missing (default: when `size` is given). */
  create?: boolean
}

/**
 * Creates (when `size` is given and the file is missing) or opens and recovers the pool in
 * the file at `path`. Options are checked before the disk is touched: an unknown or
 * ill-typed option, or a `size` too small for a pool (with the default or the given
 * `logSize`), is an InvalidArgumentError and no file is created.
 * @example
 * const pm = open('app.pm', { size: 16 << 20 })
 * const count = pm.persistent('count', t.u64)
 * pm.transaction(tx => tx.writeBigU64(count.offset, tx.readBigU64(count.offset) + 1n))
 * pm.close()
 */
export function open(path: string, opts: OpenOptions = {}): PersistentMemory {
  const o = checkOpenOptions(path, opts) // opts inv. 1-2
  const ro: RegionOpenOptions = { readOnly: o.readOnly }
  if (o.size !== undefined) ro.size = o.size
  if (o.create !== undefined) ro.create = o.create
  if (o.size !== undefined && o.create !== false && o.readOnly !== true && !fs.existsSync(path)) {
    checkPoolFits(o.size, o.logSize, `Cannot create pool "${path}"`) // opts inv. 3
  }
  const region = Region.open(path, ro)
  try {
    return PersistentMemory.fromRegion(region, { logSize: o.logSize, maxSize: o.maxSize }, true)
  } catch (err) {
    region.close()
    throw err
  }
}

/**
 * Validates the file at `path` (region header, pool superblock, redo log, heap, variables)
 * without modifying it. Damage is reported in `problems`, not thrown. `{ reachability: true }`
 * also walks the pointer graph from the named variables (see `PersistentMemory.check`); the
 * file only stores a `t.ptr(() => T)` target as `ptr(*)` (untyped), so pass `types` to check
 * such pointers fully.
 * @example
 * const r = check('app.pm', { reachability: true, types: { head: t.ptr(Node) } })
 */
export function check(path: string, opts?: CheckOptions): CheckReport {
  checkOpenOptions(path, undefined) // a bad path is a bad argument, not a damaged file
  const o = checkOptions(opts, `Cannot check "${path}"`)
  let pm: PersistentMemory | undefined
  try {
    pm = open(path, { readOnly: true })
    return pm.check(o)
  } catch (err) {
    if (!(err instanceof PmemError) || err.code === 'ERR_PMEM_NOT_FOUND' || err.code === 'ERR_PMEM_TYPE_MISMATCH') throw err
    return { ok: false, path, problems: [`${err.code}: ${err.message}`], heap: null, variables: [], replayed: 0, collections: [] }
  } finally {
    pm?.close()
  }
}
