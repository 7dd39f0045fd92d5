/**
 * Values at the edges of what JavaScript makes (session 14, brief edge25), each restored in
 * a fresh process (edge-values-child.ts): an own accessor whose getter throws (props.ts inv.
 * P1: the `callee` of a strict-mode `arguments` object made every later point throw), and a
 * sparse array of length 2^32 - 1 (encode-bodies.ts inv. B1: a point counted its holes one
 * by one, minutes per point); session 15: an enumerable own getter that throws (trap-failures.ts
 * inv. TF2: it failed every point while it threw).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Container } from '../../../src/container/index.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'pm-edge-'))

function restored(file: string, lazy = false): { root: Record<string, unknown>; ok: boolean } {
  return JSON.parse(execFileSync(process.execPath, [path.join(here, 'edge-values-child.js'), file, ...(lazy ? ['lazy'] : [])]).toString())
}

/** A module is strict: its functions' arguments objects have the `callee` poison pill. */
function strictArgs(..._: unknown[]): IArguments { return arguments }     // eslint-disable-line prefer-rest-params
/** A sloppy-mode function's: `callee` is a data property holding the function. */
const sloppyArgs = new Function('return arguments') as (...a: unknown[]) => IArguments

const THREW = /^accessor property whose getter threw \(TypeError: 'caller', 'callee', and 'arguments' properties may not be accessed/

for (const track of ['all', 'barriers'] as const) {
  test(`props.ts inv. P1: a strict-mode arguments object under the root never fails a point; it persists as an object with its elements and length, callee reported (track '${track}', stored in init and through a proxy after a restore)`, async () => {
    const file = path.join(tmp(), 'args.pmc')
    const c = Container.open<Record<string, unknown>>(file, { init: () => ({ a: strictArgs(1, 'two'), n: 0 }), track })
    await c.persist()
    assert.match(c.dropped.find(d => d.path === 'root.a.callee')?.reason ?? '', THREW)
    assert.ok(c.dropped.some(d => d.path === 'root.a[Symbol(Symbol.iterator)]' && d.reason === 'function'))
    c.root.n = 1
    await c.persist()                    // before: every later point threw the TypeError
    await c.close()
    const iter = { 'Symbol(Symbol.iterator)': '-w null' }     // a function: reported, restored as null as every dropped value is
    const want = { 0: 'ew 1', 1: 'ew two', length: '-w 2', ...iter }
    assert.deepEqual(restored(file), { root: { a: want, n: '1' }, ok: true })
    const d = Container.open<Record<string, unknown>>(file, { track })
    d.root.b = strictArgs(3)
    d.root.s = sloppyArgs(4)
    d.root.n = 2
    await d.persist()
    assert.match(d.dropped.find(x => x.path === 'root.b.callee')?.reason ?? '', THREW)
    assert.equal(d.dropped.find(x => x.path === 'root.s.callee')?.reason, 'function')
    await d.close()
    for (const lazy of [false, true]) assert.deepEqual(restored(file, lazy), { root: { a: want, n: '2', b: { 0: 'ew 3', length: '-w 1', ...iter }, s: { 0: 'ew 4', length: '-w 1', callee: '-w null', ...iter } }, ok: true })
  })
}

test('props.ts inv. P1: a non-enumerable or Symbol.for-keyed getter that throws is reported and absent; once it stops throwing, the next point persists its value (the verifier sees the change)', async () => {
  const file = path.join(tmp(), 'getters.pmc')
  let fail = true
  const get = (): number => { if (fail) throw new RangeError('not yet'); return 7 }
  const o = Object.defineProperty({ a: 1 }, 'hidden', { get, enumerable: false, configurable: true })
  Object.defineProperty(o, Symbol.for('s'), { get, enumerable: false, configurable: true })
  const c = Container.open<{ o: object; n: number }>(file, { init: () => ({ o, n: 0 }) })
  await c.persist()
  const why = 'accessor property whose getter threw (RangeError: not yet): not persisted (the property is absent after a restore)'
  assert.deepEqual(c.dropped.map(d => `${d.path}: ${d.reason}`), [`root.o.hidden: ${why}`, `root.o[Symbol(s)]: ${why}`])
  c.root.n = 1
  assert.equal((await c.persist()).objects, 1, 'the getter still throws: o is unchanged')
  assert.deepEqual(restored(file).root.o, { a: 'ew 1' })
  fail = false
  assert.equal((await c.persist()).objects, 1, 'o is encoded again')
  assert.ok(c.dropped.every(d => !d.reason.includes('threw')))
  await c.close()
  assert.deepEqual(restored(file).root.o, { a: 'ew 1', hidden: '-w 7', 'Symbol(s)': '-w 7' })
})

test('encode-bodies.ts inv. B1: an array with only its last index 2^32 - 2 set persists and restores at once (a point counted its 4 billion holes one by one), through a proxy too', async () => {
  // A trip-wire instead of a clock: reading the hole at TRIP (as counting holes one by one
  // does) finds this getter on Array.prototype, which fails the point at once.
  const TRIP = '100000'
  Object.defineProperty(Array.prototype, TRIP, { get() { throw new Error(`a point read hole ${TRIP}: it counts holes one by one`) }, configurable: true })
  try {
    const file = path.join(tmp(), 'sparse.pmc')
    const last = 2 ** 32 - 2
    const a: unknown[] = [1]
    a[last] = 'end'
    const c = Container.open<{ a: unknown[] }>(file, { init: () => ({ a }) })
    await c.persist()
    a[5] = 'raw'
    await c.persist()
    await c.close()
    const want = { length: 2 ** 32 - 1, keys: ['0', '5', String(last)], last: 'end' }
    assert.deepEqual(restored(file), { root: { a: want }, ok: true })
    const d = Container.open<{ a: unknown[] }>(file, { lazy: true })
    d.root.a[9] = 'proxy'
    d.root.a.length = 10
    d.root.a[last] = 'again'
    await d.persist()
    await d.close()
    assert.deepEqual(restored(file), { root: { a: { length: 2 ** 32 - 1, keys: ['0', '5', '9', String(last)], last: 'again' } }, ok: true })
  } finally {
    delete (Array.prototype as unknown as Record<string, unknown>)[TRIP]
  }
})

for (const track of ['all', 'barriers'] as const) {
  test(`trap-failures.ts inv. TF1: a program's proxy whose traps throw fails one point, then is dropped and reported, and persists again once they stop (track '${track}')`, async () => {
    const file = path.join(tmp(), 'traps.pmc')
    let failKeys = true, failGet = false
    const keysProxy = new Proxy({ a: 1 }, { ownKeys(t) { if (failKeys) throw new Error('ownKeys trap'); return Reflect.ownKeys(t) } })
    const getProxy = new Proxy({ b: 2 }, { get(t, k, r) { if (failGet) throw new TypeError('get trap'); return Reflect.get(t, k, r) } })
    const c = Container.open<Record<string, unknown>>(file, { init: () => ({ k: keysProxy, g: getProxy, n: 0 }), track })
    assert.throws(() => c.persist(), /ownKeys trap/, 'the point that meets it throws, as before')
    await c.persist()                    // before: this and every later point threw
    assert.deepEqual(c.dropped.map(d => `${d.path}: ${d.reason}`), ['root.k: proxy whose trap threw (ownKeys trap)'])
    c.root.n = 1
    await c.persist()
    assert.deepEqual(restored(file), { root: { k: 'null', g: { b: 'ew 2' }, n: '1' }, ok: true })
    if (track === 'all') {             // a proxy that persisted, then throws: met by the verifier (with 'barriers' nothing reads it again)
      failGet = true
      c.root.n = 2
      assert.throws(() => c.persist(), /get trap/)
      await c.persist()
      assert.deepEqual(c.dropped.map(d => `${d.path}: ${d.reason}`), ['root.k: proxy whose trap threw (ownKeys trap)', 'root.g: proxy whose trap threw (get trap)'])
      assert.deepEqual(restored(file).root, { k: 'null', g: 'null', n: '2' })
    }
    failKeys = false
    failGet = false
    c.root.n = 3
    await c.persist({ full: true })      // every object is classified again: the proxies' traps are tried again
    assert.deepEqual(c.dropped, [])
    await c.close()
    assert.deepEqual(restored(file), { root: { k: { a: 'ew 1' }, g: { b: 'ew 2' }, n: '3' }, ok: true })
  })
}

for (const properties of ['all', 'enumerable'] as const) {
  test(`trap-failures.ts inv. TF2: an enumerable own getter that throws fails one point, then its object persists without it (reported, raw changes to the rest kept), and with it once it returns (properties '${properties}')`, async () => {
    const file = path.join(tmp(), 'enum-getter.pmc')
    let fail = true, later = false
    const get = (): number => { if (fail) throw new RangeError('not yet'); return 7 }
    const getLater = (): number => { if (later) throw new TypeError('broke'); return 8 }
    const o = Object.defineProperty({ a: 1 } as Record<string, unknown>, 'g', { get, enumerable: true, configurable: true })
    // A null prototype: the comparison's generic loop (verify-compare.ts), not the compiled one.
    const i = Object.defineProperty(Object.assign(Object.create(null), { n: 1 }) as Record<string, unknown>, 'h', { get: getLater, enumerable: true, configurable: true })
    const c = Container.open<Record<string, unknown>>(file, { init: () => ({ o, i, n: 0 }), properties })
    assert.throws(() => c.persist(), /not yet/, 'the point that meets it throws, as before')
    await c.persist()                    // before: this and every later point threw
    const why = (e: string) => `accessor property whose getter threw (${e}): not persisted (the property is absent after a restore)`
    const threw = () => c.dropped.filter(d => d.reason.includes('threw')).map(d => `${d.path}: ${d.reason}`).sort()
    assert.deepEqual(threw(), [`root.o.g: ${why('RangeError: not yet')}`])
    o.a = 2                              // a raw change beside the throwing getter: persisted
    c.root.n = 1
    await c.persist()
    assert.deepEqual(threw(), [`root.o.g: ${why('RangeError: not yet')}`], 'reported at each point while it throws')
    assert.deepEqual(restored(file).root.o, { a: 'ew 2' })
    later = true                         // a getter that persisted, then throws: met by the comparison (verify.ts), i unchanged
    c.root.n = 2
    assert.throws(() => c.persist(), /broke/)
    await c.persist()
    assert.deepEqual(threw(), [`root.i.h: ${why('TypeError: broke')}`, `root.o.g: ${why('RangeError: not yet')}`])
    assert.deepEqual(restored(file).root.i, { n: 'ew 1' })
    fail = false
    later = false
    await c.persist()
    assert.deepEqual(threw(), [])
    await c.close()
    for (const lazy of [false, true]) assert.deepEqual(restored(file, lazy).root, { o: { a: 'ew 2', g: 'ew 7' }, i: { n: 'ew 1', h: 'ew 8' }, n: '2' })
    // After a restore: a getter defined through the container's proxy.
    const d = Container.open<Record<string, Record<string, unknown>>>(file, { lazy: true, properties })
    fail = true
    Object.defineProperty(d.root.o, 'g2', { get, enumerable: true, configurable: true })
    assert.throws(() => d.persist(), /not yet/)
    d.root.o.a = 3
    await d.persist()
    assert.deepEqual(d.dropped.filter(x => x.reason.includes('threw')).map(x => x.path), ['root.o.g2'])
    await d.close()
    assert.deepEqual(restored(file).root.o, { a: 'ew 3', g: 'ew 7' })
  })

  test(`trap-failures.ts inv. TF2: an array element (or named property) whose getter throws fails one point, then the array persists without it (a hole, reported), raw changes to its other elements kept; with it once it returns (properties '${properties}', 5 and 300 elements, lazy restore)`, async () => {
    const file = path.join(tmp(), 'array-getter.pmc')
    let fail = true, later = false
    const get = (): number => { if (fail) throw new RangeError('not yet'); return 7 }
    const getLater = (): number => { if (later) throw new TypeError('broke'); return 8 }
    const small = Object.defineProperty([0, 1, 2, 3, 4], 2, { get, enumerable: true, configurable: true })
    const big = Array.from({ length: 300 }, (_, i) => i)     // segmented (over 256 elements, segments.ts)
    Object.defineProperty(big, 250, { get: getLater, enumerable: true, configurable: true })
    Object.defineProperty(big, 'tag', { get, enumerable: true, configurable: true })
    const c = Container.open<Record<string, unknown>>(file, { init: () => ({ small, big, n: 0 }), properties })
    assert.throws(() => c.persist(), /not yet/, 'the point that meets small[2] throws, as before')
    assert.throws(() => c.persist(), /not yet/, 'the next meets big.tag (each getter fails the point that meets it first)')
    await c.persist()                    // before: this and every later point threw
    const why = (e: string) => `accessor property whose getter threw (${e}): not persisted (the property is absent after a restore)`
    const threw = () => c.dropped.filter(d => d.reason.includes('threw')).map(d => `${d.path}: ${d.reason}`).sort()
    assert.deepEqual(threw(), [`root.big.tag: ${why('RangeError: not yet')}`, `root.small[2]: ${why('RangeError: not yet')}`])
    small[0] = 10                        // raw changes beside the throwing getters: persisted
    big[1] = 11
    c.root.n = 1
    await c.persist()
    assert.deepEqual(threw(), [`root.big.tag: ${why('RangeError: not yet')}`, `root.small[2]: ${why('RangeError: not yet')}`], 'reported at each point while it throws')
    let r = restored(file).root as Record<string, Record<string, string>>
    assert.deepEqual(r.small, { 0: 'ew 10', 1: 'ew 1', 3: 'ew 3', 4: 'ew 4', length: '-w 5' }, 'index 2 a hole')
    assert.equal(r.big![1], 'ew 11')
    assert.equal(r.big![250], 'ew 8')
    assert.equal(r.big!.tag, undefined)
    fail = false
    await c.persist()
    assert.deepEqual(threw(), [])
    later = true                         // a getter that persisted, then throws: met by the comparison (verify.ts: the first life's arrays are exposed)
    c.root.n = 2
    assert.throws(() => c.persist(), /broke/)
    await c.persist()
    assert.deepEqual(threw(), [`root.big[250]: ${why('TypeError: broke')}`])
    r = restored(file).root as Record<string, Record<string, string>>
    assert.equal(r.big![250], undefined)
    assert.equal(r.big![251], 'ew 251')
    later = false
    await c.persist()
    assert.deepEqual(threw(), [])
    await c.close()
    for (const lazy of [false, true]) {
      r = restored(file, lazy).root as Record<string, Record<string, string>>
      assert.deepEqual(r.small, { 0: 'ew 10', 1: 'ew 1', 2: 'ew 7', 3: 'ew 3', 4: 'ew 4', length: '-w 5' })
      assert.equal(r.big![250], 'ew 8')
      assert.equal(r.big!.tag, 'ew 7')
    }
    // After a restore (lazy): a getter defined through the container's proxy, on an element.
    const d = Container.open<Record<string, unknown[]>>(file, { lazy: true, properties })
    fail = true
    Object.defineProperty(d.root.small, 1, { get, enumerable: true, configurable: true })
    assert.throws(() => d.persist(), /not yet/)
    d.root.small![4] = 44
    await d.persist()
    assert.deepEqual(d.dropped.filter(x => x.reason.includes('threw')).map(x => x.path), ['root.small[1]'])
    d.root.small![3] = 33
    await d.persist()
    await d.close()
    assert.deepEqual(restored(file).root.small, { 0: 'ew 10', 2: 'ew 7', 3: 'ew 33', 4: 'ew 44', length: '-w 5' })
  })
}
