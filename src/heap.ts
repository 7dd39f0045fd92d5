/**
 * The persistent heap: a boundary-tag allocator with segregated free lists whose every state
 * change is a transactional write, so allocation and freeing commit or vanish with their
 * transaction and no crash can leak a block or hand one out twice. Freed blocks coalesce
 * with free neighbours, allocations split larger free blocks, and freeing the last block
 * lowers `top`, so the heap holds little more than its live data (format 2; format 1 had
 * fixed size classes, up to 25% internal waste and no coalescing).
 *
 * Heap header, at the start of the data area (H = dataOffset):
 *
 * | offset | size | description                                                        |
 * | -----: | ---: | ------------------------------------------------------------------ |
 * |      0 |    8 | magic "PHEAMP02" (format 2; "PHEAMP01", format 1, is refused)      |
 * |      8 |    8 | top: first byte never handed out (blocks are carved from here)    |
 * |     16 |    8 | varsHead: first named-variable entry (0 = none), see vars.ts       |
 * |     24 |    8 | live: payload bytes of allocated blocks (statistics)               |
 * |     32 |    8 | last: offset of the last block, the one ending at `top` (0 = none) |
 * |     40 |   16 | bin map: bit b set iff free list b is not empty (4 x u32)          |
 * |     56 | 8*NB | free-list heads, one per size bin (0 = empty), NB = 111            |
 * |   1024 |    * | blocks, back to back up to `top`                                   |
 *
 * Bins: one per block size from 32 to 256 bytes (16-byte steps), then four per power of two
 * (256..320, 320..384, ...), the last holding everything from 2^31 + 3 * 2^29 up.
 *
 * Block header (16 bytes; blocks are 16-byte aligned and a multiple of 16 bytes long):
 *
 * | offset | size | description                                                        |
 * | -----: | ---: | ------------------------------------------------------------------ |
 * |      0 |    4 | magic 0x324c4250 ("PBL2")                                          |
 * |      4 |    4 | size of this block in 16-byte units (at least 2), header included |
 * |      8 |    4 | size of the block before it in 16-byte units (0 for the first)     |
 * |     12 |    4 | flags: bit 0 allocated; every other bit 0                          |
 * |     16 |    8 | free blocks only: next block in its bin's list (0 = end)           |
 * |     24 |    8 | free blocks only: previous block in its bin's list (0 = the head)  |
 *
 * An allocated block's payload (from offset 16) is the program's. An allocation aligned above
 * 16 bytes may start inside its block's payload; the 16 bytes before it then hold a forward
 * header: magic 0x4e4c4150 ("PALN"), 0, and the block offset.
 *
 * Invariants (checked by `checkHeap` in heap-check.ts, cited as "heap inv. N"):
 *   1. Blocks tile [H + 1024, top) exactly; each has a valid header whose "size before" is the
 *      size of the block before it (0 for the first), and `last` names the last block (0 when
 *      there is none). The last block is allocated: freeing it lowers `top` instead.
 *   2. No two neighbouring blocks are both free (freeing coalesces at once).
 *   3. A block is in exactly one free list iff it is free, the list of its size's bin; lists
 *      are doubly linked (next's previous is the block, a head's previous is 0), and the bin
 *      map's bit b is set iff list b is not empty.
 *   4. Memory at and above `top` is zero (fresh regions are zero-filled; lowering `top` zeroes
 *      what it gives back), so carved blocks need no zeroing; reused blocks are zeroed in the
 *      allocating transaction. `live` is the payload bytes of the allocated blocks. Kept against
 *      the program's own writes (a raw write by an offset kept after its block was freed) at
 *      every commit: heap-guard.ts, guard inv. G1 (a view of a freed block refuses use at
 *      once: guard inv. G2, view-life.ts).
 *   5. `alloc` and `free` check every header and link they act on before writing anything,
 *      even on a damaged file: a block taken from a list must say "free, of this bin", be
 *      followed by a block that names its size (or be the last), and be linked both ways; a
 *      neighbour merged by `free` must agree on its size with the freed block and be linked
 *      both ways when free; `top` must be zero (inv. 4). Otherwise CorruptionError with
 *      nothing written. (Heap structures carry no checksum: damage that forges consistent
 *      headers and links is beyond what they can see; `check()` walks everything.)
 *   6. `free` accepts only the offset `alloc` returned for an allocated block: the block must
 *      start where the in-memory BlockIndex says a block of the tiling starts (never found
 *      from bytes a program may have written), and the offset be its payload, or for an
 *      aligned allocation an aligned offset inside it with the forward header `alloc` wrote.
 *      The header of a block merged into its neighbour is zeroed, so no stale header remains.
 * Every change goes through the transaction, so a crash leaves the heap as some committed
 * transaction left it: the invariants above are all recovery relies on.
 */
import { CorruptionError, InvalidArgumentError, MAX_USER_SIZE, OutOfSpaceError, UnsupportedVersionError, describe } from '../regions/index.js'
import type { Tx } from '../txn/index.js'
import { BlockIndex } from './block-index.js'
import { linkFree, nextBin, unlinkFree } from './heap-bins.js'
import { Lives } from './view-life.js'
import {
  ALIGN_MAGIC, BLOCK_HEADER, BLOCK_MAGIC, HEAP_HEADER, H_BINS, H_LAST, H_LIVE, H_TOP, H_VARS, MAGIC_HI, MAGIC_HI_V1,
  MAGIC_LO, MAX_BLOCK, MIN_BLOCK, NB, binLow, binOf, rd, wr,
} from './heap-layout.js'

export { HEAP_HEADER, BLOCK_HEADER } from './heap-layout.js'
export { checkHeap, heapBlocks, blockIndex, allocatedCapacity } from './heap-check.js'
export type { HeapReport, BlockTable } from './heap-check.js'

/** First-fit looks at most this many blocks of the exact bin before taking a larger bin. */
const FIRST_FIT_STEPS = 16

/** Allocator over the data area starting at `base`; `grow` may enlarge the region. */
export class Heap {
  readonly base: number
  /** The file's name, for error messages. */
  readonly path: string
  #size: () => number
  #grow: ((minSize: number) => boolean) | null
  #blocks: BlockIndex
  #onAbort: ((undo: () => void) => void) | null
  #first: number
  /** The lives of the allocations views were made of (guard inv. G2, view-life.ts). */
  readonly lives = new Lives()

  /**
   * `size()` gives the current end of the region; `grow(n)` tries to enlarge it to n bytes;
   * `onAbort(undo)` registers `undo` to run if the running transaction aborts (index inv. 1).
   */
  constructor(base: number, size: () => number, grow: ((minSize: number) => boolean) | null, path = 'pool', onAbort: ((undo: () => void) => void) | null = null) {
    this.base = base
    this.path = path
    this.#size = size
    this.#grow = grow
    this.#first = base + HEAP_HEADER
    this.#blocks = new BlockIndex(this.#first)
    this.#onAbort = onAbort
  }

  /** Writes an empty heap header (inside the formatting transaction). */
  format(tx: Tx): void {
    tx.writeU32(this.base, MAGIC_LO)
    tx.writeU32(this.base + 4, MAGIC_HI)
    wr(tx, this.base + H_TOP, this.#first)
  }

  /** True when the header's magic (format 2) is present. */
  isFormatted(tx: Tx): boolean {
    return tx.readU32(this.base) === MAGIC_LO && tx.readU32(this.base + 4) === MAGIC_HI
  }

  /** UnsupportedVersionError when the heap is of format 1 (written before coalescing). */
  refuseOldFormat(tx: Tx, path: string): void {
    if (tx.readU32(this.base) === MAGIC_LO && tx.readU32(this.base + 4) === MAGIC_HI_V1) {
      throw new UnsupportedVersionError(`Cannot open pool "${path}": its heap is of format 1 (persistent-memory 0.1, no coalescing); this version reads format 2. Copy the data out with persistent-memory 0.1 and into a new pool; nothing was changed`)
    }
  }

  get varsHeadOffset(): number { return this.base + H_VARS }

  /** The cheap check run on every open: header fields in range (the full walk is `checkHeap`). */
  verifyHeader(tx: Tx, path: string): void {
    const top = rd(tx, this.base + H_TOP), vars = rd(tx, this.base + H_VARS), last = rd(tx, this.base + H_LAST)
    const end = this.#size()
    const bad = (what: string) => new CorruptionError(`Cannot open pool "${path}": heap header ${what}; run check() for details`)
    if (top < this.#first || top > end || top % 16 !== 0) throw bad(`has an impossible top ${top}`)
    if (vars !== 0 && (vars < this.#first || vars >= top)) throw bad(`points the variable directory outside the heap (${vars})`)
    if ((last === 0) !== (top === this.#first) || (last !== 0 && !this.#inHeap(last, top))) throw bad(`names an impossible last block ${last} (top ${top})`)
    for (let b = 0; b < NB; b++) {
      const head = rd(tx, this.base + H_BINS + 8 * b)
      if (head !== 0 && !this.#inHeap(head, top)) throw bad(`has free list ${b} pointing outside the heap (${head})`)
    }
  }

  /** Allocates `size` zeroed bytes aligned to `align` (a power of two up to 4096). */
  alloc(tx: Tx, size: number, align = 8): number {
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) throw new InvalidArgumentError(`Cannot alloc: size must be a positive integer, got ${describe(size)}`)
    if (typeof align !== 'number' || !Number.isInteger(align) || align < 1 || align > 4096 || (align & (align - 1)) !== 0) {
      throw new InvalidArgumentError(`Cannot alloc: align must be a power of two from 1 to 4096, got ${describe(align)}`)
    }
    const need = Math.max(MIN_BLOCK, Math.ceil((BLOCK_HEADER + size + (align > 16 ? align : 0)) / 16) * 16)
    if (need > MAX_BLOCK) throw new OutOfSpaceError(`Cannot alloc ${size} bytes: larger than the largest block (${MAX_BLOCK} bytes)`)
    const block = this.#take(tx, need) ?? this.#carve(tx, need, size)
    const got = tx.readU32(block + 4) * 16
    wr(tx, this.base + H_LIVE, rd(tx, this.base + H_LIVE) + got - BLOCK_HEADER)
    if (this.#onAbort !== null) this.lives.allocated(tx, block, this.#onAbort) // guard inv. G2
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

  /** Frees the allocation at `offset` (as returned by `alloc`), merging it with free neighbours. */
  free(tx: Tx, offset: number): void {
    const block = this.blockOf(tx, offset)
    if (tx.readU32(block + 12) !== 1) throw new InvalidArgumentError(`Cannot free offset ${offset}: the block is already free (double free)`)
    const top = rd(tx, this.base + H_TOP)
    const units = tx.readU32(block + 4), size = units * 16
    const damaged = (what: string) => new CorruptionError(`Cannot free offset ${offset} in "${this.path}": ${what}; nothing was freed. Run check() and restore the file from a backup`)
    if (units < 2 || block + size > top) throw damaged(`its block header at ${block} has an impossible size ${size}`)
    // Check everything first (heap inv. 5), write afterwards.
    const next = block + size
    let nextFree = false
    if (next < top) {
      if (tx.readU32(next) !== BLOCK_MAGIC || tx.readU32(next + 8) !== units) throw damaged(`the block after it (${next}) does not name its size (heap inv. 1)`)
      nextFree = tx.readU32(next + 12) === 0
      if (nextFree) this.#checkFree(tx, next, top, damaged)
    } else if (rd(tx, this.base + H_LAST) !== block) throw damaged(`it ends at top but the header names ${rd(tx, this.base + H_LAST)} as the last block`)
    const prevUnits = tx.readU32(block + 8)
    const prev = block - prevUnits * 16
    let prevFree = false
    if (prevUnits !== 0) {
      if (prev < this.#first || tx.readU32(prev) !== BLOCK_MAGIC || tx.readU32(prev + 4) !== prevUnits) throw damaged(`the block before it (${prev}) does not have the size its header names (heap inv. 1)`)
      prevFree = tx.readU32(prev + 12) === 0
      if (prevFree) this.#checkFree(tx, prev, top, damaged)
    } else if (block !== this.#first) throw damaged(`its header says it is the first block, but it starts at ${block}`)
    wr(tx, this.base + H_LIVE, rd(tx, this.base + H_LIVE) - (size - BLOCK_HEADER))
    this.lives.freed(tx, block, this.#onAbort) // guard inv. G2: its views die
    let start = block, total = size
    if (nextFree) {
      const nextSize = tx.readU32(next + 4) * 16
      unlinkFree(tx, this.base, next, nextSize)
      this.#absorbed(tx, next)
      total += nextSize
    }
    if (prevFree) {
      unlinkFree(tx, this.base, prev, prevUnits * 16)
      this.#absorbed(tx, block)
      start = prev
      total += prevUnits * 16
    }
    if (start + total === top) this.#lowerTop(tx, start, top)
    else {
      tx.writeU32(start + 4, total / 16)
      tx.writeU32(start + 12, 0)
      tx.writeU32(start + total + 8, total / 16)
      linkFree(tx, this.base, start, total)
    }
  }

  /** The block that holds the allocation at `offset` (heap inv. 6); InvalidArgumentError if there is none. */
  blockOf(tx: Tx, offset: number): number {
    const bad = () => new InvalidArgumentError(`Cannot free offset ${describe(offset)}: it is not the start of an allocation from this heap, or it was freed already (pass the offset tx.alloc returned, once)`)
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset % 16 !== 0 || offset < this.#first + BLOCK_HEADER) throw bad()
    const top = rd(tx, this.base + H_TOP)
    if (offset >= top) throw bad()
    const sizeAt = this.#index(tx, top)
    if (this.#blocks.isStart(offset - BLOCK_HEADER, top, sizeAt)) return offset - BLOCK_HEADER
    // an aligned allocation: alloc wrote a forward header naming this block just before it
    const block = this.#blocks.blockContaining(offset - BLOCK_HEADER, top, sizeAt)
    if (block < 0 || offset >= block + this.#blockSize(tx, block) || !isAlignedPayload(block, offset) ||
      tx.readU32(offset - 16) !== ALIGN_MAGIC) throw bad()
    const named = rd(tx, offset - 8)
    if (named !== block) {
      throw new CorruptionError(`Cannot free offset ${offset} in "${this.path}": its alignment header is damaged (it names ${named}, not the block ${block} that holds it); nothing was freed. Run check() and restore the file from a backup`)
    }
    return block
  }

  /**
   * Guard inv. G2: the start of the allocated block whose payload holds byte `offset`, found
   * in the BlockIndex (never from bytes a program may have written), or -1 when none does (a
   * free block, a block header, the heap header, at or above top).
   */
  allocatedHolding(tx: Tx, offset: number): number {
    const top = rd(tx, this.base + H_TOP)
    if (offset < this.#first + BLOCK_HEADER || offset >= top) return -1
    const block = this.#blocks.blockContaining(offset, top, this.#index(tx, top))
    if (block < 0 || offset < block + BLOCK_HEADER || tx.readU32(block + 12) !== 1) return -1
    return block
  }

  /** Where the payload of the block starting at `block` ends. */
  blockEnd(tx: Tx, block: number): number { return block + tx.readU32(block + 4) * 16 }

  /** Builds the BlockIndex from what `tx` sees if it is not built (index inv. 1); returns its `sizeAt`. */
  #index(tx: Tx, top: number): (at: number) => number {
    const sizeAt = (at: number) => this.#blockSize(tx, at)
    if (!this.#blocks.built) {
      this.#blocks.isStart(this.#first, top, sizeAt) // builds it from what this transaction sees
      if (this.#onAbort !== null) this.#onAbort(() => this.#blocks.reset()) // index inv. 1
    }
    return sizeAt
  }

  /** Payload bytes of allocated blocks. */
  live(tx: Tx): number { return rd(tx, this.base + H_LIVE) }

  /** Size of the block at `at` from its header, or -1 if the header is not a block's. */
  #blockSize(tx: Tx, at: number): number {
    if (tx.readU32(at) !== BLOCK_MAGIC) return -1
    const units = tx.readU32(at + 4)
    return units >= 2 ? units * 16 : -1
  }

  /** Takes a free block of at least `need` bytes from the lists (splitting it), or null (heap inv. 3, 5). */
  #take(tx: Tx, need: number): number | null {
    const top = rd(tx, this.base + H_TOP)
    const damaged = (what: string) => new CorruptionError(`Cannot alloc in "${this.path}": a free list of the heap is damaged (${what}); nothing was allocated. Run check() and restore the file from a backup`)
    const own = binOf(need)
    let block = 0
    for (let b = rd(tx, this.base + H_BINS + 8 * own), steps = 0; b !== 0 && steps < FIRST_FIT_STEPS; steps++) {
      this.#checkFree(tx, b, top, damaged, own)
      if (tx.readU32(b + 4) * 16 >= need) { block = b; break }
      b = rd(tx, b + 16)
    }
    if (block === 0) {
      const bin = nextBin(tx, this.base, own + 1)
      if (bin < 0) return null
      block = rd(tx, this.base + H_BINS + 8 * bin)
      if (block === 0) throw damaged(`the bin map says list ${bin} holds blocks, but it is empty`)
      this.#checkFree(tx, block, top, damaged, bin)
      // the smallest of the first few blocks of that bin: less splitting of large blocks
      let best = tx.readU32(block + 4)
      for (let b = rd(tx, block + 16), steps = 0; b !== 0 && steps < FIRST_FIT_STEPS; steps++, b = rd(tx, b + 16)) {
        this.#checkFree(tx, b, top, damaged, bin)
        const units = tx.readU32(b + 4)
        if (units < best) { best = units; block = b }
      }
    }
    const size = tx.readU32(block + 4) * 16
    unlinkFree(tx, this.base, block, size)
    if (size - need >= MIN_BLOCK) this.#split(tx, block, need, size)
    tx.writeU32(block + 12, 1)
    tx.zero(block + BLOCK_HEADER, tx.readU32(block + 4) * 16 - BLOCK_HEADER) // heap inv. 4
    return block
  }

  /** Cuts the free block `block` (`size` bytes, unlinked) to `need` bytes; the rest becomes a free block. */
  #split(tx: Tx, block: number, need: number, size: number): void {
    const rest = block + need, restSize = size - need
    tx.writeU32(block + 4, need / 16)
    tx.writeU32(rest, BLOCK_MAGIC)
    tx.writeU32(rest + 4, restSize / 16)
    tx.writeU32(rest + 8, need / 16)
    tx.writeU32(rest + 12, 0)
    if (rd(tx, this.base + H_LAST) === block) wr(tx, this.base + H_LAST, rest)
    else tx.writeU32(block + size + 8, restSize / 16)
    linkFree(tx, this.base, rest, restSize)
    this.#changed(rest, true)
  }

  /** Throws (heap inv. 5) unless `b` is a free block inside the heap, linked both ways, in bin `bin` (if given). */
  #checkFree(tx: Tx, b: number, top: number, damaged: (what: string) => Error, bin?: number): void {
    if (!this.#inHeap(b, top)) throw damaged(`block ${b} lies outside the heap`)
    const units = tx.readU32(b + 4), size = units * 16
    if (tx.readU32(b) !== BLOCK_MAGIC || tx.readU32(b + 12) !== 0 || units < 2 || b + size > top) throw damaged(`block ${b} is not a free block`)
    if (bin !== undefined && binOf(size) !== bin) throw damaged(`block ${b} of ${size} bytes is in free list ${bin}, which holds ${binLow(bin)} bytes and up`)
    const end = b + size
    if (end === top ? rd(tx, this.base + H_LAST) !== b : tx.readU32(end) !== BLOCK_MAGIC || tx.readU32(end + 8) !== units) throw damaged(`block ${b} does not end where the next block starts; its size is wrong`)
    const next = rd(tx, b + 16), prev = rd(tx, b + 24)
    if (next !== 0 && (!this.#inHeap(next, top) || rd(tx, next + 24) !== b)) throw damaged(`block ${b} links to ${next}, which does not link back`)
    const headAt = this.base + H_BINS + 8 * binOf(size)
    if (prev === 0 ? rd(tx, headAt) !== b : !this.#inHeap(prev, top) || rd(tx, prev + 16) !== b) throw damaged(`block ${b} is not where its list says it is`)
  }

  /** The header of `b`, merged into the block before it, is zeroed (heap inv. 6). */
  #absorbed(tx: Tx, b: number): void {
    tx.zero(b, BLOCK_HEADER)
    this.#changed(b, false)
  }

  /** The free space [start, top) ends the heap: give it back (heap inv. 1, 4). */
  #lowerTop(tx: Tx, start: number, top: number): void {
    const prevUnits = tx.readU32(start + 8)
    wr(tx, this.base + H_LAST, prevUnits === 0 ? 0 : start - prevUnits * 16)
    wr(tx, this.base + H_TOP, start)
    tx.zero(start, top - start)
    this.#changed(start, false)
  }

  /** A 16-byte aligned offset in [first block, top). */
  #inHeap(block: number, top: number): boolean {
    return block >= this.#first && block < top && block % 16 === 0
  }

  /** Carves a new block of `need` bytes at `top`, after checking that `top` really is the end (heap inv. 4, 5). */
  #carve(tx: Tx, need: number, size: number): number {
    const block = rd(tx, this.base + H_TOP)
    const end = block + need
    const regionEnd = this.#size()
    if (block + BLOCK_HEADER <= regionEnd && (tx.readU32(block) !== 0 || tx.readU32(block + 4) !== 0 || rd(tx, block + 8) !== 0)) {
      throw new CorruptionError(`Cannot alloc in "${this.path}": the heap's top (${block}) is damaged, a block header lies there; nothing was allocated. Run check() and restore the file from a backup`)
    }
    if (end > regionEnd && !(this.#grow !== null && this.#grow(end))) {
      const hint = this.#grow === null ? 'open the file with a larger size, or with maxSize to let it grow' : `the pool would have to grow to ${end} bytes, past its maxSize (at most ${MAX_USER_SIZE} bytes, the largest region): free space, or move data to another pool`
      throw new OutOfSpaceError(`Cannot alloc ${size} bytes: the heap is full (${regionEnd - block} bytes left before the end of the region); ${hint}`)
    }
    const last = rd(tx, this.base + H_LAST)
    if (last === 0 ? block !== this.#first : !this.#inHeap(last, block) || tx.readU32(last) !== BLOCK_MAGIC || last + tx.readU32(last + 4) * 16 !== block) {
      throw new CorruptionError(`Cannot alloc in "${this.path}": the heap's top (${block}) is not where its last block (${last}) ends; nothing was allocated. Run check() and restore the file from a backup`)
    }
    tx.writeU32(block, BLOCK_MAGIC)
    tx.writeU32(block + 4, need / 16)
    tx.writeU32(block + 8, last === 0 ? 0 : tx.readU32(last + 4))
    tx.writeU32(block + 12, 1)
    wr(tx, this.base + H_LAST, block)
    wr(tx, this.base + H_TOP, end)
    this.#changed(block, true)
    return block
  }

  /** Keeps the BlockIndex in step with a staged change of the tiling; an abort drops it (index inv. 1). */
  #changed(at: number, starts: boolean): void {
    if (!this.#blocks.built) return
    if (starts) this.#blocks.set(at)
    else this.#blocks.clear(at)
    if (this.#onAbort !== null) this.#onAbort(() => this.#blocks.reset())
    else this.#blocks.reset()
  }
}

/** True when `p` is where `alloc` puts an allocation aligned to some power of two from 32 to 4096 in `block`. */
function isAlignedPayload(block: number, p: number): boolean {
  for (let a = 32; a <= 4096; a *= 2) if (Math.ceil((block + BLOCK_HEADER) / a) * a === p) return true
  return false
}
