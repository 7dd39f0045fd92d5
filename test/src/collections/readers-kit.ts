// The workload of readers.test.ts in this folder: a hashMap 'm' written by one process and read
// by others. Transaction v puts the eight keys k0..k7, all with { a: v, b: -v, s: text(v) } (s is
// long enough to live in a heap block, freed and replaced on every put), adds the key n<v> and
// deletes n<v-50>: the map splits buckets while it grows, and reuses freed blocks. A snapshot is
// consistent when the eight values agree with each other and with the size (8 + min(v, 50));
// a torn read shows as a disagreement.
import { t, type PersistentMemory, type PmTx } from '../../../src/index.js'

export const Val = t.struct({ a: t.f64, b: t.f64, s: t.string })
export const KEEP = 50

/** The map; its puts inside a transaction take the transaction's durability (a default of sync would make every commit sync). */
export function mapOf(pm: PersistentMemory) { return pm.hashMap('m', t.string, Val, { durability: 'none' }) }
export type TheMap = ReturnType<typeof mapOf>

export const text = (v: number) => `value ${v} `.repeat(1 + (v % 3))

/** Transaction v of the workload (inside pm.transaction: the puts join it). */
export function commitValue(_tx: PmTx, m: TheMap, v: number): void {
  const val = { a: v, b: -v, s: text(v) }
  for (let i = 0; i < 8; i++) m.put(`k${i}`, val)
  m.put(`n${v}`, { a: v, b: 0, s: '' })
  if (v > KEEP) m.delete(`n${v - KEEP}`)
}

/** One snapshot's reading (run inside read(fn)): the value it shows, and what is torn in it, if anything. */
export function readSnapshot(m: TheMap): { value: number; torn: string | null } {
  const first = m.get('k0')
  if (first === undefined) return { value: 0, torn: null }
  const v = first.a
  if (first.b !== -v || first.s !== text(v)) return { value: v, torn: `k0 holds ${JSON.stringify(first)}` }
  for (let i = 1; i < 8; i++) {
    const x = m.get(`k${i}`)
    if (x === undefined || x.a !== v || x.b !== -v || x.s !== text(v)) return { value: v, torn: `k${i} holds ${JSON.stringify(x)}, k0 holds ${v}` }
  }
  const size = m.size
  if (size !== 8 + Math.min(v, KEEP)) return { value: v, torn: `size ${size} after transaction ${v}` }
  if (m.get(`n${v}`)?.a !== v) return { value: v, torn: `n${v} is missing` }
  return { value: v, torn: null }
}
