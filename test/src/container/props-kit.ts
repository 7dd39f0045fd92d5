/**
 * Test kit for own properties beyond the enumerable string-keyed ones (props.ts): random
 * holders (plain, null-prototype and class objects, arrays, Maps, Sets, Dates, RegExps, errors, String objects)
 * with random extra properties (non-enumerable, read-only, non-configurable, symbol-keyed
 * by `Symbol.for`, well-known or `Symbol()` keys, accessors, objects reachable only through
 * them), some made non-extensible, sealed or frozen; random changes made through a
 * container's proxies; and `describeProps`, a canonical description of a graph that a
 * fresh process compares with what it restored.
 *
 * `describeProps(root, true)` describes what a point persists: an accessor as the data
 * property holding its getter's value (writable), a `Symbol()` key as absent.
 */
import fc from 'fast-check'
import { types } from 'node:util'

export class Item { constructor(public n: number) {} }

const HOLDERS = ['object', 'nullproto', 'item', 'array', 'map', 'set', 'date', 'regexp', 'error', 'boxed'] as const
const KEYS = ['a', 'b', 'meta', 'hidden', '0', 'sym:reg', 'sym:iterator', 'sym:unique'] as const
export interface PropRecipe { key: number; enumerable: boolean; writable: boolean; configurable: boolean; accessor: boolean; value: number | null; fresh: boolean }
export interface HolderRecipe { kind: number; props: PropRecipe[]; seal: number }
export interface PropsOp { op: 'set' | 'define' | 'delete' | 'freeze' | 'point'; holder: number; prop: PropRecipe }

const propRecipe = (): fc.Arbitrary<PropRecipe> => fc.record({
  key: fc.nat({ max: KEYS.length - 1 }), enumerable: fc.boolean(), writable: fc.boolean(), configurable: fc.boolean(), accessor: fc.boolean(),
  value: fc.option(fc.integer({ min: -50, max: 50 })), fresh: fc.boolean(),
})
export const holdersRecipe = (): fc.Arbitrary<HolderRecipe[]> => fc.array(fc.record({
  kind: fc.nat({ max: HOLDERS.length - 1 }), props: fc.array(propRecipe(), { maxLength: 4 }), seal: fc.nat({ max: 7 }),
}), { minLength: 1, maxLength: 6 })
export const propsOp = (): fc.Arbitrary<PropsOp> => fc.record({
  op: fc.constantFrom('set', 'set', 'define', 'define', 'delete', 'freeze', 'point'), holder: fc.nat(), prop: propRecipe(),
})

const uniques = new Map<string, symbol>()
function keyOf(i: number): string | symbol {
  const k = KEYS[i]
  if (k === 'sym:reg') return Symbol.for('pm.test')
  if (k === 'sym:iterator') return Symbol.iterator
  if (k === 'sym:unique') { let s = uniques.get('u'); if (s === undefined) { s = Symbol('unique'); uniques.set('u', s) } return s }
  return k
}

function holder(kind: number, i: number): object {
  switch (HOLDERS[kind]) {
    case 'nullproto': return Object.create(null) as object
    case 'item': return new Item(i)
    case 'array': return [i, 'x']
    case 'map': return new Map<unknown, unknown>([['k', i]])
    case 'set': return new Set([i])
    case 'date': return new Date(i * 1000)
    case 'regexp': return /a+/g
    case 'error': return i % 2 === 0 ? new RangeError(`e${i}`) : new AggregateError([i], `agg${i}`)     // natives.ts: every own property in the PROPS section
    case 'boxed': return new String(`s${i}`)      // its index keys and length are its value's (natives.ts inv. N2)
    default: return { n: i }
  }
}

/** The value a recipe stores: a number, a reference to another holder, or a new object only this property reaches. */
function valueOf(p: PropRecipe, holders: object[]): unknown {
  if (p.value === null) return null
  if (p.fresh) return { only: p.value }
  return p.value % 3 === 0 ? holders[Math.abs(p.value) % holders.length] : p.value
}

/**
 * Defines the property a recipe describes (ignoring what the object refuses, as a program
 * might). String-keyed properties of arrays stay plain enumerable data properties: what
 * else they can be is not looked at in extensible arrays (props.ts, README).
 */
export function defineProp(o: object, p: PropRecipe, holders: object[]): void {
  const key = keyOf(p.key)
  const v = valueOf(p, holders)
  const plain = Array.isArray(o) && typeof key === 'string'
  const d: PropertyDescriptor = plain ? { value: v, enumerable: true, writable: true, configurable: true } : p.accessor
    ? { get: () => v, set: () => {}, enumerable: p.enumerable, configurable: p.configurable }
    : { value: v, enumerable: p.enumerable, writable: p.writable, configurable: p.configurable }
  try { Object.defineProperty(o, key, d) } catch { /* non-configurable, or not extensible */ }
}

/** Builds the holders and returns the root `{ holders }`. */
export function buildHolders(recipe: HolderRecipe[]): { holders: object[] } {
  const holders = recipe.map((r, i) => holder(r.kind, i))
  recipe.forEach((r, i) => {
    for (const p of r.props) defineProp(holders[i], p, holders)
    if (r.seal === 1) Object.preventExtensions(holders[i])
    else if (r.seal === 2 && !types.isDate(holders[i])) Object.seal(holders[i])
    else if (r.seal === 3 && !types.isMap(holders[i]) && !types.isSet(holders[i])) Object.freeze(holders[i])
  })
  return { holders }
}

/** Applies one change through the container's proxies (`root` is `c.root`). */
export function applyPropsOp(root: { holders: object[] }, op: PropsOp): void {
  const list = root.holders
  const h = list[op.holder % list.length]
  if (types.isDate(h) || types.isRegExp(h)) return      // handed out raw: own properties changed there need a full point (README)
  const key = keyOf(op.prop.key)
  try {
    if (op.op === 'set') (h as Record<string | symbol, unknown>)[key] = valueOf(op.prop, list)
    else if (op.op === 'define') defineProp(h, op.prop, list)
    else if (op.op === 'delete') delete (h as Record<string | symbol, unknown>)[key]
    else if (op.op === 'freeze') Object.preventExtensions(h)
  } catch { /* refused: read-only, non-configurable or not extensible */ }
}

/** Entries and values through the built-in methods (a holder may have its own Symbol.iterator). */
function mapEntries(m: Map<unknown, unknown>): [unknown, unknown][] { const out: [unknown, unknown][] = []; Map.prototype.forEach.call(m, (v, k) => out.push([k, v])); return out }
function setValues(s: Set<unknown>): unknown[] { const out: unknown[] = []; Set.prototype.forEach.call(s, v => out.push(v)); return out }

function keyName(k: string | symbol): string | null {
  if (typeof k === 'string') return JSON.stringify(k)
  const reg = Symbol.keyFor(k)
  if (reg !== undefined) return `Symbol.for(${reg})`
  if (k === Symbol.iterator) return 'Symbol.iterator'
  return null
}

function kindOf(o: object): string {
  if (Array.isArray(o)) return 'Array'
  if (types.isMap(o)) return 'Map'
  if (types.isSet(o)) return 'Set'
  if (types.isDate(o)) return `Date ${(o as Date).getTime()}`
  if (types.isRegExp(o)) return `RegExp ${String(o)}`
  if (types.isNativeError(o)) return `${Object.prototype.toString.call(o)} ${Object.getPrototypeOf(o)?.constructor?.name}`
  if (types.isStringObject(o)) return `String ${String(o)}`
  const p = Object.getPrototypeOf(o) as object | null
  return p === null ? 'null-proto' : p === Object.prototype ? 'Object' : p === Item.prototype ? 'Item' : 'other'
}

/**
 * Canonical description: objects numbered in the order they are reached, each with its
 * kind, extensibility and own properties (sorted by key; attributes and value), Map and
 * Set entries. `persisted`: describe an accessor as the data property a point persists,
 * and leave `Symbol()` keys out. `unwrap`: the container's (a getter may return a proxy).
 */
export function describeProps(root: object, persisted: boolean, unwrap: <T>(x: T) => T = x => x): string[] {
  const ids = new Map<object, number>()
  const todo: object[] = []
  const ref = (v: unknown): string => {
    v = unwrap(v)
    if (typeof v !== 'object' || v === null) return typeof v === 'bigint' ? `${v}n` : JSON.stringify(v) ?? String(v)
    let id = ids.get(v)
    if (id === undefined) { id = ids.size; ids.set(v, id); todo.push(v) }
    return `#${id}`
  }
  ref(root)
  const out: string[] = []
  for (let i = 0; i < todo.length; i++) {
    const o = todo[i]
    const props: string[] = []
    const keys = Reflect.ownKeys(o).sort((x, y) => { const a = keyName(x) ?? String(x), b = keyName(y) ?? String(y); return a < b ? -1 : a > b ? 1 : 0 })
    for (const k of keys) {
      if (Array.isArray(o) && k === 'length') { props.push(`length ${Object.getOwnPropertyDescriptor(o, k)!.writable ? 'w' : '-'}`); continue }     // its writability: a frozen array's is read-only (props.ts)
      const name = keyName(k)
      if (name === null && persisted) continue
      const d = Object.getOwnPropertyDescriptor(o, k)!
      const accessor = d.get !== undefined || d.set !== undefined
      const attrs = `${d.enumerable ? 'e' : '-'}${d.configurable ? 'c' : '-'}${accessor ? (persisted ? 'w' : 'a') : d.writable ? 'w' : '-'}`
      const v = accessor ? (d.get ? Reflect.apply(d.get, o, []) : undefined) : d.value
      props.push(`${name ?? String(k)} ${attrs} ${ref(v)}`)
    }
    props.sort()
    let entries = ''
    if (types.isMap(o)) entries = ' entries ' + mapEntries(o as Map<unknown, unknown>).map(([k, v]) => `${ref(k)}=${ref(v)}`).join(',')
    if (types.isSet(o)) entries = ' entries ' + setValues(o as Set<unknown>).map(v => ref(v)).join(',')
    out.push(`#${i} ${kindOf(o)} ${Object.isExtensible(o) ? 'extensible' : 'not extensible'}${entries} { ${props.join('; ')} }`)
  }
  return out
}

/** Paths `dropped` should report for a graph: accessors and `Symbol()` keys of reachable holders (counted; `unwrap` is the container's, for values a getter returns through a proxy). */
export function expectedDrops(root: object, unwrap: <T>(x: T) => T): number {
  let n = 0
  const seen = new Set<object>()
  const todo: unknown[] = [root]
  while (todo.length > 0) {
    const o = unwrap(todo.pop())
    if (typeof o !== 'object' || o === null || seen.has(o)) continue
    seen.add(o)
    for (const k of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, k)!
      if (keyName(k) === null) { n++; continue }
      if (d.get !== undefined || d.set !== undefined) { n++; todo.push(Reflect.apply(d.get!, o, [])) } else todo.push(d.value)
    }
    if (types.isMap(o)) for (const [k, v] of mapEntries(o as Map<unknown, unknown>)) todo.push(k, v)
    if (types.isSet(o)) for (const v of setValues(o as Set<unknown>)) todo.push(v)
  }
  return n
}
