// Unit tests of the layer-3 API on real files: open/close, named persistent variables,
// typed views, raw reads and writes, and every misuse error (DESIGN.md section 4).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  open, check, t, SimRegion, PersistentMemory, RegionClosedError, ReadOnlyError, TypeMismatchError,
  InvalidArgumentError, OutOfRangeError, MisalignedError, TransactionEndedError, NotARegionError, type PmTx,
} from '../../src/index.js'

function tmpFile(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pm-api-')), 'a.pm')
}

test('variables are created zero-filled once and found by name after reopening', () => {
  const file = tmpFile()
  let pm = open(file, { size: 1 << 20 })
  const a = pm.persistent('accounts', t.array(t.f64, 10))
  const c = pm.persistent('count', t.u64)
  assert.equal(pm.read(tx => tx.readF64(a.offset + 72)), 0)
  pm.transaction(tx => { tx.writeF64(a.offset + 8, 2.5); tx.writeBigU64(c.offset, 7n) })
  assert.deepEqual(pm.persistent('count', t.u64), c, 'declaring again returns the same variable')
  pm.close()
  pm = open(file)
  const a2 = pm.persistent('accounts', t.array(t.f64, 10))
  assert.equal(a2.offset, a.offset)
  assert.equal(pm.read(tx => tx.readF64(a2.offset + 8)), 2.5)
  assert.equal(pm.read(tx => tx.readBigU64(c.offset)), 7n)
  assert.throws(() => pm.persistent('count', t.u32), TypeMismatchError)
  assert.throws(() => pm.persistent('', t.u32), InvalidArgumentError)
  assert.throws(() => pm.persistent('x', {} as never), InvalidArgumentError)
  assert.deepEqual(pm.variables().map(v => v.name).sort(), ['accounts', 'count'])
  pm.close()
  assert.ok(check(file).ok)
})

test('typed views read and write structs, arrays, bytes and pointers', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 256 * 1024 }))
  const Point = t.struct({ x: t.f64, y: t.f64, tag: t.u8, id: t.u32 })
  assert.equal(Point.size, 24)
  assert.deepEqual(Point.fields.map(f => f.offset), [0, 8, 16, 20])
  const pts = pm.persistent('pts', t.array(Point, 4))
  const blob = pm.persistent('blob', t.bytes(5))
  const head = pm.persistent('head', t.ptr(Point))
  pm.transaction(tx => {
    const arr = tx.view(pts)
    arr.get(2).x = 1.5
    arr.get(2).id = 4000000000
    arr.set(3, { x: 3, y: 4, tag: 9, id: 1 })
    tx.view(blob).value = Uint8Array.of(1, 2, 3, 4, 5)
    const p = tx.alloc(Point.size)
    tx.at(Point, p).y = -2
    tx.view(head).value = p
    assert.equal(arr.get(2).x, 1.5, 'read-your-writes through views')
  })
  pm.read(tx => {
    assert.deepEqual(tx.view(pts).get(3).toJSON(), { x: 3, y: 4, tag: 9, id: 1 })
    assert.equal(tx.view(pts).get(2).id, 4000000000)
    assert.deepEqual([...tx.view(blob).value as Uint8Array], [1, 2, 3, 4, 5])
    assert.equal(tx.at(Point, tx.view(head).value as number).y, -2)
    assert.equal([...tx.view(pts)].length, 4)
    assert.throws(() => tx.view(pts).get(4), OutOfRangeError)
  })
  assert.throws(() => pm.transaction(tx => { tx.view(pts).set(0, [1, 2] as never) }), InvalidArgumentError)
  assert.throws(() => pm.transaction(tx => { tx.view(blob).value = new Uint8Array(4) }), InvalidArgumentError)
})

test('raw access checks range, alignment, types and the transaction lifetime', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 64 * 1024 }), { logSize: 8192 })
  const v = pm.persistent('v', t.array(t.u32, 4))
  let kept: PmTx | undefined
  pm.transaction(tx => { kept = tx; tx.writeU32(v.offset, 1) })
  assert.throws(() => kept!.readU32(v.offset), TransactionEndedError)
  assert.throws(() => kept!.alloc(8), TransactionEndedError)
  for (const [fn, err] of [
    [(tx: PmTx) => tx.readF64(v.offset + 4), MisalignedError],
    [(tx: PmTx) => tx.writeU32(v.offset + 2, 1), MisalignedError],
    [(tx: PmTx) => tx.readU8(0), OutOfRangeError],
    [(tx: PmTx) => tx.readU8(64 * 1024), OutOfRangeError],
    [(tx: PmTx) => tx.writeU32(v.offset, -1), InvalidArgumentError],
    [(tx: PmTx) => tx.writeU8(v.offset, 256), InvalidArgumentError],
    [(tx: PmTx) => tx.writeF64(v.offset, '1' as never), InvalidArgumentError],
    [(tx: PmTx) => tx.writeBigU64(v.offset, 1 as never), InvalidArgumentError],
    [(tx: PmTx) => tx.writeBytes(v.offset, [1] as never), InvalidArgumentError],
  ] as Array<[(tx: PmTx) => unknown, new (...a: never[]) => Error]>) {
    assert.throws(() => pm.transaction(fn), err)
  }
  assert.equal(pm.read(tx => tx.readU32(v.offset)), 1, 'failed transactions changed nothing')
  assert.throws(() => pm.read(tx => (tx as unknown as { writeU32(o: number, x: number): void }).writeU32(v.offset, 2)), TransactionEndedError)
  assert.throws(() => pm.transaction(async () => 1), /must be synchronous/)
  assert.throws(() => pm.transaction('x' as never), InvalidArgumentError)
  assert.throws(() => pm.transaction(() => 1, { durability: 'later' as never }), InvalidArgumentError)
  assert.equal(pm.transaction(tx => { pm.transaction(inner => inner.writeU32(v.offset + 4, 5)); return tx.readU32(v.offset + 4) }), 5, 'nested joins the outer')
  pm.close()
  assert.throws(() => pm.transaction(() => 1), RegionClosedError)
  assert.throws(() => pm.persistent('w', t.u8), RegionClosedError)
  pm.close() // idempotent
})

test('read-only open refuses transactions; files that are not pools are refused', () => {
  const file = tmpFile()
  const pm = open(file, { size: 1 << 20 })
  const c = pm.persistent('c', t.u32)
  pm.transaction(tx => tx.writeU32(c.offset, 3), { durability: 'none' })
  pm.close()
  const ro = open(file, { readOnly: true })
  assert.equal(ro.read(tx => tx.readU32(c.offset)), 3)
  assert.throws(() => ro.transaction(tx => tx.writeU32(c.offset, 4)), ReadOnlyError)
  ro.close()
  const junk = tmpFile()
  fs.writeFileSync(junk, 'not a region at all')
  assert.throws(() => open(junk), NotARegionError)
  assert.equal(fs.readFileSync(junk, 'utf8'), 'not a region at all', 'a refused file is unchanged')
  const r = check(junk)
  assert.equal(r.ok, false)
  assert.match(r.problems[0]!, /ERR_PMEM_NOT_A_REGION/)
})
