// Property tests of durable transactions (txn/engine.ts) on the crash simulator: random
// transactions of every durability, aborts, flushes and checkpoints; crash images taken at
// random flush points; recovery must give the state after some prefix of the committed
// transactions that includes every one known durable (DESIGN.md section 2, eng. 1-3).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { SimRegion } from '../../regions/index.js'
import { TxEngine, type Durability, type Tx } from '../../txn/index.js'

const SIZE = 32 * 1024
const LOG = 8 * 1024
const DATA = 4096 + LOG
const DATA_LEN = SIZE - DATA

type Write =
  | { kind: 'f64'; slot: number; value: number }
  | { kind: 'u32'; slot: number; value: number }
  | { kind: 'bytes'; at: number; data: Uint8Array }
  | { kind: 'zero'; at: number; len: number }

const write: fc.Arbitrary<Write> = fc.oneof(
  fc.record({ kind: fc.constant('f64' as const), slot: fc.nat({ max: DATA_LEN / 8 - 1 }), value: fc.double({ noNaN: true }) }),
  fc.record({ kind: fc.constant('u32' as const), slot: fc.nat({ max: DATA_LEN / 4 - 1 }), value: fc.nat({ max: 0xffffffff }) }),
  fc.record({ kind: fc.constant('bytes' as const), at: fc.nat({ max: DATA_LEN - 700 }), data: fc.uint8Array({ minLength: 1, maxLength: 700 }) }),
  fc.record({ kind: fc.constant('zero' as const), at: fc.nat({ max: DATA_LEN - 900 }), len: fc.integer({ min: 1, max: 900 }) }),
)

type Op =
  | { kind: 'tx'; writes: Write[]; abort: boolean; durability: Durability }
  | { kind: 'flush' } | { kind: 'checkpoint' } | { kind: 'await' }

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('tx' as const), writes: fc.array(write, { minLength: 1, maxLength: 6 }), abort: fc.boolean().map(b => b && Math.random() < 0.3), durability: fc.constantFrom<Durability>('sync', 'group', 'none') }) },
  { weight: 1, arbitrary: fc.constantFrom<Op>({ kind: 'flush' }, { kind: 'checkpoint' }, { kind: 'await' }) },
)

function applyModel(state: Uint8Array, w: Write): void {
  const dv = new DataView(state.buffer)
  if (w.kind === 'f64') dv.setFloat64(w.slot * 8, w.value, true)
  else if (w.kind === 'u32') dv.setUint32(w.slot * 4, w.value, true)
  else if (w.kind === 'bytes') state.set(w.data, w.at)
  else state.fill(0, w.at, w.at + w.len)
}

function applyTx(tx: Tx, w: Write): void {
  if (w.kind === 'f64') tx.writeF64(DATA + w.slot * 8, w.value)
  else if (w.kind === 'u32') tx.writeU32(DATA + w.slot * 4, w.value)
  else if (w.kind === 'bytes') tx.writeBytes(DATA + w.at, w.data)
  else tx.zero(DATA + w.at, w.len)
}

interface Capture { image: SimRegion; durable: number; committed: number }

async function runScenario(ops: Op[], seed: number, captureRate: number) {
  const sim = SimRegion.create({ size: SIZE })
  const eng = TxEngine.create(sim, { logSize: LOG })
  const states: Uint8Array[] = [new Uint8Array(DATA_LEN)]
  let durable = 0
  const captures: Capture[] = []
  let k = seed
  sim.onFlush = () => {
    if (captures.length < 12 && ((k = (k * 1103515245 + 12345) >>> 0) % 1000) / 1000 < captureRate) {
      captures.push({ image: sim.crash(k), durable, committed: states.length - 1 })
    }
  }
  const pending: Promise<unknown>[] = []
  for (const o of ops) {
    if (o.kind === 'flush') { eng.flush(); durable = states.length - 1; continue }
    if (o.kind === 'checkpoint') { eng.checkpoint(); durable = states.length - 1; continue }
    if (o.kind === 'await') { await Promise.all(pending); continue }
    const next = states[states.length - 1]!.slice()
    const fn = (tx: Tx) => {
      for (const w of o.writes) { applyTx(tx, w); applyModel(next, w) }
      // read-your-writes: the whole data area as the transaction sees it equals the model
      assert.deepEqual(tx.readBytes(DATA, DATA_LEN), next)
      if (o.abort) throw new Error('abort')
    }
    if (o.abort) {
      assert.throws(() => eng.transaction(fn, { durability: o.durability === 'group' ? 'sync' : o.durability }), /abort/)
      continue
    }
    states.push(next)
    const idx = states.length - 1
    if (o.durability === 'group') pending.push(eng.transaction(fn, { durability: 'group' }).then(() => { durable = Math.max(durable, idx) }))
    else {
      eng.transaction(fn, { durability: o.durability })
      if (o.durability === 'sync') durable = idx
    }
  }
  await Promise.all(pending)
  // committed state is what a fresh reader sees
  assert.deepEqual(eng.reader().readBytes(DATA, DATA_LEN), states[states.length - 1])
  captures.push({ image: sim.crash(k + 1), durable, committed: states.length - 1 })
  captures.push({ image: sim.processCrash(), durable: states.length - 1, committed: states.length - 1 })
  for (const c of captures) {
    const e2 = TxEngine.open(c.image)
    const got = c.image.volatileImage().subarray(DATA)
    const matches: number[] = []
    for (let i = c.durable; i <= c.committed; i++) if (Buffer.compare(got, states[i]!) === 0) matches.push(i)
    assert.ok(matches.length > 0, `recovered state is not the state after any of transactions ${c.durable}..${c.committed}`)
    // recovery is idempotent: a second crash right after recovery changes nothing
    const again = TxEngine.open(c.image.crash(7))
    assert.equal(Buffer.compare(again.region.unsafeBytes().subarray(DATA), got), 0)
    e2.close(); again.close()
  }
  eng.close()
}

test('eng. 1-3: crash at random flush points recovers a prefix containing every durable transaction', async () => {
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), fc.nat(), async (ops, seed) => {
    await runScenario(ops, seed, 0.35)
  }), { numRuns: 150 })
})

test('aborted transactions change nothing and a used tx throws', () => {
  const sim = SimRegion.create({ size: SIZE })
  const eng = TxEngine.create(sim, { logSize: LOG })
  const before = sim.volatileImage()
  let saved: Tx | undefined
  assert.throws(() => eng.transaction(tx => { saved = tx; tx.writeF64(DATA, 1); throw new Error('x') }), /x/)
  assert.deepEqual(sim.volatileImage(), before)
  assert.throws(() => saved!.readF64(DATA), { code: 'ERR_PMEM_TX_ENDED' })
  assert.throws(() => saved!.writeF64(DATA, 2), { code: 'ERR_PMEM_TX_ENDED' })
})
