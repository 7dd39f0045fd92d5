/**
 * Layer 1 door: persistent regions. Layers above import from here only.
 */
export * from './errors.js'
export * from './store-errors.js'
export type { RegionLike, RegionStream, ViewCtor } from './types.js'
export { SimRegion, mulberry32 } from './sim-region.js'
export type { FlushInfo, SimRegionOptions } from './sim-region.js'
export { PAGE_SIZE, SECTOR_SIZE, describe, checkRange, checkNonNegInt, roundUp } from './bounds.js'
export { crc32c, crc32cUpdate } from './checksum.js'
export { isSpaceErrno } from './file-io.js'
export { Region } from './region.js'
export type { RegionOpenOptions } from './region.js'
export { decodeHeader, encodeHeader, HEADER_SIZE, HEADER_STRUCT_SIZE, MAX_USER_SIZE, FORMAT_VERSION } from './header.js'
export type { RegionHeader } from './header.js'
