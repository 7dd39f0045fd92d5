/**
 * barrier.ts inv. 10, exposure.ts inv. E2: a restored object handed out raw (an error, a
 * Date, a RegExp, a boxed primitive, an ArrayBuffer, a DataView, an instance of a class with
 * hooks) holds the objects of its own properties as the same proxies every other path hands
 * out, whichever the program read first. Before: in the default mode, reading such an object
 * exposed what it held and retired proxies the program already had (`c.root.users.get('ada')
 * === ada` false afterwards); in barriers mode and read-only the object held the raw targets
 * (`e.cause === c.root.shared` false; in a read-only container a write through `e.cause` was
 * accepted without ReadOnlyError). `c.unwrap` still gives a graph without proxies.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { types } from 'node:util'
import { Container } from '../../../src/container/index.js'
import { ReadOnlyError } from '../../../regions/index.js'

class Acct {
  #bal = 0
  owner: object
  constructor(owner: object) { this.owner = owner }
  get bal(): number { return this.#bal }
  dep(x: number): void { this.#bal += x }
  static [Container.save](o: Acct): unknown { return { bal: o.#bal } }
  static [Container.revive](o: Acct, s: { bal: number }): void { o.#bal = s.bal }
}
const classes = { Acct }

/** Names of the objects handed out raw, and how to read, from each, the object it shares with the root's `shared`. */
const HOLDERS: Record<string, (r: Record<string, any>) => unknown> = {
  err: r => r.err.cause,
  agg: r => r.agg.errors[0],
  date: r => r.date.tag,
  re: r => r.re.tag,
  boxed: r => r.boxed.tag,
  dv: r => r.dv.tag,
  ab: r => r.ab.tag,
  acct: r => r.acct.owner,
}

function graph(): Record<string, unknown> {
  const shared = { s: 1 }
  const tagged = <T extends object>(o: T): T => Object.assign(o, { tag: shared })
  return {
    shared,
    err: new Error('e', { cause: shared }),
    agg: new AggregateError([shared], 'agg'),
    date: tagged(new Date(5)), re: tagged(/a/g), boxed: tagged(new String('ab')),
    dv: tagged(new DataView(new ArrayBuffer(8))), ab: tagged(new ArrayBuffer(4)),
    acct: new Acct(shared),
  }
}

function made(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-native-id-'))
  return path.join(dir, 'c.pmc')
}

async function write(file: string): Promise<void> {
  const c = Container.open(file, { init: graph, classes })
  await c.persist()
  await c.close()
}

const MODES = [
  { name: 'default', options: {} },
  { name: 'default, lazy', options: { lazy: true } },
  { name: 'barriers', options: { track: 'barriers' as const } },
  { name: 'barriers, lazy', options: { track: 'barriers' as const, lazy: true } },
  { name: 'read-only', options: { readOnly: true } },
  { name: 'read-only, lazy', options: { readOnly: true, lazy: true } },
]

test('inv. 10: what a raw-handed object holds is the object every other path gives, in either order, in every mode', async () => {
  const file = made()
  await write(file)
  for (const { name, options } of MODES) {
    for (const holder of Object.keys(HOLDERS)) {
      for (const sharedFirst of [true, false]) {
        const c = Container.open(file, { classes, ...options })
        const r = c.root as Record<string, any>
        let first: unknown, second: unknown
        if (sharedFirst) { first = r.shared; second = HOLDERS[holder](r) } else { second = HOLDERS[holder](r); first = r.shared }
        const where = `${name}, ${holder}, ${sharedFirst ? 'shared read first' : 'holder read first'}`
        assert.equal(second, first, `${where}: one object`)
        assert.equal(r.shared, first, `${where}: the root still gives the same object`)
        for (const other of Object.keys(HOLDERS)) assert.equal(HOLDERS[other](r), first, `${where}: ${other} too`)
        await c.close()
      }
    }
  }
})

test('inv. 10: writes through what a raw-handed object holds persist (or are refused read-only), and reading changes nothing', async () => {
  for (const { name, options } of MODES) {
    const file = made()
    await write(file)
    const c = Container.open(file, { classes, ...options })
    const r = c.root as Record<string, any>
    const e = r.err, d = r.date
    if ('readOnly' in options) {
      assert.throws(() => { e.cause.s = 2 }, ReadOnlyError, `${name}: a write through e.cause is refused`)
      await c.close()
      continue
    }
    assert.equal(e.cause, r.shared, name)
    const before = r.boxed.tag
    assert.equal((await c.persist()).objects, 1, `${name}: reading writes only the revived instance (dirty by its hooks)`)
    assert.equal((await c.persist()).objects, 0, `${name}: nothing changed`)
    e.cause.s = 2
    assert.equal((await c.persist()).objects, 1, `${name}: one object through the proxy`)
    const fresh = { n: 1 }
    e.extra = fresh
    d.tag.s = 3
    await c.persist()
    fresh.n = 2     // a new object stored raw, changed through the program's reference
    await c.persist()
    assert.equal(before, r.shared)
    await c.close()
    const back = Container.open(file, { classes, readOnly: true })
    const q = back.root as Record<string, any>
    assert.equal(q.shared.s, 3, name)
    assert.equal(q.err.extra.n, 2, name)
    assert.equal(q.err.cause, q.shared, name)
    await back.close()
  }
})

test('inv. E2: c.unwrap gives the raw graph, no proxies in what was handed out holding them', async () => {
  const file = made()
  await write(file)
  for (const { name, options } of MODES.filter(m => !('readOnly' in m.options))) {
    const c = Container.open(file, { classes, ...options })
    const r = c.root as Record<string, any>
    for (const k of Object.keys(HOLDERS)) HOLDERS[k](r)     // each holder handed out, holding proxies
    const raw = c.unwrap(c.root) as Record<string, any>
    assert.equal(types.isProxy(raw.shared), false, name)
    for (const k of Object.keys(HOLDERS)) {
      const x = HOLDERS[k](raw)
      assert.equal(types.isProxy(x), false, `${name}: ${k} holds the raw object`)
      assert.equal(x, raw.shared, `${name}: ${k}`)
    }
    assert.doesNotThrow(() => structuredClone(raw.err), name)
    raw.shared.s = 9     // raw, exposed: persisted by the comparison (default) or the watch (barriers)
    await c.persist()
    await c.close()
    const back = Container.open(file, { classes, readOnly: true })
    assert.equal((back.root as Record<string, any>).err.cause.s, 9, name)
    await back.close()
    await write(file)
  }
})

test('restore.ts: a lazy open that restores whole (an instance of a class with hooks is current) fills every object', async () => {
  // Before: the whole restore went on with the restorer the lazy index scan had left part-way,
  // and this graph's AggregateError came back with `errors` [ <1 empty item> ].
  const file = made()
  await write(file)
  for (const options of [{ lazy: true }, { lazy: true, readOnly: true }, { lazy: true, track: 'barriers' as const }]) {
    const c = Container.open(file, { classes, ...options })
    assert.equal(c.lazy, null, 'restored whole')
    const r = c.root as Record<string, any>
    assert.equal(r.err.cause.s, 1)
    assert.equal(r.agg.errors.length, 1)
    assert.equal(0 in r.agg.errors, true, 'errors[0] is there')
    assert.equal(r.agg.errors[0], r.shared)
    assert.equal(r.dv.tag, r.shared)
    await c.close()
  }
})

test('inv. 11: an object handed out raw and exposed is handed out at once by later reads, and what is done to it still persists, across full points', async () => {
  const file = made()
  await write(file)
  const c = Container.open(file, { classes })
  await new Promise(resolve => setTimeout(resolve, 50))     // the restore's ids stamped (tables.ts inv. T2)
  const r = c.root as Record<string, any>
  const d = r.date, e = r.err
  assert.equal(r.date, d)
  assert.equal(r.err, e)
  d.setTime(77); d.note = 'n1'; e.message = 'm1'
  assert.equal(r.date.getTime(), 77)
  await c.persist()
  d.setTime(78); d.note = 'n2'
  await c.persist({ full: true })
  d.setTime(79); e.message = 'm2'; e.cause.s = 5
  assert.equal(r.date, d)
  await c.persist()
  await c.close()
  const back = Container.open(file, { classes, readOnly: true })
  const q = back.root as Record<string, any>
  assert.equal(q.date.getTime(), 79)
  assert.equal(q.date.note, 'n2')
  assert.equal(q.err.message, 'm2')
  assert.equal(q.shared.s, 5)
  await back.close()
})

test('inv. 10: an object the program made is left as it is: its error still holds the program\'s own objects after points', async () => {
  for (const track of ['all', 'barriers'] as const) {
    const file = made()
    const x = { x: 1 }
    const e = new Error('mine', { cause: x })
    const c = Container.open(file, { track, init: () => ({}) })
    const r = c.root as Record<string, any>
    r.err = e
    await c.persist()
    assert.equal(r.err, e, track)
    assert.equal(e.cause, x, `${track}: the program's error still holds its own object`)
    await c.persist()
    assert.equal(r.err.cause, x, track)
    await c.close()
  }
})
