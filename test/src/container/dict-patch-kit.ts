/**
 * What a container file holds of segmented dictionaries (format 7, patch-record.ts inv. PR6):
 * its metadata's format version and a count of the records of base DICT in its log
 * (SEGMENTED records, PATCH records and PATCH parts), for dict-patch.test.ts and kill.test.ts.
 */
import { fileBacking } from '../../../src/container/backing.js'
import { decodeMeta } from '../../../src/container/meta.js'
import { readLog } from '../../../src/container/log.js'
import { KIND_DICT, KIND_PATCH, KIND_SEGMENTED, header, readHeader } from '../../../src/container/format.js'
import { canonicalHash } from './graph-kit.js'

export interface DictRecords { format: number; segmented: number; patched: number; parts: number }

/** The format version of `file`'s newest version and its log's records of base DICT. */
export function dictRecords(file: string): DictRecords {
  const b = fileBacking(file, false, true)
  try {
    const meta = decodeMeta(b.store!.getMeta(), file)
    const log = readLog(b.store!, meta.logEnd)
    const r: DictRecords = { format: meta.format ?? 5, segmented: 0, patched: 0, parts: 0 }
    for (let p = 0; p < meta.logEnd; p = header.end) {
      if (!readHeader(log, p, meta.logEnd)) break
      const kind = log[header.body]
      if (kind !== KIND_SEGMENTED && kind !== KIND_PATCH) continue
      let q = header.body + 1
      while (log[q] >= 0x80) q++     // the proto varint
      q++
      if (kind === KIND_PATCH && (log[q] === 0 || log[q] === 1)) { if (log[q + 1] === KIND_DICT) r.parts++; continue }     // a part: mark, base kind
      if (log[q] !== KIND_DICT) continue
      if (kind === KIND_SEGMENTED) r.segmented++; else r.patched++
    }
    return r
  } finally { b.close() }
}

/** A dictionary as dict-patch-child.ts prints it (keys in order, content hash, aliasing, other own properties, prototype). */
export interface DictDescription { keys: string[]; hash: string; alias: Record<string, string>; hidden: string[]; proto: string }

/** Describes `d` (raw or a proxy; `raw` maps a value to the object it stands for, so that aliasing is compared by identity). */
export function describeDict(d: Record<string, unknown>, raw: (x: object) => object = x => x): DictDescription {
  const keys = Object.keys(d)
  const first = new Map<object, string>()
  const alias: Record<string, string> = {}
  for (const k of keys) {
    const v = d[k]
    if (typeof v !== 'object' || v === null) continue
    const o = raw(v)
    const f = first.get(o)
    if (f === undefined) first.set(o, k); else alias[k] = f
  }
  const enumerable = new Set(keys)
  const hidden = [
    ...Object.getOwnPropertyNames(d).filter(k => !enumerable.has(k)).map(k => `${k}=${JSON.stringify(d[k])}`),
    ...Object.getOwnPropertySymbols(d).map(s => `${String(s)}=${JSON.stringify((d as Record<symbol, unknown>)[s])}`),
  ].sort()
  const p = Object.getPrototypeOf(d) as object | null
  return { keys, hash: canonicalHash(d), alias, hidden, proto: p === null ? 'null' : p === Object.prototype ? 'Object' : 'other' }
}
