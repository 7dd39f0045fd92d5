/**
 * On-disk format of a container's object records (the log) and its values.
 *
 * The container is a log of object records over the chunk store's logical byte space
 * (logical chunk k holds bytes [k*chunkSize, (k+1)*chunkSize) of the log). A persistence
 * point appends one record for every object that is new or changed; a later record for
 * the same id supersedes the earlier one (inv. 1: records are in time order, so the last
 * record of an id is its current state). Within one point the order of records is free
 * (a point writes one record per id; the restorer indexes the whole log before it builds
 * anything and reaches SHAPE, CLASS, SEGMENT and CHUNK records by id): a point written the usual
 * way puts SHAPE, CLASS and SEGMENT records first, a streamed full point puts them last.
 * Compaction rewrites the log with only the current records of objects reachable from the
 * root, in the same relative order.
 *
 * Format version 3 (meta.ts) adds INDEX records: id 0 (never an object's id), kind INDEX,
 * an id -> offset index of the records before it, written at the end of a point
 * (log-offsets.ts has their layout). Every scan of the log skips them; compaction drops
 * them; no reference can name them (id 0).
 *
 * Format version 4 (meta.ts) adds PATCH records (kind 22, patch-record.ts): a segmented
 * collection stored as its base segments plus PATCH parts, one per point that changed it, so
 * that a point that changes 1% of a large Map, Set or array writes those entries, not the 72%
 * of its segments they touch. Layout in the table below; the invariants restore relies on
 * are patch-record.ts's.
 * It also gives the INDEX deltas of incremental points a CRC-32C of their own (form 2,
 * log-offsets.ts inv. X7).
 *
 * Format version 5 (meta.ts) adds a second form of a collection's PATCH part (first body
 * byte 1): it names its collection (a part listed by another collection's record is
 * damage) and its keys and values may be references (TAG_REF), so that a point that sets
 * `users.set(id, {...})` on a large Map, adds an object to a large Set or stores an object
 * into a large array writes that entry and the new object, not the segments it touches
 * (patch-record.ts inv. PR2). Every point writes form 1; form 0 (format 4, primitives
 * only) is still read. A format-4 library refuses a version-5 file (UnsupportedVersionError)
 * rather than take such a part for damage.
 *
 * Format version 6 (meta.ts) adds ERROR and BOXED records (kinds 23 and 24, natives.ts): a
 * native error (Error, TypeError, ..., AggregateError, and instances of registered classes
 * that extend one) and a boxed primitive (`new String('a')`, `Object(1n)`), which formats
 * 1-5 dropped (restored as null). Only a version whose log holds such a record is written
 * as version 6 (write.ts inv. F6): a graph without errors or boxed primitives is written as
 * version 5, which format-5 libraries still open; a format-5 library refuses a version-6
 * file (UnsupportedVersionError) rather than take the new kinds for damage.

 * Format version 7 (meta.ts) stores a plain object of more than 256 own enumerable string
 * keys (prototype built-in or null) as a collection of base kind DICT: a SEGMENTED record
 * whose SEGMENT records hold (string key, value) pairs in the object's key order, cut by
 * content as a Map's are, and, after a restore, a PATCH record and parts as a Map's whose
 * keys are strings (patch-record.ts inv. PR6). Before, such an object was one DICT record
 * rewritten whole at every point that changed it (12 MB for a million keys). Restore
 * (inv. PR6) sets the segments' keys in order (a key met twice is damage), then applies
 * each part: delete each `del` key (own), set each `upd` key (own) in place, then delete
 * and set each `add` key in order, counting keys as it goes (the object is never listed);
 * JavaScript orders the result as it ordered the original (integer-like keys ascending,
 * then strings in the order they were set). The PROPS section follows the SEGMENTED or
 * PATCH record's body as for any collection. Only a version whose log holds such a record
 * is written as version 7 (write.ts inv. F6); a format-6 library refuses it
 * (UnsupportedVersionError), where it would have taken base kind DICT for damage.
 *
 * Object record:
 *
 * | OFFSET | SIZE | DESCRIPTION |
 * | ------ | ---- | ----------- |
 * | 0      | 1-5  | object id, varint (0 is never used) |
 * | h      | 1-5  | n: length of the body in bytes, varint (n >= 2); h + this = b, the body start |
 * | b      | 1    | kind (KIND_* below) |
 * | b+1    | var  | proto: varint; 0 = the kind's built-in prototype, 1 = null, k >= 2 = the class whose CLASS record has id k - 2 |
 * | ...    | rest | kind-specific body, to offset b + n |
 *
 * (Varint headers average 4 bytes where fixed u32 fields took 8: 11% of a typical log.)
 *
 * Binary data (binary.ts): a fixed-length ArrayBuffer or Buffer of at most 4 KiB is one
 * BYTES or BUFFER record; a larger or resizable one is a CHUNKED record and one CHUNK record
 * per 4 KiB. A chunk keeps its id while its buffer has a chunk at that index, so a changed
 * chunk is one CHUNK record under that id and the CHUNKED record is rewritten only when the
 * length changes. (Format version 1, meta.ts, had no CHUNKED or CHUNK records and stored every
 * buffer as one BYTES or BUFFER record of any size; those records are still read.)
 *
 * Kind-specific bodies (values are tagged values, below; "varint" is unsigned LEB128):
 *
 * | KIND | BODY |
 * | ---- | ---- |
 * | OBJECT | varint shape id (a SHAPE record), then one value per key of the shape |
 * | DICT | varint count, then count x (string value key, value) |
 * | ARRAY | varint length, then length values (HOLE for a missing element), varint extra count, extra x (string key, value) |
 * | SPARSE | varint length, varint count, count x (varint index, value), varint extra count, extra x (string key, value) |
 * | MAP | varint count, count x (key value, value) |
 * | SET | varint count, count values |
 * | DATE | 8 bytes: float64 LE time value |
 * | REGEXP | source (string value), flags (string value) |
 * | BYTES | varint byteLength, the bytes (an ArrayBuffer) |
 * | VIEW | u8 view type (VIEW_TYPES index), varint buffer id (a BYTES record), varint byteOffset, varint length (elements; bytes for DataView) |
 * | SHAPE | varint count, count string values (the keys, in order) |
 * | CLASS | string value: the registered class name |
 * | GONE | string value: why the object can no longer persist (its prototype was changed to an unregistered one); references to it restore as null |
 * | SEGMENTED | u8 base kind (ARRAY, MAP, SET, or DICT: format 7), varint entries (array length; a dictionary's keys), varint count, count x varint SEGMENT id (segments.ts) |
 * | SEGMENT | varint entries, then the entries: values (ARRAY, SET) or key, value pairs (MAP), or (string value key, value) pairs (DICT: keys unique over all the segments) |
 * | BUFFER | varint n, n bytes: a Node Buffer that views part of a larger ArrayBuffer (Node's 8 KiB pool, usually), stored with its own bytes only, like `v8.serialize` does, so unrelated pool memory never reaches the file |
 * | STATEFUL | an instance of a class with save/revive hooks (classes.ts): varint count, count x (string value key, value), then one value: the state `save(instance)` returned. Its proto is always a class. Restore makes the instance with the class's `create` hook and calls `revive(instance, state)` once the whole graph is built |
 * | CHUNKED | u8 base kind (BYTES: an ArrayBuffer, or BUFFER: a Buffer's own bytes), varint byteLength n, varint m (0: fixed length; else a resizable ArrayBuffer of maxByteLength m - 1 >= n), varint chunk size s (> 0), varint count (= ceil(n / s)), count x varint CHUNK id (binary.ts) |
 * | CHUNK | the bytes of one chunk, to the end of the record: chunk i of its CHUNKED record holds bytes [i*s, min(n, (i+1)*s)) and has exactly that length |
 * | ERROR | format version 6: u8 type (natives.ts ERROR_TYPES index: 0 Error, 1 EvalError, 2 RangeError, 3 ReferenceError, 4 SyntaxError, 5 TypeError, 6 URIError, 7 AggregateError). Proto 0 is that type's prototype, else null or a registered class (whose prototype chain holds the type's). Everything else (`message`, `stack`, `cause`, `errors`, other own properties) is the PROPS section. Restore (natives.ts inv. N1): `new` the type's constructor, delete the own properties it made (`stack`, `errors`), then the PROPS section |
 * | BOXED | format version 6: one tagged value, a string, number, boolean or bigint (never a reference): `Object(value)`. Proto 0 is its wrapper's prototype (String.prototype, ...). Own properties in the PROPS section, but a String object's index keys below its length and `length` (natives.ts inv. N2) |
 * | PATCH | format version 4 (form 1 parts: 5); one of five forms, told apart by the first body byte (0 or 1: a part) and the base kind. A collection (patch-record.ts): u8 base kind (ARRAY, MAP, SET, or DICT: format 7), varint entries n, varint count, count x varint SEGMENT id (its base, as in SEGMENTED), varint b (entries the segments hold), varint p, p x varint id of a PATCH part (applied in order). A collection's part (never referenced but by its collection): u8 0, u8 base kind, varint entries after it, then one point's changes: ARRAY: varint k, k x (varint index, value); MAP: varint d, d x key (deleted), varint u, u x (key, value) (set in place), varint a, a x (key, value) (appended, in order); SET: varint d, d x value (deleted), varint a, a x value (appended, in order); keys and values are never references (form 0, format 4). A collection's part of format 5 (form 1): u8 1, u8 base kind, varint id of its collection, varint entries after it, then the changes as in form 0, but a key or value may be a reference (TAG_REF to an object record current in the same version, never a descriptor; never DROPPED). A dictionary's part (format 7, form 1 only): u8 1, u8 DICT, varint id of its dictionary, varint keys after it, varint d, d x string value key (deleted: own before, unless set again below), varint u, u x (string value key, value) (set in place: own), varint a, a x (string value key, value) (deleted if own, then set: last among the string keys). A buffer (binary-patch.ts): u8 base kind (BYTES or BUFFER), then the fields of a CHUNKED record after its base kind (n, m, s, count, count x CHUNK id), varint p, p x varint id of a PATCH part. A buffer's part: u8 0, u8 base kind, varint n (the buffer's length), varint k, k x (varint offset, varint length l, l bytes), ranges ascending and apart |
 *
 * PROPS section (props.ts): any object record (all kinds above but SHAPE, CLASS, GONE,
 * SEGMENT, CHUNK and PATCH parts) may end with one; it is there when bytes remain after the kind's body.
 * It holds the own properties the body does not (non-enumerable ones, keys that are
 * `Symbol.for` or well-known symbols, those of Maps, Sets, Dates, RegExps, errors, boxed primitives and binary
 * objects), the attributes of body keys that are not the defaults, and extensibility.
 * Format version 1 had no PROPS sections (nor STATEFUL, CHUNKED or CHUNK records).
 *
 * | OFFSET | SIZE | DESCRIPTION |
 * | ------ | ---- | ----------- |
 * | p      | 1    | 1 if the object is not extensible (`preventExtensions`, `seal`, `freeze`; applied after everything else), else 0 |
 * | p+1    | 1-5  | count: entries, varint |
 * | ...    | var  | count x entry: u8 attributes, key (string value), value (tagged; absent if attribute bit 4) |
 *
 * Attributes: bit 0 enumerable, bit 1 writable, bit 2 configurable, bit 3 the property was
 * an accessor (the value is what its getter returned; restored as a data property), bit 4
 * the body holds the value (the entry gives attributes only); bits 5-6 the key kind: 0 the
 * string, 1 `Symbol.for(string)`, 2 the well-known symbol `Symbol[string]`; bit 7 is 0.
 *
 * Tagged values (first byte):
 *
 * | TAG | FOLLOWED BY | VALUE |
 * | --- | ----------- | ----- |
 * | 0x00-0x7f | - | the integer 0..127 |
 * | 0x80-0x9f | n = tag - 0x80 bytes | latin-1 string of n chars |
 * | 0xa0 | - | undefined |
 * | 0xa1 | - | null |
 * | 0xa2 / 0xa3 | - | false / true |
 * | 0xa4 | - | array hole (only inside ARRAY) |
 * | 0xa5 | 4 bytes | int32 LE |
 * | 0xa6 | 8 bytes | float64 LE (also -0, NaN, Infinity) |
 * | 0xa7 | varint n, n bytes | latin-1 string |
 * | 0xa8 | varint n, 2n bytes | UTF-16LE string of n code units (lone surrogates kept) |
 * | 0xa9 | varint id | reference to the object with that id |
 * | 0xaa | u8 sign (0/1), varint n, n bytes | bigint, magnitude little-endian |
 * | 0xab | - | a value that could not persist (restored as null) |
 */

/** Largest record header: two 5-byte varints. */
export const MAX_HEADER = 10

/** Result of {@link readHeader} (module-level so that scanning a log allocates nothing). */
export const header = { id: 0, body: 0, end: 0 }

/**
 * Parses the record header at `p` into `header` (id, body start, record end). Returns
 * false if the header is truncated or malformed before `limit` (the caller reports it).
 */
export function readHeader(buf: Uint8Array, p: number, limit: number): boolean {
  const i = readVarint5(buf, p, limit)
  if (i < 0) return false
  const id = varint
  const j = readVarint5(buf, i, limit)
  if (j < 0) return false
  header.id = id
  header.body = j
  header.end = j + varint
  return true
}

/** Value of the last varint `readVarint5` read (module-level: no allocation per record). */
let varint = 0

/** Reads a varint of at most 5 bytes at `p` into `varint`; the index after it, or -1 if truncated or too long. */
function readVarint5(buf: Uint8Array, p: number, limit: number): number {
  let v = 0, scale = 1
  for (let i = p; ;) {
    if (i >= limit || i - p >= 5) return -1
    const b = buf[i++]!
    v += (b & 0x7f) * scale
    if (b < 0x80) { varint = v; return i }
    scale *= 0x80
  }
}
/** Largest record body accepted by the decoder (a sanity bound against damage). */
export const MAX_BODY = 0x7fff_ffff

export const KIND_OBJECT = 1
export const KIND_DICT = 2
export const KIND_ARRAY = 3
export const KIND_SPARSE = 4
export const KIND_MAP = 5
export const KIND_SET = 6
export const KIND_DATE = 7
export const KIND_REGEXP = 8
export const KIND_BYTES = 9
export const KIND_VIEW = 10
export const KIND_SHAPE = 11
export const KIND_CLASS = 12
export const KIND_GONE = 13
export const KIND_SEGMENTED = 14
export const KIND_SEGMENT = 15
export const KIND_BUFFER = 16
export const KIND_CHUNKED = 17
export const KIND_CHUNK = 18
export const KIND_STATEFUL = 19
export const KIND_MAX = 19
/** INDEX records (format version 3, log-offsets.ts): id 0, never an object's state, skipped by scans. */
export const KIND_INDEX = 20
/** PATCH records (format version 4, patch-record.ts): a segmented collection as base segments plus changes. Outside KIND_MAX: readers test it apart. */
export const KIND_PATCH = 22

/** ERROR records (format version 6, natives.ts): a native error. Outside KIND_MAX, as PATCH. */
export const KIND_ERROR = 23
/** BOXED records (format version 6, natives.ts): a boxed primitive. */
export const KIND_BOXED = 24

/** True for a kind an object record may have (KIND_OBJECT..KIND_MAX, KIND_PATCH, KIND_ERROR, KIND_BOXED). */
export function knownKind(kind: number): boolean { return (kind >= KIND_OBJECT && kind <= KIND_MAX) || kind === KIND_PATCH || nativeKind(kind) }

/** True for the kinds of format version 6 (natives.ts): a version whose log holds one is written as version 6 (write.ts inv. F6). */
export function nativeKind(kind: number): boolean { return kind === KIND_ERROR || kind === KIND_BOXED }

export const PROTO_BUILTIN = 0
export const PROTO_NULL = 1
export const PROTO_CLASS_BASE = 2

export const TAG_SHORT_STR = 0x80
export const TAG_UNDEFINED = 0xa0
export const TAG_NULL = 0xa1
export const TAG_FALSE = 0xa2
export const TAG_TRUE = 0xa3
export const TAG_HOLE = 0xa4
export const TAG_INT32 = 0xa5
export const TAG_FLOAT64 = 0xa6
export const TAG_LATIN1 = 0xa7
export const TAG_UTF16 = 0xa8
export const TAG_REF = 0xa9
export const TAG_BIGINT = 0xaa
export const TAG_DROPPED = 0xab

/**
 * Objects with more keys than this are stored as DICT (keys inline) rather than with a shape; so
 * is the first object of a key list in a point whose plain objects rarely share shapes
 * (encode-objects.ts `objectBody`). A reader takes either for any plain object.
 */
export const MAX_SHAPE_KEYS = 64

/** View types of VIEW records; the index is what is stored. */
export const VIEW_TYPES = [
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
  'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'DataView',
] as const

/** Human-readable name of a record kind, for messages. */
export function kindName(kind: number): string {
  return ['?', 'object', 'dict', 'array', 'sparse array', 'Map', 'Set', 'Date', 'RegExp', 'ArrayBuffer', 'view', 'shape', 'class', 'gone', 'segmented', 'segment', 'Buffer', 'chunked buffer', 'chunk', 'class instance with state'][kind] ?? (kind === KIND_PATCH ? 'patched collection' : kind === KIND_ERROR ? 'Error' : kind === KIND_BOXED ? 'boxed primitive' : `kind ${kind}`)
}
