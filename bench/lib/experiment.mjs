// Shared pieces of the paper experiments (bench/papers/*.mjs): command line, timing,
// the "serialize the whole structure and fsync" baselines, and the library import.
//
// Invariants:
//  1. A serialization baseline saves durably the way a careful program does: write a
//     temporary file, fsync it, rename it over the old file, fsync the directory
//     (the same save as graph.mjs). Its time includes the serialization.
//  2. Each experiment's default run is bounded to a few minutes on the 2-core
//     machine; --quick shrinks sizes and repetitions to validate the harness in
//     seconds, and its charts say "QUICK RUN".
//  3. Reported times are medians over --reps repetitions (defaults per experiment).

import fs from 'node:fs'
import path from 'node:path'
import v8 from 'node:v8'
import { parseArgs } from 'node:util'
import { Packr } from 'msgpackr'
import { loadLibrary } from './library.mjs'

/** Parse --quick, --reps N and the experiment's own options ({ name: { type, default } }). */
export function experimentArgs(own = {}) {
  const options = { quick: { type: 'boolean' }, reps: { type: 'string' }, help: { type: 'boolean' } }
  for (const [k, v] of Object.entries(own)) options[k] = { type: v.type ?? 'string' }
  const { values } = parseArgs({ options, strict: true, allowPositionals: false })
  if (values.help) {
    const own_ = Object.entries(own).map(([k, v]) => `  --${k} ${v.type === 'boolean' ? '' : 'N'}`.padEnd(20) + `default ${v.default}${v.quick !== undefined ? `, --quick: ${v.quick}` : ''}`)
    console.log(['Options (all optional):', '  --quick           small sizes and few repetitions (validation; charts say QUICK RUN)', '  --reps N          repetitions (median reported)', ...own_].join('\n'))
    process.exit(0)
  }
  const out = { quick: values.quick === true, reps: values.reps === undefined ? undefined : Number(values.reps) }
  for (const [k, v] of Object.entries(own)) out[k] = values[k] === undefined ? (out.quick && v.quick !== undefined ? v.quick : v.default) : v.type === 'boolean' ? values[k] : Number(values[k])
  return out
}

/** Median of a non-empty list. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Milliseconds `fn` takes (awaited). */
export async function timeMs(fn) {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

/** Durable save of `bytes` to `file` (inv. 1): temp file, fsync, rename, fsync of the directory. */
export function durableWrite(file, bytes) {
  const tmp = `${file}.tmp`
  const fd = fs.openSync(tmp, 'w')
  for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at)   // a large write may be short
  fs.fsyncSync(fd)
  fs.closeSync(fd)
  fs.renameSync(tmp, file)
  const dfd = fs.openSync(path.dirname(file), 'r')
  fs.fsyncSync(dfd)
  fs.closeSync(dfd)
  return bytes.length
}

const packr = new Packr({ structuredClone: true })

/** The whole-structure baselines: serialize `value`, save durably; returns bytes written. */
export const serializers = {
  v8: (file, value) => durableWrite(file, v8.serialize(value)),
  msgpackr: (file, value) => durableWrite(file, packr.pack(value)),
}

/** Load the library's Container, or exit with the reason (the experiments need it). */
export async function loadContainer() {
  const { lib, missing } = await loadLibrary(['Container', 'Container.open'])
  if (missing) {
    console.error(`cannot run: ${missing}`)
    process.exit(2)
  }
  return lib.Container
}

/** Format milliseconds with 3 significant digits. */
export const ms = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2))

/** Print an aligned table. */
export function printTable(header, lines) {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)))
  console.log(header.map((h, i) => (i === 0 ? h.padEnd(widths[i]) : h.padStart(widths[i]))).join('  '))
  for (const l of lines) console.log(l.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  '))
}

/** Collect garbage between measurements when node runs with --expose-gc. */
export function collect() {
  globalThis.gc?.()
}

/**
 * Measure runner-style scenarios ({ name, setup?, run(n) -> ops, teardown? }, as in
 * lib/runner.mjs and lib/native.mjs) side by side: set all up, warm each up while
 * sizing its batch (a batch lasts at least 1/20 of a round), then `rounds`
 * interleaved rounds of `durationMs` each, rotating the starting row. Returns
 * [{ name, opsPerSec (median), spread, rounds, status, reason }].
 */
export async function measureScenarios(scenarios, { rounds = 3, durationMs = 1000, warmupMs = 300 } = {}) {
  const rows = scenarios.map((s) => ({ s, status: 'ok', reason: null, batch: 1, rates: [] }))
  const guard = async (row, what, fn) => {
    if (row.status !== 'ok') return
    try {
      await fn()
    } catch (err) {
      row.status = err?.constructor?.name === 'SkipScenario' ? 'skipped' : 'failed'
      row.reason = row.status === 'skipped' ? err.message : `${what}: ${err?.stack ?? err}`
      console.log(`  ${row.s.name}: ${row.status}: ${row.reason.split('\n')[0]}`)
    }
  }
  const timed = async (row, n) => {
    await new Promise((resolve) => setImmediate(resolve))
    const t0 = performance.now()
    const done = await row.s.run(n)
    return [typeof done === 'number' ? done : n, (performance.now() - t0) / 1000]
  }
  for (const row of rows) await guard(row, 'setup', () => row.s.setup?.())
  for (const row of rows) {
    await guard(row, 'warm-up', async () => {
      const end = performance.now() + warmupMs
      const target = Math.min(durationMs / 20, 50) / 1000
      do {
        const [, sec] = await timed(row, row.batch)
        if (sec < target && row.batch < 1 << 24) row.batch *= 2
      } while (performance.now() < end)
    })
  }
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < rows.length; i++) {
      const row = rows[(i + r) % rows.length]
      await guard(row, 'run', async () => {
        let ops = 0
        let sec = 0
        while (sec * 1000 < durationMs) {
          const [d, s] = await timed(row, row.batch)
          ops += d
          sec += s
        }
        row.rates.push(ops / sec)
      })
    }
  }
  for (const row of rows) {
    try {
      await row.s.teardown?.()
    } catch (err) {
      console.log(`  ${row.s.name}: teardown threw: ${err?.message ?? err}`)
    }
  }
  return rows.map((row) => {
    const ok = row.status === 'ok' && row.rates.length > 0
    const m = ok ? median(row.rates) : null
    return { name: row.s.name, status: row.status, reason: row.reason, opsPerSec: m, spread: ok ? (Math.max(...row.rates) - Math.min(...row.rates)) / m : null, rounds: row.rates }
  })
}
