// A transaction's writes are staged in a record buffer that doubles when it fills (record.ts).
// Every kind of write must land in the buffer that is current after the entry was reserved:
// a write whose reservation grew the buffer was once stored into the old one and silently
// lost (a 50-allocation transaction lost the "allocated" flag of one block).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SimRegion } from '../../regions/index.js'
import { TxEngine, type Tx } from '../../txn/index.js'

const KINDS = ['u8', 'u32', 'i32', 'f64', 'u64', 'bytes'] as const
type Kind = typeof KINDS[number]
const write = (tx: Tx, k: Kind, off: number, i: number) => {
  switch (k) {
    case 'u8': return tx.writeU8(off, i & 0xff)
    case 'u32': return tx.writeU32(off, i * 7 + 1)
    case 'i32': return tx.writeI32(off, -i - 1)
    case 'f64': return tx.writeF64(off, i + 0.5)
    case 'u64': return tx.writeBigU64(off, BigInt(i) * 3n + 1n)
    case 'bytes': return tx.writeBytes(off, Uint8Array.of(i & 0xff, 1, 2))
  }
}
const read = (tx: Tx, k: Kind, off: number): unknown => {
  switch (k) {
    case 'u8': return tx.readU8(off)
    case 'u32': return tx.readU32(off)
    case 'i32': return tx.readI32(off)
    case 'f64': return tx.readF64(off)
    case 'u64': return tx.readBigU64(off)
    case 'bytes': return [...tx.readBytes(off, 3)]
  }
}
const expected = (k: Kind, i: number): unknown =>
  ({ u8: i & 0xff, u32: i * 7 + 1, i32: -i - 1, f64: i + 0.5, u64: BigInt(i) * 3n + 1n, bytes: [i & 0xff, 1, 2] })[k]

for (const kind of KINDS) {
  test(`every ${kind} write of a transaction that outgrows its staging buffer (several times) is kept`, () => {
    const engine = TxEngine.create(SimRegion.create({ size: 512 * 1024 }), { logSize: 128 * 1024 })
    const base = engine.dataOffset
    const n = 1200 // 16 bytes of record per write: the 4 KiB buffer doubles three times
    engine.transaction(tx => {
      for (let i = 0; i < n; i++) write(tx, kind, base + 16 * i, i)
      for (let i = 0; i < n; i++) assert.deepEqual(read(tx, kind, base + 16 * i), expected(kind, i), `read-your-writes, write ${i}`)
    })
    const r = engine.reader()
    for (let i = 0; i < n; i++) assert.deepEqual(read(r, kind, base + 16 * i), expected(kind, i), `committed, write ${i}`)
    engine.close()
  })
}
