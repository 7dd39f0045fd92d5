/**
 * containerCrashTest: property-test that a container restores exactly one persisted
 * version after any crash, never a mix.
 *
 * Each run opens a container on a simulated region, applies generated operations that
 * mutate `c.root` (and may call `c.persist()` themselves), takes a persistence point after
 * each operation (awaited or left running, at random), and snapshots the graph at every
 * `persist()` call. Crash images are taken at flush points (every one while few, then a
 * sample) and at the end. Each image is restored and must equal, identity and sharing
 * included, the graph of one `persist()` call that started before the crash and is not older
 * than the newest one known durable (or the initial graph if none was).
 */
import fc from 'fast-check'
import { inspect } from 'node:util'
import { SimRegion, mulberry32 } from '../../regions/index.js'
import { Container, type ContainerOptions } from '../container/index.js'
import { checkOrThrow, Violation } from './crash-test.js'
import { graphDifference, snapshotGraph } from './graph.js'

/** What a user gives `containerCrashTest`. */
export interface ContainerCrashTestSpec<Op> {
  /** The root of a new container. */
  init: () => object
  /** Generator of one operation. */
  operation: fc.Arbitrary<Op>
  /** Applies one operation to `c.root` (may call `c.persist()`, may return a promise). */
  run: (c: Container<any>, op: Op) => unknown
  /** Registered classes (as for Container.open). */
  classes?: ContainerOptions<object>['classes']
  /** Versions kept by the container. Default 3. */
  keepVersions?: number
  runs?: number
  maxOps?: number
  /** Size of the simulated region. Default 1 MiB (it grows as needed). */
  size?: number
  imagesPerPoint?: number
  maxPoints?: number
  seed?: number
  path?: string
}

interface Capture { image: SimRegion; where: string; durable: number; started: number }

/** Runs the container crash test; throws CrashTestError with a shrunk, replayable case. */
export async function containerCrashTest<Op>(spec: ContainerCrashTestSpec<Op>): Promise<void> {
  const ops = fc.array(spec.operation, { maxLength: spec.maxOps ?? 12 })
  await checkOrThrow('containerCrashTest', fc.asyncProperty(ops, fc.nat(), (seq, seed) => runOnce(spec, seq, seed)), spec.runs ?? 50, spec)
}

async function runOnce<Op>(spec: ContainerCrashTestSpec<Op>, ops: Op[], seed: number): Promise<void> {
  const options = { init: spec.init, classes: spec.classes, keepVersions: spec.keepVersions }
  const sim = SimRegion.create({ size: spec.size ?? 1 << 20 })
  const c = Container.openRegion(sim, options)
  const graphs: unknown[] = [snapshotGraph(c.root, v => c.unwrap(v))]
  let durable = 0, points = 0
  const rand = mulberry32(seed)
  const captures: Capture[] = []
  const capture = (where: string) => {
    for (let i = 0; i < (spec.imagesPerPoint ?? 2); i++) captures.push({ image: sim.crash((rand() * 2 ** 31) | 0), where, durable, started: graphs.length - 1 })
  }
  const persist = c.persist.bind(c)
  c.persist = (o) => {
    graphs.push(snapshotGraph(c.root, v => c.unwrap(v)))
    const idx = graphs.length - 1
    const p = persist(o)
    p.then(() => { durable = Math.max(durable, idx) }, () => {})
    return p
  }
  sim.onFlush = info => {
    points++
    if (points <= (spec.maxPoints ?? 24) || rand() < 0.1) capture(`flush #${info.index} (after ${graphs.length - 1} persist() call(s))`)
  }
  try {
    for (const op of ops) {
      await spec.run(c, op)
      const p = c.persist()
      if (rand() < 0.5) await p
    }
    await c.sync()
    capture('the end')
    captures.push({ image: sim.processCrash(), where: 'a process crash at the end', durable: graphs.length - 1, started: graphs.length - 1 })
  } finally {
    sim.onFlush = undefined
  }
  await c.close()
  for (const cap of captures) await verify(spec, options, cap, graphs)
}

async function verify<Op>(spec: ContainerCrashTestSpec<Op>, options: ContainerOptions<object>, cap: Capture, graphs: unknown[]): Promise<void> {
  const c = Container.openRegion(cap.image, options)
  try {
    const got = snapshotGraph(c.root, v => c.unwrap(v))
    const diffs: string[] = []
    for (let i = cap.started; i >= cap.durable; i--) {
      const d = graphDifference(graphs[i], got)
      if (d === null) return
      diffs.push(`  persist() call ${i}: ${d}`)
    }
    throw new Violation(`After a crash at ${cap.where}, the restored graph equals none of the persisted graphs allowed ` +
      `(calls ${cap.durable}..${cap.started}; 0 is the initial graph):\n${diffs.join('\n')}\nRestored: ${inspect(got, { depth: 4 })}`)
  } finally {
    await c.close()
  }
}

