/**
 * The container's options, results and their checks (public types of container.ts).
 */
import { InvalidArgumentError } from '../../regions/index.js'
import type { ClassRegistry, Registrable } from './classes.js'

/** Chunk size of new containers (chosen by measurement: see README, "Chunk size"). */
export const DEFAULT_CHUNK_SIZE = 4096

/** Options of {@link Container.open}. */
export interface ContainerOptions<T extends object> {
  /** Builds the root of a new container (pCAlloc). Required when the file does not exist. */
  init?: () => T
  /** Restore this retained version instead of the newest (see {@link Container.versions}). */
  version?: number
  /** Classes whose instances persist (their prototype comes back on restore). */
  classes?: Registrable[] | Record<string, Registrable>
  /** Versions kept restorable, 1 to 64 (default 3). Fixed when the container is created. */
  keepVersions?: number
  /** Chunk size in bytes of a new container, a power of two from 512 (default 4 KiB, chosen by measurement). */
  chunkSize?: number
  /** Compact the log when it grows past this factor of its size after the last compaction (default 2). */
  compactFactor?: number
}

/** Options of {@link Container.persist}. */
export interface PersistOptions {
  /** Re-walk and rewrite the whole graph (needed after mutations through raw references). */
  full?: boolean
}

/** What a persistence point did (the value its promise resolves with). */
export interface PointStats {
  /** Version number of the committed point. */
  version: number
  /** Objects whose records the point wrote. */
  objects: number
  /** Bytes of records the point wrote (the whole log for full and compacting points). */
  bytes: number
  /** Bytes the chunk store wrote for it (whole chunks copied on write, chunk map, metadata). */
  stored: number
  /** Milliseconds the program was blocked (the snapshot). */
  blockedMs: number
  /** Milliseconds from the call to durability. */
  totalMs: number
  /** True if the point rewrote the whole graph (first point, `full`, restored older version). */
  full: boolean
  /** True if the point compacted the log (dropped superseded and unreachable records). */
  compacted: boolean
}

/** One retained version, as {@link Container.versions} lists it. */
export interface VersionInfo {
  version: number
  /** When the point was taken. */
  time: Date
  /** Current object records in this version. */
  objects: number
  /** Size of the version's log in bytes. */
  bytes: number
  /** Bytes this point wrote. */
  written: number
}

/** Where the container was restored from when the newest version was damaged. */
export interface FallBack { from: number; to: number; reason: string }


export function registerAll(reg: ClassRegistry, classes: ContainerOptions<object>['classes']): void {
  if (classes === undefined) return
  if (Array.isArray(classes)) for (const c of classes) reg.add(c)
  else for (const [name, c] of Object.entries(classes)) reg.add(c, name)
}

export function checkRoot<T>(root: T, where: string): T {
  if (typeof root !== 'object' || root === null) throw new InvalidArgumentError(`Cannot create container "${where}": init() must return an object, got ${String(root)}`)
  return root
}

export function checkOptions(o: ContainerOptions<object>): void {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError(`Container options must be an object, got ${String(o)}`)
  if (o.init !== undefined && typeof o.init !== 'function') throw new InvalidArgumentError('Container option init must be a function returning the root object')
  if (o.version !== undefined && (!Number.isSafeInteger(o.version) || o.version < 1)) throw new InvalidArgumentError(`Container option version must be a positive integer, got ${String(o.version)}`)
  if (o.keepVersions !== undefined && (!Number.isInteger(o.keepVersions) || o.keepVersions < 1 || o.keepVersions > 64)) throw new InvalidArgumentError(`Container option keepVersions must be an integer from 1 to 64, got ${String(o.keepVersions)}`)
  if (o.chunkSize !== undefined && !(Number.isInteger(o.chunkSize) && o.chunkSize >= 512 && o.chunkSize <= 1 << 24 && (o.chunkSize & (o.chunkSize - 1)) === 0)) {
    throw new InvalidArgumentError(`Container option chunkSize must be a power of two from 512 to 16 MiB, got ${String(o.chunkSize)}`)
  }
  if (o.compactFactor !== undefined && !(typeof o.compactFactor === 'number' && o.compactFactor >= 1.1)) throw new InvalidArgumentError(`Container option compactFactor must be a number >= 1.1, got ${String(o.compactFactor)}`)
}

