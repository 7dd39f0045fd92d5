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

async function lives(name: string, n: number, large: boolean, plan: (life: number) => KillPlan, compactFactor?: number, dict = false): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-kill-'))
  try {
    const r = await killLives({ file: path.join(dir, `${name}.pmc`), seed: 1000, large, dict, compactFactor, plan, more: life => life < n })
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

test('SIGKILL during points over a plain object of 10,000 keys (each point rewrites its record; odd lives through proxies with track \'barriers\') and during opens, 6 lives with compactions, every third reopen lazy: the same holds, key order included', async () => {
  await lives('dict', 6, false, life => life % 3 === 2 ? { openMs: (life * 13) % 60 } : { points: 1 + (life % 2) * 2, extraMs: (life * 11) % 40 }, 1.3, true)
})
