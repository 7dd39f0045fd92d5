// A read-only pool beside its writer in the same process (each with its own mapping, as two
// processes have): the API of a reader (src/pm.ts, txn/reader.ts). Multi-process behaviour
// is in readers.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { open, check, t, ReadOnlyError, TransactionEndedError, InvalidArgumentError, RegionClosedError, SnapshotConflictError } from '../../src/index.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-ro-'))
let n = 0
const tmp = () => path.join(dir, `p${n++}.pm`)

test('a read-only pool beside a writer in this process: newest commits of every durability, variables declared later, typed refusals', async () => {
  const file = tmp()
  const pm = open(file, { size: 1 << 20, maxSize: 64 << 20 })
  const a = pm.persistent('a', t.array(t.f64, 1000))
  const ro = open(file, { readOnly: true })
  assert.equal(ro.engine.readerMode, 'live')
  const ra = ro.persistent('a', t.array(t.f64, 1000))
  assert.equal(ro.read(tx => tx.view(ra).get(3)), 0)
  pm.transaction(tx => tx.view(a).set(3, 1.5))                              // sync
  assert.equal(ro.read(tx => tx.view(ra).get(3)), 1.5)
  pm.transaction(tx => tx.view(a).set(3, 2.5), { durability: 'none' })      // published before it returns
  assert.equal(ro.read(tx => tx.view(ra).get(3)), 2.5)
  const p = pm.transaction(tx => tx.view(a).set(3, 3.5), { durability: 'group' })
  assert.equal(ro.read(tx => tx.view(ra).get(3)), 3.5, 'a group commit is seen once it is committed, before it is durable')
  await p
  // Declared by the writer after the reader opened: found, with its data.
  const b = pm.persistent('b', t.struct({ x: t.u32, y: t.f64 }))
  pm.transaction(tx => { tx.view(b).x = 7; tx.view(b).y = 0.25 })
  const rb = ro.persistent('b', t.struct({ x: t.u32, y: t.f64 }))
  assert.deepEqual(ro.read(tx => ({ x: tx.view(rb).x, y: tx.view(rb).y })), { x: 7, y: 0.25 })
  assert.deepEqual(ro.variables().map(v => v.name).sort(), ['a', 'b'])
  // Growth: the writer allocates past the first size; the reader follows.
  const big = pm.persistent('big', t.ptr())
  const off = pm.transaction(tx => { const o = tx.alloc(2 << 20); tx.writeF64(o + (2 << 20) - 8, 9.75); tx.writeBigU64(big.offset, BigInt(o)); return o })
  assert.ok(pm.region.size > 1 << 20)
  const rbig = ro.persistent('big', t.ptr())
  assert.equal(ro.read(tx => tx.readF64(Number(tx.readBigU64(rbig.offset)) + (2 << 20) - 8)), 9.75)
  assert.equal(off > 0, true)
  // Refusals: typed, and nothing changes.
  const before = fs.readFileSync(file)
  assert.throws(() => ro.transaction(tx => tx.writeF64(ra.offset, 1)), ReadOnlyError)
  assert.throws(() => ro.persistent('c', t.u8), ReadOnlyError)
  assert.throws(() => ro.read(tx => tx.writeF64(ra.offset, 1)), TransactionEndedError)
  assert.throws(() => ro.read(tx => tx.view(ra).set(0, 1)), TransactionEndedError)
  assert.throws(() => ro.read(() => Promise.resolve(1)), InvalidArgumentError)
  assert.throws(() => ro.read(() => { throw new RangeError('mine') }), RangeError, 'errors of fn reach the caller')
  let kept: unknown
  ro.read(tx => { kept = tx })
  assert.throws(() => (kept as { readF64(o: number): number }).readF64(ra.offset), TransactionEndedError)
  assert.deepEqual(fs.readFileSync(file), before, 'the refusals changed nothing in the file')
  // Nested reads share the outer's snapshot.
  assert.deepEqual(ro.read(tx => [tx.view(ra).get(3), ro.read(inner => inner.view(ra).get(3))]), [3.5, 3.5])
  // check() of the live file, on the reader and by path.
  assert.equal(ro.check({ reachability: true }).ok, true)
  assert.equal(check(file, { reachability: true }).ok, true)
  pm.close()
  assert.equal(ro.read(tx => tx.view(ra).get(3)), 3.5, 'after the writer closed')
  ro.close()
  assert.throws(() => ro.read(tx => tx.readF64(ra.offset)), RegionClosedError)
})

test('rd. 1: engine.reader() outside read(fn) is one snapshot and fails with SnapshotConflictError once stale', () => {
  const file = tmp()
  const pm = open(file, { size: 1 << 20 })
  const a = pm.persistent('a', t.f64)
  const ro = open(file, { readOnly: true })
  const r = ro.engine.reader()
  pm.transaction(tx => tx.writeF64(a.offset, 1))
  assert.throws(() => r.readF64(a.offset), SnapshotConflictError)
  assert.equal(ro.read(tx => tx.readF64(a.offset)), 1)
  pm.close()
  ro.close()
})
