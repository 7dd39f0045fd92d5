/**
 * Tx: the handle a transaction function receives. Reads see the committed state (mapping
 * plus overlays, see overlay.ts) with this transaction's own staged writes on top
 * (read-your-writes); writes are staged in the transaction's redo record (record.ts) and
 * touch nothing shared until commit. Every method checks that the transaction is still
 * running, that the range lies in the data area, and that word accesses are aligned.
 * A reader's Tx (a read-only open, reader.ts) also checks, after every load, that the
 * snapshot it reads is still the one it started on (its host's `guard`, rd. 2).
 */
import {
  InvalidArgumentError, MisalignedError, OutOfRangeError, TransactionEndedError, describe,
} from '../regions/index.js'
import { RECORD_HEADER, type RecordBuilder } from './record.js'
import { CHEAP_ENTRIES, OwnWrites } from './own-writes.js'
import { PAGE, PAGE_SHIFT, type Overlay } from './overlay.js'
import { fence } from './publish.js'

/**
 * What a reader's Tx checks after every load (reader.ts, rd. 2): the word `ctl[at]` (the
 * reader control block's seq) still holds `seq`. Otherwise `conflict()` sets `failed` and
 * throws; once failed, every later load throws too.
 */
export interface SnapshotGuard {
  readonly ctl: Int32Array
  readonly at: number
  readonly seq: number
  failed: boolean
  conflict(): never
}

/** Rd. 2: throws unless the snapshot a value was just loaded from is still current. */
function validate(g: SnapshotGuard): void {
  fence()
  if (g.failed || Atomics.load(g.ctl, g.at) !== g.seq) g.conflict()
}

/** What a Tx needs from its engine: the committed state it reads. */
export interface TxHost {
  readonly path: string
  readonly dataOffset: number
  /** Current size of the user area (the data area ends here). */
  readonly size: number
  mem: Uint8Array
  memF64: Float64Array
  mem32: Uint32Array
  top: Overlay | null
  sealed: Overlay | null
  /** A reader's snapshot guard (reader.ts), checked after every load; absent or null for the writer's own reads. */
  readonly guard?: SnapshotGuard | null
}

const U64 = (1n << 64n) - 1n
/** Entries staged before reads of the transaction's own writes go through the own-write index (a short record is scanned faster). */
const CACHE_AFTER = 16
/** The 32-bit view of the last buffer readInto copied words into (callers reuse their buffers). */
let lastOut: Uint8Array = new Uint8Array(0)
let lastOut32: Uint32Array = new Uint32Array(0)
function wordsOfOut(out: Uint8Array): Uint32Array {
  if (out !== lastOut || lastOut32.length !== out.length >>> 2) {
    lastOut = out
    lastOut32 = new Uint32Array(out.buffer, out.byteOffset, out.length >>> 2)
  }
  return lastOut32
}
const scratch = new Uint8Array(8)
const scratchDv = new DataView(scratch.buffer)

/** A running transaction; see the file comment. */
export class Tx {
  #host: TxHost
  #b: RecordBuilder | null
  #guard: SnapshotGuard | null
  #active = true
  /** This transaction's staged writes by page (own-writes.ts), made on the first read that needs it. */
  #own: OwnWrites | null = null

  /** @internal Created by the engine; `builder` is null for a read-only snapshot reader. */
  constructor(host: TxHost, builder: RecordBuilder | null) {
    this.#host = host
    this.#b = builder
    this.#guard = host.guard ?? null
  }

  /** True until the transaction commits or aborts. */
  get active(): boolean { return this.#active }
  /** @internal */
  end(): void { this.#active = false }
  /**
   * @internal Bytes of redo log this transaction may still stage before a write is
   * TransactionTooLargeError (record.ts `room`); Infinity for a reader. src/view.ts inv. V2
   * runs a struct write in a sub-transaction when it might not fit.
   */
  logRoom(): number { return this.#b === null ? Infinity : this.#b.room }
  /**
   * @internal Calls `fn(target, length)` for every staged write that is not a zero fill and
   * ends past `limit`, oldest first; returns at once (one comparison) when no staged byte lies
   * at or past `limit`. Layer 3 checks its heap's top with it at commit (src/heap-guard.ts).
   */
  stagedPast(limit: number, fn: (target: number, length: number) => void): void {
    const b = this.#b
    if (b === null || b.hi < limit) return
    for (let p = RECORD_HEADER; p < b.length; p = b.next(p)) {
      const t = b.target(p), l = b.len(p)
      if (t + l > limit && b.data(p) >= 0) fn(t, l)
    }
  }
  /** @internal The highest byte offset this transaction staged a write to (-1 when none): `stagedPast`'s quick answer. */
  stagedHi(): number { return this.#b === null ? -1 : this.#b.hi }
  /** @internal A reader Tx reused by `TxEngine.readReused` (never one with a builder). */
  reopen(): void { if (this.#b === null) this.#active = true }

  readU8(offset: number): number {
    this.#check(offset, 1, 1, 'read')
    const v = this.#read(offset, 1) ? scratch[0]! : this.#host.mem[offset]!
    if (this.#guard !== null) validate(this.#guard)
    return v
  }
  readU32(offset: number): number { return this.#read32(offset) }
  readI32(offset: number): number { return this.#read32(offset) | 0 }

  readF64(offset: number): number {
    this.#check(offset, 8, 8, 'read')
    const v = this.#read(offset, 8) ? scratchDv.getFloat64(0, true) : this.#host.memF64[offset >>> 3]!
    if (this.#guard !== null) validate(this.#guard)
    return v
  }

  readBigU64(offset: number): bigint {
    this.#check(offset, 8, 8, 'read')
    let lo: number, hi: number
    if (this.#read(offset, 8)) { lo = scratchDv.getUint32(0, true); hi = scratchDv.getUint32(4, true) }
    else { const m = this.#host.mem32, w = offset >>> 2; lo = m[w]!; hi = m[w + 1]! }
    if (this.#guard !== null) validate(this.#guard)
    return BigInt(lo) | (BigInt(hi) << 32n)
  }

  /** A copy of `length` bytes at `offset` as this transaction sees them. */
  readBytes(offset: number, length: number): Uint8Array {
    checkLength(length, 'readBytes')
    this.#check(offset, length, 1, 'read')
    const out = new Uint8Array(length)
    this.#compose(offset, length, out)
    if (this.#guard !== null) validate(this.#guard)
    return out
  }

  /**
   * Copies the `out.length` bytes at `offset`, as this transaction sees them, into `out` and
   * returns it: `readBytes` without allocating (typed arrays over 64 bytes are slow to make).
   */
  readInto(offset: number, out: Uint8Array): Uint8Array {
    // the buffer of the previous call (callers reuse theirs) was checked then
    if (out !== lastOut && !(out instanceof Uint8Array)) throw new InvalidArgumentError(`Cannot readInto: out must be a Uint8Array, got ${describe(out)}`)
    const len = out.length
    this.#check(offset, len, 1, 'read')
    const h = this.#host, b = this.#b
    if (h.top === null && h.sealed === null && (b === null || offset > b.hi || offset + len - 1 < b.lo)) {
      // the fast path: nothing staged or overlaid here; aligned ranges copy by 32-bit words
      // (a byte loop over the mapping is several times slower, a subarray allocates)
      if (len <= 1024 && ((offset | len | out.byteOffset) & 3) === 0) {
        const o32 = wordsOfOut(out), m32 = h.mem32, w = offset >>> 2
        for (let i = 0, n = len >>> 2; i < n; i++) o32[i] = m32[w + i]!
      } else out.set(h.mem.subarray(offset, offset + len))
      if (this.#guard !== null) validate(this.#guard) // rd. 2: the copy is of the snapshot's state
      return out
    }
    this.#compose(offset, len, out)
    if (this.#guard !== null) validate(this.#guard)
    return out
  }

  writeU8(offset: number, value: number): void {
    this.#check(offset, 1, 1, 'write')
    checkInt(value, 0, 0xff, 'writeU8')
    const b = this.#b!, prev = b.length, pos = b.entry(offset, 1) // entry() first: it may replace b.buf
    b.buf[pos] = value
    this.#staged(prev)
  }

  writeU32(offset: number, value: number): void {
    this.#check(offset, 4, 4, 'write')
    checkInt(value, 0, 0xffffffff, 'writeU32')
    const b = this.#b!, prev = b.length, pos = b.entry(offset, 4) // entry() first: it may replace b.words
    b.words[pos >>> 2] = value
    this.#staged(prev)
  }

  writeI32(offset: number, value: number): void {
    this.#check(offset, 4, 4, 'write')
    checkInt(value, -0x80000000, 0x7fffffff, 'writeI32')
    const b = this.#b!, prev = b.length, pos = b.entry(offset, 4) // entry() first: it may replace b.words
    b.words[pos >>> 2] = value >>> 0
    this.#staged(prev)
  }

  writeF64(offset: number, value: number): void {
    this.#check(offset, 8, 8, 'write')
    if (typeof value !== 'number') throw new InvalidArgumentError(`Cannot writeF64: value must be a number, got ${describe(value)}`)
    const b = this.#b!, prev = b.length, pos = b.entry(offset, 8) // entry() first: it may replace b.f64
    b.f64[pos >>> 3] = value
    this.#staged(prev)
  }

  writeBigU64(offset: number, value: bigint): void {
    this.#check(offset, 8, 8, 'write')
    if (typeof value !== 'bigint' || value < 0n || value > U64) {
      throw new InvalidArgumentError(`Cannot writeBigU64: value must be a bigint in [0, 2^64), got ${describe(value)}`)
    }
    const b = this.#b!, prev = b.length
    const pos = b.entry(offset, 8), w = pos >>> 2
    b.words[w] = Number(value & 0xffffffffn)
    b.words[w + 1] = Number(value >> 32n)
    this.#staged(prev)
  }

  writeBytes(offset: number, data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentError(`Cannot writeBytes: data must be a Uint8Array, got ${describe(data)}`)
    this.#check(offset, data.length, 1, 'write')
    if (data.length === 0) return
    const b = this.#b!, prev = b.length
    const pos = b.entry(offset, data.length)
    b.buf.set(data, pos)
    this.#staged(prev)
  }

  /** Sets `length` bytes at `offset` to zero (logged compactly, without the zeros). */
  zero(offset: number, length: number): void {
    checkLength(length, 'zero')
    this.#check(offset, length, 1, 'write')
    if (length === 0) return
    const b = this.#b!, prev = b.length
    b.entry(offset, length, true)
    this.#staged(prev)
  }

  #read32(offset: number): number {
    this.#check(offset, 4, 4, 'read')
    const v = this.#read(offset, 4) ? scratchDv.getUint32(0, true) : this.#host.mem32[offset >>> 2]!
    if (this.#guard !== null) validate(this.#guard)
    return v
  }

  /**
   * Fast path test: false when the bytes can be read straight from the mapping (no overlay
   * page, no own write overlapping); otherwise composes them into `scratch` and returns true.
   */
  #read(offset: number, len: number): boolean {
    const h = this.#host, b = this.#b
    const own = b !== null && offset <= b.hi && offset + len - 1 >= b.lo
    if (!own && h.top === null && h.sealed === null) return false
    this.#compose(offset, len, scratch)
    return true
  }

  /**
   * Called after every write staged; `prev` is the record length before it (the new entry's
   * position). A write starting below what the own-write index covers means entries were
   * dropped (a sub-transaction rolled back): the index forgets them first (ow. 2).
   */
  #staged(prev: number): void {
    const own = this.#own
    if (own !== null && prev < own.length) own.truncate(prev)
  }

  /**
   * Copies `[offset, offset + len)` as this transaction sees it into `out`, the transaction's
   * own writes found by page (own-writes.ts), so a read costs the entries on its pages, not
   * O(writes): pages without own writes are read straight, the others from a page cache.
   */
  #fromOwn(b: RecordBuilder, offset: number, len: number, out: Uint8Array): void {
    const own = this.#own ??= new OwnWrites()
    own.sync(b)
    const h = this.#host
    for (let done = 0; done < len;) {
      const at = offset + done, page = at >>> PAGE_SHIFT, inPage = at & (PAGE - 1), n = Math.min(len - done, PAGE - inPage)
      if (!own.touches(page)) { this.#committed(at, n, out, done); done += n; continue }
      let src = own.cached(page)
      if (src === undefined) {
        const base = h.top?.pages.get(page) ?? h.sealed?.pages.get(page) ?? h.mem.subarray(page << PAGE_SHIFT, (page + 1) << PAGE_SHIFT)
        if (own.entriesOn(page) <= CHEAP_ENTRIES) { own.readInto(b, page, base, at, n, out, done); done += n; continue } // ow. 3
        if (base.length === PAGE) src = own.page(b, page, base)
        else { src = base.slice(); own.applyTo(b, page, src) } // the last page of a region that is not page-sized: not cached
      }
      if (n <= 8) for (let k = 0; k < n; k++) out[done + k] = src[inPage + k]!
      else out.set(src.subarray(inPage, inPage + n), done)
      done += n
    }
  }

  /** Copies the committed bytes `[at, at + n)`, inside one page (the newest overlay's copy of it, or the mapping), into `out` at `to`. */
  #committed(at: number, n: number, out: Uint8Array, to: number): void {
    const h = this.#host, page = at >>> PAGE_SHIFT, inPage = at & (PAGE - 1)
    const src = h.top?.pages.get(page) ?? h.sealed?.pages.get(page)
    if (n <= 8) { // a word (every scalar read beside an overlay): no subarray to allocate
      if (src !== undefined) for (let i = 0; i < n; i++) out[to + i] = src[inPage + i]!
      else for (let i = 0; i < n; i++) out[to + i] = h.mem[at + i]!
    } else if (src !== undefined) out.set(src.subarray(inPage, inPage + n), to)
    else out.set(h.mem.subarray(at, at + n), to)
  }

  /** Writes into `out` the bytes `[offset, offset + len)` as this transaction sees them. */
  #compose(offset: number, len: number, out: Uint8Array): void {
    const b0 = this.#b
    if (b0 !== null && b0.entryCount > CACHE_AFTER && offset <= b0.hi && offset + len - 1 >= b0.lo) { this.#fromOwn(b0, offset, len, out); return }
    for (let done = 0; done < len;) {
      const at = offset + done, n = Math.min(len - done, PAGE - (at & (PAGE - 1)))
      this.#committed(at, n, out, done)
      done += n
    }
    const b = this.#b
    if (b === null || offset > b.hi || offset + len - 1 < b.lo) return
    for (let p = RECORD_HEADER; p < b.length; p = b.next(p)) b.applyTo(p, offset, offset + len, out, offset)
  }

  #check(offset: number, len: number, align: number, op: 'read' | 'write'): void {
    if (!this.#active) throw new TransactionEndedError(`Cannot ${op}: the transaction has already ended; use the tx only inside its transaction function`)
    if (op === 'write' && this.#b === null) throw new TransactionEndedError(`Cannot write: this is a read-only view of committed state`)
    const h = this.#host
    if (typeof offset !== 'number' || !Number.isInteger(offset) || !(offset >= h.dataOffset) || offset + len > h.size ||
      !Number.isInteger(len) || len < 0) {
      throw new OutOfRangeError(`Cannot ${op} ${len} bytes at offset ${describe(offset)} in "${h.path}": the data area is [${h.dataOffset}, ${h.size})`)
    }
    if ((offset & (align - 1)) !== 0) {
      throw new MisalignedError(`Cannot ${op} a ${align}-byte word at offset ${offset} in "${h.path}": it must be ${align}-byte aligned`)
    }
  }
}

/** A byte count must be a non-negative integer number (a bigint or Symbol would make `#check` throw a TypeError). */
function checkLength(length: unknown, what: string): void {
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
    throw new InvalidArgumentError(`Cannot ${what}: length must be a non-negative integer, got ${describe(length)}`)
  }
}

function checkInt(v: number, min: number, max: number, what: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(`Cannot ${what}: value must be an integer in [${min}, ${max}], got ${describe(v)}`)
  }
}
