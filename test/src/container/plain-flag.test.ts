/**
 * The `plain` flags (dirty.ts inv. D2, encode.ts inv. 5): after a restore, the record of a
 * proxied plain object or class instance whose last record held everything it had is written
 * without looking at its own keys again, unless a trap of its proxy may have given it
 * something beyond its body since. Each case below writes the object's record once (so its
 * flag is set), then changes it through the proxy in a way that adds something beyond the
 * body, and checks that the next point persisted it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'

class Box { constructor(public a = 0) {} }

const S = Symbol.for('plain-flag.s')

/** A restored container whose `o` and `box` had a record written in this life (flags set), and the region. */
async function flagged(): Promise<{ region: ReturnType<typeof simRegion>; c: Container<any> }> {
  const { region, c } = await restored()
  c.root.o.a = 2
  c.root.box.a = 2
  const st = await c.persist()          // writes both records: their flags are set now
  assert.equal(st.objects, 2)
  return { region, c }
}

async function reopened(region: ReturnType<typeof simRegion>): Promise<any> {
  const f = Container.openRegion(region, { classes: [Box] })
  const r = f.unwrap(f.root) as any
  await f.close()
  return r
}

/** Persists `c`, closes it and checks the reopened `o` and `box` with `check` (each case also set `o.b` to 'y'). */
async function persistsChecked(region: ReturnType<typeof simRegion>, c: Container<any>, check: (r: any) => void): Promise<void> {
  await c.persist()
  await c.close()
  const r = await reopened(region)
  check(r.o)
  check(r.box)
  assert.ok(r.box instanceof Box)
  assert.equal(r.o.b, 'y')
}

const cases: [string, (o: any) => void, (r: any) => void][] = [
  ['a symbol-keyed property set', o => { o[S] = 'sym' }, r => assert.equal(r[S], 'sym')],
  ['a non-enumerable property defined', o => { Object.defineProperty(o, 'hidden', { value: 'h', enumerable: false, writable: true, configurable: true }) },
    r => assert.deepEqual(Object.getOwnPropertyDescriptor(r, 'hidden'), { value: 'h', enumerable: false, writable: true, configurable: true })],
  ['a new property defined with { value } alone (non-enumerable)', o => { Object.defineProperty(o, 'fresh', { value: 3 }) },
    r => assert.deepEqual(Object.getOwnPropertyDescriptor(r, 'fresh'), { value: 3, enumerable: false, writable: false, configurable: false })],
  ['an existing property made non-enumerable', o => { Object.defineProperty(o, 'a', { enumerable: false }) },
    r => assert.equal(Object.getOwnPropertyDescriptor(r, 'a')?.enumerable, false)],
  ['preventExtensions', o => { Object.preventExtensions(o) }, r => assert.equal(Object.isExtensible(r), false)],
]

for (const [what, change, check] of cases) {
  test(`D2: ${what} through the proxy after the object's record was written persists (plain object and class instance)`, async () => {
    const { region, c } = await flagged()
    change(c.root.o)
    change(c.root.box)
    c.root.o.b = 'y'                     // an ordinary set on top: the record is due anyway
    await persistsChecked(region, c, check)
  })
}

test('D2: ordinary sets and new enumerable properties keep the flag, and what they write persists', async () => {
  const { region, c } = await flagged()
  c.root.o.a = 3
  c.root.o.c = [1]
  c.root.box.a = 3
  await c.persist()
  c.root.o.a = 4
  delete c.root.o.b
  await c.persist()
  await c.close()
  const r = await reopened(region)
  assert.deepEqual(r.o, { a: 4, c: [1] })
  assert.equal(r.box.a, 3)
})

test('inv. 5: once handed out raw (exposed), an object with its flag set is looked at again: a symbol key added raw persists', async () => {
  const { region, c } = await flagged()
  const raw = c.unwrap(c.root.o) as any
  raw[S] = 'raw'
  raw.b = 'z'
  await c.persist()
  await c.close()
  const r = await reopened(region)
  assert.equal(r.o[S], 'raw')
  assert.equal(r.o.b, 'z')
})

/** A container persisted once, closed, and open again: the restore set the flags of `o` and `box` (decode.ts `flags`). */
async function restored(): Promise<{ region: ReturnType<typeof simRegion>; c: Container<any> }> {
  const region = simRegion()
  const c0 = Container.openRegion(region, { classes: [Box], init: () => ({ o: { a: 1, b: 'x' }, box: new Box(1) }) })
  await c0.persist()
  await c0.close()
  return { region, c: Container.openRegion(region, { classes: [Box] }) }
}

const turn = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

for (const stamped of [false, true]) {
  for (const [what, change, check] of cases) {
    test(`D2 after a restore (flag from the record), ${stamped ? 'ids stamped' : 'before the ids are stamped (deferredBeyond)'}: ${what} through the proxy persists`, async () => {
      const { region, c } = await restored()
      if (stamped) { await turn(); await turn() }       // background stamping (tables.ts inv. T2) done
      change(c.root.o)
      change(c.root.box)
      c.root.o.b = 'y'
      c.root.box.a = 5
      await persistsChecked(region, c, check)
    })
  }
}

test('D2 after a restore: an object restored from a record with a PROPS section is looked at, so its symbol key and hidden property stay at its next record', async () => {
  const region = simRegion()
  const o: any = { a: 1 }
  o[S] = 'sym'
  Object.defineProperty(o, 'hidden', { value: 'h', enumerable: false, writable: true, configurable: true })
  const box: any = new Box(1)
  box[S] = 'boxed'
  const c0 = Container.openRegion(region, { classes: [Box], init: () => ({ o, box }) })
  await c0.persist()
  await c0.close()
  const c = Container.openRegion(region, { classes: [Box] })
  c.root.o.a = 2           // an ordinary set: no trap that clears a flag
  c.root.box.a = 2
  await c.persist()
  await c.close()
  const r = await reopened(region)
  assert.equal(r.o.a, 2)
  assert.equal(r.o[S], 'sym')
  assert.deepEqual(Object.getOwnPropertyDescriptor(r.o, 'hidden'), { value: 'h', enumerable: false, writable: true, configurable: true })
  assert.equal(r.box.a, 2)
  assert.equal(r.box[S], 'boxed')
  assert.ok(r.box instanceof Box)
})

test('a set through the proxy stores on the target directly (own writable property), and a set through an object inheriting from the proxy defines the property on that object', async () => {
  const { region, c } = await restored()
  const child = Object.create(c.root.o) as any
  child.a = 5                                        // the receiver is the child: an own property of it
  assert.ok(Object.hasOwn(child, 'a'))
  assert.equal(child.a, 5)
  assert.equal(c.root.o.a, 1)
  c.root.o.b = { deep: 1 }                             // through the proxy itself: stored raw, persisted
  c.root.o.b.deep = 2
  c.root.box.a = 7
  await c.persist()
  await c.close()
  const r = await reopened(region)
  assert.deepEqual(r.o, { a: 1, b: { deep: 2 } })
  assert.equal(r.box.a, 7)
})
