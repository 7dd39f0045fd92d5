/**
 * Container-specific errors. Everything else uses the shared classes of regions/errors.ts
 * (CorruptionError for damaged data, NotARegionError for a file that is not a container,
 * InvalidArgumentError for bad arguments, RegionClosedError after close, BrokenError after a
 * failed point).
 */
import { PmemError } from '../../regions/index.js'

/** A container holds instances of a class that was not registered when it was opened. */
export class UnknownClassError extends PmemError {
  readonly className: string
  constructor(message: string, className: string) {
    super('ERR_PMEM_UNKNOWN_CLASS', message)
    this.className = className
  }
}
