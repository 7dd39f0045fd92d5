/**
 * Process-kill torture: a child mutates a container and takes points (some awaited, some
 * queued) until it is killed with SIGKILL at a random moment. The reopened container must
 * hold exactly the graph of some point the child started, no older than the last point it
 * saw become durable.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import './setup.js'
import { canonicalHash } from './graph-kit.js'
import { Container } from '../../../src/container/index.js'

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'kill-child.js')

/**
 * Runs the child until it has seen `points` points become durable, then kills it with
 * SIGKILL `extraMs` later (so the kill lands at a random moment of a later point, whatever
 * the machine's load), or after 15 s at the latest.
 */
async function runAndKill(file: string, seed: number, points: number, extraMs: number): Promise<string[]> {
  const p = spawn(process.execPath, [child, file, String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let text = ''
  let done = 0
  let killing = false
  const kill = (): void => { if (!killing) { killing = true; p.kill('SIGKILL') } }
  const deadline = setTimeout(kill, 15000)
  p.stdout.on('data', (d: Buffer) => {
    text += d.toString()
    done = text.split('\n').filter(l => l.startsWith('done ')).length
    if (done >= points && !killing) setTimeout(kill, extraMs)
  })
  await new Promise(r => p.on('exit', r))
  clearTimeout(deadline)
  return text.split('\n').filter(l => l !== '')
}

test('SIGKILL during points: the file restores a started point, no older than the last durable one', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-kill-'))
  let checked = 0
  for (let round = 0; round < 6; round++) {
    const file = path.join(dir, `k${round}.pmc`)
    const lines = await runAndKill(file, 1000 + round, 1 + (round % 3) * 4, (round * 7) % 25)
    const snaps = new Map<number, string>()
    let lastDone = 0
    for (const l of lines) {
      const [kind, a, b] = l.split(' ')
      if (kind === 'snap') snaps.set(Number(a) + 1, b)
      if (kind === 'done') lastDone = Math.max(lastDone, Number(a))
    }
    if (!fs.existsSync(file)) continue
    let c: Container
    try { c = Container.open(file) } catch (e) {
      assert.equal(lastDone, 0, `round ${round}: reopen failed after version ${lastDone} was durable: ${(e as Error).message}`)
      continue
    }
    const h = canonicalHash(c.unwrap(c.root))
    assert.ok(c.version >= lastDone, `round ${round}: restored version ${c.version} < durable ${lastDone}`)
    assert.equal(h, snaps.get(c.version), `round ${round}: version ${c.version} is not the graph of its point (last durable ${lastDone}, ${snaps.size} points started)`)
    await c.close()
    if (lastDone > 0) checked++
  }
  assert.ok(checked >= 5, `only ${checked} rounds got as far as a durable point`)
})
