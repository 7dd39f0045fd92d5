/**
 * Own properties that a record's body does not hold (format.ts, the PROPS section): what
 * `inspect` finds on an object beyond the own enumerable string-keyed data properties its
 * body holds (all of them, for plain objects, class instances and arrays; none, for Maps,
 * Sets, Dates, RegExps and binary objects), and what the restorer does with it.
 *
 * | own property | persisted | reported in `dropped` |
 * | --- | --- | --- |
 * | non-enumerable, string key, data | yes, with its attributes | no |
 * | symbol key from `Symbol.for(k)`, or a well-known symbol (`Symbol.iterator`, ...) | yes, with its attributes | no |
 * | symbol key made by `Symbol()` | no: the key cannot be made again | yes |
 * | accessor (getter/setter) | the getter's value, as a data property with the accessor's enumerability | yes (functions cannot persist) |
 * | non-writable or non-configurable (the body's keys too) | yes, attributes kept | no |
 * | the object not extensible (`preventExtensions`, `seal`, `freeze`) | yes | no |
 *
 * What is not looked at (cost: these lists would hold one string per element): string-keyed
 * non-index properties of typed arrays and Buffers, non-enumerable string-keyed properties
 * of arrays, and the attributes of the elements of extensible arrays. An array's `length`
 * is looked at where its elements' attributes are (a non-extensible array, or `properties:
 * 'attributes'`): a read-only one (`Object.freeze(array)`) gets an entry held in the body
 * (session 11; before, a frozen array came back with a writable length, so it could grow). Symbol-keyed
 * properties and extensibility of arrays and typed arrays are looked at.
 *
 * Invariant (encode.ts inv. 2 extended): every own property of an inspected object is
 * either in the record (body or PROPS) or reported in `dropped` under its holder.
 *
 * Inv. P1: an inspection never throws because of a getter it runs. An accessor outside the
 * body whose getter throws is reported (`thrownReason`) and has no entry, so one such
 * property (the `callee` poison pill of every strict-mode `arguments` object, a getter that
 * throws for a while) cannot fail every point: the verifier's inspection (verify-compare.ts)
 * finds the same report while the getter keeps throwing (no change), and an entry once it
 * returns (a change: the record is encoded again). The body's accessors are read by the body
 * (encode-bodies.ts), where a getter that throws still fails the point (README, "Async").
 */
import { isArray, isNativeError, isStringObject, reflectApply } from './builtins.js'
import { KIND_BOXED, KIND_REGEXP } from './format.js'
import { ERROR_TYPES, STRING_KEYS, errorType, intrinsicCount, intrinsicKey, ownMessage } from './natives.js'

const gOPN = Object.getOwnPropertyNames
const gOPS = Object.getOwnPropertySymbols
const gOPD = Object.getOwnPropertyDescriptor
const isExtensible = Object.isExtensible
const keyFor = Symbol.keyFor

/**
 * The `exempt` of `inspect` for an object of record kind `kind`: a RegExp's `lastIndex`, a
 * String object's index keys and `length` (natives.ts STRING_KEYS), else null. The encoder
 * (encode-own.ts) and the verifier (verify.ts, verify-compare.ts) ask the same question.
 */
export function exemptFor(kind: number, o: object): string | null {
  return kind === KIND_REGEXP ? 'lastIndex' : kind === KIND_BOXED && isStringObject(o) ? STRING_KEYS : null
}

/** Attribute bits of a PROPS entry (format.ts). */
export const ATTR_ENUMERABLE = 1
export const ATTR_WRITABLE = 2
export const ATTR_CONFIGURABLE = 4
/** The property was an accessor: its value is the getter's (restored as a data property). */
export const ATTR_ACCESSOR = 8
/** The body holds the value (only the attributes are in the entry). */
export const ATTR_IN_BODY = 16
/** Key kind, bits 5-6: 0 a string, 1 `Symbol.for(key)`, 2 the well-known symbol `Symbol[key]`. */
export const KEY_SHIFT = 5
export const KEY_STRING = 0
export const KEY_REGISTERED = 1
export const KEY_WELL_KNOWN = 2

/** Well-known symbol -> its name in `Symbol` ("iterator", ...), and back. */
export const WELL_KNOWN = new Map<symbol, string>()
export const WELL_KNOWN_BY_NAME = new Map<string, symbol>()
for (const name of gOPN(Symbol)) {
  const s = (Symbol as unknown as Record<string, unknown>)[name]
  if (typeof s === 'symbol') { WELL_KNOWN.set(s, name); WELL_KNOWN_BY_NAME.set(name, s) }
}

/** What the last `inspect` found (module-level, reused: inspecting allocates only when it finds something). */
export const own = {
  /** Entries to write: key as stored (a string), the key itself, attribute byte, value. */
  keys: [] as string[], real: [] as (string | symbol)[], attrs: [] as number[], values: [] as unknown[],
  /** The object is not extensible. */
  sealed: false,
  /** Properties that cannot persist, or persist without their functions: key, reason. */
  drops: [] as [string | symbol, string][],
}

function reset(): void {
  own.keys.length = 0; own.real.length = 0; own.attrs.length = 0; own.values.length = 0; own.drops.length = 0
}

const ACCESSOR_REASON = 'accessor property: its getter and setter cannot persist (functions); the value the getter returned persists as a data property'
const SYMBOL_REASON = 'symbol-keyed property: a key made by Symbol() cannot be made again (Symbol.for keys and well-known symbols persist)'

function attrsOf(d: PropertyDescriptor): number {
  return (d.enumerable === true ? ATTR_ENUMERABLE : 0) | (d.configurable === true ? ATTR_CONFIGURABLE : 0) |
    (d.get !== undefined || d.set !== undefined ? ATTR_ACCESSOR | ATTR_WRITABLE : d.writable === true ? ATTR_WRITABLE : 0)
}

/**
 * Why an accessor whose getter threw is neither persisted nor read again at this point (inv.
 * P1). Names a native error's type and message (an own data property, read without running
 * anything that could throw again), else the thrown value's type.
 */
export function thrownReason(e: unknown): string {
  let what = typeof e === 'object' && e !== null ? 'an object' : String(typeof e)
  if (isNativeError(e)) {
    const msg = ownMessage(e)
    what = `${ERROR_TYPES[errorType(e)]}${msg === '' ? '' : ': ' + msg}`
  }
  return `accessor property whose getter threw (${what}): not persisted (the property is absent after a restore)`
}

function add(o: object, key: string | symbol, stored: string, keyKind: number, d: PropertyDescriptor, inBody: boolean): void {
  let value: unknown
  if (inBody) value = undefined
  else if (d.get !== undefined) {
    // Inv. P1: a getter that throws (a strict-mode arguments object's `callee`, a user's)
    // drops its property; letting it throw failed every later point of the container.
    try { value = reflectApply(d.get, o, []) } catch (e) { own.drops.push([key, thrownReason(e)]); return }
  } else value = d.value
  const a = attrsOf(d)
  if ((a & ATTR_ACCESSOR) !== 0) own.drops.push([key, ACCESSOR_REASON])
  own.keys.push(stored)
  own.real.push(key)
  own.attrs.push(a | (inBody ? ATTR_IN_BODY : 0) | (keyKind << KEY_SHIFT))
  own.values.push(value)
}

/**
 * Looks at the own properties of `o` beyond `body` (the own enumerable string keys its
 * record's body holds, in any order). `names`: also list string keys (false for arrays and
 * typed arrays, see the file's comment); `attrs`: check the attributes of the body's keys
 * (false for the elements of an extensible array). `exempt` is an own string key that needs
 * no entry while it is a writable 0 (a RegExp's `lastIndex`, as a RegExp is made), or
 * natives.ts STRING_KEYS (a String object's index keys and `length`), or null. Returns true if a PROPS section or a report is needed (`own`).
 */
export function inspect(o: object, body: readonly string[], names: boolean, attrs: boolean, exempt: string | null): boolean {
  let skip = 0, strLen = -1
  if (exempt === STRING_KEYS) { skip = intrinsicCount(o); strLen = skip - 1; exempt = null }     // natives.ts inv. N2
  else if (exempt !== null) {
    const d = gOPD(o, exempt)
    if (d === undefined || d.value !== 0 || d.writable !== true) exempt = null
    else skip = 1
  }
  const sealed = !isExtensible(o)
  const syms = gOPS(o)
  const all = names ? gOPN(o) : null
  const checkBody = attrs || sealed
  if (!sealed && syms.length === 0 && !checkBody && (all === null || all.length === body.length + skip)) return false
  reset()
  own.sealed = sealed
  if (checkBody) {
    for (let i = 0; i < body.length; i++) {
      const d = gOPD(o, body[i])
      if (d === undefined) continue           // a getter deleted it while the body was read
      if (d.get !== undefined || d.set !== undefined || d.writable !== true || d.configurable !== true) add(o, body[i], body[i], KEY_STRING, d, true)
    }
    if (isArray(o)) {     // a frozen array's length is read-only: kept (its value is the body's length), else it came back writable and could grow
      const d = gOPD(o, 'length')
      if (d !== undefined && d.writable !== true) add(o, 'length', 'length', KEY_STRING, d, true)
    }
  }
  if (all !== null && all.length !== body.length + skip) {
    const inBody = new Set(body)
    for (const k of all) {
      if (inBody.has(k)) continue
      if (k === exempt || (strLen >= 0 && intrinsicKey(k, strLen))) continue
      const d = gOPD(o, k)
      if (d === undefined) continue
      add(o, k, k, KEY_STRING, d, false)
    }
  }
  for (const s of syms) {
    const d = gOPD(o, s)
    if (d === undefined) continue
    const registered = keyFor(s)
    if (registered !== undefined) add(o, s, registered, KEY_REGISTERED, d, false)
    else if (WELL_KNOWN.has(s)) add(o, s, WELL_KNOWN.get(s)!, KEY_WELL_KNOWN, d, false)
    else own.drops.push([s, SYMBOL_REASON])
  }
  return own.keys.length > 0 || sealed || own.drops.length > 0
}
