/**
 * Native errors and boxed primitives (natives.ts, container format 6): they persist with
 * their type, message, stack, cause, an AggregateError's errors, every other own property,
 * identity and extensibility, and come back as real errors and boxed primitives, in a fresh
 * process (natives-child.ts), fully or lazily restored; changes made after a point, through
 * a kept raw reference or through `c.root` after a restore, are in the next point (verify.ts
 * inv. V5; natives.ts inv. N3); the format version is 6 only where the log needs it (write.ts
 * inv. F6). Random graphs with errors and boxed values: graph-kit.ts's 'error' and 'boxed'
 * kinds (fuzz, roundtrip, incremental, crash, kill and lazy tests).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { types, inspect } from 'node:util'
import { simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { CorruptionError, SimRegion } from '../../../regions/index.js'
import { regionBacking } from '../../../src/container/backing.js'
import { decodeMeta } from '../../../src/container/meta.js'
import { ByteWriter } from '../../../src/container/writer.js'
import { KIND_BOXED, KIND_ERROR, PROTO_BUILTIN, TAG_REF } from '../../../src/container/format.js'
import { restoreFirst } from './patch-kit.js'
import { HttpError, NATIVE_CLASSES, buildNatives, describeNatives } from './natives-kit.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-natives-'))

interface ChildOut { describe: Record<string, unknown>; ok: boolean; problems: string[]; dropped: { path: string; reason: string }[]; lazy: string | null }

/** What a fresh process restores from `file` (`lazy`: a lazy restore). */
function child(file: string, lazy = false): ChildOut {
  const out = execFileSync(process.execPath, [path.join(here, 'natives-child.js'), file, ...(lazy ? ['lazy'] : [])], { maxBuffer: 1 << 24 }).toString()
  return JSON.parse(out) as ChildOut
}

/** The description of `root` as a point persists it: what cannot persist is null. */
function expected(root: Record<string, unknown>): Record<string, unknown> {
  return describeNatives({ ...root, unregistered: null, sym: null })
}

/** What a read-only open in this process restores from `file` (beside a writer: the steps between the fresh-process checks). */
function restoredHere(file: string, lazy = false): Record<string, unknown> {
  const c = Container.open(file, { classes: NATIVE_CLASSES, readOnly: true, lazy })
  try { return describeNatives(c.root) } finally { void c.close() }
}

function metaFormat(region: SimRegion): number {
  const b = regionBacking(SimRegion.fromImage(region.durableImage(), { path: 'sim.pmc' }), false)
  try { return decodeMeta(b.store!.getMeta(), 'x').format! } finally { b.close() }
}

test('the issue: an error and a boxed string persist and come back as themselves (they came back as null)', async () => {
  const dir = tmp(), f = path.join(dir, 'c.pmc')
  const root = { lastError: new TypeError('disk full', { cause: 'ENOSPC' }), s: new String('x') }
  const c = Container.open(f, { init: () => root })
  await c.persist()
  assert.deepEqual(c.dropped, [])
  await c.close()
  const r = Container.open(f, { readOnly: true })
  const e = r.root.lastError as TypeError
  assert.ok(e instanceof TypeError && types.isNativeError(e))
  assert.deepEqual([e.message, e.cause, e.stack], ['disk full', 'ENOSPC', root.lastError.stack])
  assert.ok(inspect(e).startsWith('TypeError: disk full\n'), 'util.inspect prints it as an error, with its stack')
  assert.equal(String(e), 'TypeError: disk full')
  assert.ok(types.isStringObject(r.root.s) && r.root.s.valueOf() === 'x')
  await r.close()
  fs.rmSync(dir, { recursive: true })
})

test('natives.ts inv. N1, N2: every error type, a cause cycle, nested AggregateErrors, extra own properties, frozen and null-prototype errors, a registered subclass, boxed values: the same in a fresh process, full and lazy; only the unregistered subclass and the Symbol object are dropped', async () => {
  const dir = tmp(), f = path.join(dir, 'c.pmc')
  const root = buildNatives()
  const c = Container.open(f, { init: () => root, classes: NATIVE_CLASSES })
  await c.persist()
  assert.deepEqual(c.dropped.map(d => [d.path, d.reason]), [
    ['root.unregistered', 'instance of unregistered class NotRegistered'],
    ['root.sym', 'boxed Symbol (a symbol cannot persist)'],
  ])
  await c.close()
  const want = expected(root)
  for (const lazy of [false, true]) {
    const got = child(f, lazy)
    assert.deepEqual(got.describe, want, lazy ? 'lazy restore' : 'full restore')
    assert.deepEqual([got.ok, got.problems], [true, []])
    assert.equal(got.lazy, lazy ? 'lazy' : null)
  }
  const check = await Container.check(f)
  assert.deepEqual([check.ok, check.problems], [true, []], 'Container.check (pmem check) decodes the new kinds without the classes')
  const r = Container.open(f, { classes: NATIVE_CLASSES, readOnly: true })
  const http = r.root.http as HttpError
  assert.ok(http instanceof HttpError && http instanceof TypeError && types.isNativeError(http))
  assert.equal(http.status, 404)
  const self = r.root.self as Error
  assert.equal(self.cause, self, 'a cause cycle keeps its identity')
  const agg = r.root.agg as AggregateError
  assert.equal(agg.errors[1], r.root.lastError, 'an AggregateError\'s errors keep identity')
  assert.equal(agg.cause, agg.errors[2])
  assert.ok(Object.isFrozen(r.root.frozen))
  assert.equal((r.root.s as unknown as { extra: { n: number } }).extra.n, 1)
  const snap = r.snapshot() as Record<string, unknown>
  assert.deepEqual(describeNatives(snap), want, 'c.snapshot copies errors and boxed values as a point persists them')
  assert.deepEqual(describeNatives(structuredClone(r.root.agg)), describeNatives(structuredClone(root.agg)), 'structuredClone takes a restored AggregateError as it takes the original')
  await r.close()
  fs.rmSync(dir, { recursive: true })
})

/** Mutations of errors and boxed values (a list: each point makes the next). */
function mutations(root: Record<string, any>): (() => void)[] {
  return [
    () => { root.lastError.message = 'changed'; root.lastError.code = 2 },
    () => { root.lastError.cause = root.self; delete root.self.stack },
    () => { root.s.extra = 'replaced'; root.n.more = [1, 2]; root.agg.errors.push(new RangeError('pushed')) },
    () => { delete root.lastError.cause; root.http.status = 500; Object.preventExtensions(root.bare) },
    () => { root.agg.errors = [root.s]; Object.defineProperty(root.noStack, 'message', { enumerable: true }) },
  ]
}

test('verify.ts inv. V5: errors and boxed values changed through kept raw references persist at the next point (several points, each restored in a fresh process)', async () => {
  for (const track of ['all', 'barriers'] as const) {
    const dir = tmp(), f = path.join(dir, 'c.pmc')
    const root = buildNatives()
    const c = Container.open(f, { init: () => root, classes: NATIVE_CLASSES, track })
    await c.persist()
    for (const [i, m] of mutations(root).entries()) {
      m()
      // track: 'barriers' watches only what the container handed out: raw references the program kept need a full point (README)
      const p = await c.persist({ full: track === 'barriers' })
      assert.ok(p.objects > 0, `${track}, mutation ${i}: the point wrote the changed objects`)
      await c.sync()
      assert.deepEqual(restoredHere(f), expected(root), `${track}, after mutation ${i}`)
    }
    await c.close()
    assert.deepEqual(child(f).describe, expected(root), `${track}, in a fresh process`)
    fs.rmSync(dir, { recursive: true })
  }
})

test('natives.ts inv. N3: changes made through c.root after a restore persist (track all and barriers, full and lazy restores, properties: enumerable)', async () => {
  for (const [track, lazy, properties] of [['all', false, 'all'], ['all', true, 'all'], ['barriers', false, 'all'], ['barriers', true, 'all'], ['all', false, 'enumerable']] as const) {
    const what = `track ${track}, lazy ${lazy}, properties ${properties}`
    const dir = tmp(), f = path.join(dir, 'c.pmc')
    const first = Container.open(f, { init: buildNatives, classes: NATIVE_CLASSES })
    await first.persist()
    await first.close()
    for (let i = 0; i < mutations({}).length; i++) {
      const c = Container.open(f, { classes: NATIVE_CLASSES, track, lazy, properties })
      const root = c.root as Record<string, any>
      mutations(root)[i]()
      assert.equal(String(root.lastError).startsWith('TypeError: '), true, `${what}: toString works on what c.root hands out`)
      assert.ok(types.isNativeError(root.lastError) && inspect(root.lastError).startsWith(String(root.lastError.stack).split('\n')[0]), `${what}: util.inspect prints it as an error`)
      await c.persist()
      const want = describeNatives({ ...c.unwrap(c.root) })
      await c.close()
      assert.deepEqual(restoredHere(f, lazy), want, `${what}, mutation ${i}`)
      if (i === mutations({}).length - 1) assert.deepEqual(child(f, lazy).describe, want, `${what}, in a fresh process`)
    }
    fs.rmSync(dir, { recursive: true })
  }
})

test('write.ts inv. F6: a version is format 6 only while its log may hold an ERROR or BOXED record; a full point without them writes 5 again', async () => {
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ a: 1 } as Record<string, unknown>) })
  await c.persist()
  assert.equal(metaFormat(region), 5, 'no errors: format 5, which format-5 libraries open')
  c.root.e = new Error('x')
  await c.persist()
  assert.equal(metaFormat(region), 6)
  c.root.e = null
  await c.persist()
  assert.equal(metaFormat(region), 6, 'the superseded ERROR record is still in the log')
  await c.persist({ full: true })
  assert.equal(metaFormat(region), 5, 'a full point rewrote the log without it')
  c.root.b = Object(1n)
  await c.persist()
  assert.equal(metaFormat(region), 6, 'a BOXED record too')
  await c.close()
  const reopened = SimRegion.fromImage(region.durableImage(), { path: 'sim.pmc' })
  const again = Container.openRegion(reopened)
  again.root.x = 2
  await again.persist()
  assert.equal(metaFormat(reopened), 6, 'a reopened version-6 log appended to stays 6 (open.ts sets the writer\'s format)')
  assert.equal(again.unwrap(again.root).b.valueOf(), 1n)
  await again.close()
})

test('format.ts ERROR and BOXED records: damage is CorruptionError (unknown error type, a boxed reference, a boxed non-primitive)', () => {
  const record = (kind: number, body: (w: ByteWriter) => void): Uint8Array => {
    const w = new ByteWriter(256)
    const at = w.beginRecord(1)
    w.u8(kind); w.varint(PROTO_BUILTIN); body(w)
    w.endRecord(at)
    return Buffer.concat(w.parts())
  }
  const good = restoreFirst(record(KIND_ERROR, w => w.u8(5)), 'natives')
  assert.ok(good instanceof TypeError && Reflect.ownKeys(good).length === 0, 'a TypeError with no own property: stack deleted (inv. N1)')
  assert.equal((restoreFirst(record(KIND_BOXED, w => w.str('ab')), 'natives') as string).valueOf(), 'ab')
  for (const [what, bytes] of [
    ['an unknown error type', record(KIND_ERROR, w => w.u8(8))],
    ['a boxed reference', record(KIND_BOXED, w => { w.u8(TAG_REF); w.varint(1) })],
    ['a boxed null', record(KIND_BOXED, w => w.u8(0xa1))],
  ] as const) {
    assert.throws(() => restoreFirst(bytes, 'natives'), (e: unknown) => e instanceof CorruptionError, what)
  }
})

test('natives.ts inv. N2: a String object\'s index keys and length are its value\'s, never PROPS entries (a 1,000-character String is a record of about 1 KB); an index past its end is', async () => {
  const region = simRegion()
  const s = new String('x'.repeat(1000)) as String & Record<number, string>
  s[2000] = 'past the end'
  const c = Container.openRegion(region, { init: () => ({ s }) })
  const p = await c.persist()
  assert.ok(p.bytes < 1200, `${p.bytes} bytes written (6 KB and more with an entry per character)`)
  await c.close()
  const r = Container.openRegion(SimRegion.fromImage(region.durableImage(), { path: 'sim.pmc' }))
  const back = r.root.s as String & Record<number, string>
  assert.deepEqual([back.length, back[999], back[2000], Object.getOwnPropertyNames(back).length], [1000, 'x', 'past the end', 1002])
  await r.close()
})
