/**
 * Mutation sequences through references the program KEEPS (the "silent losses"):
 * the `init` graph's objects, values stored through `c.root` and kept, children read raw and
 * detached, `c.unwrap` results, class instances whose methods change `#private` state; mixed
 * with mutations through `c.root`, points, full points and restarts (close and reopen: the
 * objects kept before belong to the closed container and are forgotten).
 */
import fc from 'fast-check'
import { types } from 'node:util'
import { Container } from '../../../src/container/index.js'
import { buildGraph, graphRecipe, primitive, Point, type NodeRecipe } from './graph-kit.js'
import { kindOf, mutateNode, navigate } from './mutate-kit.js'

/** Private state persisted through hooks; `items()` hands its private array out raw. */
export class Counter {
  #n = 0
  #items: unknown[] = []
  label = 'counter'
  bump(v: unknown): void { this.#n++; this.#items.push(v) }
  get n(): number { return this.#n }
  items(): unknown[] { return this.#items }
  static [Container.save](c: Counter): unknown { return { n: c.#n, items: c.#items } }
  static [Container.revive](c: Counter, s: { n: number; items: unknown[] }): void { c.#n = s.n; c.#items = s.items }
}

/** Private state without hooks: reported in `dropped`, restored without it. */
export class Secret {
  #hidden = 1
  shown = 2
  reveal(): number { return this.#hidden }
  hide(v: number): void { this.#hidden = v; this.shown = v + 1 }
}

export const KEPT_CLASSES = [Point, Counter, Secret]

export interface KeptOp {
  op: 'raw' | 'store' | 'detach' | 'unwrap' | 'method' | 'proxy' | 'persist' | 'full' | 'reopen'
  path: number[]
  pick: number
  value: { kind: 'prim'; v: unknown } | { kind: 'new'; recipe: NodeRecipe[] } | { kind: 'kept'; pick: number } | { kind: 'counter' } | { kind: 'reached'; path: number[] }
}

export const keptOp = (): fc.Arbitrary<KeptOp> => fc.record({
  op: fc.constantFrom('raw', 'raw', 'raw', 'store', 'store', 'detach', 'unwrap', 'method', 'method', 'proxy', 'persist', 'persist', 'full', 'reopen'),
  path: fc.array(fc.nat(), { maxLength: 4 }),
  pick: fc.nat(),
  value: fc.oneof(
    fc.record({ kind: fc.constant('prim' as const), v: primitive() }),
    fc.record({ kind: fc.constant('new' as const), recipe: graphRecipe(3) }),
    fc.record({ kind: fc.constant('kept' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('counter' as const) }),
    fc.record({ kind: fc.constant('reached' as const), path: fc.array(fc.nat(), { maxLength: 4 }) }),
  ),
})

/** The root of a run: a random graph plus class instances with private state. */
export function keptRoot(recipe: NodeRecipe[]): Record<string, unknown> {
  const root = buildGraph(recipe)
  const counter = new Counter()
  counter.bump('first')
  Object.assign(root, { counter, secret: new Secret(), counters: [counter, new Counter()] })
  return root
}

/** Every object reachable raw from `root` (the program holds the init graph raw). */
export function rawObjects(root: unknown): object[] {
  const out: object[] = []
  const seen = new Set<unknown>()
  const todo = [root]
  while (todo.length > 0 && out.length < 400) {
    const o = todo.pop()
    if (typeof o !== 'object' || o === null || seen.has(o) || types.isProxy(o)) continue
    seen.add(o)
    out.push(o)
    if (types.isMap(o)) (o as Map<unknown, unknown>).forEach((v, k) => todo.push(v, k))
    else if (types.isSet(o)) (o as Set<unknown>).forEach(v => todo.push(v))
    else if (!ArrayBuffer.isView(o)) for (const k of Object.keys(o)) todo.push((o as Record<string, unknown>)[k])
  }
  return out
}

/** The state of a run: the container (replaced at each reopen) and the references kept in this life. */
export interface KeptRun { c: Container; kept: object[]; reopen: () => Promise<Container> }

function valueFor(run: KeptRun, op: KeptOp): unknown {
  const v = op.value
  switch (v.kind) {
    case 'prim': return v.v
    case 'new': { const g = buildGraph(v.recipe); run.kept.push(...rawObjects(g)); return g }
    case 'kept': return run.kept.length === 0 ? null : run.kept[v.pick % run.kept.length]
    case 'counter': { const k = new Counter(); k.bump(v.kind); run.kept.push(k); return k }
    case 'reached': return navigate(run.c, v.path)
  }
}

/** Applies one operation; returns a promise for points and restarts. */
export async function applyKept(run: KeptRun, op: KeptOp): Promise<void> {
  const { kept } = run
  switch (op.op) {
    case 'persist': void run.c.persist(); return
    case 'full': await run.c.persist({ full: true }); return
    case 'reopen': run.c = await run.reopen(); kept.length = 0; return
    case 'proxy': mutateNode(navigate(run.c, op.path), valueFor(run, op), op.pick); return
    case 'store': {
      const value = valueFor(run, op)
      mutateNode(navigate(run.c, op.path), value, op.pick % 4 === 1 ? 0 : op.pick)    // mostly sets and pushes
      if (typeof value === 'object' && value !== null && !types.isProxy(value)) kept.push(value)
      return
    }
    case 'unwrap': {
      const raw = run.c.unwrap(navigate(run.c, op.path))
      if (typeof raw === 'object' && raw !== null) kept.push(raw)
      return
    }
    case 'method': {
      const counters = kept.filter(o => o instanceof Counter) as Counter[]
      const secret = kept.find(o => o instanceof Secret) as Secret | undefined
      const root = run.c.root as { counter?: Counter; secret?: Secret }
      const c = counters.length > 0 && op.pick % 3 !== 0 ? counters[op.pick % counters.length] : root.counter
      if (c instanceof Counter) {
        if (op.pick % 4 === 3) c.items().push(op.pick)            // the private array, raw
        else c.bump(op.pick % 5 === 0 ? valueFor(run, op) : op.pick)
        kept.push(c)
      }
      const s = secret ?? root.secret
      if (s instanceof Secret && op.pick % 2 === 0) {
        try { s.hide(op.pick) } catch (e) {   // a restored Secret has no #hidden: its methods throw (classes.ts)
          if (!(e instanceof TypeError && /private member #hidden/.test(e.message))) throw e
        }
      }
      return
    }
    case 'detach': {
      if (kept.length === 0) return
      const o = kept[op.pick % kept.length]
      if (kindOf(o) !== 'object' && kindOf(o) !== 'array') return
      const rec = o as Record<string, unknown>
      const key = Object.keys(rec).find(k => typeof rec[k] === 'object' && rec[k] !== null && !types.isProxy(rec[k]))
      if (key === undefined) return
      kept.push(rec[key] as object)                                 // read raw, kept ...
      if (op.pick % 2 === 0) delete rec[key]; else rec[key] = null  // ... and detached (it may stay reachable elsewhere)
      return
    }
    case 'raw': {
      if (kept.length === 0) return
      const o = kept[op.pick % kept.length]
      if (types.isArrayBuffer(o)) { const b = new Uint8Array(o as ArrayBuffer); if (b.length > 0) b[op.pick % b.length] ^= 0x5a; return }
      if (ArrayBuffer.isView(o) && o.byteLength > 0) { new Uint8Array(o.buffer, o.byteOffset, o.byteLength)[op.pick % o.byteLength] ^= 0x33; return }
      mutateNode(o, valueFor(run, op), op.pick)
    }
  }
}
