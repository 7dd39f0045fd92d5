/**
 * The mmap binding, typed as it behaves at run time.
 *
 * `@riaskov/mmap-io` is CommonJS and sets `module.exports = mmap`, so an ESM default import
 * yields the binding itself; its typings say `export default`, which TypeScript (nodenext)
 * reads as `module.exports.default`. This file is the one place that reconciles the two.
 * Sizes and offsets cross the binding as C `int`: keep them below 2^31 (header.ts MAX_USER_SIZE).
 */
import binding from '@riaskov/mmap-io'

/** The binding's API: `map`, `sync`, `advise`, `incore` and the PROT_/MAP_/MADV_ constants. */
export type Mmap = typeof binding.default

/** The mmap binding (`map`, `sync`, ...). */
export const mmap: Mmap = binding as unknown as Mmap
