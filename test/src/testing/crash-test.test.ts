// The testing kit must find real bugs: a persistent stack built with tx.alloc passes, and
// three seeded protocol bugs (a missing transaction around two writes, a write outside any
// transaction, a freed block still referenced) are each caught and shrunk.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { t, type PersistentMemory, type PmTx } from '../../../src/index.js'
import { crashTest, CrashTestError, findUnloggedStores, SimRegion } from '../../../src/testing/index.js'
import { PersistentMemory as PM } from '../../../src/index.js'

const Node = t.struct({ value: t.f64, next: t.ptr() })
type Op = { push: number } | { pop: true }
const operation: fc.Arbitrary<Op> = fc.oneof(fc.record({ push: fc.integer({ min: -1000, max: 1000 }) }), fc.constant({ pop: true as const }))
const setup = (pm: PersistentMemory) => ({ head: pm.persistent('head', t.ptr(Node)), length: pm.persistent('length', t.u64) })
type Vars = ReturnType<typeof setup>
const model = {
  init: () => ({ items: [] as number[], length: 0 }),
  step: (m: { items: number[]; length: number }, op: Op) => {
    if ('push' in op) return { items: [op.push, ...m.items], length: m.length + 1 }
    return m.items.length === 0 ? m : { items: m.items.slice(1), length: m.length - 1 }
  },
}
const read = (pm: PersistentMemory, v: Vars) => pm.read(tx => {
  const items: number[] = []
  for (let p = tx.view(v.head).value as number; p !== 0 && items.length < 1000; p = tx.at(Node, p).next as number) items.push(tx.at(Node, p).value as number)
  return { items, length: Number(tx.readBigU64(v.length.offset)) }
})

function push(tx: PmTx, v: Vars, value: number): void {
  const n = tx.alloc(Node.size)
  const node = tx.at(Node, n)
  node.value = value
  node.next = tx.view(v.head).value
  tx.view(v.head).value = n
}
function pop(tx: PmTx, v: Vars): void {
  const h = tx.view(v.head).value as number
  if (h === 0) return
  tx.view(v.head).value = tx.at(Node, h).next
  tx.free(h)
  tx.writeBigU64(v.length.offset, tx.readBigU64(v.length.offset) - 1n)
}
const bump = (tx: PmTx, v: Vars) => tx.writeBigU64(v.length.offset, tx.readBigU64(v.length.offset) + 1n)

const correct = (pm: PersistentMemory, v: Vars, op: Op) =>
  'push' in op ? pm.transaction(tx => { push(tx, v, op.push); bump(tx, v) }) : pm.transaction(tx => pop(tx, v))

test('a correct persistent stack passes, with every durability and the sanitizer on', async () => {
  await crashTest({ setup, operation, run: correct, model, read, runs: 30, sanitize: true }) // 3 lives each
  await crashTest({
    setup, operation, model, read, runs: 25,
    run: (pm, v, op) => pm.transaction(tx => ('push' in op ? (push(tx, v, op.push), bump(tx, v)) : pop(tx, v)), { durability: 'group' }),
  })
})

async function caught(run: (pm: PersistentMemory, v: Vars, op: Op) => unknown, sanitize = false, seed?: number): Promise<CrashTestError> {
  try {
    await crashTest({ setup, operation, run, model, read, runs: 100, sanitize, ...(seed === undefined ? {} : { seed }) })
  } catch (e) {
    assert.ok(e instanceof CrashTestError, `expected CrashTestError, got ${e}`)
    return e
  }
  assert.fail('the kit did not catch the bug')
}

// A fixed seed: with a random one, about 1 run in 20 shrinks to a local minimum of two pushes
// in a later life (the crash point is an index among the life's flushes, so dropping a push
// moves it); the kit still catches the bug then, but "shrunk to one push" would flake.
test('bug 1, a missing transaction around two writes, is caught and shrunk', async () => {
  const e = await caught((pm, v, op) => 'push' in op
    ? (pm.transaction(tx => push(tx, v, op.push)), pm.transaction(tx => bump(tx, v)))
    : pm.transaction(tx => pop(tx, v)), false, 1234)
  const shown = e.message.split('\n').filter(l => l.startsWith('Operations')).join('\n')
  assert.equal(shown.match(/push: -?\d+/g)?.length, 1, `shrunk to a single push (in any life): ${shown}`)
  assert.doesNotMatch(shown, /pop/)
  assert.match(e.message, /recovery gave/)
  assert.match(e.message, /seed: -?\d+, path: "[\d:]+"/)
})

test('bug 2, a write outside any transaction, is caught (and named by the sanitizer)', async () => {
  const raw = (pm: PersistentMemory, v: Vars, op: Op) => {
    if (!('push' in op)) return pm.transaction(tx => pop(tx, v))
    pm.transaction(tx => push(tx, v, op.push))
    const dv = new DataView(pm.region.unsafeBytes().buffer, pm.region.unsafeBytes().byteOffset)
    dv.setBigUint64(v.length.offset, dv.getBigUint64(v.length.offset, true) + 1n, true) // not logged, not flushed
  }
  const e = await caught(raw)
  assert.match(e.message, /recovery gave/)
  const s = await caught(raw, true)
  assert.match(s.message, /Sanitizer: after operation 1, 1 store\(s\) were neither logged by a transaction nor flushed: offset \d+/)
})

test('bug 3, a freed block still referenced, is caught', async () => {
  const e = await caught((pm, v, op) => 'push' in op
    ? pm.transaction(tx => { push(tx, v, op.push); bump(tx, v) })
    : pm.transaction(tx => { const h = tx.view(v.head).value as number; if (h === 0) return; tx.free(h); tx.writeBigU64(v.length.offset, tx.readBigU64(v.length.offset) - 1n) }))
  assert.match(e.message, /Operations \(shrunk\)/)
})

test('findUnloggedStores is empty after transactions and names a raw store', () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  const pm = PM.fromRegion(sim, { logSize: 8192 })
  const v = setup(pm)
  pm.transaction(tx => { push(tx, v, 1); bump(tx, v) })
  pm.transaction(tx => bump(tx, v), { durability: 'none' })
  assert.deepEqual(findUnloggedStores(pm), [])
  sim.unsafeBytes()[v.length.offset + 3] = 9
  assert.deepEqual(findUnloggedStores(pm), [{ offset: v.length.offset + 3, length: 1 }])
  sim.flush(v.length.offset, 8)
  assert.equal(findUnloggedStores(pm).length, 1, 'flushed, but replay of live log records would overwrite it')
  pm.engine.checkpoint()
  assert.deepEqual(findUnloggedStores(pm), [], 'after a checkpoint nothing replays over it: durable, not reported')
})
