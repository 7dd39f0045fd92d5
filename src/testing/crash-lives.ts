/**
 * One run of `crashTest`, over several lives: crash, recover, check, operate, crash again.
 *
 * | step            | what happens                                                      | crash images taken                          |
 * | --------------- | ----------------------------------------------------------------- | ------------------------------------------- |
 * | life 1          | a fresh pool; `setup`; the run's first operations                 | at flush points (every one while few, then  |
 * |                 |                                                                   | a sample), at the end, a process crash      |
 * | between lives   | one image of the life that ended is chosen (seeded); every other  | at every flush of that recovery (a crash    |
 * |                 | is verified; the chosen one is recovered with `onFlush` watching  | during recovery)                            |
 * | life k (k > 1)  | the recovered pool is verified (below) and the state it matched   | as life 1                                   |
 * |                 | becomes the model's start; the life's operations run on it        |                                             |
 * | after the last  | every image of the last life is verified                          |                                             |
 *
 * Verifying an image: reopen (recovery runs), `setup`, `pm.check()` with the reachability walk
 * (heap, dangling pointers, leaks), then `read` must equal the model after some prefix of the
 * life's operations that includes every operation durable at the crash. An image taken during
 * a recovery must give exactly the state that recovery gave (DESIGN.md section 2, guarantee 5:
 * what one recovery leaves behind never surprises the next).
 *
 * Everything random comes from the run's seed, so a failure replays exactly.
 */
import { inspect, isDeepStrictEqual } from 'node:util'
import { InvalidArgumentError, SimRegion, describe, mulberry32 } from '../../regions/index.js'
import { PersistentMemory } from '../pm.js'
import type { CheckOptions } from '../reachability.js'
import { Violation } from './crash-report.js'
import { findUnloggedStores } from './sanitizer.js'
import type { CrashTestSpec } from './crash-test.js'

/** The operations of one run: those of life 1, then those after each recovery. */
export interface Plan<Op> { first: Op[]; later: Op[][] }

/** A crash image and the model states it may recover to: `models[durable..upTo]` of its life. */
interface Capture { image: SimRegion; where: string; durable: number; upTo: number }

/** One life: its number, how it and the lives before it began (for messages), and the model after each of its operations. */
interface Life<M> { n: number; label: string; story: string[]; models: M[] }

/** `lives` and `opsAfterRecovery` of a spec, with their defaults; InvalidArgumentError when bad. */
export function lifeOptions(spec: { lives?: unknown; opsAfterRecovery?: unknown }): { lives: number; opsAfterRecovery: number } {
  const lives = spec.lives ?? 3, ops = spec.opsAfterRecovery ?? 5
  if (typeof lives !== 'number' || !Number.isSafeInteger(lives) || lives < 1 || lives > 100) {
    throw new InvalidArgumentError(`Cannot run crashTest: lives must be an integer from 1 to 100, got ${describe(lives)}`)
  }
  if (typeof ops !== 'number' || !Number.isSafeInteger(ops) || ops < 0 || ops > 10_000) {
    throw new InvalidArgumentError(`Cannot run crashTest: opsAfterRecovery must be an integer from 0 to 10000, got ${describe(ops)}`)
  }
  return { lives, opsAfterRecovery: ops }
}

/** Runs every life of one plan; throws a Violation naming the life, the crash and the operations. */
export async function runPlan<V, Op, M>(spec: CrashTestSpec<V, Op, M>, plan: Plan<Op>, seed: number): Promise<void> {
  const rand = mulberry32(seed)
  const lives = 1 + plan.later.length
  const sim = SimRegion.create({ size: spec.size ?? 256 * 1024 })
  const pm = PersistentMemory.fromRegion(sim, { logSize: spec.logSize ?? 32 * 1024 })
  let life: Life<M> = { n: 1, label: `life 1 of ${lives} (a fresh pool)`, story: [], models: [spec.model.init()] }
  let captures = await operate(spec, pm, sim, spec.setup(pm), plan.first, life, rand)
  pm.close()
  for (let n = 2; n <= lives; n++) {
    const pick = captures.splice(Math.floor(rand() * captures.length), 1)[0]!
    for (const c of captures) verify(spec, c, life)
    const during: Capture[] = []
    pick.image.onFlush = info => {
      for (let i = 0; i < (spec.imagesPerPoint ?? 2); i++) {
        during.push({ image: pick.image.crash((rand() * 2 ** 31) | 0), where: `flush #${info.index} of the recovery that began life ${n}`, durable: 0, upTo: 0 })
      }
    }
    let next: { pm: PersistentMemory; vars: V; index: number }
    try { next = recoverAndMatch(spec, pick, life) } finally { pick.image.onFlush = undefined }
    life = {
      n,
      label: `life ${n} of ${lives}`,
      story: [...life.story, `life ${n} began from the crash at ${pick.where}, which recovered as the model after ${next.index} operation(s) of life ${n - 1}`],
      models: [life.models[next.index]!],
    }
    captures = [...during, ...await operate(spec, next.pm, pick.image, next.vars, plan.later[n - 2]!, life, rand)]
    next.pm.close()
  }
  for (const c of captures) verify(spec, c, life)
}

/** Runs `ops` on `pm`, extending `life.models`, and returns the crash images taken meanwhile. */
async function operate<V, Op, M>(spec: CrashTestSpec<V, Op, M>, pm: PersistentMemory, sim: SimRegion, vars: V, ops: Op[], life: Life<M>,
  rand: () => number): Promise<Capture[]> {
  const captures: Capture[] = []
  const seqAfter = [pm.engine.lastSeq]
  let running = 0, points = 0
  const durableOps = () => { let d = 0; while (d + 1 < seqAfter.length && seqAfter[d + 1]! <= pm.engine.durableSeq) d++; return d }
  const capture = (where: string, upTo: number) => {
    for (let i = 0; i < (spec.imagesPerPoint ?? 2); i++) captures.push({ image: sim.crash((rand() * 2 ** 31) | 0), where, durable: durableOps(), upTo })
  }
  sim.onFlush = info => {
    points++
    if (points <= (spec.maxPoints ?? 32) || rand() < 0.1) capture(`flush #${info.index} (during operation ${running + 1} of life ${life.n})`, running + 1)
  }
  try {
    for (const op of ops) {
      try {
        await spec.run(pm, vars, op)
      } catch (err) {
        throw new Violation(`In ${life.label}: operation ${running + 1} of this life, ${inspect(op, { depth: 4 })}, threw ${shortError(err)}${storyOf(life)}`)
      }
      running++
      life.models.push(spec.model.step(clone(life.models[life.models.length - 1]!), op))
      seqAfter.push(pm.engine.lastSeq)
      if (spec.sanitize) sanitizeNow(pm, running, life)
    }
    capture(`the end (after operation ${running} of life ${life.n})`, running)
    captures.push({ image: sim.processCrash(), where: `a process crash at the end of life ${life.n}`, durable: running, upTo: running })
  } finally {
    sim.onFlush = undefined
  }
  return captures
}

/** Verifies one crash image and closes it again. */
function verify<V, Op, M>(spec: CrashTestSpec<V, Op, M>, c: Capture, life: Life<M>): void {
  const { pm } = recoverAndMatch(spec, c, life)
  pm.close()
}

/** Reopens an image, checks the pool, and returns it open with the index of the model state it equals. */
function recoverAndMatch<V, Op, M>(spec: CrashTestSpec<V, Op, M>, c: Capture, life: Life<M>): { pm: PersistentMemory; vars: V; index: number } {
  const fail = (what: string) => new Violation(`In ${life.label}: after a crash at ${c.where}, ${what}${storyOf(life)}`)
  let pm: PersistentMemory
  try { pm = PersistentMemory.fromRegion(c.image) } catch (err) { throw fail(`reopening the pool failed: ${shortError(err)}`) }
  try {
    let vars: V
    try { vars = spec.setup(pm) } catch (err) { throw fail(`setup failed on the recovered pool: ${shortError(err)}`) }
    const report = pm.check(checkOptionsOf(spec))
    if (!report.ok) throw fail(`the recovered pool does not validate:\n  ${report.problems.join('\n  ')}`)
    let got: M
    try { got = spec.read(pm, vars) } catch (err) { throw fail(`read threw ${shortError(err)}`) }
    const eq = spec.equals ?? isDeepStrictEqual
    for (let i = Math.min(c.upTo, life.models.length - 1); i >= c.durable; i--) if (eq(got, life.models[i]!)) return { pm, vars, index: i }
    const allowed = life.models.slice(c.durable, c.upTo + 1).map((m, j) => `  after ${c.durable + j} operation(s): ${inspect(m, { depth: 6 })}`)
    throw fail(`recovery gave\n  ${inspect(got, { depth: 6 })}\nbut the model allows only (operations ${c.durable}..${Math.min(c.upTo, life.models.length - 1)} of life ${life.n}, ` +
      `${c.durable} of them known durable):\n${allowed.join('\n')}`)
  } catch (err) {
    pm.close()
    throw err
  }
}

/** How the lives before `life` ended and began, one line each (empty for life 1). */
function storyOf(life: Life<unknown>): string {
  return life.story.length === 0 ? '' : `\nHow the run got there:\n  ${life.story.join('\n  ')}`
}

function checkOptionsOf(spec: { reachability?: boolean; leaks?: boolean }): CheckOptions {
  return spec.reachability === false ? {} : { reachability: true, leaks: spec.leaks !== false }
}

function sanitizeNow(pm: PersistentMemory, op: number, life: Life<unknown>): void {
  const bad = findUnloggedStores(pm)
  if (bad.length > 0) {
    throw new Violation(`Sanitizer: after operation ${op}, ${bad.length} store(s) were neither logged by a transaction nor flushed: ` +
      `${bad.slice(0, 5).map(s => `offset ${s.offset}, ${s.length} byte(s)`).join('; ')} (in ${life.label})${storyOf(life)}`)
  }
}

function shortError(err: unknown): string {
  return err instanceof Error ? `${err.name}${(err as { code?: string }).code ? ` (${(err as { code?: string }).code})` : ''}: ${err.message}` : inspect(err)
}

function clone<T>(v: T): T {
  try { return structuredClone(v) } catch { return v }
}
