// The collections torture (`npm run torture -- <seconds> collections`), beside the bank torture
// of torture-kit.ts: a child (fixtures/coll-child.ts) puts and deletes blobs of 4 B to 20 KiB in
// a hashMap and a sortedMap of a growing pool, pushes onto a vector and counts, in transactions
// of every durability, and is SIGKILLed at random moments; every reopen (every other one
// read-only, so the next child recovers the killed life itself) must pass pm.check with the
// reachability walk (no leak, no dangling block), hold at least every operation reported
// durable, and hold exactly the state after its counter's operation: each key the value of the
// latest operation on it, the vector one element per operation.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { open, t } from '../../src/index.js'
import { collValueOp } from './fixtures/coll-values.js'
import { runAndKill } from './torture-kit.js'

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'coll-child.js')
const K = 50

/** Runs kill rounds for `seconds`; returns the rounds run and the operations the file holds. */
export async function tortureCollections(seconds: number): Promise<{ rounds: number; ops: number; bytes: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-torture-coll-'))
  const file = path.join(dir, 'coll.pm')
  open(file, { size: 256 << 10 }).close() // small: the heap outgrows it, so the pool grows under the kills
  const end = Date.now() + seconds * 1000
  let rounds = 0, reported = 0
  try {
    while (Date.now() < end) {
      reported = Math.max(reported, await runAndKill(child, [file, String(K)], 20 + Math.floor(Math.random() * 400)))
      const pm = open(file, { readOnly: rounds % 2 === 1 })
      try {
        const report = pm.check({ reachability: true })
        assert.ok(report.ok, `round ${rounds}: check failed: ${report.problems.join('; ')}`)
        const n = Number(pm.read(tx => tx.readBigU64(pm.persistent('c', t.u64).offset)))
        assert.ok(n >= reported, `round ${rounds}: ${n} operations recovered but ${reported} were reported durable`)
        const maps = [pm.hashMap('h', t.u32, t.blob), pm.sortedMap('s', t.u32, t.blob)] as const
        for (let k = 0; k < K; k++) {
          const last = n - (((n - k) % K) + K) % K // the latest operation on key k
          const want = last <= 0 || last % 11 === 0 ? undefined : last
          for (const m of maps) {
            const got = m.get(k)
            assert.equal(got === undefined ? undefined : collValueOp(got), want, `round ${rounds}: key ${k} of the ${m.constructor.name} after operation ${n}`)
          }
        }
        assert.equal(pm.vector('v', t.u32).length, n, `round ${rounds}: the vector has one element per operation`)
        reported = n
      } finally {
        pm.close()
      }
      rounds++
    }
    return { rounds, ops: reported, bytes: fs.statSync(file).size }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
