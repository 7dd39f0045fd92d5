/**
 * `npm run torture -- <seconds> containers`: lives of container files killed during points and
 * opens (kill-kit.ts). Three quarters of the time on small points with frequent compactions, a
 * quarter on 7 MB streamed full points; a quarter of the lives killed during their open. First,
 * once, the opt-in tests npm test skips for time (`PMEM_RESTORE_LONG=1`: restore-fast.test.ts's
 * scenario on a real region; `PMEM_SCALE_LONG=1`: big-map.test.ts's 2^24 + 1 loose ids, a snapshot of more than 2^24 objects, and `dropped` over 2^24 + 8 objects (one holder, then each a holder; session 16), with a 12 GB heap: the last took 7.4 GB of RSS).
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { killLives, type KillPlan } from './kill-kit.js'

export async function tortureContainers(seconds: number): Promise<void> {
  for (const [file, env, args] of [['restore-fast.test.js', 'PMEM_RESTORE_LONG', []], ['big-map.test.js', 'PMEM_SCALE_LONG', ['--max-old-space-size=12288']]] as const) {
    const long = path.join(import.meta.dirname, file)
    const t = spawnSync(process.execPath, [...args, '--test', long], { env: { ...process.env, [env]: '1' }, encoding: 'utf8' })
    if (t.status !== 0 || !/^# skipped 0$/m.test(t.stdout)) throw new Error(`the opt-in long tests failed or were skipped (${long}):\n${t.stdout}${t.stderr}`)
    console.log(`containers: the ${env} tests passed`)
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-torture-'))
  const rnd = (n: number): number => Math.floor(Math.random() * n)
  const plan = (openMax: number) => (): KillPlan => rnd(4) === 0 ? { openMs: rnd(openMax) } : { points: 1 + rnd(8), extraMs: rnd(40) }
  try {
    let end = Date.now()
    for (const [large, share] of [[false, 0.75], [true, 0.25]] as const) {
      end += seconds * share * 1000
      const stop = end
      const r = await killLives({ file: path.join(dir, large ? 'large.pmc' : 'small.pmc'), seed: Date.now() % 100_000, large, compactFactor: large ? undefined : 1.3, plan: plan(large ? 200 : 40), more: () => Date.now() < stop })
      console.log(`containers (${large ? 'large' : 'small'}): ${r.lives} lives passed, ${r.durableLives} with durable points, ${r.openKills} killed during their open; last version ${r.version}`)
    }
  } finally { fs.rmSync(dir, { recursive: true, force: true }) }
}
