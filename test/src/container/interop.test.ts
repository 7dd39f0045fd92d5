/**
 * Container objects with the rest of Node: `structuredClone`, `v8.serialize`,
 * `postMessage` (MessageChannel and a Worker), `Map.prototype.get.call`, `util.inspect`.
 * Objects the program may hold raw are handed out as themselves, so these work on them;
 * the objects of a restore are proxies, which the platform refuses (DataCloneError, brand
 * checks) or misprints (Node 20's `<Revoked Proxy>` for an array starting with null):
 * `c.snapshot(x)` is the one-call way for those.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import v8 from 'node:v8'
import { inspect, types } from 'node:util'
import { MessageChannel, Worker } from 'node:worker_threads'
import { simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'

const init = () => ({ m: new Map<string, unknown>([['k', { v: 1 }]]), s: new Set([1, 2]), list: [null, 1, { x: 2 }] as unknown[], d: new Date(5), bytes: new Uint8Array([1, 2]) })
const plain = (x: unknown): unknown => v8.deserialize(v8.serialize(x))

async function viaChannel(x: unknown): Promise<unknown> {
  const { port1, port2 } = new MessageChannel()
  const got = new Promise(resolve => port2.once('message', resolve))
  port1.postMessage(x)
  const v = await got
  port1.close()
  return v
}

async function viaWorker(x: unknown): Promise<unknown> {
  const w = new Worker('const { parentPort } = require("node:worker_threads"); parentPort.once("message", m => parentPort.postMessage(m))', { eval: true })
  const got = new Promise(resolve => w.once('message', resolve))
  w.postMessage(x)
  const v = await got
  await w.terminate()
  return v
}

/** Every way of copying or printing `x` that works on raw objects. */
async function assertInterop(x: { m: Map<string, unknown>; s: Set<number>; list: unknown[] }, what: string): Promise<void> {
  const want = plain({ m: new Map([['k', { v: 1 }]]), s: new Set([1, 2]), list: [null, 1, { x: 2 }] })
  const sub = { m: x.m, s: x.s, list: x.list }
  assert.deepEqual(structuredClone(sub), want, `${what}: structuredClone`)
  assert.deepEqual(plain(sub), want, `${what}: v8.serialize`)
  assert.deepEqual(await viaChannel(sub), want, `${what}: MessageChannel postMessage`)
  assert.deepEqual(Map.prototype.get.call(x.m, 'k'), { v: 1 }, `${what}: Map.prototype.get.call`)
  assert.equal(Set.prototype.has.call(x.s, 2), true, `${what}: Set.prototype.has.call`)
  assert.ok(types.isMap(x.m), `${what}: util.types.isMap`)
  assert.equal(inspect(x.list), '[ null, 1, { x: 2 } ]', `${what}: util.inspect of an array starting with null`)
}

test('raw container objects work with structuredClone, v8.serialize, postMessage, Map.prototype.get.call and util.inspect (first life)', async () => {
  const c = Container.openRegion(simRegion(), { init })
  await assertInterop(c.root, 'before the first point')
  await c.persist()
  await assertInterop(c.root, 'after it')
  assert.deepEqual(await viaWorker({ list: c.root.list }), { list: [null, 1, { x: 2 }] }, 'a Worker\'s postMessage')
})

test('objects handed in after a restore are raw too; restored objects are proxies: c.snapshot(x) is the way for them', async () => {
  const region = simRegion()
  const c = Container.openRegion(region, { init })
  await c.persist()
  await c.close()
  const f = Container.openRegion<ReturnType<typeof init> & { mine?: ReturnType<typeof init> }>(region)
  const mine = init()
  f.root.mine = mine
  await f.persist()
  await assertInterop(f.root.mine!, 'handed in after a restore')
  // The platform's limits for proxies:
  assert.throws(() => structuredClone(f.root.m), (e: Error) => e.name === 'DataCloneError')
  assert.throws(() => v8.serialize(f.root.list), /could not be cloned/)
  assert.throws(() => Map.prototype.get.call(f.root.m, 'k'), TypeError)
  assert.ok(['<Revoked Proxy>', '[ null, 1, { x: 2 } ]'].includes(inspect(f.root.list)), 'Node 20 prints <Revoked Proxy> for a proxy of an array starting with null')
  // ... and the one-call way around them:
  const snap = f.snapshot() as ReturnType<typeof init>
  assert.ok(!types.isProxy(snap) && !types.isProxy(snap.m) && !types.isProxy(snap.list[2]))
  await assertInterop(snap, 'c.snapshot()')
  await assertInterop({ m: f.snapshot(f.root.m), s: f.snapshot(f.root.s), list: f.snapshot(f.root.list) }, 'c.snapshot(x)')
  assert.deepEqual(await viaWorker(f.snapshot(f.root.list)), [null, 1, { x: 2 }], 'a Worker\'s postMessage')
  assert.equal(f.snapshot().d.getTime(), 5)
  assert.deepEqual([...f.snapshot().bytes], [1, 2])
  assert.ok(types.isProxy(f.root.m), 'snapshot exposes nothing: restored objects are still proxies')
  const sh = f.snapshot({ a: f.root.list, b: f.root.list })
  assert.equal(sh.a, sh.b, 'sharing is kept')
})

test('c.snapshot copies what a point persists of own properties and binary data: non-enumerable and Symbol.for keys with attributes, frozen objects, Map properties, resizable and chunked buffers', async () => {
  const region = simRegion()
  const o: Record<string | symbol, unknown> = { a: 1 }
  Object.defineProperty(o, 'hidden', { value: { deep: true }, enumerable: false, writable: false, configurable: true })
  o[Symbol.for('app.tag')] = 'x'
  o[Symbol('gone')] = 'not copied'
  const frozen = Object.freeze({ f: 1 })
  const m = Object.assign(new Map([['k', 1]]), { meta: 'm' })
  const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resizable: boolean; maxByteLength: number }
  const rb = new Resizable(8, { maxByteLength: 64 })
  new Uint8Array(rb)[3] = 7
  const big = new Float64Array(5000)
  big[4000] = 1.5
  const c = Container.openRegion(region, { init: () => ({ o, frozen, m, rb, big }) })
  await c.persist()
  await c.close()
  const f = Container.openRegion(region)
  const snap = f.snapshot() as { o: typeof o; frozen: typeof frozen; m: Map<string, number> & { meta: string }; rb: typeof rb; big: Float64Array }
  assert.deepEqual(Object.getOwnPropertyDescriptor(snap.o, 'hidden'), { value: { deep: true }, enumerable: false, writable: false, configurable: true })
  assert.equal(snap.o[Symbol.for('app.tag')], 'x')
  assert.deepEqual(Object.getOwnPropertySymbols(snap.o), [Symbol.for('app.tag')])
  assert.ok(Object.isFrozen(snap.frozen))
  assert.equal(snap.m.meta, 'm')
  assert.ok(snap.rb.resizable && snap.rb.maxByteLength === 64 && new Uint8Array(snap.rb)[3] === 7)
  assert.equal(snap.big[4000], 1.5)
  assert.notEqual(snap.big.buffer, f.root.big.buffer, 'a copy')
})
