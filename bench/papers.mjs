// Every paper experiment and the transaction comparison, one after another, each in
// its own process (so one experiment's heap and JIT state never weigh on the next).
// Each writes plots/<name>.json and plots/<name>.svg.
//
// Usage: node papers.mjs [--quick] [--only NAME ...] [--list]
//   --quick   small sizes and few repetitions: validates everything in a few minutes
//   --only    run only the named experiments (repeatable), e.g. --only softpm-matrix

import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const EXPERIMENTS = [
  { name: 'txn', script: 'txn.mjs', what: 'durable transactions with PMDK and Berkeley DB anchors' },
  { name: 'softpm-structures', script: 'papers/softpm-structures.mjs', gc: true, what: 'SoftPM Fig. 5: data structure operations' },
  { name: 'softpm-locality', script: 'papers/softpm-locality.mjs', gc: true, what: 'SoftPM Fig. 10: locality of updates' },
  { name: 'softpm-chunks', script: 'papers/softpm-chunks.mjs', gc: true, what: 'SoftPM Fig. 11: chunk size' },
  { name: 'softpm-parallel', script: 'papers/softpm-parallel.mjs', what: 'SoftPM Fig. 12: parallel persistence points' },
  { name: 'softpm-matrix', script: 'papers/softpm-matrix.mjs', what: 'SoftPM Fig. 9: checkpointed matrix multiplication' },
  { name: 'mnemosyne-txn', script: 'papers/mnemosyne-txn.mjs', what: 'Mnemosyne: small durable transactions vs Berkeley DB' },
  { name: 'mnemosyne-kv', script: 'papers/mnemosyne-kv.mjs', what: 'Mnemosyne: in-memory table made durable vs Kyoto Cabinet' },
]

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string', multiple: true }, list: { type: 'boolean' } } })
if (values.list) {
  for (const e of EXPERIMENTS) console.log(`${e.name.padEnd(20)} ${e.script.padEnd(30)} ${e.what}`)
  process.exit(0)
}
const chosen = EXPERIMENTS.filter((e) => !values.only || values.only.includes(e.name))
const failed = []
const t0 = performance.now()
for (const e of chosen) {
  console.log(`\n=== ${e.name}: ${e.what} ===`)
  const started = performance.now()
  const extra = e.name === 'txn' ? ['--no-save'] : []
  const r = spawnSync(process.execPath, [...(e.gc ? ['--expose-gc'] : []), path.join(here, e.script), ...(values.quick ? ['--quick'] : []), ...extra], { stdio: 'inherit', cwd: here })
  console.log(`=== ${e.name}: ${r.status === 0 ? 'done' : `FAILED (exit ${r.status ?? r.signal})`} in ${((performance.now() - started) / 1000).toFixed(0)} s`)
  if (r.status !== 0) failed.push(e.name)
}
console.log(`\nall done in ${((performance.now() - t0) / 1000).toFixed(0)} s; charts in plots/${failed.length ? `; FAILED: ${failed.join(', ')}` : ''}`)
if (failed.length) process.exitCode = 1
