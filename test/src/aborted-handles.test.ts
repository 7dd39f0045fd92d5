// Handles made inside a transaction that aborts (eng. 7, vars inv. 4): the collection or variable
// they name was never created, and its heap block may already hold another collection. Using
// such a handle is TransactionEndedError and changes nothing; a handle made in a transaction
// that commits keeps working.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PersistentMemory, SimRegion, t, type PmemError } from '../../src/index.js'

const ended = (e: PmemError) => e.code === 'ERR_PMEM_TX_ENDED' && /aborted/.test(e.message)

test('vars inv. 4: collections and variables declared in an aborted transaction refuse every use; their block reused by another is untouched', () => {
  const sim = SimRegion.create({ size: 512 * 1024 })
  const pm = PersistentMemory.fromRegion(sim, { logSize: 64 * 1024 })
  let m!: ReturnType<typeof pm.hashMap<typeof t.u32, typeof t.u32>>
  let s!: ReturnType<typeof pm.sortedMap<typeof t.u32, typeof t.u32>>
  let v!: ReturnType<typeof pm.vector<typeof t.u32>>
  let p!: ReturnType<typeof pm.persistent<typeof t.u64>>
  assert.throws(() => pm.transaction(() => {
    m = pm.hashMap('m', t.u32, t.u32); s = pm.sortedMap('s', t.u32, t.u32); v = pm.vector('v', t.u32); p = pm.persistent('p', t.u64)
    m.put(1, 1); s.put(1, 1); v.push(1)
    throw new Error('abort')
  }), /abort/)
  // the same names declared again reuse the freed blocks: a stale handle would write into these
  const m2 = pm.hashMap('m', t.u32, t.u32), s2 = pm.sortedMap('s', t.u32, t.u32), v2 = pm.vector('v', t.u32), p2 = pm.persistent('p', t.u64)
  assert.ok(m2.offset === m.offset || s2.offset === s.offset || v2.offset === v.offset || p2.offset === p.offset, 'some block was reused (the case this guards)')
  m2.put(5, 50); s2.put(5, 50); v2.push(50); pm.transaction(tx => { tx.view(p2).value = 7n })
  const before = Uint8Array.from(sim.unsafeBytes())
  const uses: Array<[string, () => unknown]> = [
    ['hashMap.put', () => m.put(1, 2)], ['hashMap.get', () => m.get(5)], ['hashMap.size', () => m.size], ['hashMap.keys', () => [...m.keys()]],
    ['hashMap.delete', () => m.delete(5)], ['hashMap.clear', () => m.clear()],
    ['sortedMap.put', () => s.put(1, 2)], ['sortedMap.get', () => s.get(5)], ['sortedMap iteration', () => [...s]],
    ['sortedMap.getRange', () => [...s.getRange({ start: 0, end: 10 })]], ['sortedMap.clear', () => s.clear()],
    ['vector.push', () => v.push(2)], ['vector.get', () => v.get(0)], ['vector.set', () => v.set(0, 9)], ['vector.pop', () => v.pop()],
    ['vector.length', () => v.length], ['vector iteration', () => [...v]],
    ['tx.view(variable)', () => pm.transaction(tx => { tx.view(p).value = 9n })],
    ['a read of tx.view(variable)', () => pm.read(tx => tx.view(p).value)],
  ]
  for (const [what, use] of uses) {
    assert.throws(use, ended, `${what} on a handle of the aborted transaction`)
    pm.transaction(tx => { assert.throws(() => { if (what.startsWith('tx.view') || what.startsWith('a read')) tx.view(p); else use() }, ended, `${what} inside a transaction`) })
  }
  assert.deepEqual(sim.unsafeBytes(), before, 'nothing changed on disk')
  assert.deepEqual([m2.get(5), s2.get(5), v2.get(0), pm.read(tx => tx.view(p2).value)], [50, 50, 50, 7n])
  assert.deepEqual(pm.check().problems, [])
})

test('vars inv. 4: a handle made in a sub-transaction that commits works; one whose sub-transaction or outer transaction aborts does not', () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 512 * 1024 }), { logSize: 64 * 1024 })
  let kept!: ReturnType<typeof pm.hashMap<typeof t.u32, typeof t.u32>>
  let inner!: ReturnType<typeof pm.hashMap<typeof t.u32, typeof t.u32>>
  let outer!: ReturnType<typeof pm.vector<typeof t.u32>>
  pm.transaction(() => {
    pm.transaction(() => { kept = pm.hashMap('kept', t.u32, t.u32) })
    assert.throws(() => pm.transaction(() => { inner = pm.hashMap('inner', t.u32, t.u32); throw new Error('inner abort') }), /inner abort/)
    assert.throws(() => inner.put(1, 1), ended, 'refused at once inside the outer transaction')
    kept.put(1, 1)
  })
  kept.put(2, 2)
  assert.deepEqual([...kept.keys()].sort(), [1, 2])
  assert.throws(() => pm.transaction(() => { pm.transaction(() => { outer = pm.vector('outer', t.u32) }); throw new Error('outer abort') }), /outer abort/)
  assert.throws(() => outer.push(1), ended, 'a sub-transaction committed into an aborted outer one')
  const again = pm.vector('outer', t.u32)
  again.push(3)
  assert.deepEqual([...again], [3])
  assert.deepEqual(pm.check().problems, [])
})
