/**
 * The persistent heap: a segregated-fit allocator whose every state change is a
 * transactional write, so allocation and freeing commit or vanish with their transaction
 * and no crash can leak a block or hand one out twice.
 *
 * Heap header, at the start of the data area (H = dataOffset):
 *
 * | offset | size | description                                                        |
 * | -----: | ---: | ------------------------------------------------------------------ |
 * |      0 |    8 | magic "PMHEAP01"                                                   |
 * |      8 |    8 | top: first byte never handed out (blocks are carved from here)    |
 * |     16 |    8 | varsHead: first named-variable entry (0 = none), see vars.ts       |
 * |     24 |    8 | live: payload bytes of allocated blocks (statistics)               |
 * |     32 | 8*NC | free-list heads, one per size class (0 = empty)                    |
 * |   1024 |    * | blocks, back to back up to `top`                                   |
 *
 * Block header (16 bytes; blocks are 16-byte aligned, payload follows the header):
 *
 * | offset | size | description                                                        |
 * | -----: | ---: | ------------------------------------------------------------------ |
 * |      0 |    4 | magic 0x4b4c4250 ("PBLK")                                          |
 * |      4 |    4 | size class (bits 0-15), allocated flag (bit 16)                    |
 * |      8 |    8 | free: next block in its class's free list (0 = end); allocated: 0  |
 *
 * An allocation aligned above 16 bytes may start inside its block's payload; the 16 bytes
 * before it then hold a forward header: magic 0x4e4c4150 ("PALN"), 0, and the block offset.
 *
 * Invariants (checked by `checkHeap`, cited as "heap inv. N"):
 *   1. Blocks tile [H + 1024, top) exactly; each has a valid header.
 *   2. A block is in exactly one free list iff its allocated flag is clear, and in the list
 *      of its own class.
 *   3. Memory at and above `top` is zero (fresh regions are zero-filled and only committed
 *      allocations move `top`), so fresh blocks need no zeroing; reused blocks are zeroed
 *      in the allocating transaction.
 *   4. `alloc` never hands out memory that holds live data, even on a damaged file: it pops a
 *      block only if its header says "free, of this class", the next block header (or top)
 *      follows where that class ends, and its link stays in the heap, and carves at `top`
 *      only if the header there is zero (inv. 3); otherwise CorruptionError
 *      before anything is written. (Heap structures carry no checksum: damage that forges a
 *      valid free header is beyond what alloc can see; `check()` walks everything.)
 *   5. An allocated block's link word is 0; an aligned allocation's forward header lies in
 *      the payload of the block it names.
 *   6. `free` accepts only the offset `alloc` returned for an allocated block: the block must
 *      be one of the tiling (found in the in-memory BlockIndex, never from bytes inside the
 *      heap, which a program may have written), and the offset its payload, or for an
 *      aligned allocation an aligned offset inside it with the forward header `alloc` wrote.
 *      (Only a program that writes a forward header into its own block's data can still
 *      free that real, allocated block by a wrong aligned offset; the heap stays consistent.)
 */
import { CorruptionError, InvalidArgumentError, OutOfSpaceError, describe } from '../regions/index.js'
import type { Tx } from '../txn/index.js'
import { BlockIndex } from './block-index.js'

export const HEAP_HEADER = 1024
const MAGIC_LO = 0x41454850 // "PHEA"
const MAGIC_HI = 0x3130504d // "MP01"
const BLOCK_MAGIC = 0x4b4c4250
const ALIGN_MAGIC = 0x4e4c4150
const ALLOCATED = 1 << 16
const BLOCK_HEADER = 16

/** Block sizes: 32, 48, then four classes per power of two from 64 up to 2^32. */
export const CLASS_SIZES: readonly number[] = (() => {
  const s = [32, 48]
  for (let e = 6; e < 32; e++) for (let m = 0; m < 4; m++) s.push(2 ** e + m * 2 ** (e - 2))
  s.push(2 ** 32)
  return s
})()
const NC = CLASS_SIZES.length
if (32 + 8 * NC > HEAP_HEADER) throw new Error('heap header too small for its size classes')

/** Smallest class whose blocks hold `need` bytes. */
function classFor(need: number): number {
  let lo = 0, hi = NC - 1
  while (lo < hi) { const mid = (lo + hi) >>> 1; if (CLASS_SIZES[mid]! >= need) hi = mid; else lo = mid + 1 }
  return lo
}

const rd = (tx: Tx, off: number): number => Number(tx.readBigU64(off))
const wr = (tx: Tx, off: number, v: number): void => tx.writeBigU64(off, BigInt(v))

/** Allocator over the data area starting at `base`; `grow` may enlarge the region. */
export class Heap {
  readonly base: number
  /** The file's name, for error messages. */
  readonly path: string
  #size: () => number
  #grow: ((minSize: number) => boolean) | null
  #blocks: BlockIndex

  /** `size()` gives the current end of the region; `grow(n)` tries to enlarge it to n bytes. */
  constructor(base: number, size: () => number, grow: ((minSize: number) => boolean) | null, path = 'pool') {
    this.base = base
    this.path = path
    this.#size = size
    this.#grow = grow
    this.#blocks = new BlockIndex(base + HEAP_HEADER)
  }

  /** Writes an empty heap header (inside the formatting transaction). */
  format(tx: Tx): void {
    tx.writeU32(this.base, MAGIC_LO)
    tx.writeU32(this.base + 4, MAGIC_HI)
    wr(tx, this.base + 8, this.base + HEAP_HEADER)
  }

  /** True when the header's magic is present. */
  isFormatted(tx: Tx): boolean {
    return tx.readU32(this.base) === MAGIC_LO && tx.readU32(this.base + 4) === MAGIC_HI
  }

  get varsHeadOffset(): number { return this.base + 16 }

  /** The cheap check run on every open: header fields in range (the full walk is `checkHeap`). */
  verifyHeader(tx: Tx, path: string): void {
    const top = rd(tx, this.base + 8), vars = rd(tx, this.base + 16)
    const end = this.#size()
    const bad = (what: string) => new CorruptionError(`Cannot open pool "${path}": heap header ${what}; run check() for details`)
    if (top < this.base + HEAP_HEADER || top > end || top % 16 !== 0) throw bad(`has an impossible top ${top}`)
    if (vars !== 0 && (vars < this.base + HEAP_HEADER || vars >= top)) throw bad(`points the variable directory outside the heap (${vars})`)
    for (let c = 0; c < NC; c++) {
      const head = rd(tx, this.base + 32 + 8 * c)
      if (head !== 0 && (head < this.base + HEAP_HEADER || head >= top || head % 16 !== 0)) throw bad(`has free list ${c} pointing outside the heap (${head})`)
    }
  }

  /** Allocates `size` zeroed bytes aligned to `align` (a power of two up to 4096). */
  alloc(tx: Tx, size: number, align = 8): number {
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) throw new InvalidArgumentError(`Cannot alloc: size must be a positive integer, got ${describe(size)}`)
    if (typeof align !== 'number' || !Number.isInteger(align) || align < 1 || align > 4096 || (align & (align - 1)) !== 0) {
      throw new InvalidArgumentError(`Cannot alloc: align must be a power of two from 1 to 4096, got ${describe(align)}`)
    }
    const need = BLOCK_HEADER + size + (align > 16 ? align : 0)
    if (need > CLASS_SIZES[NC - 1]!) throw new OutOfSpaceError(`Cannot alloc ${size} bytes: larger than the largest block (${CLASS_SIZES[NC - 1]} bytes)`)
    const c = classFor(need)
    const block = this.#popFree(tx, c) ?? this.#carve(tx, c, size)
    tx.writeU32(block + 4, c | ALLOCATED)
    wr(tx, block + 8, 0)
    wr(tx, this.base + 24, rd(tx, this.base + 24) + CLASS_SIZES[c]! - BLOCK_HEADER)
    const payload = block + BLOCK_HEADER
    if (align <= 16) return payload
    const p = Math.ceil(payload / align) * align
    if (p !== payload) {
      tx.writeU32(p - 16, ALIGN_MAGIC)
      tx.writeU32(p - 12, 0)
      wr(tx, p - 8, block)
    }
    return p
  }

  /** Frees the allocation at `offset` (as returned by `alloc`). */
  free(tx: Tx, offset: number): void {
    const block = this.blockOf(tx, offset)
    const word = tx.readU32(block + 4)
    const c = word & 0xffff
    if ((word & ALLOCATED) === 0) throw new InvalidArgumentError(`Cannot free offset ${offset}: the block is already free (double free)`)
    tx.writeU32(block + 4, c)
    const head = this.base + 32 + 8 * c
    wr(tx, block + 8, rd(tx, head))
    wr(tx, head, block)
    wr(tx, this.base + 24, rd(tx, this.base + 24) - (CLASS_SIZES[c]! - BLOCK_HEADER))
  }

  /** The block that holds the allocation at `offset` (heap inv. 6); InvalidArgumentError if there is none. */
  blockOf(tx: Tx, offset: number): number {
    const bad = () => new InvalidArgumentError(`Cannot free offset ${describe(offset)}: it is not the start of an allocation from this heap (pass the offset tx.alloc returned)`)
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset % 16 !== 0 || offset < this.base + HEAP_HEADER + BLOCK_HEADER) throw bad()
    const top = rd(tx, this.base + 8)
    if (offset >= top) throw bad()
    const block = this.#blocks.blockContaining(offset - BLOCK_HEADER, top, at => this.#blockSize(tx, at))
    if (block < 0) throw bad()
    if (offset === block + BLOCK_HEADER) return block
    // an aligned allocation: alloc wrote a forward header naming this block just before it
    if (offset >= block + this.#blockSize(tx, block) || !isAlignedPayload(block, offset) ||
      tx.readU32(offset - 16) !== ALIGN_MAGIC) throw bad()
    const named = rd(tx, offset - 8)
    if (named !== block) {
      throw new CorruptionError(`Cannot free offset ${offset} in "${this.path}": its alignment header is damaged (it names ${named}, not the block ${block} that holds it); nothing was freed. Run check() and restore the file from a backup`)
    }
    return block
  }

  /** Size of the block at `at` from its header, or -1 if the header is not a block's. */
  #blockSize(tx: Tx, at: number): number {
    if (tx.readU32(at) !== BLOCK_MAGIC) return -1
    const c = tx.readU32(at + 4) & 0xffff
    return c < NC ? CLASS_SIZES[c]! : -1
  }

  /** Payload bytes of allocated blocks. */
  live(tx: Tx): number { return rd(tx, this.base + 24) }

  /** Pops the head of free list `c`, after checking that it is a free block of that class (heap inv. 2, 4). */
  #popFree(tx: Tx, c: number): number | null {
    const head = this.base + 32 + 8 * c
    const block = rd(tx, head)
    if (block === 0) return null
    const top = rd(tx, this.base + 8)
    const damaged = (what: string) => new CorruptionError(`Cannot alloc in "${this.path}": free list ${c} of the heap is damaged (${what}); nothing was allocated. Run check() and restore the file from a backup`)
    if (!this.#inHeap(block, top) || block + CLASS_SIZES[c]! > top) throw damaged(`its block ${block} lies outside the heap`)
    const word = tx.readU32(block + 4)
    if (tx.readU32(block) !== BLOCK_MAGIC || word !== c) throw damaged(`block ${block} is not a free block of that class`)
    const end = block + CLASS_SIZES[c]!
    if (end !== top && tx.readU32(end) !== BLOCK_MAGIC) throw damaged(`block ${block} does not end where another block starts; its size class is wrong`)
    const next = rd(tx, block + 8)
    if (next !== 0 && !this.#inHeap(next, top)) throw damaged(`block ${block} links to ${next}, outside the heap`)
    wr(tx, head, next)
    tx.zero(block + BLOCK_HEADER, CLASS_SIZES[c]! - BLOCK_HEADER) // heap inv. 3
    return block
  }

  /** A 16-byte aligned offset in [first block, top). */
  #inHeap(block: number, top: number): boolean {
    return block >= this.base + HEAP_HEADER && block < top && block % 16 === 0
  }

  /** Carves a new block at `top`, after checking that `top` really is the end (heap inv. 3, 4). */
  #carve(tx: Tx, c: number, size: number): number {
    const block = rd(tx, this.base + 8)
    const end = block + CLASS_SIZES[c]!
    const regionEnd = this.#size()
    if (block + BLOCK_HEADER <= regionEnd && (tx.readU32(block) !== 0 || tx.readU32(block + 4) !== 0 || rd(tx, block + 8) !== 0)) {
      throw new CorruptionError(`Cannot alloc in "${this.path}": the heap's top (${block}) is damaged, a block header lies there; nothing was allocated. Run check() and restore the file from a backup`)
    }
    if (end > regionEnd && !(this.#grow !== null && this.#grow(end))) {
      throw new OutOfSpaceError(`Cannot alloc ${size} bytes: the heap is full (${regionEnd - block} bytes left before the end of the region); open the file with a larger size or allow growth`)
    }
    tx.writeU32(block, BLOCK_MAGIC)
    wr(tx, this.base + 8, end)
    this.#blocks.carved(block, CLASS_SIZES[c]!) // heap inv. 6
    return block
  }

}

/** True when `p` is where `alloc` puts an allocation aligned to some power of two from 32 to 4096 in `block`. */
function isAlignedPayload(block: number, p: number): boolean {
  for (let a = 32; a <= 4096; a *= 2) if (Math.ceil((block + BLOCK_HEADER) / a) * a === p) return true
  return false
}

/** Result of `checkHeap`. */
export interface HeapReport { blocks: number; allocated: number; free: number; top: number; live: number; problems: string[] }

/** Validates heap inv. 1-2 through a reader; never throws on damaged data, reports instead. */
export function checkHeap(tx: Tx, base: number, regionSize: number): HeapReport {
  const r: HeapReport = { blocks: 0, allocated: 0, free: 0, top: 0, live: 0, problems: [] }
  try { walkHeap(tx, base, regionSize, r) } catch (err) { r.problems.push(`heap: ${(err as Error).message}`) }
  return r
}

function walkHeap(tx: Tx, base: number, regionSize: number, r: HeapReport): void {
  if (tx.readU32(base) !== MAGIC_LO || tx.readU32(base + 4) !== MAGIC_HI) { r.problems.push('heap header: bad magic'); return }
  const top = rd(tx, base + 8)
  r.top = top
  r.live = rd(tx, base + 24)
  if (top < base + HEAP_HEADER || top > regionSize || top % 16 !== 0) { r.problems.push(`heap header: impossible top ${top}`); return }
  const freeBlocks = new Map<number, number>()
  let liveSum = 0
  for (let b = base + HEAP_HEADER; b < top;) {
    if (tx.readU32(b) !== BLOCK_MAGIC) { r.problems.push(`block at ${b}: bad magic`); return }
    const word = tx.readU32(b + 4), c = word & 0xffff
    if (c >= NC || b + CLASS_SIZES[c]! > top) { r.problems.push(`block at ${b}: bad size class ${c}`); return }
    if (word >>> 17 !== 0) r.problems.push(`block at ${b}: reserved bits of its class word are set (${word >>> 0})`)
    r.blocks++
    if (word & ALLOCATED) {
      r.allocated++
      liveSum += CLASS_SIZES[c]! - BLOCK_HEADER
      if (rd(tx, b + 8) !== 0) r.problems.push(`block at ${b}: allocated, but its link word is ${rd(tx, b + 8)}, not 0 (heap inv. 5)`)
    } else { r.free++; freeBlocks.set(b, c) }
    b += CLASS_SIZES[c]!
  }
  if (liveSum !== r.live) r.problems.push(`heap header: live bytes ${r.live} but allocated blocks hold ${liveSum}`)
  for (let c = 0; c < NC; c++) {
    for (let b = rd(tx, base + 32 + 8 * c), steps = 0; b !== 0; b = rd(tx, b + 8), steps++) {
      if (steps > r.free) { r.problems.push(`free list ${c}: cycle or foreign block`); break }
      if (freeBlocks.get(b) !== c) { r.problems.push(`free list ${c}: block ${b} is not a free block of that class`); break }
      freeBlocks.delete(b)
    }
  }
  if (freeBlocks.size > 0) r.problems.push(`${freeBlocks.size} free block(s) in no free list (leak), first at ${[...freeBlocks.keys()][0]}`)
}

/**
 * Every block of the heap in address order, for walks that classify offsets (reachability):
 * `starts[i]` is block i's header offset, `ends[i]` one past its last byte, `allocated[i]` its
 * flag. Read only; null when the blocks do not tile [H + 1024, top) (checkHeap says why).
 */
export interface BlockTable { readonly base: number; readonly top: number; readonly starts: Float64Array; readonly ends: Float64Array; readonly allocated: Uint8Array }

export function heapBlocks(tx: Tx, base: number, regionSize: number): BlockTable | null {
  if (tx.readU32(base) !== MAGIC_LO || tx.readU32(base + 4) !== MAGIC_HI) return null
  const top = rd(tx, base + 8)
  if (top < base + HEAP_HEADER || top > regionSize || top % 16 !== 0) return null
  const starts: number[] = [], ends: number[] = [], allocated: number[] = []
  for (let b = base + HEAP_HEADER; b < top;) {
    const word = tx.readU32(b + 4), c = word & 0xffff
    if (tx.readU32(b) !== BLOCK_MAGIC || c >= NC || b + CLASS_SIZES[c]! > top) return null
    starts.push(b); ends.push(b + CLASS_SIZES[c]!); allocated.push(word & ALLOCATED ? 1 : 0)
    b += CLASS_SIZES[c]!
  }
  return { base, top, starts: Float64Array.from(starts), ends: Float64Array.from(ends), allocated: Uint8Array.from(allocated) }
}

/** Index of the block of `table` whose bytes hold `offset`, or -1 outside [H + 1024, top). */
export function blockIndex(table: BlockTable, offset: number): number {
  const { starts } = table
  if (!(offset >= table.base + HEAP_HEADER && offset < table.top)) return -1
  let lo = 0, hi = starts.length - 1
  while (lo < hi) { const mid = (lo + hi + 1) >>> 1; if (starts[mid]! <= offset) lo = mid; else hi = mid - 1 }
  return lo
}

/** Bytes an allocation whose block header lies just before `payload` may use, or null when there is no allocated block there. */
export function allocatedCapacity(tx: Tx, base: number, payload: number): number | null {
  const block = payload - BLOCK_HEADER
  if (block < base + HEAP_HEADER || block % 16 !== 0 || payload > rd(tx, base + 8)) return null
  const word = tx.readU32(block + 4), c = word & 0xffff
  if (tx.readU32(block) !== BLOCK_MAGIC || (word & ALLOCATED) === 0 || c >= NC) return null
  return CLASS_SIZES[c]! - BLOCK_HEADER
}

/** Size of a block header: an allocation's payload starts this many bytes after its block. */
export { BLOCK_HEADER }
