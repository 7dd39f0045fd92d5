/**
 * Process-kill torture over lives of one file (kill-kit.ts): a child mutates a container and
 * takes points (some awaited, some queued) until it is killed with SIGKILL at a random moment
 * of its points or of its open. Each reopen must hold exactly the graph of some point the child
 * started (or the one it opened with), no older than the last point it saw become durable nor
 * than the previous life; the next life goes on from there.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import './setup.js'
import { killLives, type KillPlan } from './kill-kit.js'
import { dictRecords } from './dict-patch-kit.js'

async function lives(name: string, n: number, large: boolean, plan: (life: number) => KillPlan, compactFactor?: number, dict = false, after?: (file: string, life: number) => void): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-kill-'))
  try {
    const r = await killLives({ file: path.join(dir, `${name}.pmc`), seed: 1000, large, dict, compactFactor, plan, more: life => life < n, after })
    assert.ok(r.durableLives >= n / 2, `${name}: only ${r.durableLives} of ${n} lives got as far as a durable point`)
    assert.ok(r.openKills >= 1, `${name}: no life was killed during its open`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

test('SIGKILL during points and opens, 8 lives of one file with compactions: each life restores a started point, no older than the last durable one', async () => {
  await lives('small', 8, false, life => life % 4 === 3 ? { openMs: (life * 7) % 30 } : { points: 1 + (life % 3) * 4, extraMs: (life * 7) % 25 }, 1.3)
})

test('SIGKILL during streamed full points (7 MB each) and their restores, 4 lives of one file: the same holds', async () => {
  await lives('large', 4, true, life => life === 2 ? { openMs: (life * 37) % 150 } : { points: 1 + (life % 2), extraMs: (life * 37) % 150 })
})

test('SIGKILL during points over a plain object of 10,000 keys (format 7: segments, and PATCH parts from its change log in default lives after the first, restored and added to by the next; every third life through proxies with track \'barriers\') and during opens, 6 lives with compactions, every third reopen lazy: the same holds, key order included', async () => {
  let parts = 0, format = 0
  const after = (file: string): void => { if (fs.existsSync(file)) { const r = dictRecords(file); parts = Math.max(parts, r.parts); format = Math.max(format, r.format) } }
  // Lives 1 and 2 are default lives with points (kill-child.ts: life 0 and 3 use 'barriers'), so life 2 restores life 1's PATCH parts and adds to them.
  await lives('dict', 6, false, life => life === 3 || life === 5 ? { openMs: (life * 13) % 60 } : { points: 1 + (life % 2) * 2, extraMs: (life * 11) % 40 }, 1.3, true, after)
  assert.equal(format, 7, 'the dictionary was stored as segments (format 7)')
  assert.ok(parts > 0, 'no life left a PATCH part of the dictionary in the file: the change-log path was not exercised')
})
