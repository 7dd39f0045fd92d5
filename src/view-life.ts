/**
 * View lives: what lets a typed view refuse to be used once the heap block it shows is no
 * longer the allocation it was made of (guard inv. G2). In JavaScript memory only, never on
 * disk; one `Lives` per pool, owned by its heap.
 *
 * A block's offset alone does not identify an allocation: freed, the same block is handed out
 * again (to another variable, a collection's node, a string), often in the same transaction.
 * So a view captures, when it is made, a `Life`: a small object shared by the views of that
 * allocation (one per allocation while it is in the table below), live until the allocation ends. Each field
 * access of a view does one load and one compare (`life.live`) before its read or write.
 *
 * States of a Life, and what moves it (each transition made by the heap, heap.ts):
 *
 *   | event (sub-transactions included)                               | Life of the block   |
 *   | --------------------------------------------------------------- | ------------------- |
 *   | first view of an allocated block not in the table (pm-tx.ts)    | made, live          |
 *   | `free` of the block                                             | live -> dead        |
 *   | the (sub-)transaction that freed it aborts (free undone)        | dead -> live again  |
 *   | the (sub-)transaction that allocated it aborts (block given back) | live -> dead, final |
 *   | the table is dropped between two transactions (past KEEP)       | forgotten           |
 *
 * The table of lives (block start -> its Life) holds live allocations only and outlives the
 * transaction, so a block viewed in every transaction is looked up in the heap once. Views die
 * with their transaction (TransactionEndedError), so the table may be dropped between two
 * transactions, and is when it holds more than KEEP blocks (it may grow past that inside one
 * transaction, never dropped there: a view made in it must stay in the table to be killed).
 * Read transactions (pm.read, read-only pools) free nothing: their views get `FOREVER`, never
 * killed, and no lookup. A variable's handle holds its own Life (pm.ts): variables are never
 * freed (vars inv. 6), and the Life dies only if the declaring sub-transaction aborts.
 *
 * Guard inv. G2: a view made in a writing transaction lies inside the payload of one
 * allocated block when it is made (otherwise OutOfRangeError, nothing read or written), and
 * every read or write through it, of a field, an element, a nested struct or array view, a
 * `toJSON` copy, or its use as a pointer value, throws OutOfRangeError with nothing read or
 * written once its block was freed or its allocation undone by an abort in that transaction.
 * Before session 14 such a write committed: into a free block below the heap's top (check()
 * clean, the bytes junk), or, the block being handed out again, silently into another
 * variable's value; guard inv. G1 (heap-guard.ts) caught only a block at the top.
 * Variables' blocks cannot be freed (pm-tx.ts `free`), so a variable's handle, which lives
 * across transactions, never names a freed block.
 */

/** The life of one allocation, as the views of it see it. */
export class Life {
  /** False once the allocation ended (freed, or its allocating sub-transaction aborted). */
  live = true
  /** `block`: where the block starts (its header); `end`: where its payload ends. */
  constructor(readonly block: number, readonly end: number) {}
}

/** The life of views made in read transactions: nothing frees there (never killed). */
export const FOREVER = new Life(0, Number.MAX_SAFE_INTEGER)

/** Blocks the table keeps from one transaction to the next (about 100 bytes each). */
const KEEP = 1 << 16

/** The lives of the blocks viewed (in this and earlier transactions); see the file comment. */
export class Lives {
  /** The transaction that last used the table: another one may drop it first (`#in`). */
  #tx: object | null = null
  /** Block start -> its Life, live ones only (killing removes the entry). */
  readonly #map = new Map<number, Life>()

  /** The Life of the allocated block starting at `block`, if a view of it was made. */
  get(tx: object, block: number): Life | undefined {
    if (this.#tx !== tx) this.#in(tx)
    return this.#map.get(block)
  }

  /** A new Life for the allocated block [`block`, `end`) (`get` found none). */
  add(tx: object, block: number, end: number): Life {
    if (this.#tx !== tx) this.#in(tx)
    const life = new Life(block, end)
    this.#map.set(block, life)
    return life
  }

  /** `tx` freed the block at `block`: its views die; `onAbort` gets the undo (the free undone, they live again). */
  freed(tx: object, block: number, onAbort: ((undo: () => void) => void) | null): void {
    if (this.#tx !== tx) this.#in(tx)
    const life = this.#map.get(block)
    if (life === undefined) return
    life.live = false
    this.#map.delete(block)
    if (onAbort !== null) onAbort(() => { life.live = true; this.#map.set(block, life) })
  }

  /** `tx` allocated the block at `block`: if that aborts, the views made of it since die. */
  allocated(tx: object, block: number, onAbort: (undo: () => void) => void): void {
    onAbort(() => {
      const life = this.#map.get(block) // made since the allocation: the block was free before it
      if (life === undefined) return
      life.live = false
      this.#map.delete(block)
    })
  }

  /** `tx` starts using the table: between two transactions (no view of `tx` holds a Life yet) a table grown past KEEP is dropped. */
  #in(tx: object): void {
    this.#tx = tx
    if (this.#map.size > KEEP) this.#map.clear()
  }
}
