/**
 * Paths from the root, for `Container.dropped`: a breadth-first search over the in-memory
 * references (RefStore) finds a parent for every reachable id, then each step is named by
 * looking in the parent for the key that holds the child.
 *
 * Cost: proportional to the references reachable from the root; paid only when the
 * program reads `dropped` and something was dropped.
 */
import { isArray, isMap, isSet, isTypedArray, isDataView, mapEach, objectKeys, setEach } from './builtins.js'
import type { RefStore } from './refs.js'
import type { DroppedAt } from './dropped.js'
import { SegmentRef } from './segments.js'
import { PatchPart } from './patch-record.js'
import { BigMap, BigSet } from './big-map.js'
import type { IdSet } from './id-set.js'

const IDENT = /^[A-Za-z_$][\w$]*$/
/** Arrays longer than this are read by their keys when their members are looked up (a sparse one's length says nothing of its elements). */
const DENSE_MAX = 1 << 24
const ownKeys = Reflect.ownKeys
const gOPD = Object.getOwnPropertyDescriptor

/** Names a property access step: `.name`, `["odd key"]`, `[3]`, `[Symbol(tag)]`. */
function propStep(key: unknown): string {
  if (typeof key === 'number') return `[${key}]`
  if (typeof key === 'symbol') return `[${String(key)}]`
  const k = String(key)
  return IDENT.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`
}

function describeKey(k: unknown): string {
  if (typeof k === 'string') return JSON.stringify(k)
  if (typeof k === 'bigint') return `${k}n`
  if (typeof k === 'object' && k !== null) return '<object>'
  return String(k)
}

/** The step from `parent` to `child` (the first key under which it holds it). */
export function stepTo(parent: object, child: object): string {
  if (isMap(parent)) {
    let step = ''
    mapEach(parent as Map<unknown, unknown>, (v, k) => {
      if (step !== '') return
      if (v === child) step = `.get(${describeKey(k)})`
      else if (k === child) step = '.<key>'
    })
    return step || '.<entry>'
  }
  if (isSet(parent)) {
    let i = 0, step = ''
    setEach(parent as Set<unknown>, v => { if (step === '' && v === child) step = `.<entry ${i}>`; i++ })
    return step || '.<entry>'
  }
  if (isTypedArray(parent) || isDataView(parent)) return '.buffer'
  const rec = parent as Record<string, unknown>
  if (isArray(parent)) {
    const a = parent as unknown[]
    for (let i = 0; i < a.length; i++) if (a[i] === child) return `[${i}]`
  }
  for (const k of objectKeys(parent)) if (rec[k] === child) return propStep(k)
  // Held by a property the body does not hold (props.ts): non-enumerable, symbol-keyed, or an accessor's value.
  for (const k of ownKeys(parent)) {
    const d = gOPD(parent, k)
    if (d !== undefined && (d.value === child || (d.get !== undefined && (rec as Record<string | symbol, unknown>)[k] === child))) return propStep(k)
  }
  return '.<?>'
}

/** The step naming a dropped value inside its holder. */
export function droppedStep(d: DroppedAt): string {
  switch (d.keyKind) {
    case 'prop': return propStep(d.key)
    case 'index': return `[${String(d.key)}]`
    case 'mapKey': return '.<key>'
    case 'mapValue': return `.get(${describeKey(d.key)})`
    case 'setEntry': return `.<entry ${String(d.key)}>`
    case 'self': return ''
  }
}

/**
 * The objects collection `o` (an array, Map, Set or segmented dictionary) holds now: its elements, keys and values,
 * entries (a container's proxy as its target too). A BigSet (big-map.ts inv. BM2): an array
 * may hold more objects than a V8 Set can (before session 16, `c.dropped` over an array of
 * more than 2^24 objects threw `RangeError: Set maximum size exceeded`).
 */
function membersOf(o: unknown, targetOf: (p: object) => object | undefined): BigSet<unknown> {
  const members = new BigSet<unknown>()
  const add = (v: unknown): void => {
    if (typeof v !== 'object' || v === null) return
    members.add(v)
    const t = targetOf(v)
    if (t !== undefined) members.add(t)
  }
  if (isMap(o)) mapEach(o as Map<unknown, unknown>, (v, k) => { add(k); add(v) })
  else if (isSet(o)) setEach(o as Set<unknown>, add)
  else if (isArray(o)) {
    const a = o as unknown[]
    if (a.length <= DENSE_MAX) for (let i = 0; i < a.length; i++) add(a[i])
    else for (const k of objectKeys(a)) add((a as unknown as Record<string, unknown>)[k])     // made sparse and huge since its segments were written: its elements only
  } else if (typeof o === 'object' && o !== null) {       // a segmented dictionary (patch-record.ts inv. PR6): its values
    const d = o as Record<string, unknown>
    for (const k of objectKeys(d)) add(d[k])
  }
  return members
}

/**
 * Path from the root to each id in `targets` (`count` ids; ids not reachable are left out). The entries of
 * a segmented collection hang off its segments and PATCH parts, which name what the
 * collection held when they were written: a value a later part replaced or deleted, or one
 * an older part or a base segment still names (patch-record.ts inv. PR2, kept for restore and
 * compaction), is followed from there only while the collection holds it now. So `dropped`
 * never reports a value the graph no longer reaches, and names the entry that holds it.
 */
export function pathsTo(refs: RefStore, objects: unknown[], rootId: number, targets: IdSet, count: number, targetOf: (p: object) => object | undefined = () => undefined): BigMap<number, string> {
  const high = objects.length
  const parent = new Int32Array(high).fill(-1)
  const out = new BigMap<number, string>()      // big-map.ts: more holders than a V8 Map holds
  if (rootId <= 0 || rootId >= high) return out
  parent[rootId] = 0
  const queue = [rootId]
  const members = new Map<number, BigSet<unknown>>()     // per collection, made when one of its segments or parts is first followed
  let found = 0
  for (let qi = 0; qi < queue.length && found < count; qi++) {
    const id = queue[qi]
    if (targets.has(id)) { out.set(id, ''); found++ }
    if (id >= refs.start.length) continue
    const s = refs.start[id], n = refs.count[id]
    // Entries of a segmented collection hang off its segments and parts: name them from the collection.
    const part = objects[id] instanceof SegmentRef || objects[id] instanceof PatchPart
    const from = part ? parent[id] : id
    let held: BigSet<unknown> | undefined
    if (part) {
      held = members.get(from)
      if (held === undefined) members.set(from, held = membersOf(objects[from], targetOf))
    }
    for (let i = s; i < s + n; i++) {
      const r = refs.pool[i]
      if (r > 0 && r < high && parent[r] === -1 && (held === undefined || held.has(objects[r]))) { parent[r] = from; queue.push(r) }
    }
  }
  for (const id of out.keys()) {
    const steps: string[] = []
    for (let at = id; at !== rootId; at = parent[at]) steps.push(stepTo(objects[parent[at]] as object, objects[at] as object))
    out.set(id, 'root' + steps.reverse().join(''))
  }
  return out
}
