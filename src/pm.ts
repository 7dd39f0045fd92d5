/**
 * PersistentMemory: the object `open()` returns. It ties a region (layer 1), the
 * transaction engine (layer 2), the persistent heap and the named variables together.
 *
 * Opening: a region with nothing to lose (created by this open, or all zero) is formatted
 * (redo log, pool superblock, then the heap header in the first transaction); anything else
 * must be a valid pool (NotAPoolError / CorruptionError otherwise, nothing written). An
 * existing pool is recovered by the engine into memory first, its heap header and variables
 * checked, and only then is the recovery written (eng. 4): a failing open changes nothing.
 *
 * A read-only pool (`open(path, { readOnly: true })`, any number of them, in any process or
 * worker thread, beside one writer) reads through consistent snapshots (txn/reader.ts):
 * `read(fn)` runs fn on the newest committed state, again if the writer changed it meanwhile;
 * its open, `persistent` (for variables the writer declared later too), `variables` and
 * `check` do their reads the same way. Transactions throw ReadOnlyError.
 *
 * This file opens the pool and keeps its variable directory; the transaction handle is
 * pm-tx.ts, the check pm-check.ts. State kept here: the directory of variables (`#vars`: read
 * at open, an entry added by each declaration, removed again if its transaction aborts;
 * read-only pools reload it from the newest snapshot), the types declared in this process,
 * and the newest writing transaction's handle. Open until `close`, then closed (every call
 * RegionClosedError), as the engine is (txn/engine-life.ts).
 */
import {
  InvalidArgumentError, RegionClosedError, CorruptionError, NotAPoolError, ReadOnlyError, TypeMismatchError, describe, type RegionLike,
} from '../regions/index.js'
import { TxEngine, type Tx, type Durability, type TransactionOptions } from '../txn/index.js'
import { Heap } from './heap.js'
import { refuseWritesAboveTop } from './heap-guard.js'
import { checkOptions, type CheckOptions } from './reachability.js'
import { readVars, createVar, checkSameType, nameBytes, type Persistent, type VarEntry } from './vars.js'
import { checkType, type TypeDesc } from './types.js'
import { checkPoolOptions } from './pool-options.js'
import { PmTx, handleEntries } from './pm-tx.js'
import { checkPool, checkRegionArg, type CheckReport } from './pm-check.js'
import { HashMap } from './collections/hash-map.js'
import { SortedMap } from './collections/sorted-map.js'
import { Vector } from './collections/vector.js'
import type { CollectionOptions } from './collections/collection.js'
import type { KeyType } from './collections/keys.js'

export { PmTx } from './pm-tx.js'
export type { CheckReport } from './pm-check.js'

/** Options of {@link PersistentMemory.fromRegion}. */
export interface PoolOptions {
  /** Redo-log size in bytes for a new pool (default: an eighth of the region, 64 KiB..16 MiB). */
  logSize?: number
  /** Largest size the region may grow to when the heap is full (default: no growth). */
  maxSize?: number
}

/** A persistent pool: named variables and durable transactions on one region. */
export class PersistentMemory {
  readonly region: RegionLike
  readonly engine: TxEngine
  readonly heap: Heap
  #vars = new Map<string, VarEntry>()
  /** The heap offsets `tx.free` refuses (vars inv. 6): each variable's data and directory entry, to its name. */
  #varBlocks = new Map<number, string>()
  /** Types variables were declared with in this process (the reachability check's best source). */
  #declared = new Map<string, TypeDesc>()
  #ownsRegion: boolean
  /** The handle of the newest writing transaction (running while `engine.inTransaction`). */
  #tx: PmTx | null = null

  private constructor(region: RegionLike, engine: TxEngine, maxSize: number | undefined, ownsRegion: boolean) {
    this.region = region
    this.engine = engine
    this.#ownsRegion = ownsRegion
    const grow = maxSize === undefined ? null : (min: number) => {
      if (min > maxSize) return false
      // by a quarter (at least 256 KiB): the file stays within 1.25x of what the heap needs
      engine.grow(Math.min(maxSize, Math.max(min, region.size + Math.max(256 << 10, Math.floor(region.size / 4)))))
      return true
    }
    this.heap = new Heap(engine.dataOffset, () => engine.size, grow, region.path, undo => engine.onAbort(undo))
    const base = engine.dataOffset
    engine.beforeCommit = tx => refuseWritesAboveTop(tx, base, region.path) // guard inv. G1 (heap inv. 4)
  }

  /**
   * Opens a pool on an already open region: formats it if the region holds nothing yet
   * (`region.created`, e.g. `SimRegion.create()`, or an all-zero user area), recovers it
   * otherwise. A region with data but no valid pool is NotAPoolError or CorruptionError,
   * and a failing call leaves the region's bytes unchanged.
   */
  static fromRegion(region: RegionLike, opts: PoolOptions = {}, ownsRegion = false): PersistentMemory {
    checkRegionArg(region)
    const checked = checkPoolOptions(opts, `Cannot open pool "${region.path}"`) // opts inv. 1-2
    if (typeof ownsRegion !== 'boolean') throw new InvalidArgumentError(`Cannot open pool "${region.path}": ownsRegion must be true or false, got ${describe(ownsRegion)}`)
    opts = checked
    const fresh = TxEngine.isFormattable(region)
    const engine = fresh ? TxEngine.create(region, { logSize: opts.logSize }) : TxEngine.open(region, { deferRecovery: true })
    const pm = new PersistentMemory(region, engine, opts.maxSize, ownsRegion)
    engine.makeTx = (h, b) => {
      const tx = new PmTx(h, b, pm)
      if (b !== null) pm.#tx = tx
      return tx
    }
    const formatted = engine.read(r => {
      pm.heap.refuseOldFormat(r, region.path)
      return pm.heap.isFormatted(r)
    })
    if (!formatted) {
      // The heap is formatted by the pool's first transaction: with any transaction committed,
      // a missing magic is damage, and formatting would throw every variable away.
      if (engine.lastSeq !== 0) throw new CorruptionError(`Cannot open pool "${region.path}": the heap header's magic number is damaged; nothing was changed. Run check() and restore the file from a backup`)
      if (region.readOnly) throw new NotAPoolError(`Cannot open pool "${region.path}" read-only: it holds no committed transaction yet (its writer is still creating it, or a crash interrupted its creation); nothing was changed. Open it again once its writer has created it`)
      engine.transaction(tx => pm.heap.format(tx))
    }
    engine.read(r => {
      pm.heap.verifyHeader(r, region.path)
      pm.#setVars(readVars(r, pm.heap, region.path))
    })
    engine.finishRecovery()
    return pm
  }

  get path(): string { return this.region.path }
  get closed(): boolean { return this.engine.closed }

  /**
   * Declares a named persistent variable: created zero-filled on first declaration (durably),
   * found again by name after a restart. Declaring it with another type is TypeMismatchError.
   */
  persistent<T extends TypeDesc>(name: string, type: T): Persistent<T> {
    this.#open('declare a persistent variable')
    nameBytes(name)
    checkType(type, `Cannot declare persistent variable ${JSON.stringify(name)}`)
    let e = this.#vars.get(name)
    if (e === undefined && this.region.readOnly) {
      this.#reloadVars() // declared by the writer after this open?
      e = this.#vars.get(name)
      if (e === undefined) throw new ReadOnlyError(`Cannot declare persistent variable ${JSON.stringify(name)} in pool "${this.path}": it does not exist yet and the pool was opened read-only; declare it in the writer first`)
    }
    if (e === undefined) {
      e = this.engine.transaction(tx => {
        const made = createVar(tx, this.heap, name, type)
        this.#dropOnAbort(made)
        return made
      })
      this.#addVar(e)
    }
    checkSameType(this.path, e, type)
    this.#declared.set(name, type)
    const handle = Object.freeze({ name, type, offset: e.offset, size: e.size })
    handleEntries.set(handle, e)
    return handle
  }

  /** `made`, created by the running transaction: if it aborts, the entry never existed (eng. 7) and its handles refuse every use (vars inv. 4). */
  #dropOnAbort(made: VarEntry): void {
    this.#varBlocks.set(made.offset, made.name).set(made.at, made.name) // vars inv. 6 from its creation on
    this.engine.onAbort(() => {
      made.dropped = true
      if (made.life !== undefined) made.life.live = false // guard inv. G2: views of it die too
      this.#varBlocks.delete(made.offset); this.#varBlocks.delete(made.at)
      if (this.#vars.get(made.name) === made) this.#vars.delete(made.name)
    })
  }

  #addVar(e: VarEntry): void {
    this.#vars.set(e.name, e)
    this.#varBlocks.set(e.offset, e.name).set(e.at, e.name)
  }

  /**
   * @internal Vars inv. 6: InvalidArgumentError when `offset` is the block of a persistent
   * variable (or collection) or of its directory entry. Freed, the directory would go on naming
   * a free block: the pool no longer opens (vars inv. 3: CorruptionError), and the block, handed
   * out again, would be two things at once, the variable's handles writing into the other.
   */
  refuseVariableFree(offset: number): void {
    const name = this.#varBlocks.get(offset)
    if (name === undefined) return
    throw new InvalidArgumentError(`Cannot free offset ${offset} in "${this.path}": it is the block of persistent variable ${JSON.stringify(name)} (its value or its directory entry), which lives as long as the pool; nothing was freed. Variables cannot be deleted; free only what tx.alloc returned`)
  }

  /**
   * @internal Vars inv. 5: true when this pool's file has the variable `name` at `offset` (a
   * handle `persistent` returned for this file, in this open or an earlier one). A read-only
   * pool looks in the newest snapshot's directory too (the writer may have declared it since).
   */
  hasVariable(name: string, offset: number): boolean {
    if (this.#vars.get(name)?.offset === offset) return true
    if (!this.region.readOnly || this.engine.closed) return false
    this.#reloadVars()
    return this.#vars.get(name)?.offset === offset
  }

  /** @internal The running transaction's handle, or null outside a transaction (collections join it). */
  get currentTx(): PmTx | null {
    const tx = this.#tx
    return tx !== null && tx.active && this.engine.inTransaction ? tx : null
  }

  /**
   * @internal Finds or creates the named variable that heads a collection: `sig` is the
   * collection's signature (`hashMap(string,u32)`), `size` its header size. A name that exists
   * with another signature is TypeMismatchError naming both; creating on a read-only pool is
   * ReadOnlyError. `init` formats a new header inside the creating transaction.
   */
  collectionVar(kind: string, name: string, sig: string, size: number, init: (tx: PmTx, offset: number) => void): VarEntry {
    nameBytes(name, kind)
    this.#open(`open ${kind} ${JSON.stringify(name)}`)
    let e = this.#vars.get(name)
    if (e === undefined && this.region.readOnly) {
      this.#reloadVars() // created by the writer after this open?
      e = this.#vars.get(name)
    }
    if (e === undefined) {
      if (this.region.readOnly) throw new ReadOnlyError(`Cannot open ${kind} ${JSON.stringify(name)} in "${this.path}": it does not exist, and the pool was opened read-only, so it cannot be created`)
      const type = { kind: 'bytes', length: size, size, align: 8, sig } as unknown as TypeDesc
      e = this.transaction(tx => {
        const made = createVar(tx, this.heap, name, type)
        init(tx, made.offset)
        this.#dropOnAbort(made)
        return made
      })
      this.#addVar(e)
    }
    if (e.sig !== sig) throw new TypeMismatchError(`Cannot open ${kind} ${JSON.stringify(name)} in "${this.path}" as ${sig}: it already exists as ${e.sig}`)
    return e
  }

  /**
   * A persistent hash map, created empty on first use and found again by name: keys of `key`
   * (t.string, t.blob, t.u64, t.f64, t.u32, t.i32, t.u8), values of any type from `t` (read back as
   * plain values). Opening an existing name with another kind or type is TypeMismatchError.
   * @example
   * const users = pm.hashMap('users', t.string, t.struct({ name: t.string, age: t.u32 }))
   * users.put('ada', { name: 'Ada', age: 36 })   // one durable transaction
   * users.get('ada')                             // { name: 'Ada', age: 36 }
   */
  hashMap<K extends KeyType, V extends TypeDesc>(name: string, key: K, value: V, opts?: CollectionOptions): HashMap<K, V> {
    return HashMap.open(this, name, key, value, opts)
  }

  /**
   * A persistent map ordered by key (a B+tree), created empty on first use and found again by
   * name; `getRange({ start, end, reverse, limit, offset })` scans keys in [start, end).
   * @example
   * const events = pm.sortedMap('events', t.f64, t.string)
   * events.put(Date.now(), 'started')
   * for (const [at, what] of events.getRange({ start: 0, end: Infinity, limit: 100 })) {}
   */
  sortedMap<K extends KeyType, V extends TypeDesc>(name: string, key: K, value: V, opts?: CollectionOptions): SortedMap<K, V> {
    return SortedMap.open(this, name, key, value, opts)
  }

  /**
   * A persistent growable array of `elem`, created empty on first use and found again by name.
   * @example
   * const log = pm.vector('log', t.f64)
   * log.push(1.5); log.get(0); log.length; for (const x of log) {}
   */
  vector<V extends TypeDesc>(name: string, elem: V, opts?: CollectionOptions): Vector<V> {
    return Vector.open(this, name, elem, opts)
  }

  /** Names and types of every persistent variable (read-only pools: as of the newest snapshot). */
  variables(): Array<{ name: string; type: string; offset: number; size: number }> {
    if (this.region.readOnly && !this.engine.closed) this.#reloadVars()
    return [...this.#vars.values()].map(e => ({ name: e.name, type: e.sig, offset: e.offset, size: e.size }))
  }

  /**
   * Runs `fn` as one durable transaction. `sync` (default): durable when it returns;
   * `group`: returns a promise that resolves once durable, sharing one flush with the other
   * group commits of the same turn; `none`: safe against process crashes, durable at the
   * next flush, sync commit or close. An exception aborts with nothing applied and rethrows;
   * with `group` every failure (fn throws, pool closed, commit failed) is a rejected promise.
   *
   * `fn` must be synchronous: a function that returns a promise is refused with
   * InvalidArgumentError and nothing is committed (its promise gets a rejection handler, so a
   * later use of `tx` after an `await` does not become an unhandled rejection).
   *
   * Nested calls are sub-transactions: they see and add to the outer transaction's writes and
   * commit with it. If a nested function throws, its own writes, allocations, frees and
   * variable declarations are undone (the outer's stay) and the exception reaches the caller,
   * which may catch it and go on. The outer commit is as durable as the most durable of the
   * transactions it contains; a nested `group` call returns a promise that settles when the
   * outer commit is durable (it rejects, without being an unhandled rejection, if the outer aborts).
   * @example
   * pm.transaction(tx => {
   *   tx.writeU32(a.offset, 1)
   *   try { pm.transaction(inner => { inner.writeU32(b.offset, 2); throw new Error('no') }) } catch {}
   *   // commits a = 1 only
   * })
   */
  transaction<T>(fn: (tx: PmTx) => T, opts: { durability: 'group' }): Promise<T>
  transaction<T>(fn: (tx: PmTx) => T, opts?: TransactionOptions): T
  transaction<T>(fn: (tx: PmTx) => T, opts?: TransactionOptions): T | Promise<T> {
    return this.engine.transaction(fn as (tx: Tx) => T, opts as { durability: Durability })
  }

  /**
   * Reads committed state outside a transaction (a read-only tx, ended when `fn` returns).
   * `fn` must be synchronous: a function that returns a promise is refused.
   */
  read<T>(fn: (tx: PmTx) => T): T {
    this.#open('read')
    return this.engine.read(fn as (tx: Tx) => T)
  }

  /** @internal `read` for the collections' lookups, whose fn never keeps the tx: reuses the reader (engine `readReused`). */
  readReused<T>(fn: (tx: PmTx) => T): T {
    this.#open('read')
    return this.engine.readReused(fn as (tx: Tx) => T)
  }

  /** Makes every committed transaction durable, `none` ones included. */
  flush(): void { this.engine.flush() }

  /**
   * Validates the log, heap and variables; `ok` is false with a list of problems otherwise.
   * With `{ reachability: true }` it also walks the typed pointer graph from the named
   * variables and reports dangling pointers (into free blocks, block headers, outside the heap,
   * misaligned) in `dangling` and allocated blocks nothing reaches in `unreachable` (turn that
   * off with `leaks: false`); see src/reachability.ts for how untyped `t.ptr()` is treated.
   * @example
   * const report = pm.check({ reachability: true })
   * if (!report.ok) console.error(report.problems.join('\n'))
   */
  check(opts?: CheckOptions): CheckReport {
    const o = checkOptions(opts, `Cannot check pool "${this.path}"`)
    this.#open('check')
    // One consistent snapshot (a read-only pool beside a live writer: retried, or on a private copy).
    return this.engine.read(r => {
      if (this.region.readOnly) this.#setVars(readVars(r, this.heap, this.path))
      return checkPool(r, { path: this.path, heap: this.heap, engine: this.engine, vars: this.#vars, declared: this.#declared }, o)
    })
  }

  /**
   * Checkpoints, then closes the region if this pool opened it. Idempotent. Inside a running
   * transaction it throws TransactionActiveError and leaves the pool open (eng. 6).
   */
  close(): void {
    if (this.engine.closed) return
    this.engine.assertNotInUse('close')
    try { this.engine.close() } finally { if (this.#ownsRegion) this.region.close() }
  }

  /** Read-only pools: the variable directory of the newest snapshot (the writer may have declared more). */
  #reloadVars(): void {
    this.#open('read the variables of')
    this.#setVars(this.engine.read(r => readVars(r, this.heap, this.path)))
  }

  #setVars(entries: VarEntry[]): void {
    this.#vars.clear()
    this.#varBlocks.clear()
    for (const e of entries) this.#addVar(e)
  }

  #open(action: string): void {
    if (this.engine.closed || this.region.closed) throw new RegionClosedError(`Cannot ${action}: pool "${this.path}" is closed`)
  }
}
