/**
 * What every persistent collection shares: its header is a named variable of the pool (found
 * again by name, created once), writes run as (sub-)transactions, reads see the latest commit.
 *
 * | call                          | outside `pm.transaction`                        | inside it                          |
 * | ----------------------------- | ----------------------------------------------- | ---------------------------------- |
 * | a write (`put`, `push`, ...)  | its own transaction, durability from the call,  | a sub-transaction of the running   |
 * |                               | else the collection's default, else `sync`       | one: commits with it; if the write |
 * |                               | (`group` returns a promise)                      | throws, nothing of it stays        |
 * | a read (`get`, iteration)     | the latest commit, through `pm.read`             | the running transaction's view     |
 *
 * Collections keep no state in JavaScript but their header's offset, so aborts, crashes and
 * other handles on the same pool never leave one stale. A handle made inside a transaction that
 * aborted names a collection that was never created: every use is TransactionEndedError
 * (vars inv. 4), before anything is read or written.
 */
import { InvalidArgumentError, describe } from '../../regions/index.js'
import type { Durability, Tx } from '../../txn/index.js'
import type { PersistentMemory, PmTx } from '../pm.js'
import { droppedError, type VarEntry } from '../vars.js'

/** Options of `pm.hashMap`, `pm.sortedMap` and `pm.vector`. */
export interface CollectionOptions {
  /** Durability of writes made outside a transaction without their own (default `sync`). */
  durability?: Durability
}

/** Options of one write outside a transaction. */
export interface WriteOptions { durability?: Durability }

const DURABILITIES = new Set(['sync', 'group', 'none'])

/** Checks `{ durability }` options; InvalidArgumentError naming what is wrong. */
export function checkWriteOptions(opts: unknown, action: string): Durability | undefined {
  if (opts === undefined) return undefined
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new InvalidArgumentError(`${action}: options must be an object such as { durability: 'group' }, got ${describe(opts)}`)
  for (const k of Object.keys(opts)) if (k !== 'durability') throw new InvalidArgumentError(`${action}: unknown option ${JSON.stringify(k)}; the known option is durability`)
  const d = (opts as WriteOptions).durability
  if (d !== undefined && !DURABILITIES.has(d)) throw new InvalidArgumentError(`${action}: durability must be "sync", "group" or "none", got ${describe(d)}`)
  return d
}

/** Base of the collection classes. */
export abstract class Collection {
  /** The collection's name in the pool. */
  readonly name: string
  /** Offset of the collection's header (its named variable's data). */
  readonly offset: number
  protected readonly pm: PersistentMemory
  readonly #durability: Durability
  /** The directory entry naming the header: `dropped` if its creating transaction aborted (vars inv. 4). */
  readonly #entry: VarEntry

  /** @internal */
  protected constructor(pm: PersistentMemory, name: string, entry: VarEntry, durability: Durability) {
    this.pm = pm
    this.name = name
    this.offset = entry.offset
    this.#entry = entry
    this.#durability = durability
  }

  /** Durability of writes made outside a transaction without their own. */
  get durability(): Durability { return this.#durability }

  /** Runs a write: its own transaction outside one, a sub-transaction inside (see the file comment). */
  protected write<T>(action: string, opts: unknown, fn: (tx: PmTx) => T): T | Promise<T> {
    if (this.#entry.dropped) throw this.#dropped(action)
    const d = checkWriteOptions(opts, action) ?? this.#durability
    return this.pm.transaction(fn, { durability: d })
  }

  /** Runs a read against the running transaction, or the latest commit. */
  protected read<T>(fn: (tx: Tx) => T): T {
    if (this.#entry.dropped) throw this.#dropped(`Cannot read ${this.#kind} "${this.name}"`)
    return readNow(this.pm, fn)
  }

  /** `hashMap`, `sortedMap` or `vector`, from the entry's signature. */
  get #kind(): string { return this.#entry.sig.slice(0, this.#entry.sig.indexOf('(')) }

  #dropped(action: string): Error { return droppedError(action, `${this.#kind} "${this.name}"`, this.#kind) }
}

/** Runs `fn` on the running transaction (it may have just created the collection), or on the latest commit. */
export function readNow<T>(pm: PersistentMemory, fn: (tx: Tx) => T): T {
  const cur = pm.currentTx
  return cur !== null ? fn(cur) : pm.readReused(fn)
}

/** Checks the options of `pm.hashMap(...)` and friends. */
export function checkCollectionOptions(opts: unknown, action: string): Durability {
  return checkWriteOptions(opts, action) ?? 'sync'
}
