/**
 * The demo's core: a bank file in a fresh temporary directory, then several lives of a child
 * process (worker.ts) doing durable transfers, each killed with SIGKILL at a random moment and
 * followed by a reopening that must find every transfer the child acknowledged (verify.ts).
 * The directory is removed at the end, whatever happened.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createBank } from './bank.js'
import { verify, type Verdict } from './verify.js'

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.js')

/** One life of the child: what it acknowledged before the kill, and what reopening found. */
export interface Life {
  pid: number
  /** The last transfer before this life (found by the child when it opened the file). */
  first: number
  /** The last transfer the child acknowledged (`first` if none). */
  acked: number
  /** Milliseconds between the child's `ready` and the SIGKILL. */
  killedAfterMs: number
  verdict: Verdict
}

export interface DemoOptions {
  lives?: number
  /** The kill comes a random number of milliseconds in [min, max) after the child is ready. */
  killAfterMs?: [number, number]
  /** Called with each life once verified (for the narrative). */
  onLife?: (life: Life, index: number, file: string) => void
}

export interface DemoResult { ok: boolean; lives: Life[] }

/** Runs the whole demo; `ok` is false if any life lost an acknowledged transfer or broke an invariant. */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const { lives = 4, killAfterMs = [800, 2400], onLife } = opts
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-demo-'))
  const file = path.join(dir, 'bank.pm')
  try {
    createBank(file)
    const done: Life[] = []
    for (let i = 0; i < lives; i++) {
      const [lo, hi] = killAfterMs
      const run = await runChild(file, lo + Math.random() * (hi - lo))
      const life = { ...run, verdict: verify(file, run.acked) }
      done.push(life)
      onLife?.(life, i, file)
    }
    return { ok: done.every(l => l.verdict.problems.length === 0), lives: done }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Starts the worker on `file`, kills it with SIGKILL `delayMs` after it is ready, and returns what it acknowledged. */
export function runChild(file: string, delayMs: number): Promise<Omit<Life, 'verdict'>> {
  const p = spawn(process.execPath, [WORKER, file], { stdio: ['ignore', 'pipe', 'inherit'] })
  let pending = '', first = -1, acked = -1, readyAt = 0, killedAt = 0
  p.stdout.setEncoding('utf8')
  p.stdout.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n')
    pending = lines.pop()! // a line without its newline yet is not an acknowledgement
    for (const line of lines) {
      if (line.startsWith('ready ')) {
        first = acked = Number(line.slice(6))
        readyAt = Date.now()
        setTimeout(() => { killedAt = Date.now(); p.kill('SIGKILL') }, delayMs)
      } else acked = Number(line)
    }
  })
  const guard = setTimeout(() => p.kill('SIGKILL'), 30_000) // a child that never gets ready
  return new Promise((resolve, reject) => {
    p.on('error', reject)
    p.on('close', (code, signal) => {
      clearTimeout(guard)
      if (signal !== 'SIGKILL' || first < 0) reject(new Error(`demo child ${p.pid} ended with ${signal ?? `exit code ${code}`} before being killed when ready`))
      else resolve({ pid: p.pid!, first, acked, killedAfterMs: killedAt - readyAt })
    })
  })
}
