/**
 * Lives of one container file ended by SIGKILL (kill.test.ts, and `npm run torture --
 * <seconds> containers`): kill-child.ts opens the file, mutates it and takes points until it
 * is killed, either at a random moment of its points or during its open (the restore and
 * whatever recovery the open does). After each life the file is reopened (every other time
 * read-only, so that the next child recovers the killed life itself) and must hold exactly
 * the graph of a point the child started (or, when no point of that life committed, the
 * graph the life opened with), no older than the last point the child saw become durable
 * nor than the previous life's state, and pass `check()`.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { canonicalHash } from './graph-kit.js'
import { runUntilKilled } from '../torture-kit.js'
import { Container } from '../../../src/container/index.js'
import { RegionNotFoundError } from '../../../regions/index.js'

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'kill-child.js')

/** When a life is killed: `openMs` after the child says it is opening, or `extraMs` after its `points`-th durable point. */
export type KillPlan = { openMs: number } | { points: number; extraMs: number }

export interface LivesOptions {
  file: string
  seed: number
  /** Each point full and streamed (about 7 MB of records), as kill-child.ts's 'large'. */
  large: boolean
  /** The graph holds a plain object of 10,000 keys changed in place (kill-child.ts's 'dict'); every third reopen here is lazy. */
  dict?: boolean
  compactFactor?: number
  /** Called with the file after each life's checks passed (while no process has it open). */
  after?: (file: string, life: number) => void
  /** The plan of life `life`; lives run while `more(life)` holds. */
  plan: (life: number) => KillPlan
  more: (life: number) => boolean
}

export interface LivesResult { lives: number; durableLives: number; openKills: number; version: number }

/** Runs one life: the child's stdout lines up to its SIGKILL (a child that dies otherwise is an error). */
async function runLife(o: LivesOptions, life: number, plan: KillPlan): Promise<string[]> {
  const args = [o.file, String(o.seed + life), o.dict === true ? 'dict' : o.large ? 'large' : 'small', ...(o.compactFactor === undefined ? [] : [String(o.compactFactor)])]
  const killIn = (out: string): number | undefined => 'openMs' in plan
    ? (out.startsWith('opening\n') ? plan.openMs : undefined)
    : (out.split('\n').filter(l => l.startsWith('done ')).length >= plan.points ? plan.extraMs : undefined)
  // 60 s at the latest, a normal end: a loaded machine can be slow to get there (15 s was too short once).
  const out = await runUntilKilled(child, args, killIn, { ms: 60_000, fail: false }).catch((e: Error) => { throw new Error(`life ${life}: ${e.message}`) })
  return out.split('\n').filter(l => l !== '')
}

/** Runs lives of `o.file` and checks the file after each (see the file's comment). */
export async function killLives(o: LivesOptions): Promise<LivesResult> {
  let prev = null as { version: number; hash: string } | null
  let life = 0, durableLives = 0, openKills = 0
  for (; o.more(life); life++) {
    const plan = o.plan(life)
    const lines = await runLife(o, life, plan)
    const at = `life ${life} (${JSON.stringify(plan)})`
    let opened = null as { version: number; hash: string } | null
    const snaps = new Map<number, string>()
    let lastDone = 0
    for (const l of lines) {
      const [kind, a, b] = l.split(' ')
      if (kind === 'open') opened = { version: Number(a), hash: b }
      if (kind === 'snap') snaps.set(Number(a), b)
      if (kind === 'done') lastDone = Math.max(lastDone, Number(a))
    }
    if (opened === null) openKills++
    if (opened !== null && prev !== null) assert.deepEqual(opened, prev, `${at}: the child opened another state than the last life left`)
    if (!fs.existsSync(o.file)) { assert.ok(prev === null && lastDone === 0, `${at}: the file is gone`); continue }
    let c: Container
    try { c = Container.open(o.file, { readOnly: life % 2 === 1, lazy: o.dict === true && life % 3 === 0 }) } catch (e) {
      // No point ever committed (the first lives killed early): the file has no version to open without an init.
      if (e instanceof RegionNotFoundError && prev === null && lastDone === 0) continue
      throw e
    }
    try {
      const version = c.version
      const floor = Math.max(lastDone, prev?.version ?? 0)
      assert.ok(version >= floor, `${at}: restored version ${version} < ${floor} (last durable ${lastDone}, previous life ${prev?.version})`)
      if (version === 0) continue // nothing committed yet: no graph to compare
      const hash = canonicalHash(c.unwrap(c.root))
      const want: string | undefined = snaps.get(version) ?? (version === opened?.version ? opened.hash : version === prev?.version ? prev.hash : undefined)
      assert.equal(hash, want, `${at}: version ${version} is not the graph of its point (last durable ${lastDone}, ${snaps.size} points started)`)
      assert.deepEqual(c.check(), { ok: true, problems: [] }, at)
      if (lastDone > 0) durableLives++
      prev = { version, hash }
    } finally {
      await c.close()
    }
    o.after?.(o.file, life)
  }
  return { lives: life, durableLives, openKills, version: prev?.version ?? 0 }
}
