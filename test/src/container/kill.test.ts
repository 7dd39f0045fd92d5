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
 * the machine's load), or after 60 s at the latest (a child that never gets there; 15 s was
 * too short for a loaded machine, whose rounds then counted as "no durable point").
 */
async function runAndKill(file: string, seed: number, points: number, extraMs: number, large = false): Promise<string[]> {
  const p = spawn(process.execPath, [child, file, String(seed), ...(large ? ['large'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] })
  let text = ''
  let done = 0
  let killing = false
  const kill = (): void => { if (!killing) { killing = true; p.kill('SIGKILL') } }
  const deadline = setTimeout(kill, 60_000)
  p.stdout.on('data', (d: Buffer) => {
    text += d.toString()
    done = text.split('\n').filter(l => l.startsWith('done ')).length
    if (done >= points && !killing) setTimeout(kill, extraMs)
  })
  await new Promise(r => p.on('exit', r))
  clearTimeout(deadline)
  return text.split('\n').filter(l => l !== '')
}

/** Kills the child `rounds` times and checks each reopened file; returns how many rounds had a durable point. */
async function killRounds(name: string, rounds: number, points: (round: number) => number, extraMs: (round: number) => number, large: boolean): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-kill-'))
  let checked = 0
  for (let round = 0; round < rounds; round++) {
    const file = path.join(dir, `k${round}.pmc`)
    const lines = await runAndKill(file, 1000 + round, points(round), extraMs(round), large)
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
      assert.equal(lastDone, 0, `${name} round ${round}: reopen failed after version ${lastDone} was durable: ${(e as Error).message}`)
      continue
    }
    const h = canonicalHash(c.unwrap(c.root))
    assert.ok(c.version >= lastDone, `${name} round ${round}: restored version ${c.version} < durable ${lastDone}`)
    assert.equal(h, snaps.get(c.version), `${name} round ${round}: version ${c.version} is not the graph of its point (last durable ${lastDone}, ${snaps.size} points started)`)
    assert.deepEqual(c.check(), { ok: true, problems: [] }, `${name} round ${round}`)
    await c.close()
    if (lastDone > 0) checked++
  }
  fs.rmSync(dir, { recursive: true, force: true })
  return checked
}

test('SIGKILL during points: the file restores a started point, no older than the last durable one', async () => {
  const checked = await killRounds('small', 6, round => 1 + (round % 3) * 4, round => (round * 7) % 25, false)
  assert.ok(checked >= 5, `only ${checked} rounds got as far as a durable point`)
})

test('SIGKILL during streamed full points (7 MB each): the same holds', async () => {
  const checked = await killRounds('large', 5, round => 1 + (round % 2), round => (round * 37) % 150, true)
  assert.ok(checked >= 4, `only ${checked} rounds got as far as a durable point`)
})
