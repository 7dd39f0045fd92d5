/**
 * Shared setup of the container tests: a fresh SimRegion, and the crash-lives harness: a
 * life's crash image at a chosen flush (`CrashLife`), opening it (`openCrashed`), and the
 * check after a crashed life (`restoresCommitted`, `restoresCommittedText`).
 */
import assert from 'node:assert/strict'
import { SimRegion } from '../../../regions/index.js'
import { Container } from '../../../src/container/index.js'
import { graphText } from './graph-json.js'

/** A seeded generator of numbers in [0, 1) (a linear congruential one: tests' random steps, reproducible by seed). */
export function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 }
}

export function simRegion(size = 1 << 20): SimRegion {
  return SimRegion.create({ size, path: 'sim.pmc' })
}

/**
 * One life of a crash-lives test: a crash image of `region` taken at its flush number
 * `crashAt` (the flushes of the life's recovery count: a crash there may show only what the
 * recovery started from), or at the end of the life if it flushes fewer times (`seed`: which
 * dirty sectors the image keeps). `durable` is the newest version durable when it was taken.
 *
 *     const life = new CrashLife(region, crashAt, seed)
 *     const c = life.open(() => Container.openRegion(region, options))
 *     ... operate, persist ...
 *     const { crashed, durable } = await life.end()     // closes c
 */
export class CrashLife {
  #image: SimRegion | null = null
  #durable = -1
  #c: Container<any> | null = null

  constructor(readonly region: SimRegion, crashAt: number, readonly seed: number) {
    region.onFlush = info => {
      if (info.index === crashAt && this.#image === null) { this.#image = region.crash(seed); this.#durable = this.#c?.version ?? -1 }
    }
  }

  /** The life's container (`open` may recover the region: its flushes are crash points too). */
  open<C extends Container<any>>(open: () => C): C {
    const c = open()
    this.#c = c
    if (this.#durable === -1 && this.#image !== null) this.#durable = c.version     // taken during recovery: what it started from was durable
    return c
  }

  /** Ends the life: no more images, the container closed; the crash image and the version durable when it was taken. */
  async end(): Promise<{ crashed: SimRegion; durable: number }> {
    this.region.onFlush = undefined
    await this.#c!.close()
    const crashed = this.#image ?? this.region.crash(this.seed)
    return { crashed, durable: this.#image !== null ? this.#durable : this.#c!.version }
  }
}

/**
 * Opens the crash image `crashed` (`options`: the classes, ...). An image no version had
 * reached durably (`durable` 0: the first point never committed) may not open: then null.
 * Otherwise it must open, with a version no older than `durable`.
 */
export function openCrashed(crashed: SimRegion, durable: number, what: string, options?: Parameters<typeof Container.openRegion>[1]): Container<any> | null {
  let fresh: Container<any>
  try {
    fresh = Container.openRegion(crashed, options)
  } catch (e) {
    assert.equal(durable, 0, `${what}: open failed after version ${durable} was durable: ${(e as Error).message}`)
    return null
  }
  assert.ok(fresh.version >= durable, `${what}: restored version ${fresh.version} older than durable ${durable}`)
  return fresh
}

/**
 * The end of a crashed life: the container `crashed` restores a version no older than
 * `durable` that some point committed (`committed`: version -> what it held), whose root
 * `same` finds equal to what that point held, and (unless it fell back) with no problem
 * `check` finds; the versions after it are forgotten (no later life can restore them).
 */
export async function restoresCommitted<M>(crashed: SimRegion, durable: number, committed: Map<number, M>, life: number, same: (root: unknown, want: M, what: string) => void): Promise<void> {
  await opensCommitted(crashed, durable, committed, `life ${life + 1}`, (fresh, want) => {
    same(fresh.root, want, `life ${life + 1} after the crash`)
    if (fresh.fellBack === null) assert.deepEqual(fresh.check().problems, [])
  })
}

/**
 * `restoresCommitted` for lives whose model is the text of a snapshot (graph-json.ts
 * `graphText`: the root of a restore is a proxy): the restored graph is that text, and the
 * open neither fell back nor finds a problem.
 */
export async function restoresCommittedText(crashed: SimRegion, durable: number, committed: Map<number, string>, what: string): Promise<void> {
  await opensCommitted(crashed, durable, committed, what, (fresh, want) => {
    assert.ok(graphText(fresh.snapshot()) === want, `${what}: the graph of version ${fresh.version}`)
    assert.equal(fresh.fellBack, null, what)
    assert.deepEqual(fresh.check().problems, [], what)
  })
}

async function opensCommitted<M>(crashed: SimRegion, durable: number, committed: Map<number, M>, what: string, same: (fresh: Container, want: M) => void): Promise<void> {
  const fresh = Container.openRegion(crashed)
  assert.ok(fresh.version >= durable, `${what}: restored version ${fresh.version} older than durable ${durable}`)
  assert.ok(committed.has(fresh.version), `${what}: restored version ${fresh.version} was never committed`)
  same(fresh, committed.get(fresh.version)!)
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
