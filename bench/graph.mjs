// Object-graph persistence comparison (skeleton for the Container issue).
//
// Workload: a graph of 200,000 "user" objects (strings, arrays, nested objects, Dates,
// shared references: every user points to one of 500 shared team objects and to 3-6
// other users; each team points back to its first member, a cycle). It is built once
// from a fixed seed.
//
// Invariant 1: a user's friends are earlier users. v8.serialize, v8.deserialize and
// msgpackr recurse depth-first; with friends drawn from all users the first user's
// friend chain reaches most of the graph and both overflow the stack (RangeError:
// Maximum call stack size exceeded) from about 2,000 users on. Pointing back keeps
// the recursion a few levels deep whatever the size, so the competitors can run.
//
//   save    = serialize + write to a temp file + fsync + rename + fsync of the directory
//   restore = read the file + deserialize + walk the graph (the walk keeps a lazily
//             loading restore honest; it costs a few ms)
//
// Competitors: v8.serialize / v8.deserialize, msgpackr (new Packr({ structuredClone:
// true })), and the library's Container (skipped until it is exported by the build).
//
// Container rows: save (the first point of a new container), restore, lazy restore (open
// alone, open + the walk, open + reading everything, beside a full restore + the same reads;
// lazy.ts), and points after
// renaming 1% of the users: in the first life (the init graph is known to the program raw,
// so every object of it is verified at each point), after a restore (only objects handed
// in since are verified), and with track: 'barriers' (no verification).
//
// Every row is measured in a fresh child process (this script with --child ROW), which
// builds the same seeded graph, runs the row's setup, collects the heap and times the row's
// operations once, as corpus.mjs does: one competitor's data never taxes another's garbage
// collections. Saves and restores are cold (a program's first point and its restore at
// startup happen once); restore rows drop the built graph before they are timed (a
// restoring program holds no other copy of it). The 1% rows are a program's steady points:
// the child runs as many points untimed first (their time is in the row's note), then times
// the same number.
// --in-process measures every row in this one process instead (the old mode: the heap then
// holds the graph, the first-life rows' own copies and every container's tables and shadows,
// 2.4M objects' stamps and shadows meeting full collections of a 235+ MiB heap), warmed up.
//
// Usage: node --expose-gc graph.mjs [--users 200000] [--rounds 5] [--only msgpackr] [--baseline FILE] [--in-process]

import fs from 'node:fs'
import path from 'node:path'
import v8 from 'node:v8'
import { parseArgs } from 'node:util'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Packr } from 'msgpackr'
import { SkipScenario, runSuite, skip } from './lib/runner.mjs'
import { filesystemName, makeScratchDir } from './lib/tmpdir.mjs'
import { loadLibrary } from './lib/library.mjs'
import { durableWrite } from './lib/experiment.mjs'
import { TEAMS, buildGraph, touchAll, walk } from './lib/graph-data.mjs'

const { values: own } = parseArgs({ options: { users: { type: 'string' }, 'in-process': { type: 'boolean' }, child: { type: 'string' }, ops: { type: 'string' } }, strict: false })
const USERS = Number(own.users ?? 200_000)
/** The row this process measures for its parent (--child), or undefined. */
const CHILD = own.child
const IN_PROCESS = own['in-process'] === true

const dir = makeScratchDir('graph')
const { lib, missing, source } = await loadLibrary(['Container', 'Container.open'])

/** Check that a restored graph has the same shape and kept shared references shared. */
function verify(restored, original) {
  const u = restored.users[7]
  const ok =
    restored.users.length === original.users.length &&
    walk(restored) === walk(original) &&
    u.createdAt instanceof Date &&
    u.friends[0] === restored.users[u.friends[0].id] &&
    u.team === restored.teams[u.team.id] &&
    restored.teams[0].lead.team === restored.teams[0]
  if (!ok) throw new Error('restored graph differs from the original (shape, Dates or shared references)')
}

const MB = (bytes) => `${(bytes / 1e6).toFixed(1)} MB file`

/** A serializer codec: save and restore scenarios for it. */
function codecScenarios(label, encode, decode) {
  const saveFile = path.join(dir, `${label}-save.bin`)
  const restoreFile = path.join(dir, `${label}-restore.bin`)
  let size = 0
  const save = {
    name: `${label} save`,
    note: () => MB(size),
    run(n) {
      for (let i = 0; i < n; i++) {
        const bytes = encode(graph)
        size = bytes.length
        durableWrite(saveFile, bytes)
      }
      return n
    },
  }
  const restore = {
    name: `${label} restore`,
    vs: 'v8 restore',
    dropGraph: true,
    setup() {
      durableWrite(restoreFile, encode(graph))
      verify(decode(fs.readFileSync(restoreFile)), graph)
    },
    run(n) {
      for (let i = 0; i < n; i++) walk(decode(fs.readFileSync(restoreFile)))
      return n
    },
  }
  return [save, restore]
}

/** Container.open with an init that builds the root only for a new file. */
const openContainer = (file, root, options = {}) => lib.Container.open(file, { init: () => root, ...options })

/** Container rows: full save, restore, and incremental points after changes (see `changeScenario`). */
function containerScenarios() {
  const need = () => missing && skip(missing)
  const saveFile = path.join(dir, 'container-save.pmc')
  const restoreFile = path.join(dir, 'container-restore.pmc')
  const save = {
    name: 'Container save',
    setup: need,
    async run(n) {
      for (let i = 0; i < n; i++) {
        fs.rmSync(saveFile, { force: true })
        const c = await openContainer(saveFile, graph)
        await c.persist()
        await c.sync()
        await c.close()
      }
      return n
    },
  }
  const restore = {
    name: 'Container restore',
    vs: 'v8 restore',
    dropGraph: true,
    async setup() {
      need()
      const c = await openContainer(restoreFile, graph)
      await c.persist()
      await c.sync()
      await c.close()
      const back = await openContainer(restoreFile, { users: [], teams: [] })
      verify(back.root, graph)
      await back.close()
    },
    async run(n) {
      for (let i = 0; i < n; i++) {
        const c = await openContainer(restoreFile, { users: [], teams: [] })
        walk(c.root)
        await c.close()
      }
      return n
    },
  }
  return [
    save, restore, ...lazyScenarios(restoreFile),
    changeScenario('Container 1% change', USERS / 100, 3, 'first'),
    changeScenario('Container 1% change, restored', USERS / 100, 10, 'restored'),
    changeScenario('Container 1% change, barriers', USERS / 100, 10, 'barriers'),
    changeScenario('Container 1 change, restored', 1, 100, 'restored'),
  ]
}

/**
 * Lazy restore rows (issue 16): open alone (the root's shell), open + the restore row's walk,
 * and open + reading every object (touchAll) beside a full restore + the same reads. The
 * open row's note gives the heap a lazy open holds after touching 1% of the users (their
 * names and friends), beside a full restore's, both measured after gc().
 */
function lazyScenarios(file) {
  const ensure = async () => {
    if (missing) skip(missing)
    if (fs.existsSync(file)) return
    const c = await openContainer(file, graph)
    await c.persist()
    await c.close()
  }
  let memory = ''
  const heapAfter = async (lazy) => {
    globalThis.gc?.()
    const before = process.memoryUsage().heapUsed
    const c = await openContainer(file, { users: [], teams: [] }, { lazy })
    const users = c.root.users
    let sum = 0
    for (let i = 0; i < USERS; i += 100) sum += users[i].name.length + users[i].friends.length
    globalThis.gc?.()
    const held = process.memoryUsage().heapUsed - before
    await c.close()
    if (sum < 0) throw new Error('unreachable')    // keeps the reads
    return held
  }
  const open = {
    name: 'Container lazy open',
    vs: 'v8 restore',
    dropGraph: true,
    note: () => memory,
    async setup() {
      await ensure()
      const back = await openContainer(file, { users: [], teams: [] }, { lazy: true })
      verify(back.root, graph)
      await back.close()
      if (globalThis.gc) {
        const lazy = await heapAfter(true), full = await heapAfter(false)
        memory = `heap after touching 1% of the users: lazy ${(lazy / 2 ** 20).toFixed(0)} MiB, full restore ${(full / 2 ** 20).toFixed(0)} MiB`
      }
    },
    // Timed: the open and the root, as bench/lazy.mjs times them. Not timed: close, which
    // reads the rest of the log (lazy.ts `release`: objects reached after close still decode),
    // a cost of the program's end, not of its start (about 110-240 ms here).
    async run(n) {
      let seconds = 0
      for (let i = 0; i < n; i++) {
        const t = process.hrtime.bigint()
        const c = await openContainer(file, { users: [], teams: [] }, { lazy: true })
        void c.root      // the root decoded; its users array and teams not yet
        seconds += Number(process.hrtime.bigint() - t) / 1e9
        await c.close()
      }
      return { ops: n, seconds }
    },
  }
  const walked = {
    name: 'Container lazy restore',
    vs: 'Container restore',
    dropGraph: true,
    note: 'lazy open + the restore row\'s walk over the users',
    setup: ensure,
    async run(n) {
      for (let i = 0; i < n; i++) {
        const c = await openContainer(file, { users: [], teams: [] }, { lazy: true })
        walk(c.root)
        await c.close()
      }
      return n
    },
  }
  const all = (lazy) => ({
    name: lazy ? 'Container lazy open + touch all' : 'Container restore + touch all',
    ...(lazy ? { vs: 'Container restore + touch all' } : { vs: 'v8 restore' }),
    dropGraph: true,
    note: 'open, then read every property, element and entry through c.root',
    setup: ensure,
    async run(n) {
      for (let i = 0; i < n; i++) {
        const c = await openContainer(file, { users: [], teams: [] }, { lazy })
        touchAll(c.root)
        await c.close()
      }
      return n
    },
  })
  return [open, walked, all(false), all(true)]
}

/**
 * A point after renaming `count` users through c.root, persist + sync; notes the blocking
 * time and how many objects the point verified. `life`:
 *   'first'    the container was created from the program's graph (init): every object of
 *              it is known to the program raw, so each point verifies all of them (verify.ts)
 *   'restored' the container was restored from its file: the program holds only proxies,
 *              so a point verifies only what was handed in since (nothing here)
 *   'barriers' first life with `track: 'barriers'`: no verification; raw mutations would
 *              need persist({ full: true })
 * Each first-life container gets its own copy of the graph (so that the renames of one are
 * not points of the other); the heap then holds three graphs, which makes garbage
 * collection dearer for every row (run with --expose-gc: the runner collects between rows).
 */
function changeScenario(name, count, repeat, life) {
  let live
  let blocked = []
  let verified = 0
  let cold = ''
  return {
    name,
    repeat,
    // In a child: `repeat` points first, untimed (the JIT re-optimizes the encoder and the
    // proxies for the objects of this life), then `repeat` timed: a program's steady points.
    warmup: repeat,
    dropGraph: true,     // the container holds its own graph (first life, barriers) or its restore's
    warmed(seconds) { cold = `; the ${repeat} points before (untimed warm-up): ${(seconds * 1000 / repeat).toFixed(0)} ms each`; blocked = [] },
    note: () => `rename ${count === 1 ? '1 user' : `${count} users`} via c.root, persist + sync` +
      (blocked.length ? `; blocked ${median(blocked).toFixed(1)} ms per point, ${verified.toLocaleString('en-US')} objects verified` : '') + cold,
    async setup() {
      if (missing) skip(missing)
      const file = path.join(dir, `container-change-${count}-${life}.pmc`)
      fs.rmSync(file, { force: true })
      // A restored container's graph is garbage once it is closed: the shared one serves.
      const own = life === 'restored' || CHILD !== undefined ? graph : buildGraph(USERS)     // a child's graph is its own
      live = await openContainer(file, own, life === 'barriers' ? { track: 'barriers' } : {})
      await live.persist()
      await live.sync()
      if (life === 'restored') {
        await live.close()
        live = await openContainer(file, { users: [], teams: [] })
      }
    },
    async run(n) {
      for (let i = 0; i < n; i++) {
        const users = live.root.users
        for (let k = 0; k < count; k++) users[(k * 7919 + i * 104729) % USERS].name = `renamed ${i}.${k}`
        const stats = await live.persist()
        blocked.push(stats.blockedMs)
        verified = stats.verified ?? 0
        await live.sync()
      }
      return n
    },
    teardown: () => live?.close(),
  }
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1]

/**
 * Row `s` measured in a fresh child process per call: the child (this script with --child)
 * builds the graph, runs the row's setup and times `run(n)`; the runner takes the child's
 * seconds ({ ops, seconds }), and the row's note is the last child's.
 */
function isolated(s) {
  let note = typeof s.note === 'string' ? s.note : ''
  return {
    name: s.name,
    vs: s.vs,
    repeat: s.repeat,
    note: () => note,
    run(n) {
      const args = ['--expose-gc', fileURLToPath(import.meta.url), '--child', s.name, '--ops', String(n), '--users', String(USERS)]
      const lines = execFileSync(process.execPath, args, { env: process.env, maxBuffer: 1 << 24 }).toString().trim().split('\n')
      const r = JSON.parse(lines[lines.length - 1])
      if (r.skip) skip(r.skip)
      note = r.note
      return { ops: r.ops, seconds: r.seconds }
    },
  }
}

/** In a child (--child ROW): setup, gc, time run(--ops) once, print { ops, seconds, note }. */
async function measureChild(scenarios) {
  const s = scenarios.find((x) => x.name === CHILD)
  if (s === undefined) throw new Error(`no row named ${JSON.stringify(CHILD)}`)
  const n = Number(own.ops ?? 1)
  try {
    await s.setup?.()
  } catch (err) {
    if (err instanceof SkipScenario) { console.log(JSON.stringify({ skip: err.message })); process.exit(0) }
    throw err
  }
  if (s.dropGraph) graph = null      // not used by the row's run: a restoring program holds no other copy
  if (s.warmup) {
    const w = process.hrtime.bigint()
    await s.run(s.warmup)
    s.warmed(Number(process.hrtime.bigint() - w) / 1e9)
  }
  globalThis.gc?.()
  await new Promise((resolve) => setImmediate(resolve))
  const t = process.hrtime.bigint()
  const r = await s.run(n)
  const seconds = typeof r === 'object' ? r.seconds : Number(process.hrtime.bigint() - t) / 1e9     // a row may time part of its run itself
  const note = typeof s.note === 'function' ? s.note() : (s.note ?? '')
  await s.teardown?.()
  console.log(JSON.stringify({ ops: typeof r === 'number' ? r : typeof r === 'object' ? r.ops : n, seconds, note }))
  process.exit(0)
}

if (missing && CHILD === undefined) console.log(`note: Container rows will be skipped: ${missing}`)
const t0 = performance.now()
let graph = IN_PROCESS || CHILD !== undefined ? buildGraph(USERS) : null     // the parent of isolated rows measures nothing itself; a child drops it for rows that do not use it (`dropGraph`)
const buildMs = performance.now() - t0
const packr = new Packr({ structuredClone: true })
const scenarios = [
  ...codecScenarios('v8', (g) => v8.serialize(g), (b) => v8.deserialize(b)),
  ...codecScenarios('msgpackr', (g) => packr.pack(g), (b) => packr.unpack(b)),
  ...containerScenarios(),
]
if (CHILD !== undefined) await measureChild(scenarios)

await runSuite({
  name: 'graph',
  title: `Object graph: save (serialize + write + fsync + rename) and restore (read + deserialize) of ${USERS.toLocaleString('en-US')} users`,
  unit: 'op',
  baseline: 'v8 save',
  count: 1,
  warmupCount: IN_PROCESS ? 1 : 0,
  rounds: 5,
  env: {
    scratch: dir,
    filesystem: filesystemName(dir),
    library: source,
    mode: IN_PROCESS ? 'every row in this process (--in-process), warmed up' : 'each row in a fresh child process per round (cold; --in-process for the old mode)',
    graph: IN_PROCESS ? `${USERS} users, ${TEAMS} shared teams, built in ${buildMs.toFixed(0)} ms` : `${USERS} users, ${TEAMS} shared teams, built in each child`,
    heapUsed: `${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`,
  },
  scenarios: IN_PROCESS ? scenarios : scenarios.map(isolated),
  targets: [
    { row: 'Container save', vs: 'v8 save', ratio: 1 / 1.5, label: 'first full point takes at most 1.5x the v8 save' },
    { row: 'Container 1% change', vs: 'v8 save', ratio: 20, label: '1% point (first life: the init graph is verified) at least 20x faster than the v8 save' },
    { row: 'Container 1% change, restored', vs: 'v8 save', ratio: 20, label: '1% point after a restore at least 20x faster than the v8 save' },
    { row: 'Container 1% change, barriers', vs: 'v8 save', ratio: 20, label: "1% point with track: 'barriers' at least 20x faster than the v8 save" },
    { row: 'Container restore', vs: 'v8 restore', ratio: 1, label: 'restore takes at most the v8 restore time' },
    { row: 'Container lazy open', vs: 'v8 restore', ratio: 20, label: 'lazy open takes at most 5% of the v8 restore' },
    { row: 'Container lazy open + touch all', vs: 'Container restore + touch all', ratio: 1 / 1.2, label: 'a lazy open that touches everything costs at most 1.2x a full restore that does' },
  ],
})
