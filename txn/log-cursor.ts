/**
 * The reader's side of the redo log: walks the records a writer published (publish.ts: from
 * `appliedPos` to `committed`, all of one epoch) and replays them into an overlay. It reads
 * the log through the reader's own mapping and writes only JavaScript memory.
 *
 * A published record is complete and immutable until the next truncation (pub. 4), and it
 * validates itself (rec. 1): a record that fails here was either overwritten by a truncation
 * and a new append while it was read (the caller sees `seq` changed and retries) or damaged.
 */
import { decodeAnyRecord, decodeHeader, forEachEntry, RECORD_HEADER, type DecodedRecord } from './record.js'
import { gatherRecord, recordEnd, recordStart } from './redo-log.js'
import type { Overlay } from './overlay.js'

/** Why a walk stopped early: the record at `pos`, expected to be transaction `seq`, did not validate. */
export interface WalkFailure { readonly pos: number; readonly seq: number; readonly why: string }

/** Reads published records out of the log area `[base, base + size)` of a region's bytes. */
export class LogCursor {
  readonly #mem: Uint8Array
  readonly #mem32: Uint32Array
  readonly #base: number
  readonly #size: number
  #scratch = new Uint32Array(1024)

  constructor(mem: Uint8Array, base: number, size: number) {
    this.#mem = mem
    this.#mem32 = new Uint32Array(mem.buffer, mem.byteOffset, mem.byteLength >>> 2)
    this.#base = base
    this.#size = size
  }

  /**
   * Calls `visit` for each record from log position `from` (transaction `firstSeq`) up to
   * position `to`, validated under `seed`; returns the number of records, or a WalkFailure.
   * `visit` gets the record gathered into words valid until the next call.
   */
  walk(from: number, to: number, firstSeq: number, seed: number, visit: (words: Uint32Array, rec: DecodedRecord) => void): number | WalkFailure {
    let pos = from, seq = firstSeq, n = 0
    if (from > to || to > this.#size + RECORD_HEADER) return { pos: from, seq, why: `the published log range [${from}, ${to}) is impossible` }
    while (pos < to) {
      const got = this.#record(pos, seq, seed)
      if (typeof got === 'string') return { pos, seq, why: got }
      visit(this.#scratch, got)
      pos = recordStart(recordEnd(pos, got.byteLength))
      seq++
      n++
    }
    return pos === to ? n : { pos, seq, why: `the records run past the published end ${to}` }
  }

  /** The valid record of `seq` at `pos`, gathered into the scratch words, or why not. */
  #record(pos: number, seq: number, seed: number): DecodedRecord | string {
    if (pos + RECORD_HEADER > this.#size) return 'no room for a record header'
    const h = decodeHeader(this.#mem32, (this.#base + pos) >>> 2, seed)
    if (h === null) return 'its header does not validate'
    if (h.seq !== seq) return `it holds transaction ${h.seq}`
    if (recordEnd(pos, h.byteLength) > this.#size) return `its length ${h.byteLength} runs past the log`
    if (this.#scratch.length * 4 < h.byteLength) this.#scratch = new Uint32Array(Math.max(h.byteLength >>> 2, this.#scratch.length * 2))
    gatherRecord(this.#mem, this.#base + pos, h.byteLength, new Uint8Array(this.#scratch.buffer))
    const rec = decodeAnyRecord(this.#scratch, 0, h.byteLength >>> 2, seed)
    return rec !== null && rec.seq === seq ? rec : 'its body does not validate'
  }
}

/**
 * Replays one record's entries into `overlay` (rec. 2, 3), the pages it does not hold yet
 * copied from `below` or `mem`. Returns a description of the first entry outside
 * `[dataOffset, size)`, or null when every entry was applied.
 */
export function replayInto(overlay: Overlay, below: Overlay | null, mem: Uint8Array, words: Uint32Array, rec: DecodedRecord, dataOffset: number, size: number): string | null {
  const src = new Uint8Array(words.buffer, words.byteOffset, words.byteLength)
  let bad: string | null = null
  forEachEntry(words, rec, (target, len, dataByte) => {
    if (bad !== null) return
    if (target < dataOffset || target + len > size) { bad = `it writes ${len} bytes at ${target}, outside the data area [${dataOffset}, ${size})`; return }
    overlay.write(target, dataByte < 0 ? null : src, dataByte, len, below, mem)
  })
  return bad
}
