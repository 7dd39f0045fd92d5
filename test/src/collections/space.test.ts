// The space bound: after random puts and deletes of values of 8 B to 4 KiB, the file
// holds at most 1.5x the live data (heap coalescing, heap inv. 1-2; growth by a quarter), and
// pm.check validates the map. npm test runs 12,000 operations on a simulated region;
// PMEM_SPACE_OPS=1000000 runs the million of the issue on a real file.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spaceRun } from './space-kit.js'

test('space: random puts and deletes of 8 B..4 KiB values keep the file within 1.5x of the live data', t => {
  const ops = Number(process.env.PMEM_SPACE_OPS ?? 12_000)
  const r = spaceRun(ops, Math.max(1500, Math.floor(ops / 10)), process.env.PMEM_SPACE_OPS !== undefined)
  t.diagnostic(`${r.ops} ops: live ${r.live} B, heap ${r.heapBytes} B (${(r.heapBytes / r.live).toFixed(3)}x), file ${r.fileBytes} B (${(r.fileBytes / r.live).toFixed(3)}x)`)
  assert.deepEqual(r.problems, [])
  assert.ok(r.fileBytes <= 1.5 * r.live, `the file is ${(r.fileBytes / r.live).toFixed(3)}x the live data`)
})
