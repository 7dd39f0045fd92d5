/**
 * PmTx: the handle a pool's transaction function receives (src/pm.ts installs it as the
 * engine's Tx factory): the raw reads and writes of txn/tx.ts, plus allocation in the pool's
 * heap and typed views of variables and offsets.
 *
 * State: `handleEntries`, the directory entry behind each handle `persistent` returned (a
 * WeakMap filled by pm.ts, read by `view`): an entry marked dropped (its creating transaction
 * aborted, vars inv. 4) makes `view` refuse its handles. Entries only go from live to dropped.
 * A handle whose name and offset this pool's directory does not hold came from another pool's
 * file, and `view` refuses it too (vars inv. 5).
 *
 * Guard inv. G2 (view-life.ts): in a writing transaction `at` and `view` make a view only of
 * memory inside one allocated block's payload, holding that allocation's Life, so the view
 * refuses use once the block is freed; `free` refuses a variable's block (vars inv. 6).
 */
import { InvalidArgumentError, OutOfRangeError, describe } from '../regions/index.js'
import { Tx, type RecordBuilder, type TxHost } from '../txn/index.js'
import { droppedError, type Persistent, type VarEntry } from './vars.js'
import { viewAt, checkViewRange } from './view.js'
import { FOREVER, Life } from './view-life.js'
import { BLOCK_HEADER } from './heap-layout.js'
import { checkType, type TypeDesc, type ViewOf } from './types.js'
import type { PersistentMemory } from './pm.js'

/** The directory entry behind each handle `persistent` returned: `tx.view` refuses one whose entry was dropped (vars inv. 4). */
export const handleEntries = new WeakMap<object, VarEntry>()

/** The handle a transaction function receives: raw reads and writes, allocation, typed views. */
export class PmTx extends Tx {
  #pm: PersistentMemory
  /** A writing transaction (it may free blocks): its views hold their block's Life (guard inv. G2). */
  #writes: boolean
  /** @internal */
  constructor(host: TxHost, builder: RecordBuilder | null, pm: PersistentMemory) {
    super(host, builder)
    this.#pm = pm
    this.#writes = builder !== null
  }
  /** Allocates `size` zeroed bytes aligned to `align`; freed again if the transaction aborts. */
  alloc(size: number, align = 8): number { return this.#pm.heap.alloc(this, size, align) }
  /**
   * Frees an allocation made by `alloc`; kept if the transaction aborts. Any other offset
   * (checked against the heap's real blocks, never against bytes in the heap), a second
   * free, or the block of a persistent variable or collection (vars inv. 6) is
   * InvalidArgumentError, and nothing changes. Views of the block made in this transaction
   * refuse every use from then on (guard inv. G2), again usable if a sub-transaction's free
   * is undone by its abort.
   */
  free(offset: number): void {
    this.#pm.refuseVariableFree(offset) // vars inv. 6
    this.#pm.heap.free(this, offset)
  }
  /**
   * @internal Runs `fn` so that if it throws, everything it staged is undone and the
   * transaction goes on as before it (a sub-transaction, eng. 7): a typed write of a value
   * holding strings or blobs uses it so that an allocation failing half way leaves the value
   * as it was (view inv. V2). Outside its own running transaction `fn` runs as is: its first
   * read or write throws TransactionEndedError.
   */
  whole<T>(fn: () => T): T {
    if (typeof fn !== 'function') throw new InvalidArgumentError(`Cannot run a part of a transaction: expected a function, got ${describe(fn)}`)
    const pm = this.#pm
    if (pm.currentTx !== this) return fn()
    return pm.engine.transaction(fn, { durability: 'none' })
  }
  /**
   * A typed view of a persistent variable (or of any `{ type, offset }`). A variable's handle
   * must come from this pool's file (vars inv. 5): one from another pool is InvalidArgumentError.
   */
  view<T extends TypeDesc>(handle: Persistent<T> | { type: T; offset: number }): ViewOf<T> {
    if (handle === null || typeof handle !== 'object') throw new InvalidArgumentError(`Cannot make view: expected a persistent variable or { type, offset }, got ${describe(handle)}`)
    const e = handleEntries.get(handle)
    if (e !== undefined) {
      if (e.dropped) throw droppedError('Cannot make view', `persistent variable "${e.name}"`, 'persistent') // vars inv. 4
      if (!this.#pm.hasVariable(e.name, e.offset)) { // vars inv. 5
        throw new InvalidArgumentError(`Cannot make view: persistent variable "${e.name}" (offset ${e.offset}) was declared in another pool, not in "${this.#pm.path}", whose memory at that offset is something else; nothing was read or written. Declare it in this pool: pm.persistent(${JSON.stringify(e.name)}, type)`)
      }
    }
    return this.#view(handle.type, handle.offset, e)
  }
  /**
   * A typed view of `type` at `offset` (for example the target of a pointer). In a writing
   * transaction the value must lie inside one allocated block (guard inv. G2): memory that
   * is free, a block header, or spans two blocks is OutOfRangeError, nothing read or written.
   */
  at<T extends TypeDesc>(type: T, offset: number): ViewOf<T> { return this.#view(type, offset, undefined) }

  /** A view of `type` at `offset`, of the variable `e` if a handle gave it (its own Life: variables are never freed, vars inv. 6). */
  #view<T extends TypeDesc>(type: T, offset: number, e: VarEntry | undefined): ViewOf<T> {
    checkType(type, 'Cannot make view')
    checkViewRange(type, offset, this.#pm.engine.dataOffset, this.#pm.engine.size)
    let life = FOREVER
    if (this.#writes) life = e !== undefined && e.offset === offset && type.size <= e.size ? e.life ??= new Life(offset - BLOCK_HEADER, offset + e.size) : this.#lifeOf(type, offset)
    return viewAt(this, type, offset, life) as ViewOf<T>
  }

  /** Guard inv. G2: the Life of the allocation that holds [offset, offset + type.size), or OutOfRangeError. */
  #lifeOf(type: TypeDesc, offset: number): Life {
    const heap = this.#pm.heap, lives = heap.lives
    const known = lives.get(this, offset - BLOCK_HEADER) // the usual view: of an allocation's start, seen before
    if (known !== undefined && offset + type.size <= known.end) return known
    const block = heap.allocatedHolding(this, offset)
    if (block >= 0) {
      const life = lives.get(this, block) ?? lives.add(this, block, heap.blockEnd(this, block))
      if (offset + type.size <= life.end) return life
    }
    throw new OutOfRangeError(`Cannot make a view of ${type.sig} (${type.size} bytes) at offset ${offset} in "${this.#pm.path}": no allocated block holds it (the memory is free, a block header, outside the heap, or the value would run past the end of its block); nothing was read or written (guard inv. G2). Take offsets from tx.alloc, a live variable or a pointer to a live block`)
  }
}

