/**
 * Binary data: ArrayBuffers, Node Buffers, typed arrays and DataViews. They are handed out
 * raw (not proxied, so native APIs work on them), so a write barrier cannot see them change:
 * each point compares every persisted buffer byte for byte with the copy of the bytes it
 * last persisted. What a BYTES, BUFFER or VIEW record holds is in format.ts; the encoder
 * (encode.ts) writes them, the restorer (decode.ts) reads them.
 *
 * Invariant (container inv. 3 relies on it):
 *   BIN1. Every ArrayBuffer and Buffer with a current record has its last persisted bytes in
 *         the container's `binaries` table (the encoder's copy, taken as the record was
 *         written, or the restored bytes); a buffer whose bytes or length differ is marked
 *         dirty, and when its length changed (detached, resized) its views too.
 */
import { bufferLength, isArrayBuffer } from './builtins.js'

/** The bytes a binary record holds: a whole ArrayBuffer, or a Buffer's own view (KIND_BUFFER); null for anything else. */
export function bytesOf(b: unknown): Buffer | null {
  if (isArrayBuffer(b)) {
    const n = bufferLength(b as ArrayBuffer)
    return n === 0 ? Buffer.alloc(0) : Buffer.from(b as ArrayBuffer, 0, n)   // (a detached buffer has length 0)
  }
  if (Buffer.isBuffer(b)) return b
  return null
}

/** A copy of an ArrayBuffer's bytes (empty for a detached buffer, which has none). */
export function bytesCopy(b: ArrayBuffer): Uint8Array {
  const n = bufferLength(b)
  const copy = new Uint8Array(n)
  if (n > 0) copy.set(new Uint8Array(b, 0, n))
  return copy
}

/**
 * Marks (`mark`) the buffers whose bytes differ from their copy in `binaries`, and the views
 * of those whose length changed (inv. BIN1); forgets entries whose id no longer holds a buffer.
 */
export function compareBinaries(binaries: Map<number, Uint8Array>, objects: unknown[], viewsOf: Map<number, Set<number>>, mark: (id: number) => void): void {
  for (const [id, copy] of binaries) {
    const b = objects[id]
    if (b === undefined) { binaries.delete(id); continue }
    const now = bytesOf(b)
    if (now === null) { binaries.delete(id); continue }
    if (now.length !== copy.length) {
      mark(id)
      for (const v of viewsOf.get(id) ?? []) mark(v)
    } else if (Buffer.compare(now, copy) !== 0) mark(id)
  }
}
