/**
 * The container's options, results and their checks (public types of container.ts).
 */
import { InvalidArgumentError, describe } from '../../regions/index.js'
import { ClassRegistry, type Registrable } from './classes.js'

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
  /**
   * Open the existing container read-only: no writer lock (works while another process
   * writes it, and on a read-only file), nothing is ever written; `persist` throws ReadOnlyError.
   */
  readOnly?: boolean
  /**
   * A full point with no free chunks to reuse streams its records to the file while it
   * encodes once this many bytes are encoded (default 2 MiB). Records are handed over in
   * sealed 64 KiB buffers, so a point streams only if it fills one. Crash tests lower it to
   * put streamed points under the simulator.
   */
  streamThreshold?: number
  /**
   * Which mutations each point detects. `'all'` (default): every one, through any reference
   * (objects the program may hold raw are compared at each point: README, "Change
   * detection"). `'barriers'`: only mutations through the container's proxies, to binary
   * data and to Dates read through the container; points cost only what changed, and
   * mutations through raw references (the `init` graph, objects stored, `c.unwrap`) are
   * persisted only by `persist({ full: true })`.
   */
  track?: 'all' | 'barriers'
  /**
   * Which own properties points look at (src/container/README.md, "What persists").
   * 'all' (the default): non-enumerable, symbol-keyed and accessor properties, extensibility
   * and the attributes of non-extensible objects' properties too, each persisted or reported
   * in `dropped`; the attributes of the enumerable properties of extensible objects are not
   * looked at (an enumerable accessor or read-only property there persists as a plain data
   * property holding its value, unreported). 'attributes': those too (one
   * getOwnPropertyDescriptor per property of every object written: several times the cost
   * of a point's encoding). 'enumerable': only own enumerable string-keyed properties (and
   * the entries of Maps and Sets), as before this option existed; the rest is neither
   * persisted nor reported.
   */
  properties?: 'all' | 'attributes' | 'enumerable'
  /**
   * Restore lazily (ZODB's "ghosts", lazy.ts): the open indexes the log and returns the
   * root at once; each object is decoded the first time the program is handed it (as a
   * proxy, or raw with what it reaches). Identity, cycles and change detection are those of a
   * full restore; anything that needs every record (a full point, a compaction, `exclude`,
   * `snapshot`) completes the restore first. Damage in a record decoded later is a
   * CorruptionError at that touch. Ignored for a new container.
   */
  lazy?: boolean
}

/** The options {@link checkOptions} accepts (anything else is a typo and is refused). */
const OPTION_NAMES = new Set(['init', 'version', 'classes', 'keepVersions', 'chunkSize', 'compactFactor', 'readOnly', 'streamThreshold', 'track', 'properties', 'lazy'])

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
  /** Objects the program may hold raw that the point compared with their records (0 for full points; with `track: 'barriers'`, the objects calls of Map and Set subclasses reached raw since the last point). */
  verified: number
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
  if (classes === null || typeof classes !== 'object') throw new InvalidArgumentError(`Container option classes must be an array of classes or an object of name: class, got ${describe(classes)}`)
  if (Array.isArray(classes)) for (const c of classes) reg.add(c)
  else for (const [name, c] of Object.entries(classes)) reg.add(c, name)
}

export function checkRoot<T>(root: T, where: string): T {
  if (typeof root !== 'object' || root === null) throw new InvalidArgumentError(`Cannot create container "${where}": init() must return an object, got ${describe(root)}`)
  return root
}

/** Checks every option (before anything is opened or created: nothing changes on failure). */
export function checkOptions(o: ContainerOptions<object>): void {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new InvalidArgumentError(`Container options must be an object, got ${describe(o)}`)
  for (const k of Object.keys(o)) {
    if (!OPTION_NAMES.has(k)) throw new InvalidArgumentError(`Unknown container option ${JSON.stringify(k)}${k.toLowerCase() === 'readonly' ? ' (did you mean readOnly?)' : ''}; the options are ${[...OPTION_NAMES].join(', ')}`)
  }
  if (o.streamThreshold !== undefined && !(Number.isSafeInteger(o.streamThreshold) && o.streamThreshold >= 0)) throw new InvalidArgumentError(`Container option streamThreshold must be a non-negative integer (bytes), got ${describe(o.streamThreshold)}`)
  if (o.track !== undefined && o.track !== 'all' && o.track !== 'barriers') throw new InvalidArgumentError(`Container option track must be 'all' or 'barriers', got ${describe(o.track)}`)
  if (o.lazy !== undefined && typeof o.lazy !== 'boolean') throw new InvalidArgumentError(`Container option lazy must be a boolean, got ${describe(o.lazy)}`)
  if (o.readOnly !== undefined && typeof o.readOnly !== 'boolean') throw new InvalidArgumentError(`Container option readOnly must be a boolean, got ${describe(o.readOnly)}`)
  if (o.readOnly === true && o.init !== undefined) throw new InvalidArgumentError('Container options readOnly and init do not go together: a read-only open never creates a container')
  if (o.init !== undefined && typeof o.init !== 'function') throw new InvalidArgumentError('Container option init must be a function returning the root object')
  if (o.version !== undefined && (!Number.isSafeInteger(o.version) || o.version < 1)) throw new InvalidArgumentError(`Container option version must be a positive integer, got ${describe(o.version)}`)
  if (o.keepVersions !== undefined && (!Number.isInteger(o.keepVersions) || o.keepVersions < 1 || o.keepVersions > 64)) throw new InvalidArgumentError(`Container option keepVersions must be an integer from 1 to 64, got ${describe(o.keepVersions)}`)
  if (o.chunkSize !== undefined && !(Number.isInteger(o.chunkSize) && o.chunkSize >= 512 && o.chunkSize <= 1 << 24 && (o.chunkSize & (o.chunkSize - 1)) === 0)) {
    throw new InvalidArgumentError(`Container option chunkSize must be a power of two from 512 to 16 MiB, got ${describe(o.chunkSize)}`)
  }
  if (o.properties !== undefined && o.properties !== 'all' && o.properties !== 'attributes' && o.properties !== 'enumerable') throw new InvalidArgumentError(`Container option properties must be 'all', 'attributes' or 'enumerable', got ${describe(o.properties)}`)
  if (o.compactFactor !== undefined && !(typeof o.compactFactor === 'number' && o.compactFactor >= 1.1)) throw new InvalidArgumentError(`Container option compactFactor must be a number >= 1.1, got ${describe(o.compactFactor)}`)
}


/** Checks the argument of `persist` (an options object or nothing). */
export function checkPersistOptions(o: unknown, where: string): PersistOptions {
  if (o === undefined) return {}
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new InvalidArgumentError(`Cannot persist container "${where}": options must be an object such as { full: true }, got ${describe(o)}`)
  for (const k of Object.keys(o)) if (k !== 'full') throw new InvalidArgumentError(`Cannot persist container "${where}": unknown option ${JSON.stringify(k)} (the only option is full)`)
  const full = (o as PersistOptions).full
  if (full !== undefined && typeof full !== 'boolean') throw new InvalidArgumentError(`Cannot persist container "${where}": option full must be a boolean, got ${describe(full)}`)
  return o as PersistOptions
}

/** Checks every option and builds the class registry, before anything is opened (item: nothing created on bad options). */
export function checkAll(o: ContainerOptions<object>): ClassRegistry {
  checkOptions(o)
  const classes = new ClassRegistry()
  registerAll(classes, o.classes)
  return classes
}

/** Checks a container path argument. */
export function checkPath(path: unknown, action: string): void {
  if (typeof path !== 'string' || path === '') throw new InvalidArgumentError(`Cannot ${action} container: path must be a non-empty string, got ${describe(path)}`)
}
