/**
 * Orthogonal persistence (SoftPM containers): the public door of src/container.
 */
export { Container, DEFAULT_CHUNK_SIZE } from './container.js'
export type { ContainerOptions, PersistOptions, PointStats, VersionInfo, FallBack } from './container.js'
export type { DroppedEntry } from './dropped.js'
export type { Registrable } from './classes.js'
export { UnknownClassError } from './errors.js'
