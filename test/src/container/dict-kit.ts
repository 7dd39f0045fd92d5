/**
 * A plain object used as a dictionary (thousands of keys, V8's dictionary mode) and the same
 * operations on a model object, for dict.test.ts, dict-child.ts and kill-child.ts's 'dict'
 * lives: primitives and objects as values, integer-like keys mixed in (they enumerate first,
 * ascending), deletes, re-adds (a deleted-then-re-added key moves to the end), writes into
 * values. JavaScript's own key order is the model: the hash (JSON.stringify) follows it.
 */
import { canonicalHash } from './graph-kit.js'

export type Dict = Record<string, unknown>

/** Fills `d` with `n` string keys and every 97th index as an integer-like key. */
export function fillDict(d: Dict, n: number): void {
  for (let i = 0; i < n; i++) d['k' + i] = i % 3 === 0 ? i : { v: i, s: 'v' + i }
  for (let i = 0; i < n; i += 97) d[i] = 'int' + i
  d.alias = d.k1      // one object under two keys: identity must survive
}

/** Whether `alias` and `k1` are one object in `got` exactly when they are in the model. */
export function sameAliasing(got: Dict, want: Dict): boolean {
  return (got.alias === got.k1) === (want.alias === want.k1)
}

/**
 * One round of `count` changes chosen by `rnd`, applied to `d` (the persisted dictionary, raw
 * or a proxy) and to the model `m` alike (null: `d` is its own model).
 */
export function mutateDict(d: Dict, m: Dict | null, n: number, count: number, rnd: (n: number) => number, round: number): void {
  const both = (f: (o: Dict) => void): void => { f(d); if (m !== null) f(m) }
  for (let j = 0; j < count; j++) {
    const k = rnd(3) === 0 ? String(rnd(n * 2)) : 'k' + rnd(n + 50)
    switch (rnd(6)) {
      case 0: both(o => { delete o[k] }); break
      case 1: both(o => { delete o[k]; o[k] = { re: round } }); break      // moves to the end (or to its index)
      case 2: both(o => { o[k] = round }); break
      case 3: both(o => { const v = o[k]; if (v !== null && typeof v === 'object') (v as Dict).w = round }); break
      case 4: both(o => { o[k] = 'r' + round }); break
      default: both(o => { o[k] = [round, { a: j }] })
    }
  }
}

/** The dictionary's content and key order as one hash (and its key count). */
export function dictHash(d: Dict): string {
  return canonicalHash(d)
}

/** The first place where the keys of `got` and `want` differ, or null. */
export function keyOrderDiff(got: Dict, want: Dict): string | null {
  const a = Object.keys(got), b = Object.keys(want)
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return `key ${i}: ${a[i]} instead of ${b[i]} (${a.length} keys, ${b.length} wanted)`
  return null
}
