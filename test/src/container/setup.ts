/**
 * Shared setup of the container tests: a fresh SimRegion, and the check after a crashed life.
 */
import assert from 'node:assert/strict'
import { SimRegion } from '../../../regions/index.js'
import { Container } from '../../../src/container/index.js'

export function simRegion(size = 1 << 20): SimRegion {
  return SimRegion.create({ size, path: 'sim.pmc' })
}

/**
 * The end of a crashed life: the container `crashed` restores a version no older than
 * `durable` that some point committed (`committed`: version -> what it held), whose root
 * `same` finds equal to what that point held, and (unless it fell back) with no problem
 * `check` finds; the versions after it are forgotten (no later life can restore them).
 */
export async function restoresCommitted<M>(crashed: SimRegion, durable: number, committed: Map<number, M>, life: number, same: (root: unknown, want: M, what: string) => void): Promise<void> {
  const fresh = Container.openRegion(crashed)
  assert.ok(fresh.version >= durable, `life ${life + 1}: restored version ${fresh.version} older than durable ${durable}`)
  assert.ok(committed.has(fresh.version), `life ${life + 1}: restored version ${fresh.version} was never committed`)
  same(fresh.root, committed.get(fresh.version)!, `life ${life + 1} after the crash`)
  if (fresh.fellBack === null) assert.deepEqual(fresh.check().problems, [])
  await fresh.close()
  for (const v of [...committed.keys()]) if (v > fresh.version) committed.delete(v)
}

/**
 * Runs of a property test: `n`, times PMEM_FC_SCALE when set (long searches), with
 * fast-check's seed PMEM_FC_SEED when set (to replay a search; fast-check prints the seed
 * of a failure). `npm test` sets neither: `n` runs with a fresh random seed, or with
 * `fixedSeed` where a test keeps one (a long search then takes fresh seeds too).
 *   PMEM_FC_SCALE=20 PMEM_FC_SEED=1234 node --test dist/test/src/container/lazy.test.js
 */
export function runs(n: number, fixedSeed?: number): { numRuns: number; seed?: number } {
  const scaleText = process.env.PMEM_FC_SCALE
  const seedText = process.env.PMEM_FC_SEED
  const scale = Number(scaleText ?? 1)
  const numRuns = Math.max(1, Math.round(n * (Number.isFinite(scale) && scale > 0 ? scale : 1)))
  if (seedText !== undefined && seedText !== '') return { numRuns, seed: Number(seedText) }
  if (fixedSeed !== undefined && (scaleText === undefined || scaleText === '')) return { numRuns, seed: fixedSeed }
  return { numRuns }
}
