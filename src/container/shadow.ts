/**
 * ShadowStore: for every exposed object (one the program may hold raw, verify.ts), the
 * values its current record was encoded from, as JavaScript values (the very strings,
 * numbers and object references the encoder read), so that a point can tell whether the
 * object changed by comparing it with them (`===`, no encoding). Written by the encoder as
 * it encodes an exposed object's record (encode.ts), or captured from the object itself when
 * it becomes exposed unchanged since its record (verify.ts).
 *
 * Layout: values live in chunks (JavaScript arrays of CHUNK slots, or one larger chunk for
 * a slice that does not fit); each id's slice is contiguous in one chunk. `kind[id]` says how
 * the slice is laid out (S_* below, the comparators of verify.ts read them):
 *
 * | kind | slice |
 * | --- | --- |
 * | S_OBJECT | proto, its shape (a ShapeNode) or, for more than 64 keys and class instances with hooks, its keys (an array), one value per key |
 * | S_ARRAY | proto, length, Object.keys count, length elements (HOLE for a hole), then (key, value) per extra property |
 * | S_SPARSE | proto, length, keys (array), one value per key |
 * | S_MAP | proto, size, key, value, ... |
 * | S_SET | proto, size, value, ... |
 * | S_GONE | (empty: the object could not persist; it is compared by kind) |
 * | S_STATEFUL | as S_OBJECT (a class instance with hooks; its saved state is compared through the container's `states`) |
 * | S_NUMS | proto, length, Object.keys count (= length), one Float64Array of the length elements: a dense array of numbers only, no named keys (a segmented array's record, encode-bodies.ts; a live capture of one, verify.ts). One slot, no boxed double per element: the shadow of an array of a million doubles was a million heap numbers, most of the collector's work at each point |
 *
 * Kind 0 means no shadow: nothing to compare (Dates, RegExps and binary data are compared
 * elsewhere), or an exposed object whose record is due at the next point anyway (dirty).
 *
 * Numbers (`pushNumber`, the encoder's values): a number that is not a small integer would
 * be a HeapNumber allocated for the slot (a double read from an object or an array is boxed
 * when stored), about 1.4M of them at the first point of the performance graph, each
 * surviving young-generation collections. Such a number is stored instead in `nums` (a
 * Float64Array, outside the JavaScript heap) and its slot holds NUM; the numbers of a slice
 * lie in `nums` from `numAt[id]` on, in the order of their slots, so a comparator reads them
 * with a cursor (verify-compare.ts). Any slot may also hold a number as a value (captures
 * from a live object, segmented arrays): comparators accept both.
 *
 * Invariants:
 *   S1. A slice is replaced only whole (`end` after `begin`); `live` counts the slots of
 *       current slices, `garbage` those of replaced ones; `compact` rebuilds the chunks.
 *   S2. For every id with a shadow, `nums[numAt[id] + j]` is the number of the j-th NUM slot
 *       of its slice (`numLen[id]` of them); `numLive`/`numGarbage` count them as S1 counts slots.
 *   S3. The slice of a Map or Set holds no NUM: its numbers are values in their slots (the
 *       encoder's `numSlots` is false while it writes entries), so that patch-segments.ts may
 *       copy or overwrite an entry's slots alone and verify-compare.ts `sameEntries` compares
 *       them without a cursor.
 */
import { grownI32, lengthFor, sharedF64, sharedI32, sharedU8 } from './by-id.js'

/** Stands for an array hole in a slice (never a value of the program's graph). */
export const HOLE: object = Object.freeze({ hole: true })
/** Stands for a number kept in `nums` (inv. S2; never a value of the program's graph). */
export const NUM: object = Object.freeze({ num: true })

export const S_OBJECT = 1
export const S_ARRAY = 2
export const S_SPARSE = 3
export const S_MAP = 4
export const S_SET = 5
export const S_GONE = 6
export const S_STATEFUL = 7
export const S_NUMS = 8

const CHUNK = 1 << 16

export class ShadowStore {
  chunks: unknown[][] = []
  chunkOf = sharedI32(1024)     // by-id.ts: shared memory, not counted as V8's external memory
  startOf = sharedI32(1024)
  lenOf = sharedI32(1024)
  kind = sharedU8(1024)
  live = 0
  garbage = 0
  /** Numbers of the slices (inv. S2), and where each id's begin and how many it has. */
  nums = sharedF64(1 << 14)
  numAt = sharedI32(1024)
  numLen = sharedI32(1024)
  numLive = 0
  numGarbage = 0
  #numEnd = 0
  #numBegin = 0
  #cur: unknown[] = []
  #chunk = -1
  #pos = 0
  #begin = 0

  /** Starts the slice of a record at the cursor. */
  begin(): void {
    if (this.#chunk < 0 || this.#pos === this.#cur.length) this.#newChunk(CHUNK)
    this.#begin = this.#pos
    this.#numBegin = this.#numEnd
  }

  /** Appends a value to the slice being written. */
  push(v: unknown): void {
    if (this.#pos === this.#cur.length) this.#overflow()
    this.#cur[this.#pos++] = v
  }

  /**
   * Makes room for `k` more slots in the slice being written: a slice of known size (a large
   * Map or Set) moves at most once, instead of once per doubling as `push` overflows (the
   * shadow of a Map of 200,000 entries moved and cleared about 800,000 slots that way).
   */
  reserve(k: number): void {
    if (this.#pos + k > this.#cur.length) this.#overflow(this.#pos - this.#begin + k)
  }

  /** The Float64Array of `id`'s shadow if it is S_NUMS, else null. */
  numsOf(id: number): Float64Array | null {
    if (id >= this.kind.length || this.kind[id] !== S_NUMS) return null
    return this.chunks[this.chunkOf[id]][this.startOf[id] + 3] as Float64Array
  }

  /**
   * Appends a number: a small integer (a Smi: no allocation) in its slot, any other number
   * in `nums` with NUM in its slot (inv. S2).
   */
  pushNumber(v: number): void {
    if ((v | 0) === v && v <= 0x3fffffff && v >= -0x40000000 && (v !== 0 || 1 / v > 0)) { this.push(v); return }
    if (this.#numEnd === this.nums.length) this.#growNums()
    this.nums[this.#numEnd++] = v
    this.push(NUM)
  }

  /** Slots written to the current slice (for `truncate`). */
  get written(): number { return this.#pos - this.#begin }

  /** Forgets what the current slice holds past its first `n` slots. */
  truncate(n: number): void {
    let nums = 0
    for (let i = this.#begin; i < this.#begin + n; i++) if (this.#cur[i] === NUM) nums++
    this.#numEnd = this.#numBegin + nums
    this.#pos = this.#begin + n
  }

  /** Ends the current slice as the shadow of `id`, laid out as `kind`. */
  end(id: number, kind: number): void {
    this.#room(id)
    this.#drop(id)
    const n = this.#pos - this.#begin
    this.chunkOf[id] = this.#chunk
    this.startOf[id] = this.#begin
    this.lenOf[id] = n
    this.kind[id] = kind
    this.live += n
    const k = this.#numEnd - this.#numBegin
    this.numAt[id] = this.#numBegin
    this.numLen[id] = k
    this.numLive += k
  }

  /** Drops the current slice (its record had nothing to compare). */
  abandon(): void { this.#pos = this.#begin; this.#numEnd = this.#numBegin }

  /** Forgets the shadow of `id`. */
  clear(id: number): void {
    if (id < this.kind.length) this.#drop(id)
  }

  /** Forgets every shadow (a full point captures them again). */
  reset(): void {
    this.chunks = []
    this.#chunk = -1
    this.#cur = []
    this.#pos = this.#begin = 0
    this.kind.fill(0)
    this.lenOf.fill(0)
    this.live = this.garbage = 0
    this.numLen.fill(0)
    this.#numEnd = this.#numBegin = 0
    this.numLive = this.numGarbage = 0
  }

  /** Rebuilds the chunks with the current slices only, when replaced slices outweigh them. */
  compact(): void {
    this.#compactNums()
    if (this.garbage <= this.live + CHUNK) return
    const old = this.chunks
    this.chunks = []
    this.#chunk = -1
    this.#cur = []
    this.#pos = this.#begin = 0
    for (let id = 0; id < this.kind.length; id++) {
      if (this.kind[id] === 0) continue
      const from = old[this.chunkOf[id]], s = this.startOf[id], n = this.lenOf[id]
      this.begin()
      for (let i = 0; i < n; i++) this.push(from[s + i])
      this.chunkOf[id] = this.#chunk
      this.startOf[id] = this.#begin
    }
    this.garbage = 0
  }

  /** Rebuilds `nums` with the current slices' numbers only, when replaced ones outweigh them (inv. S2). */
  #compactNums(): void {
    if (this.numGarbage <= this.numLive + (1 << 14)) return
    const old = this.nums
    const nums = sharedF64(Math.max(1 << 14, 2 * this.numLive))
    let end = 0
    for (let id = 0; id < this.kind.length; id++) {
      const k = this.numLen[id]
      if (this.kind[id] === 0 || k === 0) continue
      nums.set(old.subarray(this.numAt[id], this.numAt[id] + k), end)
      this.numAt[id] = end
      end += k
    }
    this.nums = nums
    this.#numEnd = this.#numBegin = end
    this.numGarbage = 0
  }

  #growNums(): void {
    const b = sharedF64(this.nums.length * 2)
    b.set(this.nums)
    this.nums = b
  }

  #drop(id: number): void {
    if (this.kind[id] === 0) return
    const n = this.lenOf[id]
    this.live -= n
    this.garbage += n
    this.kind[id] = 0
    this.lenOf[id] = 0
    const k = this.numLen[id]
    this.numLive -= k
    this.numGarbage += k
    this.numLen[id] = 0
  }

  #newChunk(size: number): void {
    this.#cur = new Array<unknown>(size)
    this.chunks.push(this.#cur)
    this.#chunk = this.chunks.length - 1
    this.#pos = 0
  }

  /** The slice being written does not fit its chunk: move it to a new one with room to grow (to `need` slots at least). */
  #overflow(need = 0): void {
    const from = this.#cur, b = this.#begin, n = this.#pos - b
    this.#newChunk(Math.max(CHUNK, 2 * n + 16, need))
    for (let i = 0; i < n; i++) this.#cur[i] = from[b + i]
    for (let i = b; i < b + n; i++) from[i] = undefined
    this.#begin = 0
    this.#pos = n
  }

  /**
   * Called for every slice ended: the growth is in `#grow`, so that this check allocates
   * nothing (a closure over `n` here made V8 allocate its context at every call, 50 bytes per
   * slice: 81 MB of garbage at the first point of the performance graph).
   */
  #room(id: number): void {
    if (id >= this.kind.length) this.#grow(lengthFor(this.kind.length, id))
  }

  #grow(n: number): void {
    this.chunkOf = grownI32(this.chunkOf, n)
    this.startOf = grownI32(this.startOf, n)
    this.lenOf = grownI32(this.lenOf, n)
    const kind = sharedU8(n); kind.set(this.kind); this.kind = kind
    this.numAt = grownI32(this.numAt, n)
    this.numLen = grownI32(this.numLen, n)
  }
}
