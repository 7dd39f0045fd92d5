/**
 * The quick-start demo (`npm run demo`): a bank on persistent collections (accounts in a hash
 * map, recent transfers in a sorted map, every amount in a vector). Part 1: a child process
 * doing durable transfers is killed with SIGKILL at a random moment, the file reopened and
 * verified, for several lives. Part 2: the same bank on a simulated disk loses power at a
 * random flush, several times. Exits 1 if any acknowledged transfer is missing or an
 * invariant broke. The parts live in src/demo/ (bank.ts: the data and its invariants,
 * worker.ts: the child, lives.ts: the kill loop, power.ts: the power cuts, verify.ts: the verdict).
 */
import { ACCOUNTS, OPENING } from './demo/bank.js'
import { runDemo, type Life } from './demo/lives.js'
import { powerCuts } from './demo/power.js'
import type { Verdict } from './demo/verify.js'

const LIVES = 5, CUTS = 5

function holds(v: Verdict): string {
  return `${v.accounts} accounts holding ${v.total}; check() of ${v.collections} collections in ${v.checkMs.toFixed(0)} ms; ` +
    (v.problems.length === 0 ? 'everything holds' : `PROBLEMS:\n          ${v.problems.join('\n          ')}`)
}

function narrate(l: Life, i: number, file: string): void {
  const v = l.verdict, ran = l.acked - l.first
  if (i === 0) console.log(`${file}: ${ACCOUNTS} accounts of ${OPENING} in a hashMap, transfers in a sortedMap and a vector\n`)
  console.log(`life ${i + 1}: child ${l.pid} from #${l.first}: ${ran} transfers acknowledged in ${l.killedAfterMs} ms ` +
    `(${Math.round(ran / l.killedAfterMs * 1000)}/s, each a sync transaction), then kill -9`)
  console.log(`        reopened in ${v.openMs.toFixed(1)} ms: last transfer found #${v.last}, last acknowledged #${l.acked}` +
    (v.last > l.acked ? ` (#${v.last} committed, killed before acknowledging)` : ''))
  console.log(`        ${holds(v)}`)
}

const started = Date.now()
console.log(`persistent-memory demo, part 1: ${LIVES} lives of a bank process, each ended by SIGKILL at a random moment\n`)
const { ok, lives } = await runDemo({ lives: LIVES, onLife: narrate })
const last = lives.at(-1)!
console.log(`\nthe newest transfers found after the last kill:`)
for (const e of last.verdict.recent) console.log(`  #${e.n} ${new Date(e.at).toISOString().slice(11, 23)} ${e.from} -> ${e.to}: ${e.amount}`)

console.log(`\npart 2: ${CUTS} power cuts. A SIGKILL keeps every store already in the mapping, flushed or not;` +
  `\na power failure keeps the flushed sectors and any subset of the others. The same bank on a simulated disk (SimRegion):\n`)
const cuts = powerCuts(CUTS)
for (const [i, c] of cuts.entries()) {
  console.log(`cut ${i + 1}: at flush ${c.flush} of its life, ` + (c.during === 'recovery' ? `during recovery (last transfer #${c.first})`
    : `during transfer #${c.acked + 1}: ${c.acked - c.first} transfers had returned, the last #${c.acked}`))
  console.log(`       recovered in ${c.verdict.openMs.toFixed(1)} ms: last transfer found #${c.verdict.last}; ${holds(c.verdict)}`)
}

const allOk = ok && cuts.every(c => c.verdict.problems.length === 0)
console.log(`\n${allOk ? 'OK' : 'FAILED'}: ${last.acked} transfers acknowledged over ${LIVES} SIGKILLs and ${cuts.at(-1)!.acked} over ${CUTS} power cuts; ` +
  `${allOk ? 'none lost, no money created or lost' : 'see the problems above'} (${((Date.now() - started) / 1000).toFixed(1)} s, temporary files removed)`)
if (!allOk) process.exit(1)
