/**
 * crashTest: property-test that a user's persistent data structure recovers correctly.
 *
 * Each run generates a sequence of operations, applies them to a pool on a simulated
 * region (SimRegion), and captures post-crash images at flush points (every one while few,
 * then a sample) and after the last operation: torn sectors and lost unflushed pages, as the
 * crash model allows. Each image is reopened (recovery runs), read back with the user's
 * `read`, and must equal the model after some prefix of the operations that includes every
 * operation whose commit was durable when the crash happened, and the heap must validate.
 * fast-check shrinks a failure to a short operation sequence; the thrown CrashTestError
 * shows it with the crash point, the allowed and the recovered states, and the seed and
 * path that replay it exactly.
 */
import fc from 'fast-check'
import { isDeepStrictEqual, inspect } from 'node:util'
import { PmemError, SimRegion, mulberry32 } from '../../regions/index.js'
import { PersistentMemory } from '../pm.js'
import { findUnloggedStores } from './sanitizer.js'
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
  /** Replay: the seed (and path) printed by a failure. */
  seed?: number
  path?: string
  /** Compares a recovered state with a model state. Default: util.isDeepStrictEqual. */
  equals?: (recovered: M, expected: M) => boolean
}

/** Thrown by `crashTest` when recovery gives a state the model does not allow. */
export class CrashTestError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_CRASH_TEST', message) }
}

/** A violation found inside one run (fast-check shrinks on it). */
export class Violation extends Error {}

interface Capture { image: SimRegion; where: string; durable: number; upTo: number }

/** Runs the crash test; resolves when every run passes, throws CrashTestError otherwise. */
export async function crashTest<V, Op, M>(spec: CrashTestSpec<V, Op, M>): Promise<void> {
  checkCrashTestSpec(spec)
  const ops = fc.array(spec.operation, { maxLength: spec.maxOps ?? 20 })
  await checkOrThrow('crashTest', fc.asyncProperty(ops, fc.nat(), (seq, seed) => runOnce(spec, seq, seed)), spec.runs ?? 100, spec)
}

/**
 * Runs a crash property with fast-check and turns a failure into a CrashTestError showing the
 * shrunk operations, the violation, and the seed and path that replay it. Shared by
 * `crashTest` and `containerCrashTest`.
 */
export async function checkOrThrow<Ts extends [unknown, ...unknown[]]>(name: string, prop: fc.IAsyncProperty<Ts>, runs: number,
  replay: { seed?: number; path?: string }): Promise<void> {
  const details = await fc.check(prop, { numRuns: runs, seed: replay.seed, path: replay.path, endOnFailure: false })
  if (!details.failed) return
  const shrunk = details.counterexample?.[0] ?? []
  const err = details.errorInstance
  throw new CrashTestError(
    `${name} failed after ${details.numRuns} run(s) and ${details.numShrinks} shrink(s).\n` +
    `Operations (shrunk): ${inspect(shrunk, { depth: 6, breakLength: 120 })}\n${err instanceof Violation ? err.message : inspect(err)}\n` +
    `Replay exactly with: ${name}({ ...spec, seed: ${details.seed}, path: ${JSON.stringify(details.counterexamplePath)} })`)
}

async function runOnce<V, Op, M>(spec: CrashTestSpec<V, Op, M>, ops: Op[], seed: number): Promise<void> {
  const sim = SimRegion.create({ size: spec.size ?? 256 * 1024 })
  const pm = PersistentMemory.fromRegion(sim, { logSize: spec.logSize ?? 32 * 1024 })
  const vars = spec.setup(pm)
  const models: M[] = [spec.model.init()]
  const seqAfter: number[] = [pm.engine.lastSeq]
  const captures: Capture[] = []
  let running = 0, points = 0
  const rand = mulberry32(seed)
  const durableOps = () => { let d = 0; while (d + 1 < seqAfter.length && seqAfter[d + 1]! <= pm.engine.durableSeq) d++; return d }
  const capture = (where: string, upTo: number) => {
    for (let i = 0; i < (spec.imagesPerPoint ?? 2); i++) captures.push({ image: sim.crash((rand() * 2 ** 31) | 0), where, durable: durableOps(), upTo })
  }
  sim.onFlush = info => {
    points++
    if (points <= (spec.maxPoints ?? 32) || rand() < 0.1) capture(`flush #${info.index} (during operation ${running + 1})`, running + 1)
  }
  try {
    for (const op of ops) {
      await spec.run(pm, vars, op)
      running++
      models.push(spec.model.step(clone(models[models.length - 1]!), op))
      seqAfter.push(pm.engine.lastSeq)
      if (spec.sanitize) sanitizeNow(pm, running)
    }
    capture(`the end (after operation ${running})`, running)
    captures.push({ image: sim.processCrash(), where: 'a process crash at the end', durable: running, upTo: running })
  } finally {
    sim.onFlush = undefined
  }
  pm.close()
  for (const c of captures) verify(spec, c, models)
}

function verify<V, Op, M>(spec: CrashTestSpec<V, Op, M>, c: Capture, models: M[]): void {
  const pm = PersistentMemory.fromRegion(c.image)
  try {
    const report = pm.check()
    if (!report.ok) throw new Violation(`After a crash at ${c.where}: the pool does not validate: ${report.problems.join('; ')}`)
    const got = spec.read(pm, spec.setup(pm))
    const eq = spec.equals ?? isDeepStrictEqual
    for (let i = c.durable; i <= c.upTo && i < models.length; i++) if (eq(got, models[i]!)) return
    const allowed = models.slice(c.durable, c.upTo + 1).map((m, j) => `  after ${c.durable + j} operation(s): ${inspect(m, { depth: 6 })}`)
    throw new Violation(`After a crash at ${c.where}, recovery gave\n  ${inspect(got, { depth: 6 })}\nbut the model allows only (operations ${c.durable}..${Math.min(c.upTo, models.length - 1)}, ${c.durable} of them known durable):\n${allowed.join('\n')}`)
  } finally {
    pm.close()
  }
}

function sanitizeNow(pm: PersistentMemory, op: number): void {
  const bad = findUnloggedStores(pm)
  if (bad.length > 0) {
    throw new Violation(`Sanitizer: after operation ${op}, ${bad.length} store(s) were neither logged by a transaction nor flushed: ` +
      bad.slice(0, 5).map(s => `offset ${s.offset}, ${s.length} byte(s)`).join('; '))
  }
}

function clone<T>(v: T): T {
  try { return structuredClone(v) } catch { return v }
}
