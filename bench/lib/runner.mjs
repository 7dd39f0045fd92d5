// A tiny comparison runner for named benchmark scenarios.
//
// A suite is a list of scenarios measured side by side in one process:
//
//   { name, setup?(), run(n) -> ops done, teardown?(), vs?, note? }
//
// `run(n)` performs about n operations (sync or async) and returns how many it did
// (undefined means n), or { ops, seconds } when it timed them itself (a scenario measured
// in a child process: the runner then takes those seconds instead of the call's). `setup` may call `skip(reason)` to leave the row out with a
// printed note, e.g. when the library is not built yet. `vs` names another row to
// take this row's ratio against (default: the suite's baseline row). `note` (a
// string, or a function called after the rounds) fills the table's last column.
// In count mode (--count N) a scenario with `repeat: k` does k * N ops per round,
// for cheap operations measured next to expensive ones.
//
// Invariants:
//  1. Rounds are interleaved: round r measures every scenario once, starting at a
//     rotating position, so slow drift of the machine (page cache, thermal, other
//     tenants) is shared by all competitors instead of hitting one of them.
//  2. Every scenario is warmed up (JIT, page faults, batch calibration) before its
//     first measured round; warm-up time is never counted.
//  3. The reported figure is the median of the rounds' ops/s, and the spread
//     (max - min) / median is printed next to it, so noise is visible.
//  4. A missed target never fails the process unless --strict is given.
//  5. Results are written as JSON to bench/results/ (unless --no-save), and
//     --baseline FILE prints the ratio of each row to the same row in FILE.
//  6. The event loop gets a turn (setImmediate) before every timed call, as in a
//     real program: timers of the measured code (lock refreshes, background
//     flushes) keep running. Batches are sized so one run(n) call lasts 50-100 ms.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const benchRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)))

/** Thrown by `skip()`; the runner shows the row as skipped with the reason. */
export class SkipScenario extends Error {}

/** Leave the current scenario out of the run, with a reason printed in the table. */
export function skip(reason) {
  throw new SkipScenario(reason)
}

const CLI_OPTIONS = {
  rounds: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  count: { type: 'string' },
  only: { type: 'string', multiple: true },
  baseline: { type: 'string' },
  strict: { type: 'boolean' },
  'no-save': { type: 'boolean' },
  help: { type: 'boolean' },
}

const HELP = `Options (all optional):
  --rounds N        measured rounds per scenario (median is reported)
  --duration MS     time per scenario per round (duration mode)
  --count N         operations per scenario per round (count mode)
  --warmup MS|N     warm-up time in ms (duration mode) or operations (count mode)
  --only TEXT       run only scenarios whose name contains TEXT (repeatable)
  --baseline FILE   compare with a results JSON written by an earlier run
  --strict          exit 1 when a target is missed
  --no-save         do not write bench/results/<suite>-<date>.json`

/** Parse the runner's command-line flags; unknown flags are left to the suite script. */
export function parseCli(argv = process.argv.slice(2)) {
  const { values } = parseArgs({ args: argv, options: CLI_OPTIONS, strict: false })
  const num = (v) => (v === undefined ? undefined : Number(v))
  return {
    rounds: num(values.rounds),
    durationMs: num(values.duration),
    warmup: num(values.warmup),
    count: num(values.count),
    only: values.only ?? [],
    baseline: values.baseline,
    strict: values.strict === true,
    save: values['no-save'] !== true,
    help: values.help === true,
  }
}

/** Median of a non-empty list of numbers. */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Let timers and I/O callbacks run (inv. 6); never inside a timed call. */
const yieldToEventLoop = () => new Promise((resolve) => setImmediate(resolve))

/** Call run(n) once and return [ops done, seconds taken]. */
async function timed(scenario, n) {
  await yieldToEventLoop()
  const t0 = process.hrtime.bigint()
  const r = await scenario.run(n)
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  if (r !== null && typeof r === 'object') return [r.ops, r.seconds]     // timed by the scenario (a child process)
  return [typeof r === 'number' ? r : n, seconds]
}

/**
 * Warm up one scenario and pick its batch size for duration mode (inv. 2): double
 * the batch until one call takes at least min(1/20 of the round, 50 ms).
 */
async function warmUp(row, plan) {
  if (plan.count !== undefined) {
    if (plan.warmup > 0) await timed(row.scenario, plan.warmup * (row.scenario.repeat ?? 1))
    row.batch = plan.count
    return
  }
  const target = Math.min(plan.durationMs / 20, 50) / 1000
  const end = performance.now() + plan.warmup
  let batch = 1
  do {
    const [, seconds] = await timed(row.scenario, batch)
    if (seconds < target && batch < 1 << 24) batch *= 2
  } while (performance.now() < end)
  row.batch = batch
}

/** One measured round of one scenario, appended to row.rounds as { ops, seconds }. */
async function measureRound(row, plan) {
  globalThis.gc?.()
  if (plan.count !== undefined) {
    const [ops, seconds] = await timed(row.scenario, plan.count * (row.scenario.repeat ?? 1))
    row.rounds.push({ ops, seconds })
    return
  }
  let ops = 0
  let seconds = 0
  while (seconds * 1000 < plan.durationMs) {
    const [done, s] = await timed(row.scenario, row.batch)
    ops += done
    seconds += s
  }
  row.rounds.push({ ops, seconds })
}

/** Run `fn` for a row, turning SkipScenario and errors into a skipped/failed row. */
async function guarded(row, what, fn) {
  if (row.status !== 'ok') return
  try {
    await fn()
  } catch (err) {
    if (err instanceof SkipScenario) {
      row.status = 'skipped'
      row.reason = err.message
    } else {
      row.status = 'failed'
      row.reason = `${what} threw: ${err?.stack ?? err}`
    }
    console.log(`  ${row.scenario.name}: ${row.status}: ${row.reason}`)
  }
}

/** Resolve the measurement plan from the suite defaults and the command line. */
function makePlan(suite, cli) {
  const count = cli.count ?? (cli.durationMs === undefined ? suite.count : undefined)
  const durationMs = cli.durationMs ?? suite.durationMs ?? 1000
  const warmup = cli.warmup ?? (count !== undefined ? suite.warmupCount ?? 0 : suite.warmupMs ?? 300)
  return { rounds: cli.rounds ?? suite.rounds ?? 3, count, durationMs, warmup }
}

/** Set up, warm up, measure (interleaved, inv. 1) and tear down all rows. */
async function measureAll(rows, plan) {
  for (const row of rows) await guarded(row, 'setup', () => row.scenario.setup?.())
  for (const row of rows) await guarded(row, 'warm-up', () => warmUp(row, plan))
  for (let r = 0; r < plan.rounds; r++) {
    process.stdout.write(`  round ${r + 1}/${plan.rounds} ...`)
    for (let i = 0; i < rows.length; i++) {
      const row = rows[(i + r) % rows.length]
      await guarded(row, 'run', () => measureRound(row, plan))
    }
    process.stdout.write(' done\n')
  }
  for (const row of rows) {
    const note = row.scenario.note
    if (row.status === 'ok' && note) row.note = String(typeof note === 'function' ? note() : note)
    try {
      await row.scenario.teardown?.()
    } catch (err) {
      console.log(`  ${row.scenario.name}: teardown threw: ${err?.message ?? err}`)
    }
  }
}

/** Summarise one row: median ops/s and spread (inv. 3). */
function summarise(row) {
  const perRound = row.rounds.map((r) => r.ops / r.seconds)
  const ok = row.status === 'ok' && perRound.length > 0
  const opsPerSec = ok ? median(perRound) : null
  const spread = ok ? (Math.max(...perRound) - Math.min(...perRound)) / opsPerSec : null
  return {
    name: row.scenario.name,
    vs: row.scenario.vs ?? null,
    status: row.status,
    reason: row.reason ?? null,
    note: row.note ?? null,
    opsPerSec,
    spread,
    rounds: perRound,
  }
}

/** Format ops/s: thousands separators, two decimals below 100. */
export function formatRate(x) {
  if (x === null || !Number.isFinite(x)) return '-'
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(2)
}

/** Format a duration in seconds with a unit that keeps 3 significant digits. */
export function formatTime(seconds) {
  if (seconds === null || !Number.isFinite(seconds)) return '-'
  if (seconds >= 1) return `${seconds.toPrecision(3)} s`
  if (seconds >= 1e-3) return `${(seconds * 1e3).toPrecision(3)} ms`
  if (seconds >= 1e-6) return `${(seconds * 1e6).toPrecision(3)} us`
  return `${(seconds * 1e9).toPrecision(3)} ns`
}

function formatRatio(x) {
  return x === null || !Number.isFinite(x) ? '-' : `${x.toFixed(x >= 10 ? 1 : 2)}x`
}

/** Shorten `text` to `max` characters (the full text is in the log and the JSON). */
const clip = (text, max) => (text.length <= max ? text : `${text.slice(0, max - 3)}...`)

/** Print rows as an aligned text table. */
function printTable(header, lines) {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)))
  const pad = (cells) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  console.log(pad(header).trimEnd())
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const l of lines) console.log(pad(l).trimEnd())
}

/** Rate of the row called `name`, or null when absent, skipped or failed. */
function rateOf(results, name) {
  return results.find((r) => r.name === name)?.opsPerSec ?? null
}

/** The results table: ops/s, spread, time per op, ratio vs baseline, vs saved run. */
function report(suite, results, saved) {
  const header = ['scenario', `${suite.unit ?? 'ops'}/s`, 'spread', 'time/op', 'ratio', ...(saved ? ['vs base'] : []), 'note']
  const lines = results.map((r) => {
    const ref = r.vs ?? suite.baseline
    const base = rateOf(results, ref)
    const old = saved ? rateOf(saved.results, r.name) : null
    const ratio = r.opsPerSec !== null && base !== null ? r.opsPerSec / base : null
    const note = clip(r.status === 'ok' ? (r.note ?? '') : `${r.status}: ${r.reason.split('\n')[0]}`, 100)
    return [
      r.name,
      formatRate(r.opsPerSec),
      r.spread === null ? '-' : `${(r.spread * 100).toFixed(1)}%`,
      formatTime(r.opsPerSec ? 1 / r.opsPerSec : null),
      ratio === null ? '-' : `${formatRatio(ratio)}${ref === suite.baseline ? '' : ` of ${ref}`}`,
      ...(saved ? [old !== null && r.opsPerSec !== null ? formatRatio(r.opsPerSec / old) : '-'] : []),
      note,
    ]
  })
  console.log(`\nratio = ops/s divided by the ops/s of "${suite.baseline}" (unless named); spread = (max - min) / median over rounds`)
  if (saved) console.log(`vs base = ops/s divided by the same row in ${saved.file}`)
  console.log('')
  printTable(header, lines)
}

/** Evaluate targets: { row, vs, ratio } or { row, min }; returns [{label, status}]. */
function checkTargets(suite, results) {
  const checks = (suite.targets ?? []).map((t) => {
    const label = t.label ?? (t.vs ? `${t.row} >= ${t.ratio}x ${t.vs}` : `${t.row} >= ${formatRate(t.min)} ${suite.unit ?? 'ops'}/s`)
    const got = rateOf(results, t.row)
    const ref = t.vs ? rateOf(results, t.vs) : 1
    const kind = t.vs ? 'ratio' : 'rate'
    if (got === null || ref === null) return { label, kind, status: 'SKIP', measured: null }
    const measured = t.vs ? got / ref : got
    const status = measured >= (t.vs ? t.ratio : t.min) ? 'PASS' : 'FAIL'
    return { label, kind, status, measured }
  })
  if (checks.length === 0) return checks
  console.log('\ntargets:')
  for (const c of checks) {
    const shown = c.measured === null ? 'a row was not measured' : c.kind === 'ratio' ? formatRatio(c.measured) : formatRate(c.measured)
    console.log(`  ${c.status}  ${c.label}  (measured: ${shown})`)
  }
  return checks
}

/** Load a results JSON written by an earlier run (--baseline). */
function loadSaved(file) {
  const data = JSON.parse(fs.readFileSync(file, 'utf8'))
  return { file, results: data.results }
}

/** Write bench/results/<suite>-<date>.json and return its path (inv. 5). */
function saveResults(suite, plan, env, results, checks) {
  const dir = path.join(benchRoot, 'results')
  fs.mkdirSync(dir, { recursive: true })
  const date = new Date().toISOString().replace(/:/g, '-').replace(/\..*$/, '')
  const file = path.join(dir, `${suite.name}-${date}.json`)
  const body = { suite: suite.name, title: suite.title, date: new Date().toISOString(), env, plan, baseline: suite.baseline, results, targets: checks }
  fs.writeFileSync(file, JSON.stringify(body, null, 2) + '\n')
  return file
}

/** 1-minute load average and, where the kernel has PSI, I/O pressure (avg10 'some' %). */
function machineLoad() {
  let io = ''
  try {
    const m = /some avg10=([\d.]+)/.exec(fs.readFileSync('/proc/pressure/io', 'utf8'))
    if (m) io = `, io pressure ${m[1]}%`
  } catch {
    // no PSI on this kernel
  }
  return `loadavg ${os.loadavg()[0].toFixed(2)}${io}`
}

/** The machine description stored with the results and printed in the header. */
function environment(extra) {
  return {
    node: process.version,
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    cpu: `${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    ...extra,
  }
}

/**
 * Run a suite: { name, title, unit, baseline, scenarios, targets, rounds,
 * durationMs | count, warmupMs | warmupCount, env }. Returns the summarised results.
 */
export async function runSuite(suite) {
  const cli = parseCli()
  if (cli.help) {
    console.log(HELP)
    return []
  }
  const plan = makePlan(suite, cli)
  const env = environment(suite.env)
  const mode = plan.count !== undefined ? `${plan.count} op(s) per round` : `${plan.durationMs} ms per round`
  console.log(`${suite.title ?? suite.name}`)
  for (const [k, v] of Object.entries(env)) console.log(`  ${k}: ${v}`)
  const warmup = plan.count !== undefined ? `${plan.warmup} op(s)` : `${plan.warmup} ms`
  console.log(`  plan: ${plan.rounds} interleaved rounds, ${mode}, warm-up ${warmup} per scenario`)
  const chosen = suite.scenarios.filter((s) => cli.only.length === 0 || cli.only.some((o) => s.name.includes(o)))
  const rows = chosen.map((scenario) => ({ scenario, status: 'ok', rounds: [], batch: 1 }))
  const loadBefore = machineLoad()
  await measureAll(rows, plan)
  env.load = `before ${loadBefore}, after ${machineLoad()}`
  console.log(`  load: ${env.load}`)
  if (os.loadavg()[0] > os.cpus().length / 2) console.log('  warning: the machine was busy during the run; expect noisy rows (see spread)')
  const results = rows.map(summarise)
  const saved = cli.baseline ? loadSaved(cli.baseline) : null
  report(suite, results, saved)
  const checks = checkTargets(suite, results)
  if (cli.save) console.log(`\nresults written to ${path.relative(process.cwd(), saveResults(suite, plan, env, results, checks))}`)
  if (cli.strict && checks.some((c) => c.status === 'FAIL')) process.exitCode = 1
  results.env = env // for the suite's chart (lib/plot.mjs): machine and load
  results.plan = plan
  results.only = cli.only
  return results
}
