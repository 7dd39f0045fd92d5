/**
 * Shadow paging, the data chunks one batch staged: logical chunk -> the fresh physical chunk
 * written in this batch (`StagedMap.dirty`), and the checksums their writers supplied
 * (`StagedMap.knownCrc`: adopted chunks, until a later write in the batch changes them).
 *
 * Two representations behind one Map-like interface:
 *   - single chunks (`write`, `stageData`) in a Map;
 *   - runs of adopted chunks (`addRun`: logical [L0, L0 + n) on physical [p0, p0 + n), with
 *     their checksums), kept as the caller's arrays. Adopting a streamed point's log (18,000
 *     chunks for the 2M records of bench/graph.mjs's first point) then costs no Map entry per
 *     chunk: the region has just grown by the log's size, V8 counts the new mapping as external
 *     memory (or the point's own allocations push V8 over its external limit) and it starts
 *     marking the whole 480 MB heap; until the marking ends every allocation runs a marking
 *     step on the main thread. Timed inside that point at load 4-8 (`--trace-gc` showed the
 *     marking start just before the adoption): staging the adopted chunks 285-295 ms with two
 *     Maps of 18,000 entries, 89-143 ms with the run; sealing the batch 330-500 ms, 60-170 ms.
 *
 * States of a run entry k (`#state[k]`, allocated at the first change): 0 live with its
 * supplied checksum; CRC_GONE live, checksum unknown (a write changed the chunk in place);
 * DROPPED no longer staged (moved to the Map by `set`, or removed by `delete`).
 *
 * Invariant: a logical chunk is staged at most once: in the Map or live in one run, never
 * both (`set` and `delete` drop it from its run first; `addRun` is given chunks staged nowhere:
 * ShadowStore.adopt checks that before it changes anything).
 */

const CRC_GONE = 1
const DROPPED = 2

interface Run { L0: number; n: number; phys0: number; crcs: Uint32Array; state: Uint8Array | null; live: number }

/** The staged data chunks of one batch (see the file comment). */
export class StagedChunks {
  readonly #one = new Map<number, number>()
  readonly #crc = new Map<number, number>()
  readonly #runs: Run[] = []
  #runLive = 0

  /** Checksums supplied by the chunks' writers, as a small Map-like view. */
  readonly knownCrc = {
    get: (L: number): number | undefined => this.#crcOf(L),
    set: (L: number, crc: number): void => { this.#forgetRunCrc(L); this.#crc.set(L, crc) },
    delete: (L: number): void => { this.#crc.delete(L); this.#forgetRunCrc(L) },
    clear: (): void => this.#crc.clear(),
  }

  /** Number of staged data chunks. */
  get size(): number { return this.#one.size + this.#runLive }

  /** The physical chunk staged for logical chunk `L`, or undefined. */
  get(L: number): number | undefined {
    const p = this.#one.get(L)
    if (p !== undefined || this.#runLive === 0) return p
    const r = this.#runOf(L)
    return r === null ? undefined : r.phys0 + (L - r.L0)
  }

  has(L: number): boolean { return this.get(L) !== undefined }

  /** Stages `phys` for `L` (a single chunk; moves `L` out of its run, keeping a known checksum, as a Map would). */
  set(L: number, phys: number): void {
    if (this.#runLive !== 0 && !this.#one.has(L)) {
      const crc = this.#crcOf(L)
      if (this.#drop(L) && crc !== undefined) this.#crc.set(L, crc)
    }
    this.#one.set(L, phys)
  }

  /** Unstages `L`; its checksum is forgotten too. */
  delete(L: number): boolean {
    this.#crc.delete(L)
    if (this.#one.delete(L)) return true
    return this.#drop(L)
  }

  /** Stages logical [L0, L0 + crcs.length) on physical [phys0, ...) with checksums `crcs` (none staged yet). */
  addRun(L0: number, phys0: number, crcs: Uint32Array): void {
    if (crcs.length === 0) return
    if (this.#crc.size > 0) for (let k = 0; k < crcs.length; k++) this.#crc.delete(L0 + k)    // the run's checksums win, as Map sets would
    this.#runs.push({ L0, n: crcs.length, phys0, crcs, state: null, live: crcs.length })
    this.#runLive += crcs.length
  }

  /** Calls `fn(L, phys)` for every staged chunk (no allocation per chunk). */
  forEach(fn: (L: number, phys: number) => void): void {
    for (const [L, phys] of this.#one) fn(L, phys)
    for (const r of this.#runs) {
      for (let k = 0; k < r.n; k++) if (r.state === null || (r.state[k]! & DROPPED) === 0) fn(r.L0 + k, r.phys0 + k)
    }
  }

  /** The staged physical chunks. */
  values(): number[] {
    const out: number[] = []
    this.forEach((_, p) => { out.push(p) })
    return out
  }

  clear(): void {
    this.#one.clear()
    this.#crc.clear()
    this.#runs.length = 0
    this.#runLive = 0
  }

  #crcOf(L: number): number | undefined {
    const c = this.#crc.get(L)
    if (c !== undefined || this.#runLive === 0 || this.#one.has(L)) return c
    const r = this.#runOf(L)
    if (r === null) return undefined
    const k = L - r.L0
    return r.state !== null && (r.state[k]! & CRC_GONE) !== 0 ? undefined : r.crcs[k]
  }

  /** The run in which `L` is live, or null (at most one: the file comment's invariant). */
  #runOf(L: number): Run | null {
    for (const r of this.#runs) {
      const k = L - r.L0
      // a chunk dropped from one run may have been adopted again in a later one: look on
      if (k >= 0 && k < r.n && (r.state === null || (r.state[k]! & DROPPED) === 0)) return r
    }
    return null
  }

  #mark(r: Run, k: number, bit: number): void {
    if (r.state === null) r.state = new Uint8Array(r.n)
    r.state[k]! |= bit
  }

  #forgetRunCrc(L: number): void {
    if (this.#runLive === 0) return
    const r = this.#runOf(L)
    if (r !== null) this.#mark(r, L - r.L0, CRC_GONE)
  }

  /** Drops `L` from its run; true if it was live there. */
  #drop(L: number): boolean {
    if (this.#runLive === 0) return false
    const r = this.#runOf(L)
    if (r === null) return false
    this.#mark(r, L - r.L0, DROPPED)
    r.live--
    this.#runLive--
    return true
  }
}
