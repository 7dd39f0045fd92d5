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

test('eng. 4: a nested transaction that throws undoes its allocations and frees, even when the outer catches', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 256 * 1024 }))
  const head = pm.persistent('head', t.u64)
  const kept = pm.transaction(tx => { const a = tx.alloc(40); tx.writeBigU64(head.offset, BigInt(a)); return a })
  const liveBefore = pm.read(tx => pm.heap.live(tx))
  let lost = 0
  pm.transaction(tx => {
    assert.throws(() => pm.transaction(inner => {
      inner.alloc(16)
      lost = inner.alloc(100) // its block starts past the one the outer carves after the rollback
      inner.free(kept)
      inner.writeBigU64(head.offset, 0n)
      throw new Error('inner fails')
    }), /inner fails/)
    assert.equal(tx.readBigU64(head.offset), BigInt(kept))
    tx.writeF64(tx.alloc(8), 1) // the outer allocates on after the rollback
  })
  const report = pm.check()
  assert.ok(report.ok, report.problems.join('; '))
  assert.equal(report.heap!.live, liveBefore + 32 - 16, 'only the outer allocation (one 32-byte block) is live')
  assert.throws(() => pm.transaction(tx => tx.free(lost)), InvalidArgumentError, 'the rolled-back allocation was never made')
  pm.transaction(tx => tx.free(kept)) // still allocated: the rolled-back free never happened
  assert.ok(pm.check().ok)
})

test('eng. 4: a variable declared inside an aborted transaction is forgotten', () => {
  const file = tmpFile()
  let pm = open(file, { size: 1 << 20 })
  assert.throws(() => pm.transaction(() => { pm.persistent('ghost', t.f64); throw new Error('abort') }), /abort/)
  assert.deepEqual(pm.variables(), [], 'the directory cache does not keep the aborted declaration')
  pm.transaction(() => {
    assert.throws(() => pm.transaction(() => { pm.persistent('ghost', t.u32); throw new Error('inner abort') }), /inner abort/)
    pm.persistent('real', t.u32)
  })
  assert.deepEqual(pm.variables().map(v => v.name), ['real'])
  const ghost = pm.persistent('ghost', t.f64) // declared again for real: a fresh, allocated variable
  pm.transaction(tx => tx.writeF64(ghost.offset, 2.5))
  pm.close()
  pm = open(file)
  assert.deepEqual(pm.variables().map(v => v.name).sort(), ['ghost', 'real'])
  assert.equal(pm.read(tx => tx.readF64(pm.persistent('ghost', t.f64).offset)), 2.5)
  assert.ok(pm.check().ok)
  pm.close()
})

test('struct signatures are unambiguous: field names with signature characters are quoted', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 256 * 1024 }))
  const plain = t.struct({ a: t.u8, b: t.u8 })
  const tricky = t.struct({ 'a:u8,b': t.u8 })
  assert.notEqual(plain.sig, tricky.sig)
  assert.equal(plain.sig, '{a:u8,b:u8}', 'identifier names keep the signature earlier versions stored')
  pm.persistent('v', plain)
  assert.throws(() => pm.persistent('v', tricky), TypeMismatchError)
  pm.persistent('w', tricky)
  assert.throws(() => pm.persistent('w', plain), TypeMismatchError)
  for (const [x, y] of [
    [t.struct({ 'a}': t.u8 }), t.struct({ a: t.struct({}) })],
    [t.struct({ 'x:u8[2],y': t.u8 }), t.struct({ x: t.array(t.u8, 2), y: t.u8 })],
    [t.struct({ '"a"': t.u8 }), t.struct({ a: t.u8 })],
    [t.array(t.struct({ 'a,b:u8': t.u8 }), 2), t.array(t.struct({ a: t.u8, b: t.u8 }), 2)],
    [t.ptr(t.struct({ 'p:u8,q': t.u8 })), t.ptr(t.struct({ p: t.u8, q: t.u8 }))],
  ] as const) assert.notEqual(x.sig, y.sig)
})

test('struct signatures: a variable stored by an earlier version under an unquoted non-identifier name still matches', async () => {
  const { createVar } = await import('../../src/vars.js')
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 256 * 1024 }))
  const spaced = t.struct({ 'first name': t.u8, 'x-y': t.u32 })
  assert.equal(spaced.sig, '{"first name":u8,"x-y":u32}')
  // what an earlier version wrote: the same layout under the unquoted signature
  pm.transaction(tx => createVar(tx, pm.heap, 'old', { ...spaced, sig: '{first name:u8,x-y:u32}' }))
  const pm2 = PersistentMemory.fromRegion(pm.region)
  assert.equal(pm2.persistent('old', spaced).size, spaced.size)
  assert.throws(() => pm2.persistent('old', t.struct({ 'first name': t.u8, 'x-y': t.i32 })), TypeMismatchError)
  // an old signature that was itself ambiguous is never matched by a name with signature characters
  pm2.transaction(tx => createVar(tx, pm2.heap, 'amb', t.struct({ a: t.u8, b: t.u8 })))
  const pm3 = PersistentMemory.fromRegion(pm.region)
  assert.throws(() => pm3.persistent('amb', t.struct({ 'a:u8,b': t.u8 })), TypeMismatchError)
  assert.equal(pm3.persistent('amb', t.struct({ a: t.u8, b: t.u8 })).size, 2)
})

test('types not made by t are refused everywhere a type is taken', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 256 * 1024 }))
  const v = pm.persistent('v', t.u64)
  const forged = [{ kind: 'u8', sig: 'u8', size: 1, align: 1 }, { ...t.u8 }, Object.create(t.f64), { sig: 'u64', size: 8 }]
  for (const f of forged) {
    assert.throws(() => pm.persistent('x', f as never), InvalidArgumentError)
    assert.throws(() => t.array(f as never, 2), InvalidArgumentError)
    assert.throws(() => t.struct({ a: f as never }), InvalidArgumentError)
    assert.throws(() => t.ptr(f as never), InvalidArgumentError)
    assert.throws(() => pm.read(tx => tx.at(f as never, v.offset)), InvalidArgumentError)
    assert.throws(() => pm.transaction(tx => tx.view({ type: f as never, offset: v.offset })), InvalidArgumentError)
  }
  assert.deepEqual(pm.variables().map(x => x.name), ['v'])
  assert.equal(pm.read(tx => tx.at(t.u64, v.offset).value), 0n, 'real types still work')
})

test('heap inv. 1: free refuses an offset whose block header was forged inside user data', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 256 * 1024 }))
  const [p, q, r] = pm.transaction(tx => [tx.alloc(256), tx.alloc(64), tx.alloc(100, 64)])
  const before = (pm.region as SimRegion).volatileImage()
  const forge = (tx: PmTx, at: number, magic: number, word: number, next: bigint) => {
    tx.writeU32(at, magic); tx.writeU32(at + 4, word); tx.writeBigU64(at + 8, next)
  }
  const cases: Array<[string, (tx: PmTx) => void]> = [
    ['a forged block header (32 bytes, allocated) in the payload', tx => { forge(tx, p! + 32, 0x324c4250, 2, 1n << 32n); tx.free(p! + 48) }],
    ['a forged alignment header pointing at another real block', tx => { forge(tx, p! + 16, 0x4e4c4150, 0, BigInt(q! - 16)); tx.free(p! + 32) }],
    ['a forged alignment header pointing at its own block, not at an aligned payload', tx => { forge(tx, p! + 64, 0x4e4c4150, 0, BigInt(p! - 16)); tx.free(p! + 80) }],
    ['the end of the heap', tx => tx.free(Number(tx.readBigU64(pm.heap.base + 8)))],
    ['the heap header', tx => tx.free(pm.heap.base + 32)],
  ]
  for (const [what, fn] of cases) assert.throws(() => pm.transaction(fn), InvalidArgumentError, what)
  assert.deepEqual((pm.region as SimRegion).volatileImage(), before, 'refused frees changed nothing')
  pm.transaction(tx => tx.free(q!))
  assert.throws(() => pm.transaction(tx => tx.free(q!)), /double free/)
  pm.transaction(tx => { tx.free(p!); tx.free(r!) }) // the real allocations, the aligned one included
  assert.throws(() => pm.transaction(tx => tx.free(q!)), /freed already/, 'merged away: no block starts there any more')
  const report = pm.check()
  assert.ok(report.ok, report.problems.join('; '))
  assert.equal(report.heap!.allocated, 0, 'every real allocation was freed, nothing else')
})

test('heap inv. 1: a block carved in an aborted transaction is not freeable, and carving after it works', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 256 * 1024 }))
  const a = pm.transaction(tx => tx.alloc(100))
  pm.transaction(tx => tx.free(a)) // builds the block index (and leaves a free block of another class than the ghosts')
  let ghosts: number[] = []
  assert.throws(() => pm.transaction(tx => { ghosts = [tx.alloc(2000), tx.alloc(16)]; throw new Error('abort') }), /abort/)
  for (const g of ghosts) assert.throws(() => pm.transaction(tx => tx.free(g)), InvalidArgumentError)
  const small = pm.transaction(tx => Array.from({ length: 6 }, () => tx.alloc(500))) // carved over where the aborted blocks were
  assert.ok(ghosts[1]! > ghosts[0]! && small[small.length - 1]! > ghosts[1]! && !small.includes(ghosts[1]!), 'the second ghost was carved, and now lies inside a real block')
  // user data forges a block header where the aborted block started: still not a block (index inv. 1)
  pm.transaction(tx => { tx.writeU32(ghosts[1]! - 16, 0x4b4c4250); tx.writeU32(ghosts[1]! - 12, 1 << 16) })
  assert.throws(() => pm.transaction(tx => tx.free(ghosts[1]!)), InvalidArgumentError)
  pm.transaction(tx => { for (const s of small) tx.free(s) })
  assert.ok(pm.check().ok)
})

test('struct fields named like view members: "tx" reaches the pool, reserved names are refused', () => {
  assert.throws(() => t.struct({ offset: t.u32 }), /field name "offset" is reserved/)
  for (const name of ['type', 'toJSON', 'constructor', '__proto__']) assert.throws(() => t.struct({ [name]: t.u8 }), InvalidArgumentError)
  const sim = SimRegion.create({ size: 256 * 1024 })
  const pm = PersistentMemory.fromRegion(sim)
  const v = pm.persistent('s', t.struct({ tx: t.u32, a: t.f64 }))
  pm.transaction(tx => { const w = tx.view(v); w.tx = 7; w.a = 2.5 })
  assert.deepEqual(pm.read(tx => tx.view(v).toJSON()), { tx: 7, a: 2.5 }, 'a write to the field "tx" is not swallowed by the view')
  pm.close()
})
