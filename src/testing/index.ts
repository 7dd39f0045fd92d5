/**
 * `persistent-memory/testing`: prove in a few lines, inside your own test suite, that your
 * persistent data structures recover correctly after any crash the model allows.
 */
export { crashTest, CrashTestError } from './crash-test.js'
export type { CrashTestSpec } from './crash-test.js'
export { findUnloggedStores } from './sanitizer.js'
export type { UnloggedStore } from './sanitizer.js'
export { containerCrashTest } from './container-crash-test.js'
export type { ContainerCrashTestSpec } from './container-crash-test.js'
export { snapshotGraph, graphDifference } from './graph.js'
export { SimRegion } from '../../regions/index.js'
