// Guard inv. G2 (src/view-life.ts): a view kept past the life of its block, a block below the
// heap's top (guard inv. G1 catches only the top), refuses every read and write with
// OutOfRangeError, nothing read or written; a free undone by an aborted sub-transaction leaves
// its views usable. Vars inv. 6: a variable's block cannot be freed. Real files, reopened;
// pm.check() after each.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { open, t, InvalidArgumentError, OutOfRangeError, TransactionEndedError, type PersistentMemory } from '../../src/index.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-stale-views-'))
let n = 0
const fresh = (): { pm: PersistentMemory; file: string } => { const file = path.join(dir, `s${n++}.pm`); return { pm: open(file, { size: 1 << 20 }), file } }
const stale = (e: unknown): boolean => e instanceof OutOfRangeError && /guard inv\. G2/.test(e.message)
const S = t.struct({ a: t.f64, b: t.f64, c: t.u32 })

/** Reopens `file` and asserts the pool is clean; returns `fn`'s reading. */
function reopened<T>(file: string, fn: (pm: PersistentMemory) => T): T {
  const pm = open(file)
  try { assert.ok(pm.check().ok, 'clean after reopen'); return fn(pm) } finally { pm.close() }
}

test('guard inv. G2: a write through a view after tx.free of a block below the top is refused, and nothing of it lands in the free block', () => {
  const { pm, file } = fresh()
  let p = 0
  pm.transaction(tx => {
    p = tx.alloc(S.size)
    const v = tx.at(S, p)
    v.a = 1.5
    tx.alloc(64) // keeps the top above p: G1 does not see it
    tx.free(p)
    assert.throws(() => { v.c = 9 }, stale, 'write') // before G2: committed, check() clean, 9 in the free block
    assert.throws(() => v.c, stale, 'read')
    assert.throws(() => v.toJSON(), stale, 'toJSON')
    assert.throws(() => tx.at(S, p), stale, 'a new view of the freed block')
  })
  assert.ok(pm.check().ok)
  assert.deepEqual([...pm.read(tx => tx.readBytes(p + 16, S.size - 16))].filter(x => x !== 0), [], 'the free block holds no junk')
  pm.close()
  reopened(file, () => {})
})

test('guard inv. G2: a stale view cannot change the variable that was given its block, even when the error is caught', () => {
  const { pm, file } = fresh()
  pm.transaction(tx => {
    const p = tx.alloc(8)
    const v = tx.at(t.u32, p)
    tx.alloc(64)
    tx.free(p)
    const other = pm.persistent('other', t.u32) // a sub-transaction: takes the freed block
    assert.equal(other.offset, p, 'the block is handed out again (the case G2 exists for)')
    tx.view(other).value = 5
    assert.throws(() => { v.value = 42 }, stale) // before G2: other became 42, check() clean
    assert.throws(() => v.value, stale, 'it would read the other variable')
  })
  assert.equal(pm.read(tx => tx.view(pm.persistent('other', t.u32)).value), 5)
  assert.ok(pm.check().ok)
  pm.close()
  assert.equal(reopened(file, a => a.read(tx => tx.view(a.persistent('other', t.u32)).value)), 5)
})

test('guard inv. G2: views of a variable declared, or a block allocated, in a sub-transaction that aborted are dead, nested views too', () => {
  const { pm, file } = fresh()
  const P = t.struct({ head: S, list: t.array(t.u32, 4) })
  pm.persistent('keep', t.u32)
  pm.transaction(tx => {
    let cfg: { value: number; offset: number } | undefined, head: { c: number } | undefined, list: { set(i: number, v: number): void; get(i: number): number } | undefined
    let raw = 0, rawView: { value: number } | undefined
    try {
      pm.transaction(inner => {
        cfg = inner.view(pm.persistent('cfg', t.u32))
        const whole = inner.at(P, inner.alloc(P.size)) as unknown as { head: { c: number }; list: typeof list }
        head = whole.head; list = whole.list // nested views share their block's life
        raw = inner.alloc(8); rawView = inner.at(t.u32, raw)
        throw new Error('validation failed')
      })
    } catch { /* goes on without them */ }
    const o = pm.persistent('o', t.u32)
    assert.equal(o.offset, cfg!.offset, 'o is given the block cfg had')
    assert.throws(() => { cfg!.value = 7 }, stale, 'the aborted variable') // before G2: wrote 7 into "o" when it took the block
    assert.throws(() => { head!.c = 7 }, stale, 'a nested struct view')
    assert.throws(() => list!.set(1, 7), stale, 'a nested array view')
    assert.throws(() => list!.get(1), stale)
    assert.throws(() => [...(list as unknown as Iterable<number>)], stale)
    assert.throws(() => { rawView!.value = 7 }, stale, 'a block from inner.alloc')
    assert.throws(() => tx.at(t.u32, raw), stale)
  })
  assert.equal(pm.read(tx => tx.view(pm.persistent('o', t.u32)).value), 0)
  assert.ok(pm.check().ok)
  pm.close()
  reopened(file, a => assert.deepEqual(a.variables().map(v => v.name).sort(), ['keep', 'o']))
})

test('guard inv. G2: a free undone by the abort of its sub-transaction leaves the views usable; a view of the block reallocated there dies', () => {
  const { pm, file } = fresh()
  const h = pm.persistent('h', t.u64)
  pm.transaction(tx => {
    const p = tx.alloc(S.size)
    tx.view(h).value = BigInt(p)
    tx.alloc(64)
    const v = tx.at(S, p)
    let again: { c: number } | undefined
    assert.throws(() => pm.transaction(inner => {
      inner.free(p)
      assert.throws(() => { v.c = 1 }, stale, 'dead inside the sub-transaction')
      const q = inner.alloc(S.size)
      assert.equal(q, p, 'the same block again')
      again = inner.at(S, q) as unknown as { c: number }
      again.c = 2
      throw new Error('undo')
    }), /undo/)
    v.c = 3 // before the undo of the free revived it: refused (the free block is p's again)
    assert.equal(v.c, 3)
    assert.throws(() => { again!.c = 4 }, stale, 'the reallocation was undone')
  })
  const p = Number(pm.read(tx => tx.view(h).value))
  assert.equal(pm.read(tx => tx.at(S, p).c), 3)
  assert.ok(pm.check().ok)
  pm.close()
  assert.equal(reopened(file, a => a.read(tx => tx.at(S, p).c)), 3)
})

test('guard inv. G2: in a writing transaction a view must lie inside one allocated block; read transactions view as before', () => {
  const { pm } = fresh()
  const v = pm.persistent('v', t.u32)
  const [a, b] = pm.transaction(tx => [tx.alloc(16), tx.alloc(16)] as const)
  pm.transaction(tx => { tx.free(a) })
  pm.transaction(tx => {
    assert.throws(() => tx.at(t.u32, a), stale, 'a free block (a dangling pointer)') // before G2: a view whose writes corrupt the free list
    assert.throws(() => tx.at(t.u32, b - 16), stale, 'a block header')
    assert.throws(() => tx.at(S, b), stale, 'running past its block')
    assert.throws(() => tx.at(t.u32, pm.engine.dataOffset), stale, 'the heap header')
    assert.equal(tx.at(t.u32, b + 12).value, 0, 'inside a live block')
    tx.view(v).value = 1
  })
  assert.equal(pm.read(tx => tx.at(t.u32, a).value), 0, 'a read transaction frees nothing: no check')
  assert.ok(pm.check().ok)
  pm.close()
})

test('guard inv. G2: a stale view given as a pointer value or as a struct value is refused, nothing written', () => {
  const { pm } = fresh()
  const Node = t.struct({ next: t.ptr(S), s: S })
  const head = pm.persistent('head', Node)
  pm.transaction(tx => {
    const p = tx.alloc(S.size)
    const v = tx.at(S, p)
    v.c = 8
    tx.alloc(64)
    tx.free(p)
    const h = tx.view(head)
    assert.throws(() => { h.next = v as never }, stale, 'a pointer to a freed block') // before G2: a dangling pointer stored
    assert.throws(() => { h.s = v as never }, stale, 'its fields as a value')
  })
  assert.deepEqual(pm.read(tx => tx.view(head).toJSON()), { next: 0, s: { a: 0, b: 0, c: 0 } })
  assert.ok(pm.check().ok)
  pm.close()
})

test('vars inv. 6: tx.free of a variable\'s block or its directory entry is refused and the pool reopens', () => {
  const { pm, file } = fresh()
  const victim = pm.persistent('victim', t.u32)
  pm.persistent('after', t.u32)
  const m = pm.hashMap('m', t.string, t.u32)
  m.put('k', 1)
  const mAt = pm.variables().find(x => x.name === 'm')!.offset
  const newestEntry = Number(pm.read(tx => tx.readBigU64(pm.heap.varsHeadOffset))) // the directory entry of "m"
  assert.throws(() => pm.transaction(tx => { tx.free(victim.offset) }), InvalidArgumentError) // before: check() clean, reopen CorruptionError
  assert.throws(() => pm.transaction(tx => { tx.free(mAt) }), InvalidArgumentError, 'a collection\'s header')
  assert.throws(() => pm.transaction(tx => { tx.free(newestEntry) }), InvalidArgumentError, 'a directory entry')
  pm.transaction(tx => { tx.view(victim).value = 4 })
  assert.ok(pm.check().ok)
  pm.close()
  reopened(file, a => {
    assert.equal(a.read(tx => tx.view(a.persistent('victim', t.u32)).value), 4)
    assert.equal(a.hashMap('m', t.string, t.u32).get('k'), 1)
  })
})

test('guard inv. G2: views die with their transaction and their pool object: after a reopen an old view is refused, not stale data', () => {
  const { pm, file } = fresh()
  const h = pm.persistent('h', t.u32)
  let kept: { value: number } | undefined
  pm.transaction(tx => { kept = tx.view(h); kept.value = 1 })
  assert.throws(() => { kept!.value = 2 }, TransactionEndedError)
  pm.close()
  const again = open(file)
  assert.throws(() => kept!.value, TransactionEndedError)
  assert.throws(() => again.transaction(tx => { tx.view(h).value = 3; kept!.value = 9 }), TransactionEndedError)
  assert.equal(again.read(tx => tx.view(again.persistent('h', t.u32)).value), 1)
  again.close()
})
