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

/**
 * A class hook (classes.ts: `[Container.create]`, `[Container.revive]`) threw or returned
 * something unusable while a container was restored. The file is not damaged: fix the hook.
 */
export class ClassHookError extends PmemError {
  readonly className: string
  constructor(message: string, className: string, options?: { cause?: unknown }) {
    super('ERR_PMEM_CLASS_HOOK', message, options)
    this.className = className
  }
}
