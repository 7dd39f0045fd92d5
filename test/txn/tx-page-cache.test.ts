// Reads in a transaction with many staged writes go through pages cached with the writes
// applied (tx.ts #page), kept in step by every write and dropped when a sub-transaction rolls
// back (eng. 7). Against a byte-array model: random writes of every kind, zero fills (some
// spanning pages), reads of every width (some spanning pages), none-commit overlays below,
// and nested transactions that throw; every read equals the model, and so does the commit.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { SimRegion } from '../../regions/index.js'
import { TxEngine, type Tx } from '../../txn/index.js'
import { RecordBuilder } from '../../txn/record.js'
import { OwnWrites } from '../../txn/own-writes.js'

const SIZE = 256 * 1024
type Op = { w: 'u8' | 'u32' | 'f64' | 'bytes' | 'zero'; at: number; len: number; v: number } | { read: number; len: number } | { sub: Op[] }
const at = fc.integer({ min: 0, max: 5 * 4096 - 64 })
const leaf: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ w: fc.constantFrom('u8' as const, 'u32' as const, 'f64' as const, 'bytes' as const, 'zero' as const), at, len: fc.integer({ min: 1, max: 6000 }), v: fc.nat(255) }),
  fc.record({ read: at, len: fc.integer({ min: 1, max: 5000 }) }),
)
const opArb: fc.Arbitrary<Op> = fc.oneof({ arbitrary: leaf, weight: 6 }, { arbitrary: fc.record({ sub: fc.array(leaf, { maxLength: 30 }) }), weight: 1 })

function apply(tx: Tx, base: number, model: Uint8Array, op: Op): void {
  if ('sub' in op) return
  if ('read' in op) {
    const len = Math.min(op.len, model.length - op.read)
    assert.deepEqual(tx.readBytes(base + op.read, len), model.subarray(op.read, op.read + len), `read ${op.read}+${len}`)
    const w = op.read & ~7
    assert.equal(tx.readU32(base + w), new DataView(model.buffer).getUint32(w, true))
    return
  }
  const dv = new DataView(model.buffer)
  switch (op.w) {
    case 'u8': tx.writeU8(base + op.at, op.v); model[op.at] = op.v; break
    case 'u32': { const a = op.at & ~3; tx.writeU32(base + a, op.v * 16777259); dv.setUint32(a, op.v * 16777259, true); break }
    case 'f64': { const a = op.at & ~7; tx.writeF64(base + a, op.v + 0.5); dv.setFloat64(a, op.v + 0.5, true); break }
    case 'bytes': { const n = Math.min(op.len, model.length - op.at); const d = new Uint8Array(n).fill(op.v); tx.writeBytes(base + op.at, d); model.set(d, op.at); break }
    case 'zero': { const n = Math.min(op.len, model.length - op.at); tx.zero(base + op.at, n); model.fill(0, op.at, op.at + n); break }
  }
}

test('tx page cache: reads in a transaction of many writes equal a byte model, through rollbacks and overlays', () => {
  fc.assert(fc.property(fc.array(opArb, { minLength: 20, maxLength: 120 }), fc.boolean(), (ops, overlay) => {
    const eng = TxEngine.create(SimRegion.create({ size: SIZE }), { logSize: 128 * 1024 })
    const base = eng.dataOffset
    const model = new Uint8Array(6 * 4096)
    if (overlay) { // a committed none transaction leaves overlay pages under the next one
      eng.transaction(tx => { tx.writeBytes(base + 100, new Uint8Array(5000).fill(7)) }, { durability: 'none' })
      model.fill(7, 100, 5100)
    }
    eng.transaction(tx => {
      for (const op of ops) {
        if (!('sub' in op)) { apply(tx, base, model, op); continue }
        const saved = model.slice()
        assert.throws(() => eng.transaction(inner => { for (const o of op.sub) apply(inner, base, model, o); throw new Error('roll back') }), /roll back/)
        model.set(saved)
        apply(tx, base, model, { read: 0, len: model.length })
      }
    })
    assert.deepEqual(eng.reader().readBytes(base, model.length), model, 'the commit equals the model')
    eng.close()
  }), { numRuns: 60 })
})

// ow. 1 (txn/own-writes.ts): a read of the transaction's own writes costs the entries on its
// pages. Before session 15, past 256 cached pages every such read walked the whole record: a
// transaction of W writes on W pages, each read back, walked W^2/2 entries (83 s for 2,500
// hash map puts into a map of 17,500 keys). Counted in entries visited, not timed.
test('tx page cache: reads of own writes spread over thousands of pages stay linear (ow. 1)', () => {
  const W = 3000
  const eng = TxEngine.create(SimRegion.create({ size: (W + 80) * 4096 }), { logSize: 256 * 1024 })
  const base = eng.dataOffset
  const next = RecordBuilder.prototype.next
  let walked = 0
  RecordBuilder.prototype.next = function (this: RecordBuilder, p: number): number { walked++; return next.call(this, p) }
  try {
    eng.transaction(tx => {
      for (let i = 0; i < W; i++) {
        tx.writeU32(base + i * 4096, i + 1)
        assert.equal(tx.readU32(base + i * 4096), i + 1)
      }
    })
  } finally { RecordBuilder.prototype.next = next }
  assert.ok(walked < 4 * W, `${walked} record entries walked for ${W} writes and reads`)
  eng.close()
})

// ow. 1, 2: past the cache's 1,024 pages the oldest pages are evicted and rebuilt from the
// per-page index, through rollbacks of sub-transactions; every read equals the model.
test('tx page cache: eviction past 1,024 pages and rollbacks keep reads equal to the model (ow. 1, ow. 2)', () => {
  const P = 1300
  const eng = TxEngine.create(SimRegion.create({ size: (P + 140) * 4096 }), { logSize: 512 * 1024 })
  const base = eng.dataOffset
  const model = new Uint32Array(P)
  const check = (tx: Tx): void => { for (let i = 0; i < P; i++) assert.equal(tx.readU32(base + i * 4096 + 8), model[i], `page ${i}`) }
  eng.transaction(tx => {
    for (let i = 0; i < P; i++) { tx.writeU32(base + i * 4096 + 8, i + 1); model[i] = i + 1 }
    check(tx)
    for (let i = 0; i < P; i += 7) { tx.writeU32(base + i * 4096 + 8, i + 100000); model[i] = i + 100000 }
    check(tx)
    assert.throws(() => eng.transaction(inner => {
      for (let i = 0; i < P; i += 3) inner.writeU32(base + i * 4096 + 8, 5)
      check2(inner)
      throw new Error('roll back')
    }), /roll back/)
    check(tx)
    tx.zero(base + 4096 - 16, 4096 * 2)
    model[1] = 0; model[2] = 0
    check(tx)
  })
  function check2(tx: Tx): void { for (let i = 0; i < P; i++) assert.equal(tx.readU32(base + i * 4096 + 8), i % 3 === 0 ? 5 : model[i]) }
  assert.equal(eng.reader().readU32(base + 8), model[0])
  assert.equal(eng.reader().readU32(base + 7 * 4096 + 8), model[7])
  eng.close()
})

/** Runs `fn` counting, per page, the pages OwnWrites built (a 4 KiB copy with the page's entries applied). */
function countBuilds(fn: () => void): Map<number, number> {
  const page = OwnWrites.prototype.page
  const built = new Map<number, number>()
  OwnWrites.prototype.page = function (this: OwnWrites, b: RecordBuilder, p: number, base: Uint8Array): Uint8Array {
    built.set(p, (built.get(p) ?? 0) + 1)
    return page.call(this, b, p, base)
  }
  try { fn() } finally { OwnWrites.prototype.page = page }
  return built
}

// ow. 3: a page with few entries is read through (the bytes read, its entries applied), never
// built and cached; before, every read of a page the transaction wrote once copied 4 KiB, and
// a page written by every step (the heap header in a hash map put) was rebuilt with all its
// entries after each of its evictions: quadratic in the transaction (3.5 million entries
// applied for 25,000 puts into a map of 300,000 keys). Counted, not timed.
test('tx page cache: pages with few own writes are read through, a hot page is built once (ow. 3)', () => {
  const W = 3000
  const eng = TxEngine.create(SimRegion.create({ size: (W + 80) * 4096 + 512 * 1024 }), { logSize: 512 * 1024 })
  const base = eng.dataOffset, hot = base + W * 4096
  const target = RecordBuilder.prototype.target
  let applied = 0
  RecordBuilder.prototype.target = function (this: RecordBuilder, p: number): number { applied++; return target.call(this, p) }
  let built: Map<number, number>
  try {
    built = countBuilds(() => eng.transaction(tx => {
      for (let i = 0; i < W; i++) {
        tx.writeU32(base + i * 4096, i + 1)
        tx.writeU32(hot, i + 1); tx.writeU32(hot + 8, i + 2)
        assert.equal(tx.readU32(base + i * 4096), i + 1)
        assert.equal(tx.readU32(hot), i + 1)
        assert.equal(tx.readU32(hot + 8), i + 2)
      }
    }))
  } finally { RecordBuilder.prototype.target = target }
  assert.deepEqual([...built.values()], [1], `pages built: ${[...built].slice(0, 5)}... (${built.size} pages)`)
  assert.ok(applied < 12 * W, `${applied} entries read for ${3 * W} writes`)
  assert.equal(eng.reader().readU32(hot), W)
  eng.close()
})

// ow. 3: past 1,024 cached pages, a page of more than 256 entries coming up for eviction goes
// to the back instead: the page every step writes is built once, not once per 1,024 pages.
test('tx page cache: a hot page stays cached while over 1,024 other pages are built (ow. 3)', () => {
  const P = 1100, E = 17 // E entries: more than CHEAP_ENTRIES, so each page is built and cached
  const eng = TxEngine.create(SimRegion.create({ size: (P + 80) * 4096 + 1024 * 1024 }), { logSize: 1024 * 1024 })
  const base = eng.dataOffset, hot = base + P * 4096
  const built = countBuilds(() => eng.transaction(tx => {
    for (let i = 0; i < P; i++) {
      for (let k = 0; k < E; k++) tx.writeU32(base + i * 4096 + 8 * k, i + k)
      tx.writeU32(hot + 8 * (i % 500), i)
      assert.equal(tx.readU32(base + i * 4096 + 8 * (E - 1)), i + E - 1)
      assert.equal(tx.readU32(hot + 8 * (i % 500)), i)
    }
  }))
  assert.equal(built.get(hot >>> 12), 1, 'the hot page was built once')
  assert.equal(eng.reader().readU32(hot + 8 * ((P - 1) % 500)), P - 1)
  eng.close()
})
