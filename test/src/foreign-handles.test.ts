// Vars inv. 5 (src/vars.ts): a variable's handle names a variable of one file. tx.view refuses,
// with InvalidArgumentError and nothing read or written, a handle that `persistent` returned in
// another pool; it accepts one of the same file, from an earlier open or from the writer in a
// read-only open. Real files, two pools open side by side.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { open, t, InvalidArgumentError } from '../../src/index.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-foreign-handles-'))

test('vars inv. 5: a handle from another pool is refused by tx.view, in a transaction and in a read; nothing is written', () => {
  const a = open(path.join(dir, 'a.pm'), { size: 1 << 20 }), b = open(path.join(dir, 'b.pm'), { size: 1 << 20 })
  const first = b.persistent('first', t.u32)
  b.persistent('counter', t.f64) // same name in b, at another offset
  const counter = a.persistent('counter', t.u32) // a's first variable: the offset of b's `first`
  assert.equal(counter.offset, first.offset, 'the two files put their first variables at the same offset')
  // before vars inv. 5: b's `first` became 42, and check() called b clean
  assert.throws(() => b.transaction(tx => { tx.view(counter).value = 42 }), (e: unknown) => e instanceof InvalidArgumentError && /another pool/.test(e.message))
  assert.throws(() => b.read(tx => tx.view(counter).value), InvalidArgumentError)
  assert.equal(b.read(tx => tx.view(first).value), 0)
  a.transaction(tx => { tx.view(counter).value = 1 }) // its own pool takes it
  assert.equal(a.read(tx => tx.view(counter).value), 1)
  assert.ok(b.check().ok && a.check().ok)
  a.close(); b.close()
})

test('vars inv. 5: a handle of the same file works after a reopen and in read-only opens, declared before or after them', () => {
  const file = path.join(dir, 'same.pm')
  let pm = open(file, { size: 1 << 20 })
  const x = pm.persistent('x', t.u32)
  pm.close()
  pm = open(file)
  pm.transaction(tx => { tx.view(x).value = 5 }) // the handle of the earlier open
  const ro = open(file, { readOnly: true })
  const y = pm.persistent('y', t.u32) // declared after the read-only open
  pm.transaction(tx => { tx.view(y).value = 6 })
  assert.deepEqual(ro.read(tx => [tx.view(x).value, tx.view(y).value]), [5, 6])
  ro.close(); pm.close()
})
