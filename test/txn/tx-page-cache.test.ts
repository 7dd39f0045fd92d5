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
