/**
 * Tables indexed by object id (typed arrays whose index is an id): their growth. A table
 * doubles until it holds the id, so that ids handed out one by one cost amortized O(1).
 */

/** The length, doubling from `length`, that holds index `id`. */
export function lengthFor(length: number, id: number): number {
  let n = length * 2
  while (n <= id) n *= 2
  return n
}

/** `a` copied into a new zeroed Uint8Array long enough to hold index `id`. */
export function grownU8(a: Uint8Array, id: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(lengthFor(a.length, id))
  b.set(a)
  return b
}
