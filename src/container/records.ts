/**
 * Writers of the records that are not an object's state: SHAPE, CLASS and SEGMENT records
 * (written to the encoder's `aux` buffer, the first time a point needs them), CHUNK records
 * (written right after the buffer record that lists them, or alone when only the chunk
 * changed, binary.ts) and GONE records. What each holds is the format (format.ts, "Kind-specific bodies"); the object
 * records' bodies are written by the encoder's fast paths (encode.ts, encode-bodies.ts).
 */
import { KIND_CHUNK, KIND_CLASS, KIND_GONE, KIND_SEGMENT, KIND_SHAPE, PROTO_BUILTIN } from './format.js'
import type { ByteWriter } from './writer.js'

/** A SHAPE record: the keys of a plain object, in order. */
export function writeShape(w: ByteWriter, id: number, keys: readonly string[]): void {
  const lenAt = w.beginRecord(id)
  w.u8(KIND_SHAPE); w.varint(PROTO_BUILTIN); w.varint(keys.length)
  for (const k of keys) w.str(k)
  w.endRecord(lenAt)
}

/** A CLASS record: the name a class was registered under. */
export function writeClass(w: ByteWriter, id: number, name: string): void {
  const lenAt = w.beginRecord(id)
  w.u8(KIND_CLASS); w.varint(PROTO_BUILTIN); w.str(name)
  w.endRecord(lenAt)
}

/** A SEGMENT record: `entries` entries of a segmented collection, already encoded as `bytes`. */
export function writeSegment(w: ByteWriter, id: number, entries: number, bytes: Uint8Array): void {
  const lenAt = w.beginRecord(id)
  w.u8(KIND_SEGMENT); w.varint(PROTO_BUILTIN); w.varint(entries)
  w.bytes(bytes)
  w.endRecord(lenAt)
}

/** A GONE record: an object with an id that can no longer persist (restored as null), and why. */
export function writeGone(w: ByteWriter, id: number, reason: string): void {
  const lenAt = w.beginRecord(id)
  w.u8(KIND_GONE); w.varint(PROTO_BUILTIN); w.str(reason)
  w.endRecord(lenAt)
}

/** A CHUNK record: `bytes`, one chunk of a buffer stored as a CHUNKED record (binary.ts). */
export function writeChunk(w: ByteWriter, id: number, bytes: Uint8Array): void {
  const lenAt = w.beginRecord(id)
  w.u8(KIND_CHUNK); w.varint(PROTO_BUILTIN)
  w.bytes(bytes)
  w.endRecord(lenAt)
}
