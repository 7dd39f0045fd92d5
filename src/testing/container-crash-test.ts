/**
 * containerCrashTest: property-test that a container restores exactly one persisted
 * version after any crash, never a mix, over several lives.
 *
 * Each run opens a container on a simulated region and lives `lives` times (default 3).
 * In each life it applies generated operations that mutate `c.root` (and may call
 * `c.persist()` themselves), takes a persistence point after each operation (awaited or
 * left running, at random), and snapshots the graph at every `persist()` call. Crash images
 * are taken at flush points (every one while few, then a sample), at the end, and a process
 * crash. Each image is restored and must equal, identity and sharing included, the graph of
 * one `persist()` call that started before the crash and is not older than the newest one
 * known durable (or the graph the life started from); every retained older version must
 * restore exactly the graph it was committed with. The next life goes on from one of those
 * images chosen at random (recovery, then more operations and points on the recovered
 * container, compared with the same model), so a crash during a life that began with a
 * recovery is tested too, and images are taken at every flush the open makes.
 *
 * What counts as the graph of a `persist()` call is everything reachable from the root at
 * that moment, however it got there: mutations the operations make through references they
 * kept (the `init` graph, objects they stored, `c.unwrap` results, the `kept` array `run`
 * receives) are expected to persist exactly like those made through `c.root`, and so is the
 * private state of class instances whose class has `[Container.save]` / `[Container.revive]`
 * hooks (compared as the value `save` returns). With `track: 'barriers'` the container
 * persists raw mutations only at full points, and the test reports them as lost.
 */
import fc from 'fast-check'
import { inspect } from 'node:util'
import { InvalidArgumentError, SimRegion, describe, mulberry32 } from '../../regions/index.js'
import { Container, type ContainerOptions, type PointStats } from '../container/index.js'
import { checkOrThrow, Violation } from './crash-test.js'
import { graphDifference, snapshotGraph } from './graph.js'

/** What a user gives `containerCrashTest`. */
export interface ContainerCrashTestSpec<Op> {
  /** The root of a new container. */
  init: () => object
  /** Generator of one operation. */
  operation: fc.Arbitrary<Op>
  /**
   * Applies one operation (may call `c.persist()`, may return a promise). `kept` is an array
   * for this life in which operations may keep raw references to mutate later (emptied at
   * each recovery: an earlier life's objects are not the recovered container's).
   */
  run: (c: Container<any>, op: Op, kept: unknown[]) => unknown
  /** Registered classes (as for Container.open). */
  classes?: ContainerOptions<object>['classes']
  /** Versions kept by the container. Default 3. */
  keepVersions?: number
  /** Chunk size of the container (as for Container.open). */
  chunkSize?: number
  /** Stream threshold of the container's full points (as for Container.open); a low one puts streamed points under test. */
  streamThreshold?: number
  /** Change detection of the container (as for Container.open). Default 'all'. */
  track?: 'all' | 'barriers'
  /**
   * Reopen lazily (`Container.open(..., { lazy: true })`, lazy.ts): every recovery and every
   * restore of a crash image is lazy. The graph a life starts from is then taken from the
   * model (not read from the container), and each point's graph right after its `persist()`
   * call (its snapshot is synchronous), so each life's first point is taken with objects not
   * yet decoded; reading the graph for the model decodes the rest. Default false.
   */
  lazy?: boolean
  /** Lives per run: crash, recover, operate, crash again. Default 3. */
  lives?: number
  runs?: number
  /** Longest operation sequence per life. Default 12. */
  maxOps?: number
  /** Size of the simulated region. Default 1 MiB (it grows as needed). */
  size?: number
  /** Crash images taken at each captured flush point. Default 2. */
  imagesPerPoint?: number
  /** Flush points captured per life before switching to sampling. Default 24. */
  maxPoints?: number
  seed?: number
  path?: string
}

interface Capture { image: SimRegion; where: string; durable: number; started: number }

/** The state of one run: the graph each committed version holds (of the current timeline). */
interface Timeline { byVersion: Map<number, unknown> }

const SPEC_KEYS = new Set(['init', 'operation', 'run', 'classes', 'keepVersions', 'chunkSize', 'streamThreshold', 'track', 'lazy', 'lives', 'runs', 'maxOps', 'size', 'imagesPerPoint', 'maxPoints', 'seed', 'path'])

/** Checks the spec before anything runs: a bad spec is an InvalidArgumentError naming the field. */
function checkSpec(spec: unknown): void {
  const bad = (what: string): never => { throw new InvalidArgumentError(`Cannot run containerCrashTest: ${what}`) }
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) bad(`the spec must be an object { init, operation, run }, got ${describe(spec)}`)
  const s = spec as Record<string, unknown>
  for (const k of Object.keys(s)) if (!SPEC_KEYS.has(k)) bad(`unknown spec field ${JSON.stringify(k)}; the fields are ${[...SPEC_KEYS].join(', ')}`)
  if (typeof s.init !== 'function') bad(`spec.init must be a function returning the root, got ${describe(s.init)}`)
  if (typeof s.run !== 'function') bad(`spec.run must be a function (c, op) => ..., got ${describe(s.run)}`)
  const op = s.operation as { generate?: unknown; filter?: unknown } | null
  if (op === null || typeof op !== 'object' || typeof op.generate !== 'function' || typeof op.filter !== 'function') bad(`spec.operation must be a fast-check Arbitrary, got ${describe(s.operation)}`)
  const count = (k: string, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    const v = s[k]
    if (v !== undefined && !(Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max)) bad(`spec.${k} must be an integer from ${min} to ${max}, got ${describe(v)}`)
  }
  count('lives', 1, 100); count('runs', 1); count('maxOps', 0); count('imagesPerPoint', 0, 1000); count('maxPoints', 0)
  count('size', 4096); count('seed', -(2 ** 31), 2 ** 32)
  if (s.path !== undefined && typeof s.path !== 'string') bad(`spec.path must be the string a failure printed, got ${describe(s.path)}`)
  // The container's own options are checked by Container (keepVersions, chunkSize, streamThreshold, classes).
  Container.openRegion(SimRegion.create({ size: 4096 }), containerOptions(s as unknown as ContainerCrashTestSpec<unknown>)).close()
}

function containerOptions<Op>(spec: ContainerCrashTestSpec<Op>): ContainerOptions<object> {
  const o: ContainerOptions<object> = { init: spec.init }
  if (spec.classes !== undefined) o.classes = spec.classes
  if (spec.keepVersions !== undefined) o.keepVersions = spec.keepVersions
  if (spec.chunkSize !== undefined) o.chunkSize = spec.chunkSize
  if (spec.streamThreshold !== undefined) o.streamThreshold = spec.streamThreshold
  if (spec.track !== undefined) o.track = spec.track
  if (spec.lazy !== undefined) o.lazy = spec.lazy
  return o
}

/**
 * Runs the container crash test; throws CrashTestError with a shrunk, replayable case. A bad
 * spec is an InvalidArgumentError before anything runs (the container options are checked by
 * opening one container on a scratch region, which calls `init` once).
 */
export async function containerCrashTest<Op>(spec: ContainerCrashTestSpec<Op>): Promise<void> {
  checkSpec(spec)
  const lives = spec.lives ?? 3
  const ops = fc.array(fc.array(spec.operation, { maxLength: spec.maxOps ?? 12 }), { minLength: lives, maxLength: lives })
  await checkOrThrow('containerCrashTest', fc.asyncProperty(ops, fc.nat(), (seq, seed) => runOnce(spec, seq, seed)), spec.runs ?? 50, spec)
}

async function runOnce<Op>(spec: ContainerCrashTestSpec<Op>, lives: Op[][], seed: number): Promise<void> {
  const options = containerOptions(spec)
  const rand = mulberry32(seed)
  const timeline: Timeline = { byVersion: new Map() }
  let sim = SimRegion.create({ size: spec.size ?? 1 << 20 })
  let c: Container<any> | null = null
  for (let life = 0; life < lives.length; life++) {
    const captures: Capture[] = []
    const capture = (where: string, durable: number, started: number): void => {
      for (let i = 0; i < (spec.imagesPerPoint ?? 2); i++) captures.push({ image: sim.crash((rand() * 2 ** 31) | 0), where: `life ${life + 1}, ${where}`, durable, started })
    }
    let points = 0
    let durable = 0
    const graphs: unknown[] = []
    // Recovery (or creation): a crash at any flush the open makes may show only the graph the life starts from.
    sim.onFlush = info => { points++; if (points <= (spec.maxPoints ?? 24) || rand() < 0.1) capture(`flush #${info.index} while opening`, 0, 0) }
    try {
      c = Container.openRegion(sim, options)
    } catch (e) {
      throw new Violation(`Life ${life + 1}: the container could not be opened after the previous life's crash: ${(e as Error).message}`)
    }
    for (const v of [...timeline.byVersion.keys()]) if (v > c.version) timeline.byVersion.delete(v)
    const lazy = spec.lazy === true
    graphs.push(lazy && timeline.byVersion.has(c.version) ? timeline.byVersion.get(c.version) : graphOf(c))
    if (c.version > 0) timeline.byVersion.set(c.version, graphs[0])
    const container = c
    const persist = container.persist.bind(container)
    container.persist = (o?: Parameters<Container['persist']>[0]) => {
      if (!lazy) graphs.push(graphOf(container))
      const p = persist(o)
      if (lazy) graphs.push(graphOf(container))     // after the call: its snapshot was taken, synchronously, with objects not decoded
      const idx = graphs.length - 1
      p.then((s: PointStats) => { durable = Math.max(durable, idx); timeline.byVersion.set(s.version, graphs[idx]) }, () => {})
      return p
    }
    sim.onFlush = info => {
      points++
      if (points <= (spec.maxPoints ?? 24) || rand() < 0.1) capture(`flush #${info.index} (after ${graphs.length - 1} persist() call(s) in this life)`, durable, graphs.length - 1)
    }
    const kept: unknown[] = []
    try {
      for (const op of lives[life]!) {
        await spec.run(container, op, kept)
        const p = container.persist()
        if (rand() < 0.5) await p
      }
      await container.sync()
      capture('the end', graphs.length - 1, graphs.length - 1)
      captures.push({ image: sim.processCrash(), where: `life ${life + 1}, a process crash at the end`, durable: graphs.length - 1, started: graphs.length - 1 })
    } finally {
      sim.onFlush = undefined
    }
    await container.close()
    for (const cap of captures) await verify(options, cap, graphs, timeline, spec.keepVersions ?? 3)
    // The next life goes on from one of the crash images (a copy: the captures stay as taken).
    const next = captures[Math.floor(rand() * captures.length)]!
    sim = SimRegion.fromImage(next.image.durableImage(), { path: 'sim' })
  }
}

/** Restores one crash image: the newest version is an allowed graph, and every retained older version is exactly its graph. */
async function verify(options: ContainerOptions<object>, cap: Capture, graphs: unknown[], timeline: Timeline, keep: number): Promise<void> {
  const c = Container.openRegion(cap.image, options)
  try {
    const got = graphOf(c)
    const diffs: string[] = []
    let found = false
    for (let i = cap.started; i >= cap.durable && !found; i--) {
      const d = graphDifference(graphs[i], got)
      if (d === null) found = true
      else diffs.push(`  persist() call ${i}: ${d}`)
    }
    if (!found) {
      throw new Violation(`After a crash at ${cap.where}, the restored graph equals none of the persisted graphs allowed ` +
        `(calls ${cap.durable}..${cap.started} of this life; 0 is the graph it started from):\n${diffs.join('\n')}\nRestored: ${inspect(got, { depth: 4 })}`)
    }
    const report = c.check()
    if (!report.ok && c.fellBack === null) throw new Violation(`After a crash at ${cap.where}, the container does not validate: ${report.problems.join('; ')}`)
    for (let v = Math.max(1, c.version - keep + 1); v < c.version; v++) {
      const want = timeline.byVersion.get(v)
      if (want === undefined) continue
      let old: Container<any>
      try { old = Container.openRegion(cap.image, { ...options, version: v }) } catch (e) {
        if (c.fellBack !== null) continue
        throw new Violation(`After a crash at ${cap.where}, retained version ${v} (newest ${c.version}) cannot be restored: ${(e as Error).message}`)
      }
      try {
        const d = graphDifference(want, graphOf(old))
        if (d !== null) throw new Violation(`After a crash at ${cap.where}, retained version ${v} restores a graph other than the one committed: ${d}`)
      } finally { await old.close() }
    }
  } finally {
    await c.close()
  }
}

/** The graph of a container now, as the model compares it (read through `snapshot`: nothing is exposed). */
function graphOf(c: Container<any>): unknown { return snapshotGraph(c.snapshot()) }
