/**
 * View lives: what lets a typed view refuse to be used once the heap block it shows is no
 * longer the allocation it was made of (guard inv. G2). In JavaScript memory only, never on
 * disk; one `Lives` per pool, owned by its heap.
 *
 * A block's offset alone does not identify an allocation: freed, the same block is handed out
 * again (to another variable, a collection's node, a string), often in the same transaction.
 * So a view captures, when it is made, a `Life`: a small object shared by every view of that
 * allocation made in the running transaction, live until the allocation ends. Each field
 * access of a view does one load and one compare (`life.live`) before its read or write.
 *
 * States of a Life, and what moves it (each transition made by the heap, heap.ts):
 *
 *   | event (in the running transaction, sub-transactions included) | Life of the block   |
 *   | ------------------------------------------------------------- | ------------------- |
 *   | first view of an allocated block (`lifeOf`)                     | made, live          |
 *   | `free` of the block                                             | live -> dead        |
 *   | the sub-transaction that freed it aborts (the free is undone)   | dead -> live again  |
 *   | the sub-transaction that allocated it aborts (block given back) | live -> dead, final |
 *   | the transaction ends                                            | forgotten           |
 *
 * Views die with their transaction (TransactionEndedError), so the table of lives is kept per
 * transaction: the first life asked for in a new transaction drops the old ones, and memory
 * holds only the blocks viewed in the running transaction. Read transactions (pm.read,
 * read-only pools) free nothing: their views get `FOREVER`, never killed, and no lookup.
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

/** The life of one allocation, as the views of it made in the running transaction see it. */
export class Life {
  /** False once the allocation ended (freed, or its allocating sub-transaction aborted). */
  live = true
  /** `block`: where the block starts (its header); `end`: where its payload ends. */
  constructor(readonly block: number, readonly end: number) {}
}

/** The life of views made in read transactions: nothing frees there (never killed). */
export const FOREVER = new Life(0, Number.MAX_SAFE_INTEGER)

/** The lives of the blocks viewed in the running writing transaction; see the file comment. */
export class Lives {
  /** The transaction the lives belong to (any other transaction's are forgotten). */
  #tx: object | null = null
  /** Block start -> its live Life (only live ones: killing removes the entry). */
  readonly #map = new Map<number, Life>()

  /** The live Life of the block starting at `block` in `tx`, if a view of it was made. */
  get(tx: object, block: number): Life | undefined {
    return this.#tx === tx ? this.#map.get(block) : undefined
  }

  /** A new Life for the allocated block [`block`, `end`) in `tx`. */
  add(tx: object, block: number, end: number): Life {
    if (this.#tx !== tx) { this.#tx = tx; this.#map.clear() }
    const life = new Life(block, end)
    this.#map.set(block, life)
    return life
  }

  /** `tx` freed the block at `block`: its views die; `onAbort` gets the undo (the free undone, they live again). */
  freed(tx: object, block: number, onAbort: ((undo: () => void) => void) | null): void {
    if (this.#tx !== tx) return
    const life = this.#map.get(block)
    if (life === undefined) return
    life.live = false
    this.#map.delete(block)
    if (onAbort !== null) onAbort(() => { life.live = true; this.#map.set(block, life) })
  }

  /** `tx` allocated the block at `block`: if that aborts, the views made of it since die. */
  allocated(tx: object, block: number, onAbort: (undo: () => void) => void): void {
    onAbort(() => {
      if (this.#tx !== tx) return
      const life = this.#map.get(block)
      if (life === undefined) return
      life.live = false
      this.#map.delete(block)
    })
  }
}
