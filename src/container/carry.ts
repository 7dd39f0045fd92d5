/**
 * The records of the points lost since the last commit (write.ts inv. 4c), kept to be
 * written before the next point's own: a lost incremental point's batch is exactly what it
 * would have appended to the log, and every later snapshot builds on it (its ids, shapes,
 * classes, PATCH parts, binary CHUNK records, the verifier's shadows: all were updated as
 * if it had been written). Writing the kept batches, in the order their points were taken,
 * then the next point's batch, gives the log those points would have made had each
 * committed, so the retry after a full disk costs about the lost points' size, not the
 * graph's (before session 14 the next point was full: on a file it needed room for the
 * whole log beside the last version).
 *
 * States (kept in `#batch`):
 *   empty   (null) --keep(append point)--> holding --keep--> holding (the batches, in order)
 *   holding --drop (a commit, or a lost point that cannot be kept)--> empty
 * Only an incremental ('append') point that was not streamed is kept, and only while what
 * is kept stays within the last committed log's size (`keep`): a lost full point or
 * compaction needs room for a whole log anyway, so the next point is full (lifecycle.ts
 * `needFull`) and whatever was kept is dropped. A full point (`persist({ full: true })`)
 * writes the graph alone and drops what was kept: the way out when the program made room by
 * dropping data (an append never makes the log smaller). The buffers kept are the batches' own (a
 * point's encoder is not used again once its snapshot returned), so they cost memory until
 * a point commits: what the program changed while the disk was full.
 */
import type { Batch } from './encode.js'
import type { Snapshot } from './snapshot.js'

/** The records kept may always reach this size (a small log's points are kept too). */
export const KEEP_MIN = 1 << 20

export class LostRecords {
  /** The lost points' records, joined in the order the points were taken; null when none. */
  #batch: Batch | null = null
  /** Some kept batch holds ERROR or BOXED records (write.ts inv. F6). */
  natives = false
  /** Some kept batch holds records of segmented dictionaries (write.ts inv. F6: format 7). */
  dicts = false
  /** Points whose records are kept. */
  points = 0

  /** Bytes kept. */
  get length(): number { return this.#batch?.length ?? 0 }

  /**
   * Keeps the records of lost point `s` if it was an incremental point not streamed and the
   * records kept stay within `limit` bytes (the last committed log's size, at least
   * KEEP_MIN: beyond it a full point is about as large, and a program persisting a hot
   * object again and again on a full disk would pile up copies of it in memory); false, and
   * nothing is kept, otherwise (the next point is full).
   */
  keep(s: Snapshot, limit: number): boolean {
    if (s.mode !== 'append' || s.pipe !== null || this.length + s.batch.length > Math.max(limit, KEEP_MIN)) { this.drop(); return false }
    this.#batch = this.#batch === null ? s.batch : joined(this.#batch, s.batch)
    this.natives ||= s.natives
    this.dicts ||= s.dicts
    this.points++
    return true
  }

  /** The records to write for point `s`: the kept ones then its own (a full point's alone: it rewrites everything). */
  before(s: Snapshot): Batch {
    return this.#batch === null || s.mode === 'rewrite' ? s.batch : joined(this.#batch, s.batch)
  }

  /** A point committed (it wrote what was kept), or one was lost that cannot be kept: nothing is kept. */
  drop(): void {
    this.#batch = null
    this.natives = false
    this.dicts = false
    this.points = 0
  }
}

/** `a` then `b` as one batch: the record lists of `b` move past `a` (the INDEX record lists both, in log order: log-offsets.ts inv. X2). */
function joined(a: Batch, b: Batch): Batch {
  const records = a.records !== undefined && b.records !== undefined
    ? [...a.records, ...b.records.map(r => ({ list: r.list, shift: r.shift + a.length }))]
    : undefined
  return { parts: [...a.parts, ...b.parts], length: a.length + b.length, records }
}
