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

/**
 * A Map's or Set's entries changed while a point encoded it (a proxy trap or getter that the
 * snapshot ran added or deleted entries), and again when the point was taken again, full
 * (snapshot.ts inv. 5): the point was not taken (nothing written; the next one is full). The
 * program's code that runs during a point (traps of proxies it made, getters) keeps changing
 * the collection being written.
 */
export class ChangedWhileEncodedError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_CHANGED_WHILE_ENCODED', message) }
}

/** The error of a point that found collection `id`'s entries changed while it encoded them (snapshot.ts inv. 5). */
export function changedWhileEncoded(id: number): ChangedWhileEncodedError {
  return new ChangedWhileEncodedError(`The entries of a Map or Set (object ${id}) changed while a point encoded them: a proxy trap or getter that the point ran added or deleted some`)
}
