/**
 * Retired tables of the hash map: `clear()` retires the whole bucket table in O(1) writes (it
 * stays atomic and needs no log space proportional to the map), and later writes to the map
 * free the retired entries a few at a time, like the incremental rehash of a split.
 *
 * The map header's word at offset 24 holds the first retired table (0 = none). Retired table
 * (one heap block, 240 bytes):
 *
 * | offset | size | description                                                          |
 * | -----: | ---: | -------------------------------------------------------------------- |
 * |      0 |    4 | magic 0x474d4850 ("PHMG")                                            |
 * |      4 |    4 | level L of the table when it was retired                             |
 * |      8 |    4 | split of the table when it was retired                               |
 * |     12 |    4 | cursor: buckets below it are already freed                           |
 * |     16 |    8 | next retired table (0 = none): clear() called again meanwhile        |
 * |     24 | 8*27 | the table's segments, as in the map header                           |
 *
 * Invariants (cited as "hgarb inv. N"; checkHashMap claims every block they name):
 *   1. Every entry still reachable from a retired table's buckets at or above its cursor is
 *      an allocated block owned by that table alone (with its key's and value's blocks); the
 *      buckets below the cursor are empty or freed (their words are not read again).
 *   2. Freeing an entry and advancing past it (the bucket word, or the cursor) happen in one
 *      transaction, so a crash never frees an entry twice nor leaks one.
 */
import type { Tx } from '../../txn/index.js'
import type { PmTx } from '../pm.js'
import { rd, wr } from './btree-node.js'

export const GARBAGE_MAGIC = 0x474d4850
export const GARBAGE_SIZE = 24 + 8 * 27
const N0 = 64
const segmentOf = (b: number): number => (b < N0 ? 0 : 32 - Math.clz32(Math.floor(b / N0)))
const segmentStart = (k: number): number => (k === 0 ? 0 : N0 * 2 ** (k - 1))

/** Moves the table of the map at `h` into a new retired table (hgarb inv. 1); the header's table fields are left for the caller to reset. */
export function retire(tx: PmTx, h: number): void {
  const g = tx.alloc(GARBAGE_SIZE)
  tx.writeU32(g, GARBAGE_MAGIC)
  tx.writeU32(g + 4, tx.readU32(h + 16))
  tx.writeU32(g + 8, tx.readU32(h + 20))
  wr(tx, g + 16, rd(tx, h + 24))
  tx.writeBytes(g + 24, tx.readBytes(h + 32, 8 * 27))
  wr(tx, h + 24, g)
}

/** Bucket count of the retired table `g`. */
export function retiredBuckets(tx: Tx, g: number): number {
  return N0 * 2 ** tx.readU32(g + 4) + tx.readU32(g + 8)
}

/** Offset of the word holding bucket `b` of retired table `g`. */
export function retiredBucket(tx: Tx, g: number, b: number): number {
  const k = segmentOf(b)
  return rd(tx, g + 24 + 8 * k) + 8 * (b - segmentStart(k))
}

/**
 * Frees up to `budget` retired entries of the map at `h` with `freeEntry` (which frees an entry
 * and its strings), looking at no more than 64 * budget buckets, then the tables emptied
 * (hgarb inv. 2). Returns the entries freed.
 */
export function collect(tx: PmTx, h: number, budget: number, freeEntry: (e: number) => void): number {
  let freed = 0, scanned = 0
  for (let g = rd(tx, h + 24); g !== 0 && freed < budget && scanned < 64 * budget; g = rd(tx, h + 24)) {
    const buckets = retiredBuckets(tx, g)
    let cursor = tx.readU32(g + 12)
    while (cursor < buckets && freed < budget && scanned < 64 * budget) {
      const at = retiredBucket(tx, g, cursor)
      const e = rd(tx, at)
      scanned++
      if (e === 0) { cursor++; continue }
      wr(tx, at, rd(tx, e))
      freeEntry(e)
      freed++
    }
    tx.writeU32(g + 12, cursor)
    if (cursor < buckets) break
    for (let k = 0; k < 27; k++) { const seg = rd(tx, g + 24 + 8 * k); if (seg !== 0) tx.free(seg) }
    wr(tx, h + 24, rd(tx, g + 16))
    tx.free(g)
  }
  return freed
}
