// The quick-start demo (src/demo/): its kill loop run for real (a child process killed with
// SIGKILL, twice), its power cuts (three lives on a SimRegion, one cut during recovery), and
// its verdict shown able to fail: a missing acknowledged transfer, a gap in the transfers, a
// stray amount and created money are each reported (bank.ts inv. 2, 3).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { open } from '../../src/index.js'
import { ACCOUNTS, OPENING, bank, createBank, transfer } from '../../src/demo/bank.js'
import { runDemo } from '../../src/demo/lives.js'
import { powerCuts } from '../../src/demo/power.js'
import { verify } from '../../src/demo/verify.js'

test('demo: two lives of a child killed with SIGKILL keep every acknowledged transfer (bank.ts inv. 1-3)', async () => {
  let file = ''
  const { ok, lives } = await runDemo({ lives: 2, killAfterMs: [150, 400], onLife: (_l, _i, f) => { file = f } })
  assert.equal(lives.length, 2)
  for (const [i, l] of lives.entries()) {
    assert.deepEqual(l.verdict.problems, [], `life ${i + 1}`)
    assert.ok(l.verdict.last >= l.acked && l.acked >= l.first, `life ${i + 1}: found #${l.verdict.last}, acknowledged #${l.acked}, started at #${l.first}`)
    assert.equal(l.verdict.total, ACCOUNTS * OPENING)
    assert.equal(l.verdict.collections, 3)
  }
  assert.equal(lives[1]!.first, lives[0]!.verdict.last, 'the second life starts where recovery left the first')
  assert.ok(lives[1]!.acked > 0, 'the children acknowledged transfers')
  assert.equal(ok, true)
  assert.equal(fs.existsSync(path.dirname(file)), false, 'the temporary directory is removed')
})

test('demo power cuts: three lives cut at a random flush, the second during recovery, keep every returned transfer (bank.ts inv. 1-3)', () => {
  const cuts = powerCuts(3, 60)
  for (const [i, c] of cuts.entries()) {
    assert.deepEqual(c.verdict.problems, [], `cut ${i + 1}`)
    assert.ok(c.verdict.last >= c.acked && c.acked >= c.first, `cut ${i + 1}: found #${c.verdict.last}, returned #${c.acked}, started at #${c.first}`)
    if (i > 0) assert.equal(c.first, cuts[i - 1]!.verdict.last, `life ${i + 1} recovers what the cut image held`)
  }
  assert.equal(cuts[1]!.during, 'recovery', 'the second life is cut at its first flush, which its recovery makes')
  assert.ok(cuts[0]!.acked > 0)
})

test('demo verify: reports a missing acknowledged transfer, a gap, a stray amount and created money (inv. 2, 3)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-demo-test-'))
  const file = path.join(dir, 'bank.pm')
  try {
    createBank(file)
    let pm = open(file)
    const b = bank(pm)
    const names = [...b.accounts.keys()]
    for (let n = 1; n <= 60; n++) transfer(pm, b, names, n) // includes a closed account (CLOSE_EVERY = 50)
    pm.close()
    assert.deepEqual(verify(file, 60).problems, [])
    assert.equal(verify(file, 60).recent[0]!.n, 60)
    assert.match(verify(file, 61).problems.join('\n'), /transfer #61 was acknowledged, but the last transfer found is #60/)

    const damage = (fn: (b: ReturnType<typeof bank>) => void, expect: RegExp) => {
      const copy = path.join(dir, 'copy.pm')
      fs.copyFileSync(file, copy)
      pm = open(copy)
      pm.transaction(() => fn(bank(pm)))
      pm.close()
      assert.match(verify(copy, 60).problems.join('\n'), expect)
      fs.rmSync(copy)
    }
    damage(b => b.transfers.delete(30), /transfers: expected #30 next, found #31/)
    damage(b => b.amounts.push(5), /amounts: 61 recorded for 60 transfers/)
    damage(b => { const a = b.accounts.get(names[0]!)!; b.accounts.put(names[0]!, { ...a, balance: a.balance + 1 }) }, /the balances sum to 100001, expected 100000/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
