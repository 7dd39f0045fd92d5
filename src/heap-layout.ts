/**
 * The heap's on-disk constants and size bins (the layout itself is the byte table in heap.ts).
 * Shared by the allocator (heap.ts) and the read-only walks (heap-check.ts).
 */
import type { Tx } from '../txn/index.js'

export const HEAP_HEADER = 1024
/** "PHEAMP02" as two little-endian words: heap format 2 (boundary tags, coalescing). */
export const MAGIC_LO = 0x41454850 // "PHEA"
export const MAGIC_HI = 0x3230504d // "MP02"
/** Format 1 ("PHEAMP01": segregated classes, no coalescing), refused with UnsupportedVersionError. */
export const MAGIC_HI_V1 = 0x3130504d
export const BLOCK_MAGIC = 0x324c4250 // "PBL2"
export const ALIGN_MAGIC = 0x4e4c4150 // "PALN"
export const BLOCK_HEADER = 16
/** Smallest block: a header and the two free-list links. */
export const MIN_BLOCK = 32
/** Largest block (its size in 16-byte units must fit the u32 size field; allocations stop well before). */
export const MAX_BLOCK = 2 ** 32

/** Header field offsets (relative to the heap's base). */
export const H_TOP = 8
export const H_VARS = 16
export const H_LIVE = 24
export const H_LAST = 32
export const H_BINMAP = 40
export const H_BINS = 56

/** Bins: one per 16-byte size from 32 to 256, then four per power of two up to 2^31 and above. */
export const EXACT_BINS = 15
export const NB = EXACT_BINS + 24 * 4
if (H_BINS + 8 * NB > HEAP_HEADER) throw new Error('heap header too small for its bins')

/** Bin of a free block of `size` bytes (a multiple of 16, at least 32). */
export function binOf(size: number): number {
  if (size <= 256) return (size >>> 4) - 2
  const e = Math.min(31, Math.floor(Math.log2(size)))
  if (e === 31 && size >= 2 ** 32) return NB - 1
  const m = Math.floor(size / 2 ** (e - 2)) & 3
  return Math.min(NB - 1, EXACT_BINS + (e - 8) * 4 + m)
}

/** Smallest block size bin `b` holds. */
export function binLow(b: number): number {
  if (b < EXACT_BINS) return (b + 2) * 16
  const k = b - EXACT_BINS, e = 8 + (k >>> 2), m = k & 3
  const low = 2 ** e + m * 2 ** (e - 2)
  return low === 256 ? 272 : low
}

/** Reads an 8-byte offset as a number (two 32-bit reads, no BigInt). */
export const rd = (tx: Tx, off: number): number => tx.readU32(off) + tx.readU32(off + 4) * 4294967296
export const wr = (tx: Tx, off: number, v: number): void => tx.writeBigU64(off, BigInt(v))
