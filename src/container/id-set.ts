/**
 * A set of object ids that holds more than a V8 Set can (V8 refuses a Set's 2^24th entry:
 * `RangeError: Set maximum size exceeded`). A walk of a lazy graph (lazy.ts `reached`) over
 * more than 2^24 objects failed with it (session 15, found by bench/scale-many.mjs on 17M
 * objects).
 *
 * State: a Set while it holds fewer than `limit` ids; from then on one byte per id (ids are
 * dense below the table's high-water mark), grown as larger ids are added (by-id.ts, like the
 * container's other tables by id). Inv. IS1: `has(id)`
 * is true exactly for the ids added, in either state.
 */
import { grownU8, sharedU8 } from './by-id.js'

export const ID_SET_LIMIT = 1 << 22

export class IdSet {
  #set: Set<number> | null = new Set()
  #bits: Uint8Array | null = null
  readonly #limit: number

  /** `limit`: ids held in a Set before the switch to bytes (tests pass a small one). */
  constructor(limit = ID_SET_LIMIT) { this.#limit = limit }

  has(id: number): boolean {
    const b = this.#bits
    return b !== null ? id < b.length && b[id] === 1 : this.#set!.has(id)
  }

  add(id: number): void {
    let b = this.#bits
    if (b === null) {
      const s = this.#set!
      s.add(id)
      if (s.size < this.#limit) return
      let max = 0
      for (const x of s) if (x > max) max = x
      b = this.#bits = sharedU8(max + 1)
      for (const x of s) b[x] = 1
      this.#set = null
      return
    }
    if (id >= b.length) b = this.#bits = grownU8(b, id)
    b[id] = 1
  }
}
