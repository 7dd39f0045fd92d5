/**
 * Publication of the committed state to readers: the reader control block (RCB), a sequence
 * lock in the pool's superblock page that lets any number of readers (other processes,
 * worker threads, read-only opens in this process) read consistent snapshots while one
 * writer commits, without locks and without the writer ever waiting for a reader. The writer
 * side is `Publisher` (used by engine.ts); the reader side is `readControl` (used by
 * reader.ts and snapshot-copy.ts).
 *
 * RCB layout, at user-area offset 64 (the superblock page; the superblock itself is bytes
 * [0, 32), pool.ts). Little-endian 32-bit words; never flushed (it describes the mapping,
 * not the disk: inv. 6):
 *
 * | offset | size | description                                                          |
 * | -----: | ---: | -------------------------------------------------------------------- |
 * |     64 |    4 | magic 0x44524d50 ("PMRD")                                            |
 * |     68 |    4 | version (1)                                                          |
 * |     72 |    4 | seq: the sequence lock; odd while the writer changes the data area in |
 * |        |      | place, or truncates the log (inv. 2)                                 |
 * |     76 |    4 | writer: id of the writer that claimed the block (its lock token's low |
 * |        |      | 32 bits, never 0); bytes 72-79 are one aligned 8-byte word (inv. 3)  |
 * |     80 |    4 | committed: log position (from the log area's start) where the record |
 * |        |      | after the newest published commit starts                             |
 * |     84 |    4 | size: the user area's size in bytes, published after every grow      |
 * |     88 |    4 | epoch: the log's epoch; published records validate under its seed    |
 * |     92 |    4 | appliedPos: log position of the first record not yet applied in place |
 * |     96 |    8 | appliedSeq: seq of the newest record applied in place (lo, hi words) |
 * |    104 |   24 | reserved, zero                                                       |
 *
 * The committed state after the newest published commit C is: the data area as it is in
 * place (the state after transaction `appliedSeq`), with the records from `appliedPos` up to
 * `committed` (transactions appliedSeq + 1 .. C, self-validating, rec. 1) replayed over it.
 *
 * Invariants (cited as "pub. N"):
 *   1. In place, the data area holds exactly the state after transaction `appliedSeq`
 *      whenever `seq` is even; records are applied in seq order (eng. 3), whole
 *      transactions at a time.
 *   2. Every change of the data area in place (a sync commit's writes, a durable overlay,
 *      recovery) and every truncation of the log happens between two increments of `seq`
 *      (odd inside), and `appliedSeq`, `appliedPos` and `epoch` change only there. Appends,
 *      growth and `committed` need no odd window: they change nothing a snapshot reads.
 *   3. A writer's first store to the block, before it changes anything else in the file, is
 *      one 8-byte atomic store of (next odd seq, its id) (`claim`): the seq word changes at
 *      that moment whatever it held (a crashed writer's odd seq included), so a reader that
 *      took a snapshot before can tell. A reader trusts the block only while `writer` is the
 *      id of the live holder of the file's lock (reader.ts); any other block (stale after a
 *      power loss, left by a dead writer, or not yet claimed) is ignored, and the file is
 *      read as recovery would read it, checked against `seq` not changing (reader.ts).
 *   4. Records from `appliedPos` up to `committed` stay in the log, unchanged, until the
 *      next truncation (log inv. 3), and a truncation happens only in an odd window (inv. 2)
 *      after every record was applied in place. `committed` is stored after the record's
 *      bytes (and stamps) and only grows within an epoch.
 *   5. `size` is stored after the region grew (its file holds the new size, Region inv. H2)
 *      and before any record that writes past the old size is published, so a reader that
 *      loads `committed` and then `size` maps enough for every published record.
 *   6. Nothing here is made durable, and no reader writes: after a power loss the block may
 *      hold any earlier content; inv. 3 keeps readers from trusting it, and every writable
 *      open claims it anew.
 *
 * Memory ordering (the argument the invariants need, for x86-64 where this is tested):
 *   - The writer stores with `Atomics.store` (seq_cst: an `xchg` on x86-64, a full barrier)
 *     and the data with plain stores; x86-TSO makes every core see stores in program order,
 *     and V8 never moves a memory access across an Atomics operation (they are effectful
 *     nodes in its effect chain and kill load elimination), so: the odd seq is visible before
 *     any in-place store, the data before the even seq, a record's bytes before `committed`.
 *   - The reader loads with `Atomics.load` (a plain `mov` on x86-64, with the same compiler
 *     ordering); x86-TSO never reorders two loads. A reader loads `seq`, then the block's
 *     words, then data, then `seq` again: if both loads of `seq` give the same even value, no
 *     odd window opened in between, so every data load saw the state the words describe.
 *   - Atomics work on the non-shared ArrayBuffer of a mapping (ECMA-262 allows them there;
 *     they are lock-free single instructions for 4 and 8 bytes, word.ts inv. A1), and two
 *     processes mapping the same file MAP_SHARED share the physical pages, so the above holds
 *     across processes and threads as it does between two threads.
 *   - Elsewhere (arm64): `Atomics.store` is a store-release and `Atomics.load` a load-acquire
 *     there, which order the writer's stores before its even seq and the reader's loads after
 *     its first seq; the remaining two edges need full barriers, which `claim`/`begin` get
 *     from `Atomics.exchange` and the reader from `fence()` (an atomic add on a private
 *     word). Reasoned, not tested: the project runs on x86-64.
 */
import type { RegionLike } from '../regions/index.js'

/** User-area offset of the RCB. */
export const RCB_OFFSET = 64
/** Bytes of the RCB, reserved words included. */
export const RCB_BYTES = 64
const MAGIC = 0x44524d50
export const RCB_VERSION = 1

/** Word indices inside the RCB (see the table). */
export const W_MAGIC = 0, W_VERSION = 1, W_SEQ = 2, W_WRITER = 3, W_COMMITTED = 4, W_SIZE = 5, W_EPOCH = 6, W_APPLIED_POS = 7, W_APPLIED_LO = 8, W_APPLIED_HI = 9

const X86 = process.arch === 'x64' || process.arch === 'ia32'
const fenceWord = new Int32Array(new SharedArrayBuffer(4))

/** A full memory barrier where loads and stores can be reordered (not needed on x86: see the file comment). */
export function fence(): void { if (!X86) Atomics.add(fenceWord, 0, 0) }

/** The RCB words of `bytes` (a region's user area). */
export function controlWords(bytes: Uint8Array): Int32Array {
  return new Int32Array(bytes.buffer, bytes.byteOffset + RCB_OFFSET, RCB_BYTES >>> 2)
}

/** The writer id published for a lock token (its low 32 bits; never 0, which means "unclaimed"). */
export function writerIdOf(token: string): number {
  const id = /^[0-9a-f]{8,}$/i.test(token) ? parseInt(token.slice(-8), 16) | 0 : 0
  return id === 0 ? 1 : id
}

/**
 * Test hook: called inside every odd window, right after it opens ('begin', after `claim`
 * too) and right before it closes ('end'), so that a test can look at (or crash) the file
 * while the data area is being changed. Null outside tests.
 */
export const publishHooks: { inWindow: ((phase: 'begin' | 'end') => void) | null } = { inWindow: null }

/** The writer side: the only code that stores into the RCB (inv. 2-5). */
export class Publisher {
  readonly #region: RegionLike
  readonly writerId: number
  #ctl: Int32Array
  #seq = 0

  constructor(region: RegionLike) {
    this.#region = region
    const token = region.writerToken ?? ''
    this.writerId = writerIdOf(token !== '' ? token : randomToken())
    this.#ctl = controlWords(region.unsafeBytes())
  }

  /** Picks up the region's current mapping (after a grow). */
  refresh(): void { this.#ctl = controlWords(this.#region.unsafeBytes()) }

  /**
   * Inv. 3: makes this writer the block's owner with one 8-byte store of (the next odd seq,
   * its id), then writes the magic and version. Leaves an odd window open: `end()` closes it.
   */
  claim(): void {
    const c = this.#ctl
    const old = Atomics.load(c, W_SEQ)
    this.#seq = (old & 1) === 0 ? (old + 1) | 0 : (old + 2) | 0
    const word = new BigUint64Array(c.buffer, c.byteOffset + W_SEQ * 4, 1)
    Atomics.exchange(word, 0, pairWord(this.#seq, this.writerId))
    Atomics.store(c, W_MAGIC, MAGIC)
    Atomics.store(c, W_VERSION, RCB_VERSION)
    publishHooks.inWindow?.('begin')
  }

  /** Opens an odd window (inv. 2): readers wait, and a snapshot taken before is invalid. */
  begin(): void {
    this.#seq = (this.#seq + 1) | 0
    Atomics.exchange(this.#ctl, W_SEQ, this.#seq)
    publishHooks.inWindow?.('begin')
  }

  /** Closes the odd window. */
  end(): void {
    publishHooks.inWindow?.('end')
    this.#seq = (this.#seq + 1) | 0
    Atomics.store(this.#ctl, W_SEQ, this.#seq)
  }

  /** Inside a window: the data area now holds the state after `seq`; the next record starts at `pos`. */
  applied(seq: number, pos: number): void {
    const c = this.#ctl
    Atomics.store(c, W_APPLIED_POS, pos)
    Atomics.store(c, W_APPLIED_LO, seq >>> 0)
    Atomics.store(c, W_APPLIED_HI, Math.floor(seq / 4294967296))
  }

  /** Inside a window: records now validate under `epoch` (after a truncation). */
  epoch(epoch: number): void { Atomics.store(this.#ctl, W_EPOCH, epoch | 0) }

  /** Publishes the commits whose records end before log position `pos` (inv. 4). */
  committed(pos: number): void { Atomics.store(this.#ctl, W_COMMITTED, pos) }

  /** Publishes the user area's size after a grow (inv. 5). */
  size(bytes: number): void { Atomics.store(this.#ctl, W_SIZE, bytes) }
}

/** The RCB as a reader took it, consistent under one even `seq` (inv. 1, 2). */
export interface Control {
  readonly seq: number
  readonly writer: number
  readonly committed: number
  readonly size: number
  readonly epoch: number
  readonly appliedPos: number
  readonly appliedSeq: number
}

/**
 * Reads the RCB: a consistent `Control`, 'busy' while an odd window is open, 'changed' when
 * `seq` moved while reading (try again), 'unclaimed' when no writer of this format ever
 * claimed it (magic or version wrong). Never throws.
 */
export function readControl(c: Int32Array): Control | 'busy' | 'changed' | 'unclaimed' {
  const seq = Atomics.load(c, W_SEQ)
  if ((seq & 1) !== 0) return 'busy'
  const writer = Atomics.load(c, W_WRITER)
  if (Atomics.load(c, W_MAGIC) !== MAGIC || Atomics.load(c, W_VERSION) !== RCB_VERSION || writer === 0) return 'unclaimed'
  const epoch = Atomics.load(c, W_EPOCH) >>> 0
  const appliedPos = Atomics.load(c, W_APPLIED_POS)
  const appliedSeq = (Atomics.load(c, W_APPLIED_LO) >>> 0) + (Atomics.load(c, W_APPLIED_HI) & 0x1fffff) * 4294967296
  const committed = Atomics.load(c, W_COMMITTED)
  const size = Atomics.load(c, W_SIZE) // after committed (inv. 5)
  fence()
  if (Atomics.load(c, W_SEQ) !== seq) return 'changed'
  return { seq, writer, committed, size, epoch, appliedPos, appliedSeq }
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

/** The 8-byte word whose two 32-bit halves, seen through an Int32Array, are `seq` then `writer`. */
function pairWord(seq: number, writer: number): bigint {
  const lo = BigInt((LITTLE_ENDIAN ? seq : writer) >>> 0), hi = BigInt((LITTLE_ENDIAN ? writer : seq) >>> 0)
  return lo | (hi << 32n)
}

function randomToken(): string {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16).padStart(8, '0')
}
