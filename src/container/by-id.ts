/**
 * Tables indexed by object id (typed arrays whose index is an id): their growth and their
 * memory. A table doubles until it holds the id, so that ids handed out one by one cost
 * amortized O(1).
 *
 * Memory: the container's own typed arrays that grow with the graph (tables by id, the
 * encoder's lists and record buffers, writer.ts) are allocated over SharedArrayBuffer
 * memory once they are large (SHARED_MIN). V8 counts the bytes of every ArrayBuffer it allocates as external memory and
 * starts a full marking of the whole heap each time that count grows 64 MiB past its level
 * at the last full collection ("external memory pressure"); it does not count
 * SharedArrayBuffer memory. The first point of the performance graph (2M ids, 76 MB of
 * records) allocated about 300 MB of such arrays, live tables and their doublings, and each
 * 64 MiB of it started a full marking of a heap of 300-430 MB: 4 of the point's 4 full
 * collections (`--trace-incremental-marking`), none of which could free any of it. The
 * memory is freed as before, when the array becomes unreachable and a collection (started
 * by the heap's own growth) finds it; a table's replaced copies may live until then (at most
 * as much again as the tables hold). Loads and stores of a plain (non-Atomics) access are
 * the same machine code on shared memory; nothing here is shared with another thread
 * except the sealed record buffers, which the encoder never writes again (writer.ts).
 */

/** The length, doubling from `length`, that holds index `id`. */
export function lengthFor(length: number, id: number): number {
  let n = length * 2
  while (n <= id) n *= 2
  return n
}

/**
 * Below this size an ordinary ArrayBuffer: the small lists and buffers every point makes
 * (an encoder's first record buffers, its record lists and queue: about 200 KiB) stay
 * counted, so that a program of many tiny points, which allocates little else, still has
 * them collected; what reaches this size is a large graph's, where the count only triggered
 * futile full collections.
 */
export const SHARED_MIN = 1 << 18

/** Zeroed memory of `bytes` bytes: shared from SHARED_MIN on (not counted as external memory, above). */
export function memory(bytes: number): ArrayBufferLike { return bytes >= SHARED_MIN ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes) }
/** A zeroed Uint8Array of `n` elements (`memory`). */
export function sharedU8(n: number): Uint8Array { return new Uint8Array(memory(n)) }
/** A zeroed Int32Array of `n` elements (`memory`). */
export function sharedI32(n: number): Int32Array { return new Int32Array(memory(4 * n)) }
/** A zeroed Uint32Array of `n` elements (`memory`). */
export function sharedU32(n: number): Uint32Array { return new Uint32Array(memory(4 * n)) }
/** A zeroed Float64Array of `n` elements (`memory`). */
export function sharedF64(n: number): Float64Array { return new Float64Array(memory(8 * n)) }

/** `a` copied into a new zeroed Uint8Array (shared memory) long enough to hold index `id`. */
export function grownU8(a: Uint8Array, id: number): Uint8Array {
  const b = sharedU8(lengthFor(a.length, id))
  b.set(a)
  return b
}

/** `a` copied into a new zeroed Int32Array (shared memory) of `n` elements (n >= a.length). */
export function grownI32(a: Int32Array, n: number): Int32Array {
  const b = sharedI32(n)
  b.set(a)
  return b
}
