/**
 * Test kit for containers: random object graphs (fast-check), an identity-preserving clone
 * that models what a point persists (unsupported values become null), and a graph
 * isomorphism check (`assertSameGraph`) that compares values deeply AND the sharing
 * structure: two references to one object must come back as two references to one object.
 * Everything is iterative, so deep graphs work.
 */
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { types } from 'node:util'
import crypto from 'node:crypto'

export class Point { constructor(public x: number, public y: number) {} norm(): number { return Math.hypot(this.x, this.y) } }
export class Tagged extends Array { }
export const CLASSES = [Point]

/** Native error types (natives.ts ERROR_TYPES), which persist since format 6. */
export const ERROR_CTORS = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError] as const
const PERSISTABLE_PROTOS = new Set<unknown>([
  Object.prototype, Array.prototype, Map.prototype, Set.prototype, Date.prototype, RegExp.prototype, ArrayBuffer.prototype, null, Point.prototype, Buffer.prototype,
  ...ERROR_CTORS.map(c => c.prototype), String.prototype, Number.prototype, Boolean.prototype, BigInt.prototype,
])
const VIEW_CTORS: Record<string, new (b: ArrayBuffer, o: number, l: number) => ArrayBufferView> = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView,
}

function persistable(o: object): boolean {
  if (types.isProxy(o) || types.isPromise(o) || types.isWeakMap(o) || types.isWeakSet(o) || types.isSharedArrayBuffer(o)) return false
  if (ArrayBuffer.isView(o)) return !types.isSharedArrayBuffer((o as ArrayBufferView).buffer)
  return PERSISTABLE_PROTOS.has(Object.getPrototypeOf(o))
}

/** The native error type nearest in the prototype chain of `e` (Error if none), as natives.ts `errorType`. */
function nativeErrorOf(e: object): (typeof ERROR_CTORS)[number] {
  for (let p = Object.getPrototypeOf(e); p !== null; p = Object.getPrototypeOf(p)) {
    const c = ERROR_CTORS.find(k => k.prototype === p)
    if (c !== undefined) return c
  }
  return Error
}

function tagOf(o: object): string {
  if (Array.isArray(o)) return 'Array'
  if (types.isMap(o)) return 'Map'
  if (types.isSet(o)) return 'Set'
  if (types.isDate(o)) return 'Date'
  if (types.isRegExp(o)) return 'RegExp'
  if (types.isArrayBuffer(o)) return 'ArrayBuffer'
  if (types.isDataView(o)) return 'DataView'
  if (types.isTypedArray(o)) return Object.prototype.toString.call(o).slice(8, -1)
  if (types.isNativeError(o)) return 'Error'
  if (types.isBoxedPrimitive(o)) return 'Boxed'
  return 'Object'
}

/** Deep clone preserving sharing and cycles; values that cannot persist become null. */
export function cloneGraph<T>(root: T): T {
  const map = new Map<object, object>()
  const todo: [object, object][] = []
  const conv = (v: unknown): unknown => {
    if (typeof v === 'function' || typeof v === 'symbol') return null
    if (typeof v !== 'object' || v === null) return v
    const known = map.get(v)
    if (known !== undefined) return known
    if (!persistable(v)) return null
    const tag = tagOf(v)
    let c: object
    switch (tag) {
      case 'Array': c = []; break
      case 'Map': c = new Map(); break
      case 'Set': c = new Set(); break
      case 'Date': c = new Date((v as Date).getTime()); break
      case 'RegExp': c = new RegExp((v as RegExp).source, (v as RegExp).flags); break
      case 'ArrayBuffer': c = cloneBuffer(v as ArrayBuffer); break
      case 'Object': c = Object.create(Object.getPrototypeOf(v)); break
      case 'Error': {
        const Ctor = nativeErrorOf(v)
        c = Ctor === AggregateError ? new AggregateError([]) : new (Ctor as ErrorConstructor)()
        delete (c as Error).stack; delete (c as { errors?: unknown }).errors
        break
      }
      case 'Boxed': c = Object((v as { valueOf(): unknown }).valueOf()) as object; break
      default: {
        const view = v as ArrayBufferView
        const buf = conv(view.buffer) as ArrayBuffer
        const len = tag === 'DataView' ? view.byteLength : (view as Uint8Array).length
        c = new VIEW_CTORS[tag](buf, view.byteOffset, len)
      }
    }
    if (tag !== 'Object' && Object.getPrototypeOf(v) !== Object.getPrototypeOf(c)) Object.setPrototypeOf(c, Object.getPrototypeOf(v))
    map.set(v, c)
    todo.push([v, c])
    return c
  }
  const out = conv(root) as T
  while (todo.length > 0) {
    const [src, dst] = todo.pop()!
    const tag = tagOf(src)
    if (tag === 'Map') { for (const [k, v] of src as Map<unknown, unknown>) (dst as Map<unknown, unknown>).set(conv(k), conv(v)); copyExtras(src, dst, conv); continue }
    if (tag === 'Set') { for (const v of src as Set<unknown>) (dst as Set<unknown>).add(conv(v)); copyExtras(src, dst, conv); continue }
    if (tag === 'Array') {
      const a = src as unknown[], d = dst as unknown[]
      d.length = a.length
      for (const k of Object.keys(a)) Object.defineProperty(d, k, { value: conv((a as unknown as Record<string, unknown>)[k]), writable: true, enumerable: true, configurable: true })
      continue
    }
    if (tag === 'Object') {
      for (const k of Object.keys(src)) Object.defineProperty(dst, k, { value: conv((src as Record<string, unknown>)[k]), writable: true, enumerable: true, configurable: true })
      copyExtras(src, dst, conv)
    }
    if (tag === 'Error' || tag === 'Boxed') {     // every own property is an extra (natives.ts), then extensibility
      copyExtras(src, dst, conv)
      if (!Object.isExtensible(src)) Object.preventExtensions(dst)
    }
  }
  return out
}

/**
 * Own properties a point persists besides enumerable string-keyed ones (props.ts): string
 * keys not enumerable (all own string keys of a Map or Set) and `Symbol.for` keys, as data
 * properties with their attributes; `Symbol()` keys are not persisted.
 */
function extraKeys(o: object): (string | symbol)[] {
  const plain = !types.isMap(o) && !types.isSet(o) && !types.isNativeError(o) && !types.isBoxedPrimitive(o)
  const str = types.isStringObject(o) ? String(o).length : -1      // a String object's own index keys and length are its value's
  return Reflect.ownKeys(o).filter(k => typeof k === 'string'
    ? !(plain && Object.prototype.propertyIsEnumerable.call(o, k)) && !(str >= 0 && (k === 'length' || (/^(0|[1-9]\d*)$/.test(k) && Number(k) < str)))
    : Symbol.keyFor(k) !== undefined)
}

function copyExtras(src: object, dst: object, conv: (v: unknown) => unknown): void {
  for (const k of extraKeys(src)) {
    const d = Object.getOwnPropertyDescriptor(src, k)!
    const v = d.get !== undefined ? Reflect.apply(d.get, src, []) : d.value
    Object.defineProperty(dst, k, { value: conv(v), enumerable: d.enumerable, writable: d.get !== undefined || d.set !== undefined || d.writable, configurable: d.configurable })
  }
}

/** Compares the extra own properties of `a` and `e` (attributes), and queues their values. */
function sameExtras(a: object, e: object, path: string, todo: [unknown, unknown, string][]): void {
  const name = (k: string | symbol): string => typeof k === 'string' ? k : `Symbol.for(${Symbol.keyFor(k)})`
  const ak = extraKeys(a).map(name).sort(), ek = extraKeys(e).map(name).sort()
  assert.deepEqual(ak, ek, `${path}: extra own properties`)
  for (const k of extraKeys(e)) {
    const da = Object.getOwnPropertyDescriptor(a, k)!, de = Object.getOwnPropertyDescriptor(e, k)!
    assert.deepEqual([da.enumerable, da.writable, da.configurable], [de.enumerable, de.writable, de.configurable], `${path}.${name(k)}: attributes`)
    todo.push([da.value, de.value, `${path}.${name(k)}`])
  }
}

type Resizable = ArrayBuffer & { resizable: boolean; maxByteLength: number }
const ResizableArrayBuffer = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer

/** A copy of a buffer, resizable if it is (with the same maximum). */
function cloneBuffer(b: ArrayBuffer): ArrayBuffer {
  if (!(b as Resizable).resizable) return b.slice(0)
  const c = new ResizableArrayBuffer(b.byteLength, { maxByteLength: (b as Resizable).maxByteLength })
  new Uint8Array(c).set(new Uint8Array(b))
  return c
}

function show(v: unknown): string {
  if (typeof v === 'object' && v !== null) return `<${tagOf(v)}>`
  if (typeof v === 'bigint') return `${v}n`
  return typeof v === 'string' ? JSON.stringify(v) : String(v)
}

/** Asserts that `actual` and `expected` are the same graph: equal values and the same sharing. */
export function assertSameGraph(actual: unknown, expected: unknown): void {
  const fwd = new Map<object, object>()
  const back = new Map<object, object>()
  const todo: [unknown, unknown, string][] = [[actual, expected, 'root']]
  while (todo.length > 0) {
    const [a, e, path] = todo.pop()!
    if (typeof e !== 'object' || e === null) {
      if (!Object.is(a, e)) assert.fail(`${path}: expected ${show(e)}, got ${show(a)}`)
      continue
    }
    if (typeof a !== 'object' || a === null) assert.fail(`${path}: expected an object, got ${show(a)}`)
    const mapped = fwd.get(a)
    if (mapped !== undefined) { assert.ok(mapped === e, `${path}: sharing differs (object reached twice maps to two objects)`); continue }
    assert.ok(!back.has(e), `${path}: sharing differs (two restored objects for one original)`)
    fwd.set(a, e); back.set(e, a)
    const tag = tagOf(e)
    assert.equal(tagOf(a), tag, `${path}: kind`)
    assert.ok(Object.getPrototypeOf(a) === Object.getPrototypeOf(e), `${path}: prototype differs`)
    switch (tag) {
      case 'Date': assert.ok(Object.is((a as Date).getTime(), (e as Date).getTime()), `${path}: date`); break
      case 'RegExp': assert.equal(String(a), String(e), `${path}: regexp`); break
      case 'Error': case 'Boxed':
        if (tag === 'Boxed') assert.ok(Object.is((a as { valueOf(): unknown }).valueOf(), (e as { valueOf(): unknown }).valueOf()), `${path}: boxed value`)
        assert.equal(Object.isExtensible(a), Object.isExtensible(e), `${path}: extensible`)
        sameExtras(a, e, path, todo)
        break
      case 'ArrayBuffer':
        assert.deepEqual(new Uint8Array(a as ArrayBuffer), new Uint8Array(e as ArrayBuffer), `${path}: bytes`)
        assert.deepEqual([(a as Resizable).resizable, (a as Resizable).maxByteLength], [(e as Resizable).resizable, (e as Resizable).maxByteLength], `${path}: resizable`)
        break
      case 'Map': {
        const ae = [...(a as Map<unknown, unknown>)], ee = [...(e as Map<unknown, unknown>)]
        assert.equal(ae.length, ee.length, `${path}: Map size`)
        ee.forEach(([k, v], i) => { todo.push([ae[i][0], k, `${path}.<key ${i}>`], [ae[i][1], v, `${path}.<value ${i}>`]) })
        sameExtras(a, e, path, todo)
        break
      }
      case 'Set': {
        const ae = [...(a as Set<unknown>)], ee = [...(e as Set<unknown>)]
        assert.equal(ae.length, ee.length, `${path}: Set size`)
        ee.forEach((v, i) => todo.push([ae[i], v, `${path}.<entry ${i}>`]))
        sameExtras(a, e, path, todo)
        break
      }
      case 'Array': case 'Object': {
        if (tag === 'Array') assert.equal((a as unknown[]).length, (e as unknown[]).length, `${path}: length`)
        const ak = Object.keys(a), ek = Object.keys(e)
        assert.deepEqual(ak, ek, `${path}: keys`)
        for (const k of ek) todo.push([(a as Record<string, unknown>)[k], (e as Record<string, unknown>)[k], `${path}.${k}`])
        if (tag === 'Object') sameExtras(a, e, path, todo)
        break
      }
      default: {
        const av = a as ArrayBufferView, ev = e as ArrayBufferView
        assert.equal(av.byteOffset, ev.byteOffset, `${path}: byteOffset`)
        assert.equal(av.byteLength, ev.byteLength, `${path}: byteLength`)
        todo.push([av.buffer, ev.buffer, `${path}.buffer`])
      }
    }
  }
}

// ---- random graphs ----

/** A primitive of every kind the format distinguishes. */
export const primitive = (): fc.Arbitrary<unknown> => fc.oneof(
  fc.integer({ min: -200, max: 200 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(NaN, -0, 0, Infinity, -Infinity, 2 ** 31, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ minLength: 30, maxLength: 80 }),
  fc.constantFrom('__proto__', 'constructor', 'a"b\\c', ''),
  fc.boolean(), fc.constant(undefined), fc.constant(null),
  fc.bigInt({ min: -(2n ** 100n), max: 2n ** 100n }),
)

const KINDS = ['object', 'object', 'array', 'sparse', 'map', 'set', 'date', 'regexp', 'bytes', 'view', 'point', 'nullproto', 'unsupported', 'wideobject', 'bigarray', 'bigmap', 'bigset', 'bigbytes', 'decorated', 'error', 'boxed'] as const
type Kind = typeof KINDS[number]

/** A node recipe: its kind and slots, each a primitive or a reference to another node (by index). */
export interface NodeRecipe { kind: Kind; slots: { key: string; ref: number | null; prim: unknown }[]; n: number }

const slot = (nodes: number) => fc.record({
  key: fc.oneof(fc.constantFrom('a', 'b', 'c', 'name', 'x', 'y', '0', '1', '10', '__proto__', 'length2'), fc.string({ maxLength: 6 })),
  ref: fc.option(fc.nat({ max: nodes - 1 }), { freq: 2 }),
  prim: primitive(),
})

/** Recipes for a graph of up to `maxNodes` nodes; node 0 is the root (a plain object). */
export const graphRecipe = (maxNodes = 12): fc.Arbitrary<NodeRecipe[]> =>
  fc.integer({ min: 1, max: maxNodes }).chain(nodes => fc.array(
    fc.record({ kind: fc.constantFrom(...KINDS), slots: fc.array(slot(nodes), { maxLength: 6 }), n: fc.integer({ min: 0, max: 40 }) }),
    { minLength: nodes, maxLength: nodes },
  )).map(r => { r[0] = { ...r[0], kind: 'object' }; return r })

/** Builds the graph a recipe describes; returns the root. */
export function buildGraph(recipe: NodeRecipe[]): Record<string, unknown> {
  const nodes: object[] = recipe.map(r => shell(r))
  const val = (s: NodeRecipe['slots'][number]): unknown => (s.ref === null ? s.prim : nodes[s.ref])
  recipe.forEach((r, i) => fill(nodes[i], r, val, nodes))
  return nodes[0] as Record<string, unknown>
}

function shell(r: NodeRecipe): object {
  switch (r.kind) {
    case 'array': case 'sparse': case 'bigarray': return []
    case 'bigmap': return new Map()
    case 'decorated': return r.n % 2 === 0 ? {} : new Map()
    case 'bigset': return new Set()
    case 'map': return new Map()
    case 'set': return new Set()
    case 'date': return new Date(r.n * 1e9 - 7)
    case 'regexp': return new RegExp(`a${r.n}[b-c]*`, r.n % 2 ? 'gi' : 'u')
    case 'bytes': return Uint8Array.from({ length: r.n }, (_, i) => (i * 37 + r.n) & 255).buffer
    case 'bigbytes': {     // over 4 KiB (chunked), every other one resizable
      const b = r.n % 2 === 0 ? new ArrayBuffer(4100 + r.n * 300) : new ResizableArrayBuffer(4100 + r.n * 300, { maxByteLength: 20000 })
      new Uint8Array(b).forEach((_, i, a) => { a[i] = (i * 13 + r.n) & 255 })
      return r.n % 3 === 0 ? new Float32Array(b, 4, 1000) : b
    }
    case 'view': { const b = new ArrayBuffer(64); new Uint8Array(b).fill(r.n); return r.n % 3 === 0 ? new Float64Array(b, 8, 4) : r.n % 3 === 1 ? new DataView(b, 3, 20) : new BigInt64Array(b, 16, 2) }
    case 'point': return new Point(r.n, -r.n)
    case 'nullproto': return Object.create(null) as object
    case 'error': {     // every native type; one in 3 without its stack
      const Ctor = ERROR_CTORS[r.n % ERROR_CTORS.length]
      const e = Ctor === AggregateError ? new AggregateError([], `agg ${r.n}`) : new (Ctor as ErrorConstructor)(`error ${r.n}`)
      // A stack of its own: the same for every build of a recipe (lazy.test builds one twice), and
      // never formatted lazily by V8 from a `name` a recipe set to the error itself (its toString recursed)
      if (r.n % 3 === 0) delete e.stack
      else e.stack = `${Ctor.name}: error ${r.n}\n    at graph-kit (recipe ${r.n})`
      return e
    }
    case 'boxed': return [new String(`s${r.n}`), new Number(r.n / 3), new Boolean(r.n % 2 === 1), Object(BigInt(r.n) - 20n) as object][r.n % 4]
    case 'unsupported': return [new WeakMap(), Promise.resolve(1), () => 1, Symbol('s'), new (class Socket {})()][r.n % 5] as object
    default: return {}
  }
}

function fill(o: object, r: NodeRecipe, val: (s: NodeRecipe['slots'][number]) => unknown, nodes: object[]): void {
  switch (r.kind) {
    case 'array': for (const s of r.slots) (o as unknown[]).push(val(s)); break
    case 'sparse': { const a = o as unknown[]; r.slots.forEach((s, i) => { a[i * 7 + r.n] = val(s) }); if (r.n > 30) a.length = 5000; break }
    case 'map': for (const s of r.slots) (o as Map<unknown, unknown>).set(s.ref !== null && r.n % 2 ? nodes[s.ref] : s.key, val(s)); break
    case 'set': for (const s of r.slots) (o as Set<unknown>).add(val(s)); break
    case 'object': case 'nullproto': case 'point':
      for (const s of r.slots) Object.defineProperty(o, s.key, { value: val(s), writable: true, enumerable: true, configurable: true })
      break
    case 'bigarray': case 'bigmap': case 'bigset': {
      const size = 257 + r.n * 40
      for (let i = 0; i < size; i++) {
        const v = i % 7 === 0 && r.slots.length > 0 ? val(r.slots[i % r.slots.length]) : i % 5 === 0 ? 'entry' + i : i
        if (r.kind === 'bigarray') (o as unknown[]).push(v)
        else if (r.kind === 'bigmap') (o as Map<unknown, unknown>).set(i % 11 === 0 ? 'k' + i : i, v)
        else (o as Set<unknown>).add(i % 7 === 0 ? v : i)
      }
      break
    }
    case 'decorated':     // non-enumerable and Symbol.for-keyed properties (and an enumerable one on a Map): props.ts
      r.slots.forEach((s, i) => { if (!Object.hasOwn(o, s.key)) Object.defineProperty(o, s.key, { value: val(s), enumerable: o instanceof Map, writable: i % 2 === 0, configurable: i % 3 !== 0 }) })
      Object.defineProperty(o, Symbol.for('graph-kit'), { value: r.n, enumerable: true, writable: true, configurable: true })
      break
    case 'error': {     // a cause (first slot), an AggregateError's errors (the others), extra own properties; one in 5 frozen
      const [first, ...rest] = r.slots
      if (first !== undefined) Object.defineProperty(o, 'cause', { value: val(first), writable: true, enumerable: false, configurable: true })
      if (o instanceof AggregateError) Object.defineProperty(o, 'errors', { value: rest.map(val), writable: true, enumerable: false, configurable: true })
      else for (const s of rest) if (!Object.hasOwn(o, s.key)) Object.defineProperty(o, s.key, { value: val(s), writable: true, enumerable: true, configurable: true })
      if (r.n % 5 === 0) Object.freeze(o)
      break
    }
    case 'boxed':
      for (const s of r.slots) if (!Object.hasOwn(o, s.key)) Object.defineProperty(o, s.key, { value: val(s), writable: true, enumerable: true, configurable: true })
      break
    case 'wideobject': for (let i = 0; i < 70; i++) (o as Record<string, unknown>)['k' + i] = i % 5 === 0 && r.slots[0] ? val(r.slots[0]) : i; break
  }
}

/** SHA-1 of a canonical JSON form of a tree-shaped graph (Map, Set, Date, arrays, objects). */
export function canonicalHash(root: unknown): string {
  const json = JSON.stringify(root, function (this: Record<string, unknown>, key: string, value: unknown) {
    const raw = this[key]
    if (types.isDate(raw)) return { $date: (raw as Date).getTime() }
    if (types.isMap(value)) return { $map: [...(value as Map<unknown, unknown>)] }
    if (types.isSet(value)) return { $set: [...(value as Set<unknown>)] }
    return value
  })
  return crypto.createHash('sha1').update(json).digest('hex')
}
