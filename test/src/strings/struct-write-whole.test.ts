// View inv. V2 (src/view.ts): a typed write of a value holding strings or blobs runs whole or
// not at all. When the heap fills half way (the first long string allocated and written, the
// second's allocation failing) and the caller catches OutOfSpaceError inside its transaction,
// the transaction commits the value as it was: no half-written struct, and no string slot left
// naming the block it freed before the failing allocation (which the next allocation reused).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { open, t, OutOfSpaceError, TransactionTooLargeError, type PersistentMemory } from '../../../src/index.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-struct-whole-'))

/** Fills the heap with 4 KiB blocks, then small ones; returns the 4 KiB blocks. */
function fill(pm: PersistentMemory): number[] {
  const big: number[] = []
  pm.transaction(tx => { try { for (;;) big.push(tx.alloc(4096)) } catch (e) { assert.ok(e instanceof OutOfSpaceError) } })
  pm.transaction(tx => { try { for (;;) tx.alloc(8) } catch (e) { assert.ok(e instanceof OutOfSpaceError) } })
  return big
}

test('inv. V2: a struct write that runs out of heap after its first string is written leaves the struct as it was', () => {
  const file = path.join(dir, 'struct.pm')
  let pm = open(file, { size: 1 << 20 })
  const S = t.struct({ n: t.u32, a: t.string, b: t.blob, z: t.f64 })
  const v = pm.persistent('v', t.array(S, 2))
  const old = { n: 1, a: 'old a '.repeat(5), b: new Uint8Array(40).fill(7), z: 2.5 }
  pm.transaction(tx => tx.view(v).set(0, old))
  const big = fill(pm)
  pm.transaction(tx => tx.free(big[0]!)) // room for one 3000-byte value, not two
  pm.transaction(tx => {
    const before = tx.readBytes(v.offset, 2 * S.size)
    assert.throws(() => tx.view(v).set(0, { n: 2, a: 'x'.repeat(3000), b: new Uint8Array(3000).fill(9), z: 3.5 }), OutOfSpaceError)
    assert.deepEqual(tx.readBytes(v.offset, 2 * S.size), before, 'no field written')
    assert.throws(() => tx.view(v).set(1, { n: 2, a: 'y'.repeat(3000), b: new Uint8Array(3000) }), OutOfSpaceError)
    tx.writeU32(v.offset + S.size, 77) // the transaction goes on and commits
  })
  pm.close()
  pm = open(file)
  const back = pm.read(tx => tx.view(pm.persistent('v', t.array(S, 2))).toJSON()) as Array<Record<string, unknown>>
  assert.deepEqual(back[0], { ...old, b: new Uint8Array(40).fill(7) })
  assert.deepEqual(back[1], { n: 77, a: '', b: new Uint8Array(0), z: 0 })
  const report = pm.check()
  assert.equal(report.ok, true, report.problems.join('; '))
  // the free block is still there: a 3000-byte value fits
  pm.transaction(tx => { tx.view(pm.persistent('v', t.array(S, 2))).set(1, { a: 'z'.repeat(3000) }) })
  pm.close()
})

test('inv. V2: replacing one long string that does not fit keeps the old string and its block', () => {
  const file = path.join(dir, 'one.pm')
  const pm = open(file, { size: 1 << 20 })
  const v = pm.persistent('s', t.string)
  pm.transaction(tx => { tx.view(v).value = 'old'.repeat(20) })
  fill(pm)
  pm.transaction(tx => { assert.throws(() => { tx.view(v).value = 'new'.repeat(2000) }, OutOfSpaceError) })
  assert.equal(pm.read(tx => tx.view(v).value), 'old'.repeat(20))
  // before V2 the old block was freed while the slot still named it: this allocation reused it
  const p = pm.transaction(tx => { try { const p = tx.alloc(60); tx.writeBytes(p, new Uint8Array(60).fill(0x41)); return p } catch { return 0 } })
  assert.equal(p, 0, 'the old block is still allocated to the string')
  assert.equal(pm.read(tx => tx.view(v).value), 'old'.repeat(20))
  pm.close()
})

test('inv. V2, the redo log: a struct write that fills the log between two fields (TransactionTooLargeError, caught) leaves the struct as it was', () => {
  const file = path.join(dir, 'log.pm')
  let pm = open(file, { size: 1 << 20, logSize: 64 << 10 })
  const S = t.struct({ a: t.u32, b: t.u32, c: t.u32, d: t.u32, e: t.u32, f: t.u32, g: t.u32, h: t.u32 })
  const v = pm.persistent('log', t.array(S, 1))
  const scratch = pm.persistent('scratch', t.bytes(4096))
  pm.transaction(tx => tx.view(v).set(0, { a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1, h: 1 }))
  for (const left of [24, 40, 64, 96]) {              // room for 1, 2, 4 and 6 of the 8 field entries (16 bytes each)
    pm.transaction(tx => {
      // stage writes until exactly `left` bytes of log room remain (each entry: 8 + data rounded to 8)
      for (let room = tx.logRoom(); room - left >= 8 + 8;) {
        const data = Math.min(4096, ((room - left - 8) >> 3) << 3)
        tx.writeBytes(scratch.offset, new Uint8Array(data))
        room = tx.logRoom()
      }
      if (tx.logRoom() - left === 8) tx.zero(scratch.offset, 8)   // a zero fill takes 8 bytes
      assert.equal(tx.logRoom(), left)
      assert.throws(() => tx.view(v).set(0, { a: 2, b: 2, c: 2, d: 2, e: 2, f: 2, g: 2, h: 2 }), TransactionTooLargeError)
      assert.equal(tx.logRoom(), left, 'nothing of the struct staged')
    })
  }
  pm.close()
  pm = open(file)
  assert.deepEqual((pm.read(tx => tx.view(pm.persistent('log', t.array(S, 1))).toJSON()) as unknown[])[0], { a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1, h: 1 })
  pm.close()
})
