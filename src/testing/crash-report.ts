/**
 * How the crash tests fail: a Violation inside one run (fast-check shrinks on it), turned into
 * one CrashTestError that shows the shrunk operations, what went wrong, and the seed and path
 * that replay the run exactly. Shared by `crashTest` and `containerCrashTest`.
 */
import fc from 'fast-check'
import { inspect } from 'node:util'
import { PmemError } from '../../regions/index.js'

/** Thrown by `crashTest` when recovery gives a state the model does not allow. */
export class CrashTestError extends PmemError {
  constructor(message: string) { super('ERR_PMEM_CRASH_TEST', message) }
}

/** A violation found inside one run (fast-check shrinks on it). */
export class Violation extends Error {}

/**
 * Runs a crash property with fast-check and turns a failure into a CrashTestError showing the
 * shrunk operations (`show` formats the counterexample; default: its first value as
 * `Operations (shrunk): ...`), the violation, and the seed and path that replay it.
 */
export async function checkOrThrow<Ts extends [unknown, ...unknown[]]>(name: string, prop: fc.IAsyncProperty<Ts>, runs: number,
  replay: { seed?: number; path?: string }, show: (counterexample: Ts) => string = c => `Operations (shrunk): ${inspectOps(c[0])}`): Promise<void> {
  const details = await fc.check(prop, { numRuns: runs, seed: replay.seed, path: replay.path, endOnFailure: false })
  if (!details.failed) return
  const err = details.errorInstance
  throw new CrashTestError(
    `${name} failed after ${details.numRuns} run(s) and ${details.numShrinks} shrink(s).\n` +
    `${details.counterexample === null ? 'Operations (shrunk): []' : show(details.counterexample)}\n${err instanceof Violation ? err.message : inspect(err)}\n` +
    `Replay exactly with: ${name}({ ...spec, seed: ${details.seed}, path: ${JSON.stringify(details.counterexamplePath)} })`)
}

/** Operations as the failure report shows them. */
export function inspectOps(ops: unknown): string {
  return inspect(ops ?? [], { depth: 6, breakLength: 120 })
}
