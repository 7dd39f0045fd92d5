/**
 * Record bodies of objects, written by the encoder (encode.ts) after a record's kind and proto
 * code: OBJECT (with the for-in fast path of known shapes), DICT (a plain object of more than
 * SEGMENT_MIN keys: segmented, or patched from its change log, change-log.ts inv. CL3) and
 * STATEFUL (an instance of a class with hooks). The rules are encode-bodies.ts's (byte
 * layouts: format.ts; shadows: shadow.ts; values through `Encoder.value`, so encode.ts's
 * invariants hold); split from it for size only.
 */
import { objectKeys } from './builtins.js'
import { KIND_DICT, KIND_OBJECT, KIND_STATEFUL, MAX_SHAPE_KEYS, PROTO_BUILTIN, PROTO_CLASS_BASE } from './format.js'
import { writeShape } from './records.js'
import type { ShapeNode } from './shapes.js'
import type { ClassRef } from './classes.js'
import { SEGMENT_MIN, SegmentCutter, entryHash } from './segments.js'
import { writePatch } from './patch-record.js'
import { S_OBJECT, S_STATEFUL } from './shadow.js'
import { savedState } from './instances.js'
import type { Encoder } from './encode.js'
import { anyFailed, getterFailed, readableKeys } from './trap-failures.js'
import { isWide, noteKeys } from './wide.js'
import { EMPTY_KEYS, countKeys, endSegmented } from './encode-bodies.js'

/** Writes an OBJECT, DICT or STATEFUL body; returns the keys it holds. */
export function objectBody(e: Encoder, id: number, o: Record<string, unknown>, start: number, proto: number): readonly string[] {
  e.skind = S_OBJECT
  if (proto === PROTO_BUILTIN) e.plainRecords++
  if (e.ctx.dirty.changes.size !== 0) {     // a segmented dictionary behind its proxy: a PATCH part from its log, with no key listed (patch-record.ts inv. PR6)
    const c = e.ctx.dirty.changes.get(o)
    if (c !== undefined) {
      const n = c.size0 - c.del.size + c.add.size
      if (proto < PROTO_CLASS_BASE && !e.cap && n > SEGMENT_MIN && !anyFailed() && e.nothingToInspect() && writePatch(e, o, n, start, KIND_DICT)) return countKeys(e, n)
      e.ctx.dirty.changes.delete(o)     // change-log.ts inv. CL1: written another way (segmentedDict starts a new log)
    }
  }
  let keys: string[] | null = null
  if (anyFailed() && getterFailed(o)) keys = readable(e, o)     // trap-failures.ts inv. TF2
  else if (proto === PROTO_BUILTIN && e.forIn && !e.manyShapes() && !isWide(o)) {   // most objects of varied shapes miss it, then pay Object.keys too; wide ones always do (wide.ts)
    const ks = objectForIn(e, o)
    if (ks !== null) return ks
    keys = forInKeys
    forInKeys = null
  }
  if (keys === null) keys = objectKeys(o)
  const w = e.w
  if (proto >= PROTO_CLASS_BASE) {
    const info = (e.ctx.table.objects[proto - PROTO_CLASS_BASE] as ClassRef).info
    e.classDrop(proto, KIND_OBJECT)
    if (info?.hooks) { if (e.cap) e.sh!.push(keys); stateful(e, id, o, keys, start, info.hooks); return keys }
  }
  if (keys.length > SEGMENT_MIN && proto < PROTO_CLASS_BASE) { segmentedDict(e, o, keys, start, proto); return keys }     // built-in or null prototype (a class instance keeps its keys inline)
  // Keys inline (DICT) for many keys, and for the first object of a shape the trie does not
  // have while most of the point's plain objects have shapes of their own (Encoder.manyShapes):
  // a SHAPE record and a trie path for a shape used once cost more than the keys in the
  // record; the second object of those keys makes the shape (inv. 2 of shapes.ts: a restored
  // DICT has the same properties, in the same order).
  let node: ShapeNode | undefined
  if (keys.length <= MAX_SHAPE_KEYS) {
    if (proto !== PROTO_BUILTIN || keys.length === 0 || !e.manyShapes()) node = e.ctx.shapes.lookup(keys)
    else if ((node = e.ctx.shapes.find(keys)) === undefined) {
      const sig = keys.join('\0')      // keys holding NUL may collide: then a shape is made early, nothing worse
      if (e.dictSeen.has(sig)) node = e.ctx.shapes.lookup(keys)
      else { e.dictSeen.add(sig); e.newShapes++ }
    }
  }
  if (node === undefined) {
    if (proto === PROTO_BUILTIN) noteKeys(o, keys.length)
    if (e.cap) e.sh!.push(keys)
    w.buf[start] = KIND_DICT
    w.varint(keys.length)
    for (let i = 0; i < keys.length; i++) { const k = keys[i]; w.str(k); e.value(o[k], k, 'prop') }
    return keys
  }
  if (e.cap) e.sh!.push(node)
  w.varint(shapeId(e, node))
  for (let i = 0; i < keys.length; i++) { const k = keys[i]; e.value(o[k], k, 'prop') }
  return keys
}

/**
 * A plain object of more than SEGMENT_MIN own enumerable string keys (prototype built-in or
 * null): a SEGMENTED record of base DICT (format 7) whose segments hold (key, value) pairs
 * in the object's key order, cut by content as a Map's are, so that a point that re-encodes
 * it writes only the segments whose bytes changed. Its shadow is a DICT's (S_OBJECT: the
 * keys, then the values). Behind a proxy (not exposed) it gets a change log (change-log.ts
 * inv. CL3), from which the next points write PATCH parts (patch-record.ts inv. PR6).
 */
function segmentedDict(e: Encoder, o: Record<string, unknown>, keys: string[], start: number, proto: number): void {
  if (proto === PROTO_BUILTIN) noteKeys(o, keys.length)
  if (e.cap) e.sh!.push(keys)
  const n = keys.length
  const main = e.w
  const cut = new SegmentCutter(e.holder, n, e.w = e.seg, e.scratch, e.ctx, e.aux)
  try {
    for (let i = 0; i < n; i++) { const k = keys[i]; cut.w.str(k); e.value(o[k], k, 'prop'); cut.entry(entryHash(cut.w.buf, cut.entryStart, cut.w.pos)) }
  } finally { e.w = main }
  e.dicts++      // write.ts inv. F6: format 7
  endSegmented(e, KIND_DICT, n, start, cut, e.cap ? undefined : o)
}

/**
 * Inv. TF2: the keys of `o`'s body, without those whose getters throw now. The inspection
 * (props.ts inv. P1) finds those beyond the body and reports them; without one (`properties:
 * 'enumerable'`) they are reported here.
 */
function readable(e: Encoder, o: object): string[] {
  const left: [string, string][] = []
  const keys = readableKeys(o, left)
  if (!e.ctx.inspect) for (const [k, why] of left) e.drop(k, 'prop', why)
  return keys
}

/** A STATEFUL record: an instance of a class with save/revive hooks (its keys inline, then its saved state). */
function stateful(e: Encoder, id: number, o: Record<string, unknown>, keys: string[], start: number, hooks: NonNullable<ClassRef['info']>['hooks'] & object): void {
  const w = e.w
  w.buf[start] = KIND_STATEFUL
  w.varint(keys.length)
  for (let i = 0; i < keys.length; i++) { const k = keys[i]; w.str(k); e.value(o[k], k, 'prop') }
  const state = savedState(hooks, o, id, e.ctx.states)
  const cap = e.cap
  e.cap = false
  e.value(state, '[[state]]', 'prop')
  e.cap = cap
  e.skind = S_STATEFUL
}

/**
 * The fast path of a plain object whose shape was seen before: for-in walks V8's enum
 * cache without allocating a key list (measured 40% faster than Object.keys on the users
 * of the performance graph). One pass writes the values while it compares the keys with
 * the shape last seen with the same first key. Returns null, having written nothing
 * (values written so far are undone; objects they discovered keep their ids and are
 * referenced again by the exact path), when no known shape matches or a getter changed
 * the object while it was read.
 */
function objectForIn(e: Encoder, o: Record<string, unknown>): readonly string[] | null {
  const w = e.w
  const at = w.pos, refs = e.scratch.n, drops = e.holderDropped?.length ?? -1
  let ks: readonly string[] = EMPTY_KEYS
  let n = 0
  let collected: string[] | null = null
  for (const k in o) {
    if (collected !== null) { collected.push(k); continue }
    if (n === 0) {
      const node = e.ctx.shapes.recentByFirst(k)
      if (node === undefined) { collected = [k]; continue }      // inv. B2
      ks = node.keys
      w.varint(shapeId(e, node))
      if (e.cap) e.sh!.push(node)
    } else if (n >= ks.length || ks[n] !== k) { undo(e, at, refs, drops); return null }
    e.value(o[k], k, 'prop')
    n++
  }
  if (collected !== null) { forInKeys = collected; return null }
  if (n !== 0 && n === ks.length) return ks
  if (n !== 0) undo(e, at, refs, drops)
  return null
}

/**
 * Inv. B2: the keys `objectForIn` enumerated when no known shape starts with the first of
 * them, for `objectBody` to use instead of calling Object.keys. Nothing was read from the
 * object (no getter ran), and for-in over a plain object whose prototype chain has no
 * enumerable key lists exactly Object.keys's keys, in its order (integer-like keys
 * ascending, then strings in insertion order). For-in prepares every key before its first
 * step, so on a large (dictionary-mode) object its first key cost a whole enumeration: on
 * 1,000,000 keys one is 1.5-4 s on this machine, and the miss paid a second one in
 * Object.keys at every point.
 */
let forInKeys: string[] | null = null

/** Forgets what the current record wrote since `at` (its references and dropped values too; its shadow past the prototype). */
function undo(e: Encoder, at: number, refs: number, drops: number): void {
  if (e.cap) e.sh!.truncate(1)
  e.w.pos = at
  e.scratch.n = refs
  if (drops < 0) { if (e.holderDropped !== undefined) e.dropped.delete(e.holder); e.holderDropped = undefined }
  else e.holderDropped!.length = drops
}

function shapeId(e: Encoder, node: ShapeNode): number {
  if (node.id !== 0) return node.id
  e.newShapes++
  node.id = e.ctx.table.assign(node)
  writeShape(e.aux, node.id, node.keys)
  return node.id
}

