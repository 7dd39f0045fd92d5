/**
 * The check of an open pool (`pm.check()`, and `check(path)` through it): the heap, the
 * variables against the heap, every collection's structure (collections/check.ts) and, with
 * `{ reachability: true }`, the pointer graph from the named variables (reachability.ts).
 * Reads only, through the one reader `r` the caller's `read` gives (one consistent snapshot);
 * keeps no state. Also the check of `fromRegion`'s region argument.
 */
import { InvalidArgumentError, RegionClosedError, TypeMismatchError, describe, type RegionLike } from '../regions/index.js'
import type { Tx, TxEngine } from '../txn/index.js'
import { checkHeap, heapBlocks, type Heap, type HeapReport } from './heap.js'
import { checkReachability, type CheckOptions, type DanglingPointer, type Root, type UnreachableBlock } from './reachability.js'
import { collectionFromSig, typeFromSig } from './type-sig.js'
import { checkCollection, type CollectionReport } from './collections/check.js'
import type { VarEntry } from './vars.js'
import type { TypeDesc } from './types.js'

/** Result of `pm.check()` and of the exported `check(path)`. */
export interface CheckReport {
  ok: boolean
  path: string
  problems: string[]
  heap: HeapReport | null
  variables: Array<{ name: string; type: string; offset: number; size: number }>
  /** Committed transactions found in the log and replayed (into memory only, for read-only checks). */
  replayed: number
  /** Every collection (hash map, sorted map, vector) with its entry count and the problems its structural check found (also lines in `problems`). */
  collections: CollectionReport[]
  /** With `reachability: true`: pointers that lead nowhere valid (each also a line in `problems`). */
  dangling?: DanglingPointer[]
  /** With `reachability: true` (and `leaks` not false): allocated blocks no variable reaches (each also a line in `problems`). */
  unreachable?: UnreachableBlock[]
}

/** What the check reads of its pool: the pool's path, heap, engine, variable directory and the types declared in this process. */
export interface CheckedPool {
  readonly path: string
  readonly heap: Heap
  readonly engine: TxEngine
  readonly vars: ReadonlyMap<string, VarEntry>
  /** Types variables were declared with in this process (the reachability check's best source). */
  readonly declared: ReadonlyMap<string, TypeDesc>
}

/** `pm.check(o)` on the reader `r`: the report, `ok` when no problem was found. */
export function checkPool(r: Tx, pm: CheckedPool, o: CheckOptions): CheckReport {
  const heap = checkHeap(r, pm.heap.base, pm.engine.size)
  const problems = [...heap.problems]
  const variables = [...pm.vars.values()].map(e => ({ name: e.name, type: e.sig, offset: e.offset, size: e.size }))
  for (const v of variables) {
    if (v.offset < pm.heap.base || v.offset + v.size > heap.top) problems.push(`variable "${v.name}": data at ${v.offset} lies outside the heap`)
  }
  const report: CheckReport = { ok: false, path: pm.path, problems, heap, variables, replayed: pm.engine.recovered, collections: checkCollections(r, pm, heap) }
  for (const c of report.collections) problems.push(...c.problems)
  if (o.reachability === true) reachability(r, pm, o, report)
  report.ok = problems.length === 0
  return report
}

/** Validates every collection's structure (collections/check.ts), once the heap itself validates. */
function checkCollections(r: Tx, pm: CheckedPool, heap: HeapReport): CollectionReport[] {
  const out: CollectionReport[] = []
  const table = heap.problems.length === 0 ? heapBlocks(r, pm.heap.base, pm.engine.size) : null
  const claimed = new Set<number>()
  for (const e of pm.vars.values()) {
    const sig = collectionFromSig(e.sig)
    if (sig === null) continue
    if (table === null) out.push({ name: e.name, kind: sig.kind, count: 0, problems: [`${sig.kind} ${JSON.stringify(e.name)}: not checked, the heap itself does not validate`] })
    else out.push(checkCollection(r, table, claimed, e.name, sig, e.offset))
  }
  return out
}

function reachability(r: Tx, pm: CheckedPool, o: CheckOptions, report: CheckReport): void {
  const roots = [...pm.vars.values()].map(e => rootOf(pm, e, o))
  const table = heapBlocks(r, pm.heap.base, pm.engine.size)
  if (table === null || report.heap!.problems.length > 0) {
    report.problems.push('reachability: not checked, the heap itself does not validate')
    return
  }
  let rr
  try { rr = checkReachability(r, table, roots, o.leaks !== false) } catch (err) {
    report.problems.push(`reachability: the walk stopped: ${(err as Error).message}`)
    return
  }
  report.problems.push(...rr.problems)
  report.dangling = rr.dangling
  report.unreachable = rr.unreachable
}

/** A variable as a root of the reachability walk, with its best known type. */
function rootOf(pm: CheckedPool, e: VarEntry, o: CheckOptions): Root {
  const given = o.types !== undefined && Object.hasOwn(o.types, e.name) ? o.types[e.name]! : undefined
  if (given !== undefined && given.sig !== e.sig) {
    throw new TypeMismatchError(`Cannot check pool "${pm.path}": types["${e.name}"] is ${given.sig}, but the variable was declared as ${e.sig}`)
  }
  const type = given ?? pm.declared.get(e.name) ?? typeFromSig(e.sig)
  return { name: e.name, entry: e.at, offset: e.offset, size: e.size, type: type !== null && type.size === e.size ? type : null }
}

/** Throws unless `region` is an open region (a Region, a SimRegion or another RegionLike). */
export function checkRegionArg(region: unknown): asserts region is RegionLike {
  const r = region as Partial<RegionLike> | null
  if (r === null || typeof r !== 'object' || typeof r.unsafeBytes !== 'function' || typeof r.flush !== 'function' ||
    typeof r.grow !== 'function' || typeof r.size !== 'number' || typeof r.path !== 'string') {
    throw new InvalidArgumentError(`Cannot open pool: expected a region (Region.open(...) or SimRegion.create(...)), got ${describe(region)}`)
  }
  if (r.closed === true) throw new RegionClosedError(`Cannot open pool: region "${r.path}" is closed`)
}

