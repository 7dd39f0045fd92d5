// containerCrashTest: a correct program passes, mutations through kept (raw) references
// and the private state of classes with hooks included; with track: 'barriers', a program
// that mutates through a raw reference (invisible to the write barrier, so never persisted)
// is caught and shrunk; the graph snapshot and comparison keep identity and tell sharing apart.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { containerCrashTest, CrashTestError, snapshotGraph, graphDifference, SimRegion } from '../../../src/testing/index.js'
import { Container } from '../../../src/index.js'

class User { name = ''; friends: User[] = []; joined = new Date(0) }
type Op = { add: string } | { befriend: [number, number] } | { drop: number } | { tag: bigint }
const operation: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ add: fc.string({ maxLength: 8 }) }),
  fc.record({ befriend: fc.tuple(fc.nat(20), fc.nat(20)) }),
  fc.record({ drop: fc.nat(20) }),
  fc.record({ tag: fc.bigInt() }),
)
type Root = { users: User[]; byName: Map<string, User>; tags: Set<bigint>; meta: { count: number; bytes: Uint8Array } }
const init = (): Root => ({ users: [], byName: new Map(), tags: new Set(), meta: { count: 0, bytes: new Uint8Array(4) } })

function apply(root: Root, op: Op): void {
  if ('add' in op) {
    const u = new User(); u.name = op.add; u.joined = new Date(root.meta.count * 1000)
    root.users.push(u); root.byName.set(op.add, u); root.meta.count++
    root.meta.bytes[root.meta.count % 4] = root.meta.count
  } else if ('befriend' in op) {
    const a = root.users[op.befriend[0] % Math.max(1, root.users.length)], b = root.users[op.befriend[1] % Math.max(1, root.users.length)]
    if (a && b) a.friends.push(b) // shared references and cycles
  } else if ('drop' in op) {
    if (root.users.length > 0) root.users.splice(op.drop % root.users.length, 1)
  } else root.tags.add(op.tag)
}

test('containerCrashTest: a program that mutates through c.root passes', async () => {
  await containerCrashTest({ init, operation, classes: [User], runs: 10, lives: 3, maxPoints: 10, run: (c, op) => apply(c.root as Root, op) })
})

test('containerCrashTest with lazy: true: recoveries and crash images are restored lazily (lazy.ts), and the program still passes', async () => {
  let lazyLives = 0
  await containerCrashTest({
    init, operation, classes: [User], runs: 4, lives: 3, maxPoints: 10, lazy: true,
    run: (c, op) => { if (c.lazy?.state === 'lazy') lazyLives++; apply(c.root as Root, op) },
  })
  assert.ok(lazyLives > 0, 'operations ran on containers restored lazily, objects not yet decoded')
})

/** A class with private state and save/revive hooks. */
class Counter {
  #n = 0
  #seen: string[] = []
  bump(s: string): void { this.#n++; this.#seen.push(s) }
  static [Container.save](c: Counter): unknown { return { n: c.#n, seen: c.#seen } }
  static [Container.revive](c: Counter, s: { n: number; seen: string[] }): void { c.#n = s.n; c.#seen = s.seen }
}

test('containerCrashTest: mutations through kept references and private state through hooks persist (the default track: all)', async () => {
  await containerCrashTest({
    init: () => ({ ...init(), counter: new Counter() }), operation, classes: [User, Counter], runs: 12, lives: 3, maxPoints: 10,
    run: (c, op, kept) => {
      const root = c.root as Root & { counter: Counter }
      if ('tag' in op) {
        (c.unwrap(c.root) as Root).meta.count += 1         // through an unwrapped reference
        root.counter.bump(String(op.tag))                   // a method that changes private state
        for (const u of kept as User[]) u.name += '!'       // through references kept by earlier operations
      } else if ('add' in op) {
        const u = new User(); u.name = op.add
        root.users.push(u)
        kept.push(u)                                        // stored, then kept and mutated raw later
      } else apply(root, op)
    },
  })
})

/**
 * A program wrong with `track: 'barriers'`: a user it adds through `c.root` it also keeps raw,
 * and a tag renames the kept users through those raw references, which no barrier sees and
 * nothing watches (their holder, reached through proxies, is not watched: watch.ts inv. W1).
 * (Before session 12 these tests wrote through `c.unwrap` results, which are now watched.)
 */
function barrierLoss(c: Container<object>, op: Op, kept: unknown[]): void {
  const root = c.root as Root
  if ('add' in op) {
    const u = new User(); u.name = op.add
    root.users.push(u); kept.push(u)
  } else if ('tag' in op) for (const u of kept as User[]) u.name += '!'
  else apply(root, op)
}

test('with track: barriers, containerCrashTest catches mutations the write barrier cannot see', async () => {
  await assert.rejects(containerCrashTest({
    init, operation, classes: [User], runs: 50, lives: 1, track: 'barriers',
    run: barrierLoss,
  }), (e: unknown) => {
    assert.ok(e instanceof CrashTestError)
    // the first point writes the whole graph, so the shrunk case is one earlier op, then the raw mutation
    assert.match(e.message, /Operations \(shrunk\): \[ (\[\], )*\[ \{ \w+: [^}]*\}, \{ tag: -?\d+n \} \]/)
    const m = /root\.users\[0\]\.name: expected "(.*)", got "(.*)"/.exec(e.message)
    assert.ok(m !== null && m[1] === `${m[2]}!`, e.message)
    return true
  })
})

test('containerCrashTest goes on after each recovery: a program wrong only in a later life is caught there', async () => {
  const recovered = new WeakMap<object, boolean>()     // per container: opened on a recovered image (not the first life of a run)
  await assert.rejects(containerCrashTest({
    init, operation, classes: [User], runs: 15, lives: 3, maxPoints: 10, track: 'barriers',
    run: (c, op, kept) => {
      if (!recovered.has(c)) recovered.set(c, c.version > 0)
      // After a recovery, users added are kept raw and tags rename them: lost (track: 'barriers').
      if (recovered.get(c) === true) barrierLoss(c, op, kept)
      else apply(c.root as Root, op)
    },
  }), (e: unknown) => {
    assert.ok(e instanceof CrashTestError)
    assert.match(e.message, /life [23],/)
    // more than one life (a life's operations may hold arrays; util.inspect breaks long ones over lines)
    assert.match(e.message, /Operations \(shrunk\): \[\s*\[[\s\S]*?\],\s*\[/)
    return true
  })
})

test('containerCrashTest with a streamed first point (a low streamThreshold and a graph of more than 4 MiB of records)', async () => {
  const big = () => ({ pages: Array.from({ length: 4400 }, (_, i) => ({ i, text: String(i).padEnd(1000, '.') })), users: [] as User[], byName: new Map(), tags: new Set(), meta: { count: 0, bytes: new Uint8Array(4) } })
  const stream = SimRegion.prototype.appendStream
  let streams = 0
  SimRegion.prototype.appendStream = function (this: SimRegion, at: number, block: number) { const st = stream.call(this, at, block); if (st !== null) streams++; return st }
  try {
    await containerCrashTest({
      // a fixed seed: with random ones, now and then every life of both runs drew no operation, so no point was made and none streamed (seen once in CI's suite, session 16)
      init: big, operation, classes: [User], runs: 2, lives: 2, maxOps: 3, imagesPerPoint: 1, maxPoints: 8, streamThreshold: 65536, seed: 7,
      run: (c, op) => apply(c.root as Root, op),
    })
  } finally { SimRegion.prototype.appendStream = stream }
  assert.ok(streams >= 1, `first points were streamed (${streams} streams)`)
})

test('snapshotGraph keeps sharing, cycles, prototypes and typed-array buffers; graphDifference sees them', () => {
  const shared = { s: 1 }
  const buf = new ArrayBuffer(8)
  const g: Record<string, unknown> = { a: shared, b: shared, u: new User(), f: () => 1, v1: new Uint8Array(buf, 0, 4), v2: new Uint16Array(buf, 4, 2), m: new Map([[shared, -0]]) }
  g.self = g
  const s = snapshotGraph(g) as Record<string, unknown>
  assert.match(graphDifference(g, s) ?? '', /^root\.f: expected .*got null/, 'the only difference is the dropped function')
  assert.equal(s.a, s.b)
  assert.equal(s.self, s)
  assert.equal(s.f, null, 'functions become null, as a container drops them')
  assert.ok(s.u instanceof User)
  assert.equal((s.v1 as Uint8Array).buffer, (s.v2 as Uint16Array).buffer)
  assert.notEqual((s.v1 as Uint8Array).buffer, buf)
  const unshared = snapshotGraph(s) as Record<string, unknown>
  unshared.b = { s: 1 }
  assert.match(graphDifference(s, unshared) ?? '', /shared reference/)
  const zero = snapshotGraph(s) as Record<string, unknown>
  zero.m = new Map([[zero.a, 0]])
  assert.match(graphDifference(s, zero) ?? '', /expected -0, got 0/)
  assert.equal(graphDifference(s, snapshotGraph(s)), null)
})
