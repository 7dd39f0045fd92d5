/**
 * Misuse of every exported container function and method (DESIGN.md s.4): wrong types,
 * out-of-range values, missing arguments, use after close. Each call must throw a PmemError
 * (of the class named where it matters) and change nothing: the container file's bytes
 * stay as they were and no file appears.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { Container } from '../../../src/container/index.js'
import { containerCrashTest } from '../../../src/testing/index.js'
import {
  InvalidArgumentError, NotAPoolError, PmemError, RegionClosedError, RegionNotFoundError, ReadOnlyError, SimRegion,
} from '../../../regions/index.js'

type ErrorClass = abstract new (...args: never[]) => PmemError

interface Row { call: string; run: () => unknown; error?: ErrorClass }

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-misuse-'))
const file = path.join(dir, 'c.pmc')
const missing = path.join(dir, 'missing.pmc')
const other = path.join(dir, 'other.pmc')
class Thing { v = 1 }

/** Every file in the test directory with its bytes (a lock's asides directory, regions/lock.ts inv. L8: its entries). */
function snapshot(): Map<string, Buffer> {
  const contents = (f: string): Buffer => f.endsWith('.lock.asides') ? Buffer.from(fs.readdirSync(path.join(dir, f)).join('/')) : fs.readFileSync(path.join(dir, f))
  return new Map(fs.readdirSync(dir).filter(f => !f.endsWith('.lock')).map(f => [f, contents(f)]))
}

function assertRows(rows: Row[]): void {
  for (const r of rows) {
    const before = snapshot()
    let thrown: unknown = null
    try {
      const out = r.run()
      if (out instanceof Promise) out.catch(() => {})
    } catch (e) { thrown = e }
    assert.ok(thrown !== null, `${r.call}: no error`)
    assert.ok(thrown instanceof PmemError, `${r.call}: threw ${String(thrown)}, not a PmemError`)
    if (r.error) assert.ok(thrown instanceof r.error, `${r.call}: threw ${(thrown as Error).name}, expected ${r.error.name}: ${(thrown as Error).message}`)
    const after = snapshot()
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort(), `${r.call}: files appeared or vanished`)
    for (const [f, b] of before) assert.ok(after.get(f)!.equals(b), `${r.call}: ${f} changed`)
  }
}

const badPaths: unknown[] = [undefined, null, 5, '', {}, [], Symbol('p'), () => 1]
const badOptions: unknown[] = [null, 5, 'full', [], true, () => 1]

test('static functions: Container.open, openRegion, versions, delete, check with wrong types, bad values, missing arguments', async () => {
  const c = Container.open(file, { init: () => ({ list: [1, 2], m: new Map(), t: new Thing() }), classes: [Thing] })
  await c.persist()
  await c.close()
  const rows: Row[] = []
  for (const p of badPaths) {
    for (const name of ['open', 'versions', 'delete', 'check'] as const) {
      rows.push({ call: `Container.${name}(${String(typeof p === 'symbol' ? 'Symbol' : JSON.stringify(p))})`, run: () => (Container[name] as (x: unknown) => unknown)(p), error: InvalidArgumentError })
    }
  }
  for (const o of badOptions) {
    rows.push({ call: `Container.open(file, ${JSON.stringify(o)})`, run: () => Container.open(file, o as never), error: InvalidArgumentError })
    rows.push({ call: `Container.open(missing, ${JSON.stringify(o)})`, run: () => Container.open(missing, o as never), error: InvalidArgumentError })
    rows.push({ call: `Container.openRegion(sim, ${JSON.stringify(o)})`, run: () => Container.openRegion(SimRegion.create({ size: 65536 }), o as never), error: InvalidArgumentError })
  }
  const badFields: Array<[string, unknown]> = [
    ['readonly', true], ['readOnly', 'yes'], ['init', 5], ['version', 0], ['version', 1.5], ['version', '1'], ['version', -1],
    ['keepVersions', 0], ['keepVersions', 65], ['keepVersions', '3'], ['chunkSize', 1000], ['chunkSize', 256], ['chunkSize', 1 << 25],
    ['compactFactor', 1], ['compactFactor', 'x'], ['classes', 5], ['classes', [5]], ['classes', [null]], ['classes', { A: 'x' }],
    ['streamThreshold', -1], ['streamThreshold', 0.5], ['typo', 1], ['track', 'some'], ['track', true],
  ]
  for (const [k, v] of badFields) {
    for (const target of [file, missing]) {
      rows.push({ call: `Container.open(${path.basename(target)}, { ${k}: ${JSON.stringify(v)} })`, run: () => Container.open(target, { init: () => ({}), [k]: v } as never), error: InvalidArgumentError })
    }
    rows.push({ call: `Container.openRegion(sim, { ${k}: ${JSON.stringify(v)} })`, run: () => Container.openRegion(SimRegion.create({ size: 65536 }), { init: () => ({}), [k]: v } as never), error: InvalidArgumentError })
  }
  rows.push(
    { call: 'Container.open(file, { readOnly: true, init })', run: () => Container.open(file, { readOnly: true, init: () => ({}) }), error: InvalidArgumentError },
    { call: 'Container.open(file, { version: 99 })', run: () => Container.open(file, { version: 99 }), error: InvalidArgumentError },
    { call: 'Container.open(missing)', run: () => Container.open(missing), error: RegionNotFoundError },
    { call: 'Container.open(missing, { readOnly: true })', run: () => Container.open(missing, { readOnly: true }), error: RegionNotFoundError },
    { call: 'Container.open(file) without Thing registered', run: () => Container.open(file) },
    { call: 'Container.versions(missing)', run: () => Container.versions(missing), error: RegionNotFoundError },
    { call: 'Container.delete(missing)', run: () => Container.delete(missing), error: RegionNotFoundError },
    { call: 'Container.check(missing)', run: () => Container.check(missing), error: RegionNotFoundError },
    { call: 'Container.openRegion(sim, { readOnly: true }) on a writable region', run: () => Container.openRegion(SimRegion.create({ size: 65536 }), { readOnly: true }), error: InvalidArgumentError },
    { call: 'Container.openRegion(blank sim) without init', run: () => Container.openRegion(SimRegion.create({ size: 65536 })), error: RegionNotFoundError },
  )
  for (const r of [undefined, null, 5, 'sim', {}, [], { unsafeBytes: 1 }]) {
    rows.push({ call: `Container.openRegion(${JSON.stringify(r)})`, run: () => Container.openRegion(r as never), error: InvalidArgumentError })
  }
  const closed = SimRegion.create({ size: 65536 })
  closed.close()
  rows.push({ call: 'Container.openRegion(closed region)', run: () => Container.openRegion(closed, { init: () => ({}) }), error: RegionClosedError })
  const foreign = SimRegion.create({ size: 65536 })
  foreign.unsafeBytes()[100] = 7
  rows.push({ call: 'Container.openRegion(region holding data)', run: () => Container.openRegion(foreign, { init: () => ({}) }), error: NotAPoolError })
  assertRows(rows)
  // Nothing was left open: the file opens for writing.
  const again = Container.open(file, { classes: [Thing] })
  await again.close()
})

test('instance methods: persist, root, register, exclude, unwrap, check, sync, refresh, close with bad arguments, after close, and read-only', async () => {
  const c = Container.open(other, { init: () => ({ list: [{ a: 1 }], m: new Map<string, unknown>(), s: new Set<unknown>() }) })
  await c.persist()
  const rows: Row[] = []
  for (const o of [...badOptions, { full: 'yes' }, { full: 1 }, { fast: true }]) {
    rows.push({ call: `c.persist(${JSON.stringify(o)})`, run: () => c.persist(o as never), error: InvalidArgumentError })
  }
  for (const v of [null, undefined, 5, 'x', 5n, Symbol('r')]) rows.push({ call: `c.root = ${String(typeof v === 'symbol' ? 'Symbol' : v)}`, run: () => { c.root = v as never }, error: InvalidArgumentError })
  for (const [cls, name] of [[undefined, undefined], [5, undefined], ['Thing', undefined], [{}, undefined], [Thing, 5], [Thing, ''], [() => 1, undefined]] as const) {
    rows.push({ call: `c.register(${String(cls)}, ${String(name)})`, run: () => c.register(cls as never, name as never), error: InvalidArgumentError })
  }
  for (const v of [undefined, null, 5, 'x']) rows.push({ call: `c.exclude(${String(v)})`, run: () => c.exclude(v as never), error: InvalidArgumentError })
  rows.push({ call: 'c.exclude(c.root)', run: () => c.exclude(c.root), error: InvalidArgumentError })
  assertRows(rows)
  assert.equal(c.version, 1, 'no point was taken by a refused call')
  const raw = c.root.list[0]    // the init graph: handed out as itself (the program holds it anyway)
  await c.close()
  await c.close()   // idempotent
  raw.a = 5                     // a raw object is an ordinary object after close: nothing refuses, nothing persists
  // Proxies: the objects of a restore, never held raw.
  const r = Container.open(other)
  const root = r.root
  const list = root.list
  const item = list[0]
  const m = root.m, s = root.s
  await r.close()
  const closedRows: Row[] = [
    { call: 'c.persist() after close', run: () => c.persist(), error: RegionClosedError },
    { call: 'c.root after close', run: () => c.root, error: RegionClosedError },
    { call: 'c.root = {} after close', run: () => { c.root = {} as never }, error: RegionClosedError },
    { call: 'c.register after close', run: () => c.register(Thing), error: RegionClosedError },
    { call: 'c.exclude after close', run: () => c.exclude({}), error: RegionClosedError },
    { call: 'c.check() after close', run: () => c.check(), error: RegionClosedError },
    { call: 'root.x = 1 after close', run: () => { (root as Record<string, unknown>).x = 1 }, error: RegionClosedError },
    { call: 'delete root.list after close', run: () => { delete (root as Record<string, unknown>).list }, error: RegionClosedError },
    { call: 'list.push after close', run: () => list.push({ a: 2 }), error: RegionClosedError },
    { call: 'list[0] = 1 after close', run: () => { list[0] = 1 as never }, error: RegionClosedError },
    { call: 'item.a = 2 after close', run: () => { item.a = 2 }, error: RegionClosedError },
    { call: 'Object.defineProperty after close', run: () => Object.defineProperty(item, 'b', { value: 1 }), error: RegionClosedError },
    { call: 'Object.setPrototypeOf after close', run: () => Object.setPrototypeOf(item, null), error: RegionClosedError },
    { call: 'map.set after close', run: () => m.set('k', 1), error: RegionClosedError },
    { call: 'map.delete after close', run: () => m.delete('k'), error: RegionClosedError },
    { call: 'map.clear after close', run: () => m.clear(), error: RegionClosedError },
    { call: 'set.add after close', run: () => s.add(1), error: RegionClosedError },
    { call: 'set.delete after close', run: () => s.delete(1), error: RegionClosedError },
    { call: 'set.clear after close', run: () => s.clear(), error: RegionClosedError },
  ]
  assertRows(closedRows)
  assert.deepEqual(r.unwrap(item), { a: 1 }, 'the refused writes changed nothing in memory either')
  await c.sync()   // after close nothing is pending: it resolves
  const back = Container.open(other)
  assert.deepEqual(back.unwrap(back.root).list, [{ a: 1 }])
  await back.close()
  const ro = Container.open<{ list: Array<{ a: number }>; m: Map<string, unknown>; s: Set<unknown> }>(other, { readOnly: true })
  const roRoot = ro.root
  assertRows([
    { call: 'ro.persist()', run: () => ro.persist(), error: ReadOnlyError },
    { call: 'ro.root = {}', run: () => { ro.root = {} as never }, error: ReadOnlyError },
    { call: 'ro.root.x = 1', run: () => { (roRoot as Record<string, unknown>).x = 1 }, error: ReadOnlyError },
    { call: 'delete ro.root.list', run: () => { delete (roRoot as Record<string, unknown>).list }, error: ReadOnlyError },
    { call: 'ro list.push', run: () => roRoot.list.push({ a: 2 }), error: ReadOnlyError },
    { call: 'ro item.a = 2', run: () => { roRoot.list[0]!.a = 2 }, error: ReadOnlyError },
    { call: 'ro map.set', run: () => roRoot.m.set('k', 1), error: ReadOnlyError },
    { call: 'ro set.add', run: () => roRoot.s.add(1), error: ReadOnlyError },
  ])
  assert.deepEqual(ro.unwrap(roRoot).list, [{ a: 1 }], 'the refused writes changed nothing')
  assert.equal(await ro.refresh(), ro.version)
  await ro.close()
  assert.throws(() => ro.refresh(), RegionClosedError)
})

test('containerCrashTest with a bad spec: InvalidArgumentError before anything runs', async () => {
  const good = { init: () => ({}), operation: fc.nat(), run: () => {} }
  const bad: unknown[] = [
    undefined, null, 5, 'spec', [],
    {}, { ...good, init: 5 }, { ...good, run: undefined }, { ...good, operation: 5 }, { ...good, operation: {} },
    { ...good, runs: 0 }, { ...good, runs: 1.5 }, { ...good, lives: 0 }, { ...good, lives: 'x' }, { ...good, maxOps: -1 },
    { ...good, size: 10 }, { ...good, imagesPerPoint: -1 }, { ...good, keepVersions: 0 }, { ...good, chunkSize: 100 },
    { ...good, classes: [5] }, { ...good, streamThreshold: -5 }, { ...good, seed: 'x' }, { ...good, path: 5 }, { ...good, typo: 1 },
  ]
  for (const spec of bad) {
    await assert.rejects(containerCrashTest(spec as never), (e: unknown) => e instanceof InvalidArgumentError, `spec ${JSON.stringify(spec)}`)
  }
})
