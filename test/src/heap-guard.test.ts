// Guard inv. G1 (src/heap-guard.ts, heap inv. 4): a transaction that leaves a non-zero byte at or
// above the heap's top is refused at commit with OutOfRangeError and nothing of it is committed,
// so the next allocation or variable is really zero-filled. Such a byte can only come from a
// view or pointer used past its block's life: after tx.free, or after the sub-transaction that
// declared its variable (or allocated its block) aborted. Real files, reopened; pm.check().
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { open, t, OutOfRangeError, type PersistentMemory } from '../../src/index.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-heap-guard-'))
let n = 0
const fresh = (): { pm: PersistentMemory; file: string } => { const file = path.join(dir, `g${n++}.pm`); return { pm: open(file, { size: 1 << 20 }), file } }

test('guard inv. G1: the offset of a variable declared in an aborted sub-transaction cannot commit a write into the freed block', () => {
  const { pm, file } = fresh()
  const keep = pm.persistent('keep', t.u32)
  let stale = 0 // an offset: a view would refuse the write at once (guard inv. G2, stale-views.test.ts)
  assert.throws(() => pm.transaction(tx => {
    tx.view(keep).value = 1
    try {
      pm.transaction(inner => { stale = inner.view(pm.persistent('cfg', t.u32)).offset; throw new Error('validation failed') })
    } catch { /* the caller goes on without cfg */ }
    tx.writeU32(stale, 7) // its block went back to the heap with the abort: above top now
  }), (e: unknown) => e instanceof OutOfRangeError && /heap's top/.test(e.message))
  assert.equal(pm.read(tx => tx.view(keep).value), 0, 'nothing of the refused transaction was committed')
  // before the guard: committed, check() clean, and the next variable declared read 7, not 0
  const next = pm.persistent('next', t.u32)
  assert.equal(pm.read(tx => tx.view(next).value), 0, 'a new variable is zero-filled')
  assert.ok(pm.check().ok)
  pm.close()
  const again = open(file)
  assert.equal(again.read(tx => tx.view(again.persistent('next', t.u32)).value), 0)
  assert.deepEqual(again.variables().map(v => v.name).sort(), ['keep', 'next'])
  again.close()
})

test('guard inv. G1: a raw write after tx.free of the last block is refused; allocations after it read zero', () => {
  const { pm, file } = fresh()
  const S = t.struct({ a: t.f64, b: t.u32 })
  assert.throws(() => pm.transaction(tx => {
    const p = tx.alloc(S.size)
    const v = tx.at(S, p)
    v.a = 1.5
    tx.free(p) // the last block: top comes down over it
    tx.writeU32(p + 8, 9) // use after free, by offset (through v: refused at once, guard inv. G2)
  }), OutOfRangeError)
  const p = pm.transaction(tx => tx.alloc(64))
  assert.deepEqual([...pm.read(tx => tx.readBytes(p, 64))].filter(x => x !== 0), [], 'the allocation is zeroed')
  assert.ok(pm.check().ok)
  pm.close()
  assert.ok(open(file).check().ok)
})

test('guard inv. G1: what the heap itself writes above top and zeroes again, and zeros written there, commit', () => {
  const { pm } = fresh()
  const v = pm.persistent('v', t.u32)
  // alloc then free in one transaction: block headers written past the final top, zero-filled again
  pm.transaction(tx => { const a = tx.alloc(100); const b = tx.alloc(5000); tx.writeU32(b, 3); tx.free(b); tx.free(a); tx.view(v).value = 5 })
  assert.equal(pm.read(tx => tx.view(v).value), 5)
  // a stale write of zeros leaves heap inv. 4 true: nothing to refuse
  pm.transaction(tx => { const a = tx.alloc(32); tx.free(a); tx.writeU32(a, 0) })
  // the refusal is of the outermost commit: a sub-transaction's stale write aborts the whole transaction
  assert.throws(() => pm.transaction(tx => {
    tx.view(v).value = 6
    pm.transaction(inner => { const a = inner.alloc(32); inner.free(a); inner.writeU32(a, 1) })
  }), OutOfRangeError)
  assert.equal(pm.read(tx => tx.view(v).value), 5)
  assert.ok(pm.check().ok)
  pm.close()
})
