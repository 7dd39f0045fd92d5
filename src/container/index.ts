/**
 * Orthogonal persistence (SoftPM containers): the public door of src/container.
 */
export { Container } from './container.js'
export type { ContainerCheck } from './container.js'
export { DEFAULT_CHUNK_SIZE } from './options.js'
export type { ContainerOptions, PersistOptions, PointStats, VersionInfo, FallBack } from './options.js'
export type { DroppedEntry } from './dropped.js'
export type { Registrable } from './classes.js'
export { ChangedWhileEncodedError, ClassHookError, UnknownClassError } from './errors.js'
export { listVersions } from './restore.js'
export { checkHosted } from './check.js'
