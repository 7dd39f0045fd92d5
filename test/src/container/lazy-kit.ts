/**
 * Test kit for lazy restores (lazy.ts): walks a lazily restored graph through its proxies
 * in a random order, comparing every object reached with the same object of a full
 * restore: values, kinds, prototypes, extensibility, holes, entries, and identity (one
 * object of the lazy graph for each object of the full one, both ways).
 */
import assert from 'node:assert/strict'
import { types } from 'node:util'
import { mulberry32 } from '../../../regions/index.js'
import { PROXY_TARGET } from '../../../src/container/identity.js'

/** The object a container's proxy stands for (a proxy and its target, handed out raw once exposed, are one object of the graph). */
const target = (o: object): object => types.isProxy(o) ? (o as Record<symbol, object>)[PROXY_TARGET] ?? o : o

const tagOf = (o: object): string => Object.prototype.toString.call(o)
const show = (v: unknown): string => typeof v === 'object' && v !== null ? `<${tagOf(v)}>` : typeof v === 'bigint' ? `${v}n` : typeof v === 'string' ? JSON.stringify(v) : String(v)

/**
 * Compares `lazy` (read through the container's proxies) with `full` (a full restore's raw
 * graph), visiting at most `steps` objects, picked at random from those reached so far.
 * Returns the number of objects visited.
 */
export function compareLazy(lazy: unknown, full: unknown, seed: number, steps = Infinity): number {
  const rand = mulberry32(seed)
  const fwd = new Map<object, object>()
  const back = new Map<object, object>()
  const todo: [unknown, unknown, string][] = [[lazy, full, 'root']]
  let visited = 0
  while (todo.length > 0 && visited < steps) {
    const i = Math.floor(rand() * todo.length)
    const [a, e, path] = todo[i]!
    todo[i] = todo[todo.length - 1]!
    todo.pop()
    if (typeof e !== 'object' || e === null) {
      assert.ok(Object.is(a, e), `${path}: expected ${show(e)}, got ${show(a)}`)
      continue
    }
    assert.ok(typeof a === 'object' && a !== null, `${path}: expected an object, got ${show(a)}`)
    const known = fwd.get(target(a))
    if (known !== undefined) { assert.ok(known === e, `${path}: identity differs (one lazy object for two objects)`); continue }
    assert.ok(!back.has(e), `${path}: identity differs (two lazy objects for one object)`)
    fwd.set(target(a), e); back.set(e, a)
    visited++
    assert.equal(tagOf(a), tagOf(e), `${path}: kind`)
    assert.ok(Object.getPrototypeOf(a) === Object.getPrototypeOf(e), `${path}: prototype`)
    assert.equal(Object.isExtensible(a), Object.isExtensible(e), `${path}: extensible`)
    assert.equal(Array.isArray(a), Array.isArray(e), `${path}: Array.isArray`)
    if (types.isBoxedPrimitive(e)) assert.ok(Object.is((a as { valueOf(): unknown }).valueOf(), (e as { valueOf(): unknown }).valueOf()), `${path}: boxed value`)
    assert.equal(types.isNativeError(a), types.isNativeError(e), `${path}: a native error`)
    if (types.isDate(e)) { assert.ok(Object.is((a as Date).getTime(), e.getTime()), `${path}: time`); continue }
    if (types.isRegExp(e)) { assert.equal(String(a), String(e), `${path}: regexp`); continue }
    if (types.isArrayBuffer(e)) { assert.deepEqual(new Uint8Array(a as ArrayBuffer), new Uint8Array(e), `${path}: bytes`); continue }
    if (ArrayBuffer.isView(e)) {
      const av = a as ArrayBufferView
      assert.deepEqual([av.byteOffset, av.byteLength], [e.byteOffset, e.byteLength], `${path}: view`)
      todo.push([av.buffer, e.buffer, `${path}.buffer`])
      continue
    }
    if (tagOf(e) === '[object Map]') {
      const ae = [...(a as Map<unknown, unknown>)], ee = [...(e as Map<unknown, unknown>)]
      assert.equal(ae.length, ee.length, `${path}: Map size`)
      ee.forEach(([k, v], j) => { todo.push([ae[j]![0], k, `${path}.<key ${j}>`], [ae[j]![1], v, `${path}.<value ${j}>`]) })
    } else if (tagOf(e) === '[object Set]') {
      const ae = [...(a as Set<unknown>)], ee = [...(e as Set<unknown>)]
      assert.equal(ae.length, ee.length, `${path}: Set size`)
      ee.forEach((v, j) => todo.push([ae[j], v, `${path}.<entry ${j}>`]))
    } else if (Array.isArray(e)) {
      assert.equal((a as unknown[]).length, e.length, `${path}: length`)
    }
    assert.deepEqual(Reflect.ownKeys(a).map(String), Reflect.ownKeys(e).map(String), `${path}: own keys`)
    for (const k of Reflect.ownKeys(e)) {
      const da: PropertyDescriptor = Reflect.getOwnPropertyDescriptor(a, k)!, de: PropertyDescriptor = Reflect.getOwnPropertyDescriptor(e, k)!
      assert.deepEqual([da.enumerable, da.writable, da.configurable], [de.enumerable, de.writable, de.configurable], `${path}.${String(k)}: attributes`)
      // Through the descriptor and through a get (of non-writable, non-configurable
      // properties too: barrier.ts inv. 6).
      todo.push([da.value, de.value, `${path}.${String(k)}`])
      todo.push([(a as Record<string | symbol, unknown>)[k], de.value, `${path}.${String(k)}`])
    }
  }
  return visited
}
