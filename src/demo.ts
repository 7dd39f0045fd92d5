/**
 * The quick-start demo (`npm run demo`): a bank on persistent collections (accounts in a hash
 * map, recent transfers in a sorted map, every amount in a vector) is run by a child process
 * doing durable transfers, killed with SIGKILL at a random moment, reopened and verified, for
 * several lives. Exits 1 if any acknowledged transfer is missing or an invariant broke.
 * The parts live in src/demo/ (bank.ts: the data and its invariants, worker.ts: the child,
 * verify.ts: the verdict, lives.ts: the crash loop).
 */
import { ACCOUNTS, OPENING } from './demo/bank.js'
import { runDemo, type Life } from './demo/lives.js'

const LIVES = 5

function narrate(l: Life, i: number, file: string): void {
  const v = l.verdict, ran = l.acked - l.first
  if (i === 0) console.log(`${file}: ${ACCOUNTS} accounts of ${OPENING} in a hashMap, transfers in a sortedMap and a vector\n`)
  console.log(`life ${i + 1}: child ${l.pid} from #${l.first}: ${ran} transfers acknowledged in ${l.killedAfterMs} ms ` +
    `(${Math.round(ran / l.killedAfterMs * 1000)}/s, each a sync transaction), then kill -9`)
  console.log(`        reopened in ${v.openMs.toFixed(1)} ms: last transfer found #${v.last}, last acknowledged #${l.acked}` +
    (v.last > l.acked ? ` (#${v.last} committed, killed before acknowledging)` : ''))
  console.log(`        ${v.accounts} accounts holding ${v.total}; check() of ${v.collections} collections in ${v.checkMs.toFixed(0)} ms: ` +
    (v.problems.length === 0 ? 'everything holds' : `PROBLEMS:\n          ${v.problems.join('\n          ')}`))
}

console.log(`persistent-memory demo: ${LIVES} lives of a bank process, each ended by SIGKILL at a random moment\n`)
const started = Date.now()
const { ok, lives } = await runDemo({ lives: LIVES, onLife: narrate })
const last = lives.at(-1)!
console.log(`\nthe newest transfers found after the last crash:`)
for (const e of last.verdict.recent) console.log(`  #${e.n} ${new Date(e.at).toISOString().slice(11, 23)} ${e.from} -> ${e.to}: ${e.amount}`)
console.log(`\n${ok ? 'OK' : 'FAILED'}: ${last.acked} transfers acknowledged over ${LIVES} SIGKILLs, ${last.verdict.last} found; ` +
  `${ok ? 'none lost, no money created or lost' : 'see the problems above'} (${((Date.now() - started) / 1000).toFixed(1)} s, temporary files removed)`)
if (!ok) process.exit(1)
