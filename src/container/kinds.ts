/**
 * Format rules that map objects in memory to record kinds (format.ts) and back: which kind
 * an object is stored as and with which prototype code, why an object cannot persist, the
 * built-in prototype of each kind, and the view types of VIEW records. The encoder
 * (encode.ts) and the restorer (decode.ts) hold the loops; the rules are here.
 *
 * Invariants:
 *   K1. An object is stored with its built-in kind only if it really is one (brand checks
 *       through captured built-ins, never `instanceof` or its prototype alone): an object
 *       whose prototype is Map.prototype but is not a Map is a plain object of a class.
 *   K2. Anything that is not a plain object, array or known built-in (native errors and
 *       boxed primitives included, natives.ts; a Symbol object is not), and not an instance of
 *       a registered class, cannot persist, with a reason that names what it is
 *       (`classified.reason`); it is restored as null (encode.ts inv. 2).
 */
import {
  ArrayProto, ObjectProto, getPrototypeOf, hasOwn, isArray, isArrayBuffer, isDataView, isDate, isMap, isPromise,
  isProxy, isRegExp, isSet, isSharedArrayBuffer, isTypedArray, isWeakMap, isWeakSet, isBoxedPrimitive, isNativeError,
  typedArrayTag, viewParts, MapProto, SetProto, DateProto, RegExpProto, ArrayBufferProto, functionName,
} from './builtins.js'
import {
  KIND_ARRAY, KIND_BOXED, KIND_BYTES, KIND_DATE, KIND_DICT, KIND_ERROR, KIND_MAP, KIND_OBJECT, KIND_REGEXP, KIND_SET, KIND_SPARSE, KIND_VIEW,
  PROTO_BUILTIN, PROTO_NULL, VIEW_TYPES,
} from './format.js'
import { boxedProto, errorProto, errorType } from './natives.js'
import { PROXY_TARGET } from './identity.js'
import { anyFailed, prototypeFailure, stillThrowing } from './trap-failures.js'

/** View type name -> the index stored in VIEW records. */
export const VIEW_INDEX = new Map<string, number>(VIEW_TYPES.map((t, i) => [t, i]))
/** VIEW record type index -> its constructor. */
export const VIEW_CTORS = VIEW_TYPES.map(t => (globalThis as unknown as Record<string, new (b: ArrayBuffer, o: number, l: number) => object>)[t])
const VIEW_PROTOS = new Map<string, object>(VIEW_TYPES.map(t => [t, (globalThis as unknown as Record<string, { prototype: object }>)[t].prototype]))

/**
 * Why a Map, Set (or other non-plain) proxy handed out by another container cannot persist
 * here (K2): its target is not this container's to read, and the proxy is not a Map. Found by
 * session 10's trust pass: the bare reason 'proxy' did not say what to do.
 */
export const OTHER_PROXY = 'proxy of another container (store that container\'s c.unwrap(x) to share the object, or c.snapshot(x) for a copy)'

/** True if `p` (a proxy) answers PROXY_TARGET with an object: some container's proxy (identity.ts). A trap that throws: not one. */
function otherContainersProxy(p: object): boolean {
  try {
    const t = (p as Record<symbol, unknown>)[PROXY_TARGET]
    return typeof t === 'object' && t !== null
  } catch { return false }
}

/** Record kind -> the prototype that proto code PROTO_BUILTIN stands for. */
export const BUILTIN_PROTO: (object | undefined)[] = []
BUILTIN_PROTO[KIND_OBJECT] = ObjectProto; BUILTIN_PROTO[KIND_DICT] = ObjectProto
BUILTIN_PROTO[KIND_ARRAY] = ArrayProto; BUILTIN_PROTO[KIND_SPARSE] = ArrayProto
BUILTIN_PROTO[KIND_MAP] = MapProto; BUILTIN_PROTO[KIND_SET] = SetProto
BUILTIN_PROTO[KIND_DATE] = DateProto; BUILTIN_PROTO[KIND_REGEXP] = RegExpProto
BUILTIN_PROTO[KIND_BYTES] = ArrayBufferProto

/**
 * What {@link kindOf} found besides the kind (module-level: classifying allocates nothing).
 * `proto` is PROTO_BUILTIN or PROTO_NULL unless `classProto` is set: then the object's
 * prototype is that object, which the encoder looks up among the registered classes.
 */
export const classified = { proto: 0, classProto: null as object | null, reason: '' }

function unsupported(reason: string): number { classified.reason = reason; return 0 }

/** The record kind of `o` (KIND_*), or 0 when it cannot persist (inv. K2; `classified.reason` says why). */
export function kindOf(o: object): number {
  if (anyFailed()) { const why = stillThrowing(o); if (why !== '') return unsupported(why) }     // trap-failures.ts inv. TF1
  let proto: object | null
  try { proto = getPrototypeOf(o) as object | null } catch (e) { return unsupported(prototypeFailure(e)) }
  classified.classProto = null
  if (proto === ObjectProto) { classified.proto = PROTO_BUILTIN; return KIND_OBJECT }
  if (proto === ArrayProto && isArray(o)) { classified.proto = PROTO_BUILTIN; return KIND_ARRAY }
  if (proto === DateProto && isDate(o)) { classified.proto = PROTO_BUILTIN; return KIND_DATE }
  let kind: number
  let builtin: object
  if (isArray(o)) { kind = KIND_ARRAY; builtin = ArrayProto }
  else if (isMap(o)) { kind = KIND_MAP; builtin = MapProto }
  else if (isSet(o)) { kind = KIND_SET; builtin = SetProto }
  else if (isDate(o)) { kind = KIND_DATE; builtin = DateProto }
  else if (isRegExp(o)) { kind = KIND_REGEXP; builtin = RegExpProto }
  else if (isArrayBuffer(o)) { kind = KIND_BYTES; builtin = ArrayBufferProto }
  else if (isTypedArray(o) || isDataView(o)) {
    const tag = isDataView(o) ? 'DataView' : typedArrayTag(o)!
    if (isSharedArrayBuffer(viewParts(o as ArrayBufferView)[0])) return unsupported('view of a SharedArrayBuffer')
    kind = KIND_VIEW
    builtin = VIEW_PROTOS.get(tag)!
  } else if (isNativeError(o)) {      // natives.ts: by its nearest native error prototype
    kind = KIND_ERROR
    builtin = errorProto(errorType(o))
  } else if (isBoxedPrimitive(o)) {
    const p = boxedProto(o)
    if (p === null) return unsupported('boxed Symbol (a symbol cannot persist)')
    kind = KIND_BOXED
    builtin = p
  } else if (isProxy(o)) {
    return unsupported(otherContainersProxy(o) ? OTHER_PROXY : 'proxy')
  } else {
    const why = exoticReason(o)
    if (why !== '') return unsupported(why)
    kind = KIND_OBJECT
    builtin = ObjectProto
  }
  if (proto === builtin) { classified.proto = PROTO_BUILTIN; return kind }
  if (proto === null) { classified.proto = PROTO_NULL; return kind }
  classified.classProto = proto
  return kind
}

/** Why an object that is not a plain object, array or known built-in cannot persist, or ''. */
function exoticReason(o: object): string {
  if (isPromise(o)) return 'Promise'
  if (isWeakMap(o)) return 'WeakMap'
  if (isWeakSet(o)) return 'WeakSet'
  if (isSharedArrayBuffer(o)) return 'SharedArrayBuffer'
  if (o instanceof WeakRef) return 'WeakRef'
  return ''
}

/** The name of a prototype's class, for messages. */
export function protoName(proto: object): string {
  try {
    const ctor = hasOwn(proto, 'constructor') ? (proto as { constructor: unknown }).constructor : undefined
    return typeof ctor === 'function' ? functionName(ctor) : '(anonymous prototype)'
  } catch { return '(anonymous prototype)' }
}
