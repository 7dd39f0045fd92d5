// Values come back exactly as written (varlen inv. 4, view inv. V1, keys.ts): random keys and
// values through hashMap, sortedMap and vector of every key type, against a JavaScript model.
// Keys and values include lone surrogates, strings and blobs of 14-17 bytes (the inline
// boundary, multi-byte characters across it), blobs that are views into larger buffers and
// are mutated after the put, and the numbers a user passes by mistake (-0, NaN, ±Infinity,
// out of range, non-integers, numbers for bigints and the reverse, beyond 2^53). Each call
// either does what the model says or throws InvalidArgumentError with nothing changed; some
// run inside a transaction that catches the error and commits. Then the pool is reopened in
// a fresh process (roundtrip-dump.ts) and every collection compared with its model again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { open, t, InvalidArgumentError, OutOfRangeError, type TypeDesc } from '../../../src/index.js'
import { decode } from './roundtrip-codec.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-roundtrip-'))
const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'roundtrip-dump.js')
const RUNS = Number(process.env.PMEM_COLLECTION_RUNS ?? 10)

type Kind = 'u8' | 'u32' | 'i32' | 'f64' | 'u64' | 'string' | 'blob'
const KINDS: Kind[] = ['u8', 'u32', 'i32', 'f64', 'u64', 'string', 'blob']
const RANGE = { u8: [0, 255], u32: [0, 2 ** 32 - 1], i32: [-(2 ** 31), 2 ** 31 - 1] } as const
const V = t.struct({ s: t.string, b: t.blob, n: t.f64 })
interface Val { s: string; b: Uint8Array; n: number }

// ---- the model -------------------------------------------------------------------------------
const utf8 = (s: string) => Buffer.from(s, 'utf8')
/** Whether `k` is a key of `kind` (keys.ts table; a string must be well formed, varlen inv. 4). */
function validKey(kind: Kind, k: unknown): boolean {
  switch (kind) {
    case 'f64': return typeof k === 'number' && !Number.isNaN(k)
    case 'u64': return typeof k === 'bigint' && k >= 0n && k < 1n << 64n
    case 'string': return typeof k === 'string' && k.isWellFormed()
    case 'blob': return k instanceof Uint8Array
    default: return typeof k === 'number' && Number.isInteger(k) && k >= RANGE[kind][0] && k <= RANGE[kind][1]
  }
}
/** Whether `v` is an element of `kind` (as a key, but f64 takes NaN). */
const validElem = (kind: Kind, v: unknown) => kind === 'f64' ? typeof v === 'number' : validKey(kind, v)
/** What reading back a valid key or element of `kind` gives (integers and f64 keys store -0 as 0; a blob is a copy). */
function stored(kind: Kind, k: unknown, isKey: boolean): unknown {
  if (k instanceof Uint8Array) return Uint8Array.from(k)
  if (typeof k === 'number' && (kind !== 'f64' || isKey)) return k === 0 ? 0 : k
  return k
}
const id = (k: unknown): string => k instanceof Uint8Array ? 'b' + Buffer.from(k).toString('hex') : typeof k === 'string' ? 's' + k : typeof k === 'bigint' ? 'n' + k : 'n' + String(k === 0 ? 0 : k)
function order(a: unknown, b: unknown): number {
  if (a instanceof Uint8Array) return Buffer.compare(a, b as Uint8Array)
  if (typeof a === 'string') return Buffer.compare(utf8(a), utf8(b as string))
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0
}
const validVal = (v: unknown): v is Val => v !== null && typeof v === 'object' && Object.keys(v).every(k => k === 's' || k === 'b' || k === 'n') &&
  validKey('string', (v as Val).s) && (v as Val).b instanceof Uint8Array && typeof (v as Val).n === 'number'
const storedVal = (v: Val): Val => ({ s: v.s, b: Uint8Array.from(v.b), n: v.n })

// ---- generators ------------------------------------------------------------------------------
const unit = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('a', 'b', 'z', '0', '\0', '~') },
  { weight: 2, arbitrary: fc.constantFrom('é', '\u20ac', '\uFFFD', '😀', '\u{10FFFF}') },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map(c => String.fromCharCode(c)) }) // a half: a pair when two meet
const boundary = fc.constantFrom('', 'a'.repeat(14), 'a'.repeat(15), 'a'.repeat(16), 'a'.repeat(17), 'a'.repeat(13) + 'é', 'a'.repeat(14) + 'é', 'a'.repeat(15) + 'é',
  'é'.repeat(8), 'a'.repeat(12) + '😀', 'a'.repeat(13) + '😀', '\uD800', '\uDBFF', 'a\uDFFFb', 'a'.repeat(20) + '\uD83D', '😀'.slice(1))
const str = fc.oneof(boundary, fc.string({ unit, maxLength: 12 }))
/** A blob, sometimes a view into a larger buffer (byteOffset > 0) or a Buffer from Node's pool. */
const blob = fc.tuple(fc.oneof(fc.constantFrom(0, 1, 14, 15, 16, 17, 40), fc.nat(20)), fc.nat(255), fc.nat(3)).map(([n, seed, form]) => {
  const bytes = Uint8Array.from({ length: n }, (_, i) => (seed + i * 7) % 4) // few distinct values: keys collide
  if (form === 1) { const big = new Uint8Array(n + 9).fill(0xaa); big.set(bytes, 5); return big.subarray(5, 5 + n) }
  if (form === 2) return Buffer.from(bytes)
  return bytes
})
const edgeNum = fc.constantFrom<unknown>(0, -0, 1, -1, 1.5, NaN, Infinity, -Infinity, 255, 256, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1,
  2 ** 32 - 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 0n, 1n, -1n, 255n, 2n ** 53n + 1n, (1n << 64n) - 1n, 1n << 64n, '1', null, undefined)
function keyArb(kind: Kind): fc.Arbitrary<unknown> {
  switch (kind) {
    case 'string': return fc.oneof({ weight: 9, arbitrary: str }, { weight: 1, arbitrary: fc.constantFrom<unknown>(1, new Uint8Array(1), null) })
    case 'blob': return fc.oneof({ weight: 9, arbitrary: blob }, { weight: 1, arbitrary: fc.constantFrom<unknown>('ab', new Uint16Array(1), [1], new ArrayBuffer(1)) })
    case 'u64': return fc.oneof(edgeNum, fc.bigInt({ min: -2n, max: (1n << 64n) + 2n }), fc.bigInt({ min: 0n, max: 5n }))
    case 'f64': return fc.oneof(edgeNum, fc.double(), fc.integer({ min: -3, max: 3 }))
    default: return fc.oneof(edgeNum, fc.integer({ min: -3, max: 300 }), fc.integer())
  }
}
const valArb = fc.oneof(
  { weight: 8, arbitrary: fc.record({ s: str, b: blob, n: fc.oneof(fc.double(), fc.constantFrom(-0, NaN, Infinity)) }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>({ s: 1, b: new Uint8Array(0), n: 0 }, { s: '', b: 'x', n: 0 }, { s: '', b: new Uint8Array(0), n: 1n }, { s: '', b: new Uint8Array(0), n: 0, q: 1 }, null) })
type Op = { op: 'put' | 'delete' | 'get' | 'push' | 'set' | 'pop' | 'range'; k: unknown; k2: unknown; v: unknown; i: number; inTx: boolean; mutate: boolean }
const opsArb = (kind: Kind) => fc.array(fc.record({
  op: fc.constantFrom<Op['op']>('put', 'put', 'put', 'delete', 'get', 'push', 'push', 'set', 'pop', 'range'),
  k: keyArb(kind), k2: keyArb(kind), v: valArb, i: fc.nat(12), inTx: fc.boolean(), mutate: fc.boolean(),
}), { maxLength: 40 })

// ---- the run ---------------------------------------------------------------------------------
interface Model { map: Map<string, [unknown, Val]>; vec: unknown[] }
const sortedEntries = (m: Model) => [...m.map.values()].sort((a, b) => order(a[0], b[0]))
const invalid = (e: unknown) => e instanceof InvalidArgumentError

for (const kind of KINDS) {
  test(`${kind} keys and elements round-trip through hashMap, sortedMap and vector, through a reopen in a fresh process`, () => {
    const file = path.join(dir, `${kind}.pm`)
    const key = (t as unknown as Record<Kind, TypeDesc>)[kind] as TypeDesc & { kind: 'string' }
    const pm = open(file, { size: 16 << 20 })
    const models: Model[] = []
    fc.assert(fc.property(opsArb(kind), ops => {
      const n = models.length
      const h = pm.hashMap(`h${n}`, key, V, { durability: 'none' }), s = pm.sortedMap(`s${n}`, key, V, { durability: 'none' })
      const vec = pm.vector(`v${n}`, key, { durability: 'none' })
      const m: Model = { map: new Map(), vec: [] }
      models.push(m)
      for (const o of ops) {
        const kOk = validKey(kind, o.k), vOk = validVal(o.v)
        const run = (fn: () => void): void => { if (o.inTx) pm.transaction(fn); else fn() }
        const expectInvalid = (fn: () => unknown, what: string) => {
          if (o.inTx) { // caught inside the transaction, which then commits
            let err: unknown = null
            pm.transaction(() => { try { fn() } catch (e) { err = e } })
            assert.ok(invalid(err), `${what}: ${String(err)}`)
          } else assert.throws(fn, invalid, what)
        }
        switch (o.op) {
          case 'put':
            if (kOk && vOk) {
              // with `mutate`, the key and the value's blob are views into a scratch buffer, overwritten after the put
              const scratch = o.mutate ? new Uint8Array(128) : null
              const k = scratch !== null && o.k instanceof Uint8Array ? viewCopy(scratch, 0, o.k) : o.k
              const v = scratch !== null ? { ...(o.v as Val), b: viewCopy(scratch, 64, (o.v as Val).b) } : o.v as Val
              run(() => { h.put(k as string, v); s.put(k as string, v) })
              m.map.set(id(stored(kind, o.k, true)), [stored(kind, o.k, true), storedVal(o.v as Val)])
              scratch?.fill(0xee) // the stored key and value are copies
            } else {
              expectInvalid(() => h.put(o.k as string, o.v as Val), `hashMap put ${String(o.k)}`)
              expectInvalid(() => s.put(o.k as string, o.v as Val), `sortedMap put ${String(o.k)}`)
            }
            break
          case 'delete':
            if (kOk) {
              const had = m.map.delete(id(stored(kind, o.k, true)))
              assert.equal(h.delete(o.k as string), had); assert.equal(s.delete(o.k as string), had)
            } else { expectInvalid(() => h.delete(o.k as string), 'hashMap delete'); expectInvalid(() => s.delete(o.k as string), 'sortedMap delete') }
            break
          case 'get':
            if (kOk) {
              const want = m.map.get(id(stored(kind, o.k, true)))?.[1]
              assert.deepEqual(h.get(o.k as string), want); assert.deepEqual(s.get(o.k as string), want)
              assert.equal(h.has(o.k as string), want !== undefined)
            } else { expectInvalid(() => h.get(o.k as string), 'hashMap get'); expectInvalid(() => s.has(o.k as string), 'sortedMap has') }
            break
          case 'push':
            if (validElem(kind, o.k)) { run(() => { vec.push(o.k as string) }); m.vec.push(stored(kind, o.k, false)) } else expectInvalid(() => vec.push(o.k as string), 'push')
            break
          case 'set':
            if (o.i >= m.vec.length) assert.throws(() => vec.set(o.i, o.k as string), OutOfRangeError) // the index is checked first
            else if (!validElem(kind, o.k)) expectInvalid(() => vec.set(o.i, o.k as string), 'set')
            else { run(() => { vec.set(o.i, o.k as string) }); m.vec[o.i] = stored(kind, o.k, false) }
            break
          case 'pop':
            assert.deepEqual(vec.pop(), m.vec.pop())
            break
          case 'range': {
            const okBound = (b: unknown) => b === undefined || (kind === 'string' || kind === 'blob' ? validKey(kind, b) : (typeof b === 'number' && !Number.isNaN(b)) || typeof b === 'bigint') // undefined: no bound
            if (!okBound(o.k) || !okBound(o.k2)) { assert.throws(() => [...s.getRange({ start: o.k as string, end: o.k2 as string })], invalid); break }
            const want = sortedEntries(m).filter(([k]) => (o.k === undefined || order(k, o.k) >= 0) && (o.k2 === undefined || order(k, o.k2) < 0))
            assert.deepEqual([...s.getRange({ start: o.k as string, end: o.k2 as string })], want)
            assert.deepEqual([...s.getRange({ start: o.k as string, end: o.k2 as string, reverse: true })], want.reverse())
          }
        }
      }
      compare(m, [...h.entries()], [...s.entries()], [...vec], `run ${n}`)
    }), { numRuns: RUNS })
    pm.close()
    // a fresh process reads the file back
    const r = spawnSync(process.execPath, [child, file, kind, String(models.length)], { encoding: 'utf8', maxBuffer: 64 << 20 })
    assert.equal(r.status, 0, r.stderr)
    const dump = decode(r.stdout) as Array<[string, number | boolean, unknown]>
    const check = dump.pop()!
    assert.deepEqual(check, ['check', true, []])
    for (let i = 0; i < models.length; i++) {
      const [[, , hEntries], [, , sEntries], [, , vElems]] = dump.slice(3 * i, 3 * i + 3) as Array<[string, number, unknown[]]>
      compare(models[i]!, hEntries as Array<[unknown, Val]>, sEntries as Array<[unknown, Val]>, vElems, `reopened, run ${i}`)
    }
  })
}

/** `b` copied into `buf` at `at`, as a view (byteOffset `at`). */
function viewCopy(buf: Uint8Array, at: number, b: Uint8Array): Uint8Array { buf.set(b, at); return buf.subarray(at, at + b.length) }

function compare(m: Model, hEntries: Array<[unknown, unknown]>, sEntries: Array<[unknown, unknown]>, vElems: unknown[], where: string): void {
  const want = sortedEntries(m)
  assert.deepEqual([...hEntries].sort((a, b) => order(a[0], b[0])), want, `${where}: hashMap`)
  assert.deepEqual(sEntries, want, `${where}: sortedMap`)
  assert.deepEqual(vElems, m.vec, `${where}: vector`)
}
