/**
 * crashTest: property-test that a user's persistent data structure recovers correctly, and
 * keeps working after it recovered, over several lives.
 *
 * Each run generates operation sequences (one per life), applies the first to a pool on a
 * simulated region (SimRegion), and captures post-crash images at flush points (every one
 * while few, then a sample) and after the last operation: torn sectors and lost unflushed
 * pages, as the crash model allows. Each image is reopened (recovery runs), checked
 * (`pm.check({ reachability: true })`: heap, dangling pointers, leaks), read back with the
 * user's `read`, and must equal the model after some prefix of the operations that includes
 * every operation whose commit was durable when the crash happened. Then one image goes on
 * living: the prefix it matched starts the model of the next life, whose operations run on
 * the recovered pool, and so on, with crashes during recovery too (crash-lives.ts). So a bug
 * that only shows when the program continues after a crash (a block freed in one transaction
 * and unlinked in the next, handed out again by the next insert) is caught.
 * fast-check shrinks a failure to short operation sequences; the thrown CrashTestError shows
 * them per life, the life and crash point, the allowed and the recovered states, and the seed
 * and path that replay it exactly.
 */
import fc from 'fast-check'
import type { PersistentMemory } from '../pm.js'
import { checkOrThrow, inspectOps } from './crash-report.js'
import { lifeOptions, runPlan, type Plan } from './crash-lives.js'

export { CrashTestError, Violation, checkOrThrow } from './crash-report.js'
import { checkCrashTestSpec } from './crash-spec.js'

/** What a user gives `crashTest`. */
export interface CrashTestSpec<V, Op, M> {
  /** Declares the persistent variables (runs on the fresh pool and again after each recovery). */
  setup: (pm: PersistentMemory) => V
  /** Generator of one operation. */
  operation: fc.Arbitrary<Op>
  /** Applies one operation with the user's code under test (may return a promise). */
  run: (pm: PersistentMemory, vars: V, op: Op) => unknown
  /** A pure model: its state after each prefix of operations is what recovery may give. */
  model: { init: () => M; step: (m: M, op: Op) => M }
  /** Reads the recovered pool into the model's shape. */
  read: (pm: PersistentMemory, vars: V) => M
  /** Runs (operation sequences) to try. Default 100. */
  runs?: number
  /** Longest operation sequence. Default 20. */
  maxOps?: number
  /** Size of the simulated region. Default 256 KiB. */
  size?: number
  /** Redo-log size. Default 32 KiB (small, so that truncation is exercised). */
  logSize?: number
  /** Crash images taken at each captured flush point. Default 2. */
  imagesPerPoint?: number
  /** Flush points captured per run before switching to sampling. Default 32. */
  maxPoints?: number
  /** Also fail on stores that no transaction logged and no flush covered (see sanitizer.ts). */
  sanitize?: boolean
  /**
   * Lives per run. Default 3. Life 1 runs on a fresh pool; each later life starts from one
   * crash image of the life before (chosen by the run's seed among its flush points, its end,
   * and crashes during the recovery that began it), checks it, continues the model from the
   * state it recovered to, and runs `opsAfterRecovery` more operations on it. 1 gives the
   * single-life test of earlier versions.
   */
  lives?: number
  /** Longest operation sequence run in each life after the first. Default 5. */
  opsAfterRecovery?: number
  /**
   * After every recovery, walk the pointer graph from the named variables
   * (`pm.check({ reachability: true })`) and fail on a pointer into a free block, a block
   * header, outside the heap or misaligned. Default true.
   */
  reachability?: boolean
  /**
   * With `reachability`: also fail on allocated blocks that no variable reaches (a leak).
   * Default true; set false for structures that keep unreachable blocks on purpose, or that
   * store offsets in plain integer fields instead of `t.ptr`.
   */
  leaks?: boolean
  /** Replay: the seed (and path) printed by a failure. */
  seed?: number
  path?: string
  /** Compares a recovered state with a model state. Default: util.isDeepStrictEqual. */
  equals?: (recovered: M, expected: M) => boolean
}

/**
 * Runs the crash test; resolves when every run passes, throws CrashTestError otherwise.
 * @example
 * await crashTest({ setup, operation, run, model, read })                 // 100 runs of 3 lives
 * await crashTest({ setup, operation, run, model, read, lives: 5, opsAfterRecovery: 10 })
 * await crashTest({ ...spec, seed: 1402805608, path: "0:1:0" })            // replay a failure
 */
export async function crashTest<V, Op, M>(spec: CrashTestSpec<V, Op, M>): Promise<void> {
  checkCrashTestSpec(spec)
  const { lives, opsAfterRecovery } = lifeOptions(spec)
  const plan: fc.Arbitrary<Plan<Op>> = fc.record({
    first: fc.array(spec.operation, { maxLength: spec.maxOps ?? 20 }),
    later: fc.array(fc.array(spec.operation, { maxLength: opsAfterRecovery }), { minLength: lives - 1, maxLength: lives - 1 }),
  })
  await checkOrThrow('crashTest', fc.asyncProperty(plan, fc.nat(), (p, seed) => runPlan(spec, p, seed)), spec.runs ?? 100, spec, ([p]) => showPlan(p))
}

/** The shrunk operations of every life up to the last one that has any. */
function showPlan<Op>(p: Plan<Op>): string {
  let last = p.later.length
  while (last > 0 && p.later[last - 1]!.length === 0) last--
  const lines = [`Operations (shrunk)${last > 0 ? ', life 1' : ''}: ${inspectOps(p.first)}`]
  for (let i = 0; i < last; i++) lines.push(`Operations after recovery ${i + 1} (life ${i + 2}): ${inspectOps(p.later[i])}`)
  return lines.join('\n')
}
