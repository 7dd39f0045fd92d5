// Test helper for the shadow-store tests: a plain in-memory model of a store's logical content
// (what every version must read back as), operation generators, and comparison helpers.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ShadowStore } from '../../txn/shadow.js'

/** Content of one version: chunk count, non-zero chunks (immutable arrays), meta. */
export interface Snap {
  count: number
  chunks: Map<number, Uint8Array>
  meta: Uint8Array
}

/** The logical content a store should show, updated alongside it. */
export class Model {
  count = 0
  chunks = new Map<number, Uint8Array>()
  meta: Uint8Array = new Uint8Array(0)
  constructor(readonly chunkSize: number) {}

  snapshot(): Snap { return { count: this.count, chunks: new Map(this.chunks), meta: this.meta } }

  restore(s: Snap): void {
    this.count = s.count
    this.chunks = new Map(s.chunks)
    this.meta = s.meta
  }

  write(L: number, data: Uint8Array, offset: number): void {
    const next = (this.chunks.get(L) ?? new Uint8Array(this.chunkSize)).slice()
    next.set(data, offset)
    this.chunks.set(L, next)
  }

  resize(n: number): void {
    for (const L of [...this.chunks.keys()]) if (L >= n) this.chunks.delete(L)
    this.count = n
  }
}

/** Asserts that the store's staged view equals `snap`, every chunk compared. */
export function assertContent(store: ShadowStore, snap: Snap, label = ''): void {
  assert.equal(store.chunkCount, snap.count, `${label} chunk count`)
  assert.deepEqual(store.getMeta(), snap.meta, `${label} meta`)
  const zero = new Uint8Array(store.chunkSize)
  for (let L = 0; L < snap.count; L++) {
    const got = store.read(L)
    const want = snap.chunks.get(L) ?? zero
    if (!sameBytes(got, want)) assert.fail(`${label} logical chunk ${L} differs from the model (version ${store.version})`)
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Deterministic test bytes. */
export function pattern(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len)
  for (let i = 0; i < len; i++) out[i] = (seed * 131 + i * 31 + 7) & 0xff
  return out
}

export type Op =
  | { kind: 'write'; at: number; offset: number; len: number; seed: number }
  | { kind: 'resize'; n: number }
  | { kind: 'meta'; meta: Uint8Array }
  | { kind: 'commit' }
  | { kind: 'abort' }

/** Random operation sequences; `maxCount` bounds resizes. */
export function opsArb(chunkSize: number, maxCount: number, maxLength: number): fc.Arbitrary<Op[]> {
  const write = fc.record({
    kind: fc.constant('write' as const),
    at: fc.nat(),
    offset: fc.oneof(fc.constant(0), fc.nat({ max: chunkSize - 1 })),
    len: fc.oneof(fc.constant(chunkSize), fc.integer({ min: 1, max: chunkSize })),
    seed: fc.nat(255),
  })
  const resize = fc.record({
    kind: fc.constant('resize' as const),
    n: fc.oneof({ weight: 4, arbitrary: fc.nat({ max: 70 }) }, { weight: 1, arbitrary: fc.nat({ max: maxCount }) }),
  })
  const meta = fc.record({ kind: fc.constant('meta' as const), meta: fc.uint8Array({ maxLength: 24 }) })
  return fc.array(fc.oneof(
    { weight: 6, arbitrary: write },
    { weight: 2, arbitrary: resize },
    { weight: 1, arbitrary: meta },
    { weight: 3, arbitrary: fc.constant({ kind: 'commit' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'abort' as const }) },
  ), { maxLength, size: 'max' })
}

/**
 * Applies one non-commit op to both store and model (commits are the caller's: they decide
 * what to record around them). Returns false for a commit.
 */
export function applyOp(store: ShadowStore, model: Model, op: Op, lastCommitted: () => Snap): boolean {
  switch (op.kind) {
    case 'write': {
      if (model.count === 0) { store.resize(1); model.resize(1) }
      const L = op.at % model.count
      const len = Math.min(op.len, store.chunkSize - op.offset)
      const data = pattern(len, op.seed)
      store.write(L, data, op.offset)
      model.write(L, data, op.offset)
      return true
    }
    case 'resize': store.resize(op.n); model.resize(op.n); return true
    case 'meta': store.setMeta(op.meta); model.meta = op.meta.slice(); return true
    case 'abort': store.abort(); model.restore(lastCommitted()); return true
    case 'commit': return false
  }
}
