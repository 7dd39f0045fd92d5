// containerCrashTest: a correct program passes; a program that mutates through a raw
// reference (invisible to the write barrier, so never persisted) is caught and shrunk;
// the graph snapshot and comparison keep identity and tell sharing apart.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { containerCrashTest, CrashTestError, snapshotGraph, graphDifference, SimRegion } from '../../../src/testing/index.js'

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

test('containerCrashTest catches mutations the write barrier cannot see', async () => {
  await assert.rejects(containerCrashTest({
    init, operation, classes: [User], runs: 50, lives: 1,
    run: (c, op) => { if ('tag' in op) (c.unwrap(c.root) as Root).meta.count += 1; else apply(c.root as Root, op) },
  }), (e: unknown) => {
    assert.ok(e instanceof CrashTestError)
    // the first point writes the whole graph, so the shrunk case is one earlier op, then the raw mutation
    assert.match(e.message, /Operations \(shrunk\): \[ (\[\], )*\[ \{ \w+: [^}]*\}, \{ tag: -?\d+n \} \]/)
    const m = /root\.meta\.count: expected (\d+), got (\d+)/.exec(e.message)
    assert.ok(m !== null && Number(m[1]) === Number(m[2]) + 1, e.message)
    return true
  })
})

test('containerCrashTest goes on after each recovery: a program wrong only in a later life is caught there', async () => {
  const lives = new WeakSet<object>()
  let first: object | null = null
  await assert.rejects(containerCrashTest({
    init, operation, classes: [User], runs: 15, lives: 3, maxPoints: 10,
    run: (c, op) => {
      first ??= c
      lives.add(c)
      // After a recovery (another Container object), tags go in through a raw reference: lost.
      if ('tag' in op && c !== first) (c.unwrap(c.root) as Root).meta.count += 1
      else apply(c.root as Root, op)
    },
  }), (e: unknown) => {
    assert.ok(e instanceof CrashTestError)
    assert.match(e.message, /life [23],/)
    assert.match(e.message, /Operations \(shrunk\): \[ \[[^\]]*\], /)
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
      init: big, operation, classes: [User], runs: 2, lives: 2, maxOps: 3, imagesPerPoint: 1, maxPoints: 8, streamThreshold: 65536,
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
