/**
 * Non-writable, non-configurable properties read through the write barriers (barrier.ts
 * inv. 6, pinned.ts): a proxy must return such a property's own value (the platform's proxy
 * invariant, a TypeError otherwise), so the barrier hands it out raw, and exposed: a mutation
 * through it is seen by the next point. Each way a proxied object gets such a property, after
 * a full and a lazy restore.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { types } from 'node:util'
import { Container, type ContainerOptions } from '../../../src/container/index.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-pinned-'))
let files = 0
const fresh = (): string => path.join(dir, `${files++}.pmc`)
const PINNED = { writable: false, configurable: false }
type Holder = Record<string, { x: number }>

/** Persists `init` in a first life; returns the file. */
async function made(init: () => object, options: ContainerOptions<object> = {}): Promise<string> {
  const file = fresh()
  const c = Container.open(file, { ...options, init })
  await c.persist()
  await c.close()
  return file
}

/**
 * In a new life opened with `lazy`: `holder(c)` is a proxy whose property `k` is non-writable
 * and non-configurable and holds an object; reads it (through `get` and through its
 * descriptor), mutates it through what was handed out, and checks the next life sees the
 * mutation and the property's attributes.
 */
async function readAndMutate(file: string, lazy: boolean, holder: (c: Container) => Holder, k: string, options: ContainerOptions<object> = {}): Promise<void> {
  const c = Container.open(file, { ...options, lazy })
  const h = holder(c)
  assert.ok(types.isProxy(h), 'the holder is behind a proxy')
  const v = h[k]!                                         // threw TypeError before inv. 6
  assert.equal(h[k], v, 'the same value at every read')
  assert.equal(Object.getOwnPropertyDescriptor(h, k)!.value, v, 'its descriptor holds the same value')
  assert.equal(v.x, 1)
  v.x = 2                                                 // raw (verified) or a proxy: seen either way
  await c.persist()
  await c.close()
  const next = Container.open(file, options)
  const raw = next.unwrap(holder(next)) as Holder
  const d = Object.getOwnPropertyDescriptor(raw, k)!
  assert.deepEqual([d.writable, d.configurable], [false, false], 'the attributes persisted')
  assert.equal(d.value!.x, 2, 'the mutation through the value handed out persisted')
  await next.close()
}

for (const lazy of [false, true]) {
  const how = lazy ? 'lazy restore' : 'full restore'

  test(`inv. 6, ${how}: a restored non-enumerable, non-writable, non-configurable property holding an object is read as its own value, raw and verified`, async () => {
    const o = {}
    Object.defineProperty(o, 'name', { value: { x: 1 }, ...PINNED })
    const file = await made(() => ({ o }))
    await readAndMutate(file, lazy, c => c.root.o, 'name')
  })

  test(`inv. 6, ${how}: with properties: 'attributes', a restored enumerable read-only property of an extensible object`, async () => {
    const o = {}
    Object.defineProperty(o, 'name', { value: { x: 1 }, enumerable: true, ...PINNED })
    const options: ContainerOptions<object> = { properties: 'attributes' }
    const file = await made(() => ({ o }), options)
    await readAndMutate(file, lazy, c => c.root.o, 'name', options)
  })

  test(`inv. 6, ${how}: a frozen object restored, and a frozen array`, async () => {
    const file = await made(() => ({ o: Object.freeze({ name: { x: 1 } }), list: Object.freeze([{ x: 1 }]) }))
    await readAndMutate(file, lazy, c => c.root.o, 'name')
    await readAndMutate(file, lazy, c => c.root.list as unknown as Holder, '0')
  })

  test(`inv. 6, ${how}: a restored Map's own read-only property (Map and Set proxies keep it too)`, async () => {
    const m = new Map([[1, 2]])
    Object.defineProperty(m, 'name', { value: { x: 1 }, ...PINNED })
    const file = await made(() => ({ m }))
    await readAndMutate(file, lazy, c => c.root.m as unknown as Holder, 'name')
  })

  test(`inv. 6, ${how}: Object.freeze through a proxy, then reads of what it holds`, async () => {
    const file = await made(() => ({ o: { name: { x: 1 } } }))
    const c = Container.open(file, { lazy })
    Object.freeze(c.root.o)
    await c.persist()
    await c.close()
    await readAndMutate(file, lazy, c => c.root.o, 'name')
  })

  test(`inv. 6, ${how}: Object.defineProperty through a proxy, with a proxy, a new object or no attributes given (read-only by default)`, async () => {
    const file = await made(() => ({ o: {} as Holder, v: { x: 1 }, w: { x: 1 }, m: new Map() }))
    const c = Container.open(file, { lazy })
    const o = c.root.o, v = c.root.v, w = c.root.w
    assert.ok(types.isProxy(v))
    Object.defineProperty(o, 'name', { value: v, ...PINNED })     // threw TypeError before (the trap stored v's target)
    assert.equal(o.name, v, 'the value defined, as it was given')
    Object.defineProperty(o, 'plain', { value: { x: 1 } })       // attributes absent: non-writable, non-configurable
    assert.equal(o.plain!.x, 1)
    Object.defineProperty(c.root.m, 'name', { value: w, ...PINNED })
    assert.equal((c.root.m as unknown as Holder).name, w)
    await c.persist()
    await c.close()
    await readAndMutate(file, lazy, c => c.root.o, 'name')       // restored: its target, raw and exposed
    await readAndMutate(file, lazy, c => c.root.o, 'plain')
    await readAndMutate(file, lazy, c => c.root.m as unknown as Holder, 'name')
  })
}

test('inv. 6: a value defined read-only through a proxy is the proxy: mutations through it are marked, and the next life holds its target', async () => {
  const file = await made(() => ({ o: {} as Holder, v: { x: 1 } }))
  const c = Container.open(file)
  Object.defineProperty(c.root.o, 'name', { value: c.root.v, ...PINNED })
  await c.persist()
  c.root.o.name!.x = 3                                  // through the proxy held by the property: marks v
  assert.equal((await c.persist()).objects, 1, 'the point wrote v alone')
  await c.close()
  const next = Container.open(file)
  const raw = next.unwrap(next.root) as { o: Holder; v: { x: number } }
  assert.equal(raw.o.name, raw.v, 'one object, restored once')
  assert.equal(raw.v.x, 3)
  await next.close()
})

test('a Map\'s or a Set\'s own property read through its descriptor is handed out like a read: a proxy, and mutations through it persist', async () => {
  const m = Object.assign(new Map([[1, 2]]), { meta: { x: 1 } })
  const s = Object.assign(new Set([1]), { meta: { x: 1 } })
  const file = await made(() => ({ m, s }))
  const c = Container.open(file)
  for (const coll of [c.root.m, c.root.s]) {
    const d = Object.getOwnPropertyDescriptor(coll, 'meta')!
    assert.ok(types.isProxy(d.value), 'a proxy, not the raw object (it was handed out raw and not exposed before)')
    d.value.x = 2
  }
  await c.persist()
  await c.close()
  const next = Container.open(file)
  assert.equal(next.root.m.meta.x, 2)
  assert.equal(next.root.s.meta.x, 2)
  await next.close()
})

test('inv. 6, track: \'barriers\': a read-only property defined through a proxy, read in this life and after a restore (raw there, untracked as barriers mode hands out raw)', async () => {
  const options = { track: 'barriers' } as const
  const file = await made(() => ({ o: {} as Holder, v: { x: 1 } }), options)
  const c = Container.open(file, options)
  Object.defineProperty(c.root.o, 'name', { value: c.root.v, ...PINNED })
  assert.equal(c.root.o.name, c.root.v)
  await c.persist()
  await c.close()
  for (const lazy of [false, true]) {
    const next = Container.open(file, { ...options, lazy })
    const v = next.root.o.name!
    assert.ok(!types.isProxy(v))
    assert.equal(Object.getOwnPropertyDescriptor(next.root.o, 'name')!.value, v)
    assert.equal(v.x, 1)
    await next.close()
  }
})
