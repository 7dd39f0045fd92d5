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
import { open, t, OutOfSpaceError, type PersistentMemory } from '../../../src/index.js'

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
