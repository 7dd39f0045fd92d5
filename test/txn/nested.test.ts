// The transaction API of txn/engine.ts beyond the commit protocol: nested transactions are
// real sub-transactions (eng. 7: a nested one that throws leaves nothing of its own, even when
// the outer catches the exception), the durability option is checked, `group` always returns a
// promise (rejected, never thrown, on failure), and a transaction function that returns a
// promise is refused without leaving an unhandled rejection behind.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import path from 'node:path'
import { inspect } from 'node:util'
import { SimRegion, InvalidArgumentError, RegionClosedError, TransactionEndedError } from '../../regions/index.js'
import { TxEngine } from '../../txn/index.js'

const SIZE = 64 * 1024

function engine(): { sim: SimRegion; eng: TxEngine; at: (i: number) => number } {
  const sim = SimRegion.create({ size: SIZE })
  const eng = TxEngine.create(sim, { logSize: 16 * 1024 })
  return { sim, eng, at: (i: number) => eng.dataOffset + 8 * i }
}

/** The committed value of slot i, read back after a process crash and recovery (so from the log or the data). */
function recovered(sim: SimRegion, at: (i: number) => number, slots: number): number[] {
  const e2 = TxEngine.open(sim.processCrash())
  const r = e2.reader()
  const out = Array.from({ length: slots }, (_, i) => r.readF64(at(i)))
  e2.close()
  return out
}

test('eng. 7: a nested transaction that throws is rolled back even when the outer catches it', () => {
  const { sim, eng, at } = engine()
  eng.transaction(tx => { for (let i = 0; i < 4; i++) tx.writeF64(at(i), 10 + i) })
  const result = eng.transaction(tx => {
    tx.writeF64(at(0), 100)
    try {
      eng.transaction(inner => {
        inner.writeF64(at(0), 200) // overwrites the outer's own write
        inner.writeF64(at(1), 201)
        inner.zero(at(2), 8)
        throw new Error('inner fails')
      })
    } catch (err) {
      assert.match((err as Error).message, /inner fails/)
    }
    // read-your-writes sees the outer's writes and none of the rolled-back ones
    assert.deepEqual([tx.readF64(at(0)), tx.readF64(at(1)), tx.readF64(at(2))], [100, 11, 12])
    tx.writeF64(at(3), 103)
    return 'outer done'
  })
  assert.equal(result, 'outer done')
  const r = eng.reader()
  assert.deepEqual([0, 1, 2, 3].map(i => r.readF64(at(i))), [100, 11, 12, 103])
  assert.deepEqual(recovered(sim, at, 4), [100, 11, 12, 103], 'the log record holds no write of the aborted sub-transaction')
  eng.close()
})

test('eng. 7: sub-transactions nest; a committed inner one is rolled back with the middle one that throws', () => {
  const { eng, at } = engine()
  eng.transaction(tx => {
    tx.writeF64(at(0), 1)
    assert.throws(() => eng.transaction(mid => {
      mid.writeF64(at(1), 2)
      eng.transaction(inner => inner.writeF64(at(2), 3)) // commits into mid
      assert.equal(mid.readF64(at(2)), 3)
      throw new Error('mid fails')
    }), /mid fails/)
    eng.transaction(other => other.writeF64(at(3), 4)) // a later sub-transaction commits normally
    assert.equal(tx.readF64(at(2)), 0)
  })
  const r = eng.reader()
  assert.deepEqual([0, 1, 2, 3].map(i => r.readF64(at(i))), [1, 0, 0, 4])
  eng.close()
})

test('eng. 7: abort hooks of a rolled-back sub-transaction run, those of committed ones wait for the outer', () => {
  const { eng, at } = engine()
  const log: string[] = []
  eng.transaction(() => {
    assert.throws(() => eng.transaction(tx => { tx.writeF64(at(0), 1); eng.onAbort(() => log.push('a')); throw new Error('x') }), /x/)
    assert.deepEqual(log, ['a'])
    eng.transaction(() => eng.onAbort(() => log.push('b')))
  })
  assert.deepEqual(log, ['a'], 'the outer committed: b never runs')
  assert.throws(() => eng.transaction(() => { eng.transaction(() => eng.onAbort(() => log.push('c'))); throw new Error('y') }), /y/)
  assert.deepEqual(log, ['a', 'c'])
  assert.throws(() => eng.onAbort(() => {}), InvalidArgumentError, 'outside a transaction')
  eng.close()
})

test('a nested group transaction returns a promise that resolves once the outer commit is durable', async () => {
  const { sim, eng, at } = engine()
  let inner: unknown
  const before = sim.flushCount
  eng.transaction(tx => {
    tx.writeF64(at(0), 1)
    inner = eng.transaction(t2 => { t2.writeF64(at(1), 2); return 'inner' }, { durability: 'group' })
    assert.ok(inner instanceof Promise, 'a group transaction always returns a promise')
  }, { durability: 'none' })
  assert.equal(await inner, 'inner')
  assert.ok(eng.durableSeq >= eng.lastSeq, 'resolved only once durable')
  assert.ok(sim.flushCount > before, 'the none outer was made durable because a group sub-transaction asked for it')
  assert.deepEqual(recovered(sim, at, 2), [1, 2])
  // the outer aborts: the nested promise rejects (handled, so ignoring it crashes nothing)
  let lost: Promise<unknown> | undefined
  assert.throws(() => eng.transaction(() => {
    lost = eng.transaction(t2 => t2.writeF64(at(2), 3), { durability: 'group' })
    throw new Error('outer fails')
  }), /outer fails/)
  await assert.rejects(lost!, /outer fails/)
  assert.equal(eng.reader().readF64(at(2)), 0)
  eng.close()
})

test('eng. 7: a nested sync transaction makes a none outer commit durable', () => {
  const { eng, at } = engine()
  eng.transaction(tx => { tx.writeF64(at(0), 1); eng.transaction(t2 => t2.writeF64(at(1), 1)) }, { durability: 'none' })
  assert.equal(eng.durableSeq, eng.lastSeq)
  eng.transaction(tx => tx.writeF64(at(0), 2), { durability: 'none' })
  assert.ok(eng.durableSeq < eng.lastSeq, 'a plain none commit is not flushed')
  eng.close()
})

test('a group transaction that fails returns a rejected promise instead of throwing', async () => {
  const { eng, at } = engine()
  const fail = () => eng.transaction(tx => { tx.writeF64(at(0), 9); throw new Error('group fails') }, { durability: 'group' })
  let p: unknown
  assert.doesNotThrow(() => { p = fail() })
  assert.ok(p instanceof Promise)
  await assert.rejects(p as Promise<unknown>, /group fails/)
  assert.equal(eng.reader().readF64(at(0)), 0)
  // nested, too: the sub-transaction is rolled back and its promise rejects; the outer goes on
  let q: unknown
  eng.transaction(tx => {
    q = eng.transaction(t2 => { t2.writeF64(at(1), 5); throw new Error('nested group fails') }, { durability: 'group' })
    tx.writeF64(at(2), 6)
  })
  await assert.rejects(q as Promise<unknown>, /nested group fails/)
  assert.deepEqual([eng.reader().readF64(at(1)), eng.reader().readF64(at(2))], [0, 6])
  eng.close()
  const closed = eng.transaction(() => 1, { durability: 'group' })
  assert.ok(closed instanceof Promise)
  await assert.rejects(closed, RegionClosedError)
})

test('transaction options are checked: not an object, unknown names, bad durability', () => {
  const { eng, sim, at } = engine()
  const before = sim.volatileImage()
  const write = (tx: { writeF64(o: number, v: number): void }) => tx.writeF64(at(0), 1)
  for (const opts of ['group', 5, null, [], true, 5n, Symbol('s'), () => 1, { durability: 'later' }, { durability: 1 }, { durabilty: 'group' }, { durability: 'sync', extra: 1 }]) {
    assert.throws(() => eng.transaction(write, opts as never), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, `options ${inspect(opts)}: ${String(err)}`)
      return true
    })
  }
  assert.throws(() => eng.transaction(write, { durabilty: 'group' } as never), /unknown option "durabilty"; known options are durability/)
  assert.deepEqual(sim.volatileImage(), before, 'nothing was committed')
  eng.transaction(write, { durability: undefined })
  eng.close()
})

test('a transaction function that returns a promise is refused and its promise is handled', async () => {
  const { eng, at } = engine()
  let late: unknown
  const fn = async (tx: { writeF64(o: number, v: number): void }) => {
    tx.writeF64(at(0), 1)
    await null
    try { tx.writeF64(at(1), 2) } catch (err) { late = err; throw err }
  }
  assert.throws(() => eng.transaction(fn), /must be synchronous/)
  assert.throws(() => eng.transaction(() => { eng.transaction(fn) }), InvalidArgumentError, 'nested too')
  await new Promise(resolve => setImmediate(resolve))
  assert.ok(late instanceof TransactionEndedError)
  assert.equal(eng.reader().readF64(at(0)), 0, 'the writes made before the await were not committed')
  eng.close()
})

test('an async transaction function touching tx after an await leaves no unhandled rejection (child process)', () => {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const lib = pathToFileURL(path.join(here, '../../src/index.js')).href
  const script = `
    import { PersistentMemory, SimRegion, t } from ${JSON.stringify(lib)}
    const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 256 * 1024 }))
    const v = pm.persistent('v', t.u32)
    for (const durability of ['sync', 'none', 'group']) {
      try {
        await pm.transaction(async tx => { await null; tx.writeU32(v.offset, 1) }, { durability })
        console.log('accepted')
      } catch (err) { console.log(err.code) }
    }
    try { pm.read(async tx => { await null; tx.readU32(v.offset) }) } catch (err) { console.log(err.code) }
    await new Promise(resolve => setTimeout(resolve, 20))
    console.log('end')`
  const r = spawnSync(process.execPath, ['--input-type=module', '--unhandled-rejections=strict', '-e', script], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.stderr, '', 'no unhandled rejection is reported')
  assert.equal(r.status, 0)
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'ERR_PMEM_INVALID_ARGUMENT', 'ERR_PMEM_INVALID_ARGUMENT', 'ERR_PMEM_INVALID_ARGUMENT', 'ERR_PMEM_INVALID_ARGUMENT', 'end',
  ])
})

test('eng. 7: a group transaction that writes nothing, with a sync sub-transaction, still settles once earlier none commits are durable', async () => {
  const sim = SimRegion.create({ size: 64 * 1024 })
  const eng = TxEngine.create(sim, { logSize: 8192 })
  eng.transaction(tx => tx.writeU32(eng.dataOffset, 1), { durability: 'none' })
  const p = eng.transaction(() => { eng.transaction(() => {}) }, { durability: 'group' }) // nested call asks sync, nothing written
  let timer: NodeJS.Timeout | undefined
  const pending = new Promise(r => { timer = setTimeout(() => r('still pending'), 20_000) })   // 20 s: slow is not stuck on a loaded machine
  const settled = await Promise.race([p.then(() => 'durable'), pending])
  clearTimeout(timer)
  assert.equal(settled, 'durable')
  assert.equal(eng.durableSeq, eng.lastSeq)
})
