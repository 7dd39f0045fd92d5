/**
 * EngineReads: the engine's reads outside a transaction (`reader`, `read`, `readReused`).
 * On a writable engine a reader is a Tx with no record over the engine's own mapping; on a
 * read-only engine it reads a consistent snapshot (reader.ts). The engine (engine.ts) owns
 * one and delegates to it; it holds the spare reader Tx that `readReused` reopens.
 * Nothing here allocates per `readReused` call (every collection lookup goes through it).
 */
import { InvalidArgumentError, describe } from '../regions/index.js'
import type { RecordBuilder } from './record.js'
import type { Tx, TxHost } from './tx.js'
import type { SnapshotReader } from './reader.js'
import { refusePromise } from './tx-options.js'

/** What the reads need from their engine: itself as the host, and its (replaceable) Tx factory. */
export interface ReadEngine extends TxHost {
  makeTx: (host: TxHost, builder: RecordBuilder | null) => Tx
}

export class EngineReads {
  readonly #engine: ReadEngine
  /** Read-only engines: consistent snapshots beside a live writer (reader.ts). */
  readonly #snapshots: SnapshotReader | null
  /** Throws unless the engine may read (closed, broken). */
  readonly #usable: () => void
  /** A reader's Tx on a snapshot (one function, made once: reads allocate nothing for it). */
  readonly #makeReader = (h: TxHost): Tx => this.#engine.makeTx(h, null)
  /** An ended reader Tx that `readReused` reopens (null while one is in use). */
  #spare: Tx | null = null
  /** How many `read`/`readReused` functions are running (nested ones included): close waits for none (eng. 6). */
  #running = 0

  constructor(engine: ReadEngine, snapshots: SnapshotReader | null, usable: () => void) {
    this.#engine = engine
    this.#snapshots = snapshots
    this.#usable = usable
  }

  /** True while a `read` or `readReused` function runs. */
  get running(): boolean { return this.#running > 0 }

  /** See TxEngine.reader. */
  reader(): Tx {
    this.#usable()
    if (this.#snapshots !== null) return this.#snapshots.reader(this.#makeReader)
    return this.#engine.makeTx(this.#engine, null)
  }

  /** See TxEngine.read. */
  read<T>(fn: (tx: Tx) => T): T {
    if (typeof fn !== 'function') throw new InvalidArgumentError(`Cannot read: expected a function, got ${describe(fn)}`)
    if (this.#snapshots !== null) {
      this.#usable()
      this.#running++
      try { return this.#snapshots.read(fn, this.#makeReader) } finally { this.#running-- }
    }
    const r = this.reader()
    this.#running++
    try {
      const result = fn(r)
      refusePromise(result, 'read')
      return result
    } finally { r.end(); this.#running-- }
  }

  /** See TxEngine.readReused. */
  readReused<T>(fn: (tx: Tx) => T): T {
    if (this.#snapshots !== null) return this.read(fn)
    if (typeof fn !== 'function') throw new InvalidArgumentError(`Cannot read: expected a function, got ${describe(fn)}`)
    this.#usable()
    let r = this.#spare
    if (r === null) r = this.#engine.makeTx(this.#engine, null)
    else { this.#spare = null; r.reopen() }
    this.#running++
    try {
      const result = fn(r)
      refusePromise(result, 'read')
      return result
    } finally { r.end(); this.#spare = r; this.#running-- }
  }
}
