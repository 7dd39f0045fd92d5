// The README's testing-kit example (type annotations added), so the documentation stays true.
import { test } from 'node:test'
import fc from 'fast-check'
import { t, type PersistentMemory, type PmTx, type Persistent, type PtrType, type ScalarType } from '../../../src/index.js'
import { crashTest } from '../../../src/testing/index.js'
const Node = t.struct({ value: t.f64, next: t.ptr() })
type V = { head: Persistent<PtrType>; n: Persistent<ScalarType> }
type Op = { push: number } | { pop: boolean }
type M = { items: number[]; n: number }
test("README example: a persistent stack passes crashTest", async () => { await crashTest({
  setup: (pm: PersistentMemory) => ({ head: pm.persistent('head', t.ptr(Node)), n: pm.persistent('n', t.u64) }),
  operation: fc.oneof(fc.record({ push: fc.integer() }), fc.constant({ pop: true })),
  run: (pm: PersistentMemory, v: V, op: Op) => pm.transaction((tx: PmTx) => {
    const head = tx.view(v.head)
    if ('push' in op) {
      const p = tx.alloc(Node.size)
      Object.assign(tx.at(Node, p), { value: op.push, next: head.value })
      head.value = p
      tx.writeBigU64(v.n.offset, tx.readBigU64(v.n.offset) + 1n)
    } else if (head.value !== 0) {
      const p = head.value
      head.value = tx.at(Node, p).next
      tx.free(p)
      tx.writeBigU64(v.n.offset, tx.readBigU64(v.n.offset) - 1n)
    }
  }),
  model: { init: (): M => ({ items: [], n: 0 }),
           step: (m: M, op: Op): M => 'push' in op ? { items: [op.push, ...m.items], n: m.n + 1 }
                          : m.n ? { items: m.items.slice(1), n: m.n - 1 } : m },
  read: (pm: PersistentMemory, v: V) => pm.read((tx: PmTx) => {
    const items: number[] = []
    for (let p = tx.view(v.head).value; p; p = tx.at(Node, p).next) items.push(tx.at(Node, p).value)
    return { items, n: Number(tx.readBigU64(v.n.offset)) }
  }),
  runs: 100,
}) })
