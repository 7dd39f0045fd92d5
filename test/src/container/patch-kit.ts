/**
 * Hand-made logs with PATCH records (format.ts, format version 4), shared by the damage tests
 * of patch-record.test.ts (segmented collections) and binary-patch.test.ts (chunked buffers):
 * the base's records, PATCH parts with consecutive ids, then object 1's PATCH record listing
 * those parts in order; and a restore of object 1 from such a log.
 */
import { Restorer } from '../../../src/container/decode.js'
import { ClassRegistry } from '../../../src/container/classes.js'
import { ByteWriter } from '../../../src/container/writer.js'
import { KIND_PATCH, PROTO_BUILTIN } from '../../../src/container/format.js'
import { PART_MARK } from '../../../src/container/patch-record.js'

export interface PatchLog {
  /** Writes the records of the base (SEGMENT or CHUNK records). */
  readonly base: (w: ByteWriter) => void
  /** Id of the first part; the others follow it. */
  readonly firstPart: number
  /** The body of each part after the part mark (its base kind first, then its changes). */
  readonly parts: readonly ((w: ByteWriter) => void)[]
  /** Object 1's PATCH record after its kind and proto, up to its part count (base kind first). */
  readonly head: (w: ByteWriter) => void
}

/** The log `spec` describes: its base, its parts as PATCH records, then object 1's PATCH record. */
export function patchLog(spec: PatchLog): Uint8Array {
  const w = new ByteWriter(1 << 14)
  spec.base(w)
  spec.parts.forEach((part, k) => {
    const at = w.beginRecord(spec.firstPart + k)
    w.u8(KIND_PATCH); w.varint(PROTO_BUILTIN); w.u8(PART_MARK)
    part(w)
    w.endRecord(at)
  })
  const at = w.beginRecord(1)
  w.u8(KIND_PATCH); w.varint(PROTO_BUILTIN)
  spec.head(w)
  w.varint(spec.parts.length)
  spec.parts.forEach((_, k) => w.varint(spec.firstPart + k))
  w.endRecord(at)
  return new Uint8Array(w.view())
}

/** Object 1 restored from `log` (a CorruptionError for a damaged one), in a region named `name`. */
export function restoreFirst(log: Uint8Array, name: string): unknown {
  return new Restorer(log, log.length, 16, name, new ClassRegistry(), () => {}).run(1)
}
