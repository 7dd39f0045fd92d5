// The process-kill torture (DESIGN.md section 5), shared by torture.test.ts (a short run in
// npm test) and torture-run.ts (`npm run torture -- <seconds>`): a child runs bank transfers
// and is SIGKILLed at random moments; every reopen must find the sum of all balances
// unchanged and at least every transfer the child reported durable. The rounds are lives of
// one file in a row (kill, verify, the next child recovers and goes on, kill again).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { open, check, t } from '../../src/index.js'

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'bank-child.js')
const N = 64

/**
 * Runs the child script `script` with `args` until it is SIGKILLed; resolves with its stdout.
 * After each chunk of output, until it answers, `killIn(out)` may return the milliseconds
 * after which the child is killed. `guard.ms` after the start the child is killed anyway:
 * with SIGKILL (a normal end) or, when `guard.fail`, with SIGTERM, so that the promise
 * rejects, as it does for a child that exits any other way. Shared by the bank and
 * collections tortures and container/kill-kit.ts.
 */
export function runUntilKilled(script: string, args: string[], killIn: (out: string) => number | undefined, guard: { ms: number; fail: boolean }): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = '', err = ''
    let timer: NodeJS.Timeout | undefined
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (timer !== undefined) return
      const ms = killIn(out)
      if (ms !== undefined) timer = setTimeout(() => p.kill('SIGKILL'), ms)
    })
    p.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const guardTimer = setTimeout(() => {
      if (!guard.fail) return void p.kill('SIGKILL')
      err += `child not killed within ${guard.ms / 1000} s (never ready?)`
      p.kill('SIGTERM')
    }, guard.ms)
    p.on('exit', (code, signal) => {
      clearTimeout(timer)
      clearTimeout(guardTimer)
      if (signal !== 'SIGKILL') reject(new Error(`child exited (${code ?? signal}) instead of being killed: ${out.slice(-500)} ${err}`))
      else resolve(out)
    })
  })
}

/**
 * Runs the child script `script` with `args`, SIGKILLs it `ms` after it prints `ready` (so
 * slow starts on a loaded machine do not turn rounds into no-ops); returns the last count it
 * printed on a line of its own (transfers, operations). Shared with torture-coll.ts.
 */
export async function runAndKill(script: string, args: string[], ms: number): Promise<number> {
  const out = await runUntilKilled(script, args, o => o.startsWith('ready\n') ? ms : undefined, { ms: 30_000, fail: true })
  const lines = out.split('\n').filter(l => /^\d+$/.test(l))
  return lines.length ? Number(lines[lines.length - 1]) : 0
}

export async function torture(rounds: number, modes: string[]): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-torture-'))
  const file = path.join(dir, 'bank.pm')
  let pm = open(file, { size: 4 << 20 })
  const accounts = pm.persistent('accounts', t.array(t.f64, N))
  const transfers = pm.persistent('transfers', t.u64)
  pm.transaction(tx => { for (let i = 0; i < N; i++) tx.writeF64(accounts.offset + 8 * i, 1000) })
  pm.close()
  let reported = 0, total = 0
  try {
    for (let r = 0; r < rounds; r++) {
      const mode = modes[r % modes.length]!
      const last = await runAndKill(child, [file, String(N), mode], 5 + Math.floor(Math.random() * 120))
      reported = Math.max(reported, last)
      const report = check(file)
      assert.ok(report.ok, `round ${r}: check failed: ${report.problems.join('; ')}`)
      // odd rounds verify read-only, so the next child recovers the killed life itself and is
      // killed in turn: several crashed lives in a row with no clean close between them
      pm = open(file, { readOnly: r % 2 === 1 })
      const [sum, n] = pm.read(tx => {
        let s = 0
        for (let i = 0; i < N; i++) s += tx.readF64(accounts.offset + 8 * i)
        return [s, Number(tx.readBigU64(transfers.offset))]
      })
      pm.close()
      assert.equal(sum, N * 1000, `round ${r} (${mode}): balances sum to ${sum}, not ${N * 1000}`)
      assert.ok(n >= reported, `round ${r} (${mode}): ${n} transfers recovered but ${reported} were reported durable`)
      reported = n
      total = n
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return total
}
