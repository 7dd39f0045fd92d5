/**
 * Test kit for native errors and boxed primitives in containers (natives.ts, format 6): a
 * graph holding every native error type, a cause cycle, nested AggregateErrors, extra own
 * properties, a frozen error, a registered and an unregistered Error subclass and boxed
 * values; and `describeNatives`, a JSON description of such a graph (types, brands, own
 * properties with their attributes, extensibility, identity as paths) that a fresh process
 * prints for the test to compare.
 */
import { types, inspect } from 'node:util'

/** A registered Error subclass with a field. */
export class HttpError extends TypeError {
  status: number
  constructor(message: string, status: number) { super(message); this.name = 'HttpError'; this.status = status }
}
/** An Error subclass never registered: dropped, as other unregistered classes are. */
export class NotRegistered extends Error {}
export const NATIVE_CLASSES = [HttpError]

/** The test graph (see the file's comment). */
export function buildNatives(): Record<string, unknown> {
  const lastError = new TypeError('disk full', { cause: 'ENOSPC' }) as TypeError & { code?: unknown }
  lastError.code = 'E1'
  Object.defineProperty(lastError, Symbol.for('natives.kit'), { value: 7, enumerable: false, writable: true, configurable: true })
  const self = new Error('self') as Error & { cause?: unknown }
  self.cause = self
  const inner = new AggregateError([new URIError('u')], 'inner')
  const agg = new AggregateError([new RangeError('r'), lastError, inner], 'many', { cause: inner })
  const noStack = new ReferenceError('no stack')
  delete noStack.stack
  const bare = new EvalError()
  delete bare.stack
  const nullProto = new SyntaxError('null proto')
  Object.setPrototypeOf(nullProto, null)
  const readOnly = new Error('read-only')
  Object.defineProperty(readOnly, 'message', { writable: false, configurable: false })
  const s = new String('xy') as String & { extra?: unknown; 5?: string }
  s.extra = { n: 1 }
  s[5] = 'past the end'
  const n = new Number(-0) as Number & { unit?: string }
  n.unit = 'ms'
  return {
    lastError, self, agg, noStack, bare, nullProto, readOnly,
    each: [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError].map(C => new C(`a ${C.name}`)),
    frozen: Object.freeze(new SyntaxError('frozen')),
    http: new HttpError('not found', 404),
    unregistered: new NotRegistered('lost'),
    s, n, b: new Boolean(false), big: Object(-(2n ** 70n)) as object, sealedNum: Object.seal(new Number(3)),
    sym: Object(Symbol('q')) as object,
    shared: { again: lastError, str: s },
  }
}

type Described = Record<string, unknown>

/** A JSON description of the graph under `root` (identity as the first path an object was reached by). */
export function describeNatives(root: unknown): Described {
  const seen = new Map<object, string>()
  const out: Described = {}
  const todo: [unknown, string][] = [[root, 'root']]
  const val = (v: unknown, path: string): unknown => {
    if (typeof v === 'bigint') return `${v}n`
    if (typeof v === 'number' && Object.is(v, -0)) return '-0'
    if (typeof v !== 'object' || v === null) return v === undefined ? '<undefined>' : v
    const known = seen.get(v)
    if (known !== undefined) return `<ref ${known}>`
    seen.set(v, path)
    todo.push([v, path])
    return `<object ${path}>`
  }
  val(root, 'root')
  while (todo.length > 0) {
    const [o, path] = todo.shift()! as [object, string]
    const d: Described = {
      tag: Object.prototype.toString.call(o),
      proto: protoName(o),
      nativeError: types.isNativeError(o),
      boxed: types.isBoxedPrimitive(o),
      extensible: Object.isExtensible(o),
      frozen: Object.isFrozen(o),
    }
    if (types.isBoxedPrimitive(o)) d.value = val((o as { valueOf(): unknown }).valueOf.call(o), `${path}.<value>`)
    if (types.isNativeError(o)) {
      d.asString = Error.prototype.toString.call(o)
      d.inspect = inspect(o, { depth: 0 }).split('\n')[0]
      d.instanceofError = o instanceof Error
    }
    const own: Described = {}
    for (const k of Reflect.ownKeys(o)) {
      const desc = Reflect.getOwnPropertyDescriptor(o, k)!
      const name = typeof k === 'symbol' ? `Symbol(${k.description})` : k
      own[name] = [desc.enumerable, desc.writable, desc.configurable, val(desc.value, `${path}.${name}`)]
    }
    d.own = own
    out[path] = d
  }
  return out
}

function protoName(o: object): string {
  const p = Object.getPrototypeOf(o) as { constructor?: { name?: string } } | null
  return p === null ? 'null' : Object.hasOwn(p, 'constructor') ? String(p.constructor?.name) : '?'
}
