/**
 * Object-graph snapshots and identity-aware comparison, for `containerCrashTest`.
 *
 * `snapshotGraph` copies everything reachable from a root the way a container persists it
 * (objects with their prototype, arrays with holes, Map, Set, Date, RegExp, ArrayBuffer,
 * typed arrays and DataView sharing buffers; functions, symbols and other handles become
 * null), keeping shared references and cycles; an instance of a class with a static
 * `[Container.save]` hook also gets the state `save` returns, under the key `[[state]]`
 * (private members cannot be read otherwise). `graphDifference` compares two graphs under a
 * bijection of identities: equal means same shape, same values, and the same sharing. Both
 * walk with an explicit stack, so graphs of any depth work.
 */

type Obj = object
const SAVE = Symbol.for('persistent-memory.container.save')
const { getPrototypeOf, keys, create } = Object
const toTag = (v: object) => Object.prototype.toString.call(v)

/** A copy of the graph reachable from `root`; `unwrap` maps proxies to their raw objects. */
export function snapshotGraph(root: unknown, unwrap: (v: object) => object = v => v): unknown {
  const copies = new Map<Obj, unknown>()
  const todo: Array<() => void> = []
  const copy = (v: unknown): unknown => {
    if (typeof v === 'function' || typeof v === 'symbol') return null
    if (v === null || typeof v !== 'object') return v
    const raw = unwrap(v)
    if (copies.has(raw)) return copies.get(raw)
    if (ArrayBuffer.isView(raw)) { // shares the copy of its buffer, like the original
      const buf = copy(raw.buffer) as ArrayBuffer
      const Ctor = raw.constructor as new (b: ArrayBuffer, o: number, l: number) => Obj
      const view = new Ctor(buf, raw.byteOffset, raw instanceof DataView ? raw.byteLength : (raw as unknown as { length: number }).length)
      copies.set(raw, view)
      return view
    }
    const c = shallow(raw)
    copies.set(raw, c)
    if (c !== null) todo.push(() => fill(raw, c as Obj, copy))
    return c
  }
  const out = copy(root)
  while (todo.length > 0) todo.pop()!()
  return out
}

/** An empty copy of `v` of the same kind, or null for what cannot persist. */
function shallow(v: Obj): unknown {
  const tag = toTag(v)
  if (Array.isArray(v)) return new Array(v.length)
  if (v instanceof Map) return new Map()
  if (v instanceof Set) return new Set()
  if (v instanceof Date) return new Date(v.getTime())
  if (v instanceof RegExp) return new RegExp(v.source, v.flags)
  if (v instanceof ArrayBuffer) return v.slice(0)
  if (tag !== '[object Object]') return null
  return create(getPrototypeOf(v) as object | null)
}

function fill(src: Obj, dst: Obj, copy: (v: unknown) => unknown): void {
  if (src instanceof Map) { for (const [k, val] of src) (dst as Map<unknown, unknown>).set(copy(k), copy(val)); return }
  if (src instanceof Set) { for (const k of src) (dst as Set<unknown>).add(copy(k)); return }
  if (src instanceof Date || src instanceof RegExp || src instanceof ArrayBuffer) return
  for (const k of keys(src)) (dst as Record<string, unknown>)[k] = copy((src as Record<string, unknown>)[k])
  const save = saveHook(src)
  if (save !== undefined) (dst as Record<string, unknown>)['[[state]]'] = copy(save(src))
}

/** The `[Container.save]` hook of `o`'s class, if it has one. */
function saveHook(o: Obj): ((o: Obj) => unknown) | undefined {
  const ctor = (getPrototypeOf(o) as { constructor?: unknown } | null)?.constructor
  if (typeof ctor !== 'function') return undefined
  const save = (ctor as unknown as Record<symbol, unknown>)[SAVE]
  return typeof save === 'function' ? (x: Obj) => (save as (x: Obj) => unknown).call(ctor, x) : undefined
}

/**
 * The first difference between graphs `a` and `b` as a path and a reason, or null when they
 * are equal with the same sharing of identities.
 */
export function graphDifference(a: unknown, b: unknown): string | null {
  const ab = new Map<Obj, Obj>(), ba = new Map<Obj, Obj>()
  const stack: Array<[unknown, unknown, string]> = [[a, b, 'root']]
  while (stack.length > 0) {
    const [x, y, path] = stack.pop()!
    const why = compareOne(x, y, ab, ba, (cx, cy, p) => stack.push([cx, cy, `${path}${p}`]))
    if (why !== null) return `${path}: ${why}`
  }
  return null
}

function compareOne(x: unknown, y: unknown, ab: Map<Obj, Obj>, ba: Map<Obj, Obj>,
  push: (x: unknown, y: unknown, p: string) => void): string | null {
  if (x === null || typeof x !== 'object' || y === null || typeof y !== 'object') {
    return Object.is(x, y) ? null : `expected ${show(x)}, got ${show(y)}`
  }
  if (ab.has(x) || ba.has(y)) return ab.get(x) === y && ba.get(y) === x ? null : 'shared reference or cycle not preserved'
  ab.set(x, y); ba.set(y, x)
  if (toTag(x) !== toTag(y) || getPrototypeOf(x) !== getPrototypeOf(y)) return `expected ${toTag(x)} (${nameOf(x)}), got ${toTag(y)} (${nameOf(y)})`
  if (x instanceof Date) return Object.is(x.getTime(), (y as Date).getTime()) ? null : `date ${x.toISOString?.()} vs ${(y as Date).getTime()}`
  if (x instanceof RegExp) return String(x) === String(y) ? null : `regexp ${String(x)} vs ${String(y)}`
  if (x instanceof ArrayBuffer) return sameBytes(new Uint8Array(x), new Uint8Array(y as ArrayBuffer)) ? null : 'ArrayBuffer contents differ'
  if (ArrayBuffer.isView(x)) {
    const v = y as ArrayBufferView
    if (x.byteOffset !== v.byteOffset || x.byteLength !== v.byteLength) return 'typed array range differs'
    push(x.buffer, v.buffer, '.buffer')
    return null
  }
  if (x instanceof Map) return compareEntries([...x], [...(y as Map<unknown, unknown>)], push, 'Map')
  if (x instanceof Set) return compareEntries([...x].map(k => [k, true]), [...(y as Set<unknown>)].map(k => [k, true]), push, 'Set')
  const kx = keys(x), ky = keys(y)
  if (kx.length !== ky.length || kx.some((k, i) => k !== ky[i])) return `keys [${kx.join(', ')}] vs [${ky.join(', ')}]`
  if (Array.isArray(x) && x.length !== (y as unknown[]).length) return `array length ${x.length} vs ${(y as unknown[]).length}`
  for (const k of kx) push((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], Array.isArray(x) ? `[${k}]` : `.${k}`)
  return null
}

function compareEntries(ex: unknown[][], ey: unknown[][], push: (x: unknown, y: unknown, p: string) => void, what: string): string | null {
  if (ex.length !== ey.length) return `${what} size ${ex.length} vs ${ey.length}`
  ex.forEach((e, i) => { push(e[0], ey[i]![0], `<key ${i}>`); push(e[1], ey[i]![1], `<value ${i}>`) })
  return null
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function nameOf(v: object): string {
  const p = getPrototypeOf(v) as { constructor?: { name?: string } } | null
  return p === null ? 'null prototype' : p.constructor?.name ?? 'anonymous'
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 60) + '...' : v)
  if (Object.is(v, -0)) return '-0'
  return v !== null && typeof v === 'object' ? toTag(v) : String(v)
}
