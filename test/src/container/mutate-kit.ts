/**
 * Random mutation sequences applied through `c.root` (proxies for a restore's objects, the
 * objects themselves for those the program handed in), for the incremental-point property
 * tests. An operation is a recipe of numbers, turned into a concrete mutation against
 * whatever the graph looks like when it runs. Nothing here calls `c.unwrap` (which would
 * expose what it returns: verify.ts), so the write barriers are exercised after a restore.
 */
import fc from 'fast-check'
import { types } from 'node:util'
import type { Container } from '../../../src/container/index.js'
import { buildGraph, graphRecipe, primitive, type NodeRecipe } from './graph-kit.js'

export interface OpRecipe {
  op: 'mutate' | 'persist' | 'full' | 'bytes'
  path: number[]
  pick: number
  value: { kind: 'prim'; v: unknown } | { kind: 'new'; recipe: NodeRecipe[] } | { kind: 'existing'; path: number[] } | { kind: 'old'; pick: number }
}

/** Nodes navigated to so far (some since detached): re-attaching them exercises freed ids. */
export const history: unknown[] = []

export const opRecipe = (): fc.Arbitrary<OpRecipe> => fc.record({
  op: fc.constantFrom('mutate', 'mutate', 'mutate', 'mutate', 'mutate', 'persist', 'persist', 'full', 'bytes'),
  path: fc.array(fc.nat(), { maxLength: 5 }),
  pick: fc.nat(),
  value: fc.oneof(
    fc.record({ kind: fc.constant('prim' as const), v: primitive() }),
    fc.record({ kind: fc.constant('new' as const), recipe: graphRecipe(4) }),
    fc.record({ kind: fc.constant('existing' as const), path: fc.array(fc.nat(), { maxLength: 5 }) }),
    fc.record({ kind: fc.constant('old' as const), pick: fc.nat() }),
  ),
})

/** What a value read through `c.root` is (a proxy of a Map says "Map" through its toStringTag), without unwrapping it. */
export function kindOf(v: unknown): 'array' | 'map' | 'set' | 'date' | 'object' | 'other' {
  if (typeof v !== 'object' || v === null) return 'other'
  if (types.isDate(v)) return 'date'
  if (ArrayBuffer.isView(v) || types.isArrayBuffer(v) || types.isRegExp(v)) return 'other'
  if (Array.isArray(v)) return 'array'
  const tag = Object.prototype.toString.call(v)
  if (tag === '[object Map]') return 'map'
  if (tag === '[object Set]') return 'set'
  return 'object'
}

function isTracked(v: unknown): boolean { return kindOf(v) !== 'other' }

/** Children of a node that are objects (as `c.root` hands them out). */
function children(node: unknown): unknown[] {
  const out: unknown[] = []
  const kind = kindOf(node)
  if (kind === 'map') (node as Map<unknown, unknown>).forEach((v, k) => { out.push(v, k) })
  else if (kind === 'set') (node as Set<unknown>).forEach(v => { out.push(v) })
  else if (kind === 'date') return out
  else for (const k of Object.keys(node as object)) out.push((node as Record<string, unknown>)[k])
  return out.filter(v => typeof v === 'object' && v !== null)
}

/** Follows `path` from the root; stops early where there is nothing to follow. */
export function navigate(c: Container, path: number[], tracked = true): unknown {
  let node: unknown = c.root
  for (const step of path) {
    const kids = children(node).filter(k => !tracked || isTracked(k))
    if (kids.length === 0) break
    const next = kids[step % kids.length]
    if (!isTracked(next)) break
    node = next
  }
  if (history.length < 200) history.push(node)
  return node
}

function valueOf(c: Container, r: OpRecipe): unknown {
  switch (r.value.kind) {
    case 'prim': return r.value.v
    case 'new': return buildGraph(r.value.recipe)
    case 'existing': return navigate(c, r.value.path)
    case 'old': return history.length === 0 ? null : history[r.value.pick % history.length]
  }
}

const KEYS = ['a', 'b', 'name', 'x', '0', 'extra', '__proto__']

/** Applies one mutation through `c.root`. */
export function mutate(c: Container, r: OpRecipe): void {
  mutateNode(navigate(c, r.path), valueOf(c, r), r.pick)
}

/** Applies one mutation, chosen by `k`, to `node` (a proxy or an object), storing `v`. */
export function mutateNode(node: unknown, v: unknown, k: number): void {
  const kind = kindOf(node)
  if (kind === 'array') {
    const a = node as unknown[]
    switch (k % 6) {
      case 0: a.push(v); break
      case 1: a.pop(); break
      case 2: a.splice(k % (a.length + 1), 1, v); break
      case 3: a[k % (a.length + 2)] = v; break
      case 4: a.length = k % (a.length + 1); break
      default: a.reverse()
    }
  } else if (kind === 'map') {
    const m = node as Map<unknown, unknown>
    const keys = [...m.keys()]
    switch (k % 4) {
      case 0: m.set(KEYS[k % KEYS.length], v); break
      case 1: m.set(v, KEYS[k % KEYS.length]); break
      case 2: if (keys.length > 0) m.delete(keys[k % keys.length]); break
      default: if (k % 13 === 3) m.clear(); else if (keys.length > 0) m.set(keys[k % keys.length], v)
    }
  } else if (kind === 'set') {
    const s = node as Set<unknown>
    const vals = [...s]
    if (k % 3 === 0 && vals.length > 0) s.delete(vals[k % vals.length])
    else s.add(v)
  } else if (kind === 'date') {
    (node as Date).setTime(k * 1000)
  } else if (kind === 'object' && types.isNativeError(node) && k % 5 === 1) {
    // an error's own non-enumerable properties (natives.ts; handed out raw: compared at each point, verify.ts inv. V5)
    const e = node as Error
    try {
      switch ((k >> 3) % 4) {
        case 0: e.message = typeof v === 'string' ? v : String(typeof v === 'symbol' ? 'sym' : k); break
        case 1: e.cause = v; break
        case 2: delete e.stack; break
        default: Object.defineProperty(e, 'code', { value: v, writable: true, enumerable: false, configurable: true })
      }
    } catch { /* a frozen error refuses, as it would for the program */ }
  } else if (kind === 'object') {
    const o = node as Record<string, unknown>
    const keys = Object.keys(o)
    const key = k % 3 === 0 && keys.length > 0 ? keys[k % keys.length] : KEYS[k % KEYS.length]
    try {
      if (k % 4 === 0 && keys.length > 0) delete o[keys[k % keys.length]]
      else if (key === '__proto__') Object.defineProperty(o, key, { value: v, writable: true, enumerable: true, configurable: true })
      else o[key] = v
    } catch { /* refused: a read-only or non-configurable property (graph-kit's 'decorated' objects), as it would be for the program */ }
  }
}

/** Writes a byte into some ArrayBuffer or typed array reachable from the root (handed out raw: compared, not proxied). */
export function mutateBytes(c: Container, r: OpRecipe): void {
  const todo: unknown[] = [c.root]
  const seen = new Set<unknown>()
  const found: ArrayBuffer[] = []
  while (todo.length > 0 && found.length < 20) {
    const o = todo.pop()
    if (typeof o !== 'object' || o === null || seen.has(o)) continue
    seen.add(o)
    if (types.isArrayBuffer(o)) { if ((o as ArrayBuffer).byteLength > 0) found.push(o as ArrayBuffer); continue }
    if (ArrayBuffer.isView(o)) { todo.push(o.buffer); continue }
    const kind = kindOf(o)
    if (kind === 'map') (o as Map<unknown, unknown>).forEach((v, key) => todo.push(v, key))
    else if (kind === 'set') (o as Set<unknown>).forEach(v => todo.push(v))
    else if (kind !== 'other' && kind !== 'date') for (const key of Object.keys(o)) todo.push((o as Record<string, unknown>)[key])
  }
  if (found.length === 0) return
  const buf = found[r.pick % found.length] as ArrayBuffer & { resizable?: boolean; maxByteLength?: number; resize?(n: number): void }
  if (buf.resizable === true && r.pick % 3 === 0) { buf.resize!(r.pick % (buf.maxByteLength! + 1)); return }
  const b = new Uint8Array(buf)
  b[r.pick % b.length] ^= 0x5a
}

/** Applies a generated op sequence, calling `point(full)` before, where the ops say, and after. */
export function runOps(c: Container, ops: OpRecipe[], point: (full: boolean) => void): void {
  point(false)
  for (const op of ops) {
    if (op.op === 'persist') point(false)
    else if (op.op === 'full') point(true)
    else if (op.op === 'bytes') mutateBytes(c, op)
    else mutate(c, op)
  }
  point(false)
}
