/**
 * A canonical text form of an object graph, identity included, to compare a graph restored
 * in another process with the one persisted: objects are numbered in breadth-first order
 * from the root, so two graphs have the same text exactly when they have the same values,
 * kinds, prototypes (by class name) AND the same sharing and cycles. Instances of classes
 * with a `[Container.save]` hook include the state it returns. Iterative.
 */
import { types } from 'node:util'

const SAVE = Symbol.for('persistent-memory.container.save')

function tagOf(o: object): string {
  if (Array.isArray(o)) return 'Array'
  if (types.isMap(o)) return 'Map'
  if (types.isSet(o)) return 'Set'
  if (types.isDate(o)) return 'Date'
  if (types.isRegExp(o)) return 'RegExp'
  if (types.isArrayBuffer(o)) return 'ArrayBuffer'
  if (ArrayBuffer.isView(o)) return types.isDataView(o) ? 'DataView' : Object.prototype.toString.call(o).slice(8, -1)
  return 'Object'
}

function protoName(o: object): string {
  const p = Object.getPrototypeOf(o) as { constructor?: { name?: string } } | null
  return p === null ? 'null' : p.constructor?.name ?? '?'
}

/** The canonical text of the graph reachable from `root`. */
export function graphText(root: unknown): string {
  const ids = new Map<object, number>()
  const queue: object[] = []
  const val = (v: unknown): unknown => {
    switch (typeof v) {
      case 'undefined': return { u: 1 }
      case 'bigint': return { n: v.toString() }
      case 'number': return Object.is(v, -0) ? { f: '-0' } : Number.isFinite(v) ? v : { f: String(v) }
      case 'function': case 'symbol': return null
      case 'object': {
        if (v === null) return null
        let id = ids.get(v)
        if (id === undefined) { id = ids.size; ids.set(v, id); queue.push(v) }
        return { r: id }
      }
      default: return v
    }
  }
  val(root)
  const nodes: unknown[] = []
  for (let i = 0; i < queue.length; i++) {
    const o = queue[i]
    const tag = tagOf(o)
    const node: Record<string, unknown> = { t: tag, p: protoName(o) }
    if (tag === 'Map') node.e = [...(o as Map<unknown, unknown>)].map(([k, x]) => [val(k), val(x)])
    else if (tag === 'Set') node.e = [...(o as Set<unknown>)].map(val)
    else if (tag === 'Date') node.e = val((o as Date).getTime())
    else if (tag === 'RegExp') node.e = String(o)
    else if (tag === 'ArrayBuffer') node.e = Buffer.from(o as ArrayBuffer).toString('base64')
    else if (ArrayBuffer.isView(o)) node.e = [val(o.buffer), o.byteOffset, o.byteLength]
    else {
      if (tag === 'Array') node.n = (o as unknown[]).length
      node.e = Object.keys(o).map(k => [k, val((o as Record<string, unknown>)[k])])
      const ctor = (Object.getPrototypeOf(o) as { constructor?: unknown } | null)?.constructor as Record<symbol, unknown> | undefined
      const save = ctor?.[SAVE]
      if (typeof save === 'function') node.s = val((save as (x: object) => unknown).call(ctor, o))
    }
    nodes.push(node)
  }
  return JSON.stringify(nodes)
}
