/**
 * Restore of the PROPS section of a record (format.ts, props.ts): read after the kind's
 * body (its values may reference other objects), applied once the object's body is in
 * place (a non-extensible array must have its elements first). Damaged data gives
 * CorruptionError: a bad key kind or an unknown well-known symbol through `fail`, a
 * property the object refuses (defineProperty throws) through the restorer's conversion
 * of built-in exceptions (decode.ts inv. 1).
 */
import {
  ATTR_CONFIGURABLE, ATTR_ENUMERABLE, ATTR_IN_BODY, ATTR_WRITABLE, KEY_REGISTERED, KEY_SHIFT, KEY_STRING, KEY_WELL_KNOWN,
  WELL_KNOWN_BY_NAME,
} from './props.js'
import { defineProperty } from './builtins.js'
import { pin } from './pinned.js'

const preventExtensions = Object.preventExtensions
const symbolFor = Symbol.for

/** What the restorer needs to read a PROPS section. */
interface Reader {
  u8(): number
  count(minBytes: number): number
  value(): unknown
  fail(what: string): never
}

/** A PROPS section read and not applied yet. */
export interface PendingProps { sealed: boolean; keys: (string | symbol)[]; attrs: number[]; values: unknown[] }

/** Reads the PROPS section at the reader's position (to the record's end). */
export function readProps(r: Reader): PendingProps {
  const sealed = r.u8()
  if (sealed > 1) r.fail(`extensibility flag ${sealed}`)
  const n = r.count(2)
  const p: PendingProps = { sealed: sealed === 1, keys: [], attrs: [], values: [] }
  for (let i = 0; i < n; i++) {
    const a = r.u8()
    const name = r.value()
    if (typeof name !== 'string') r.fail('property key is not a string')
    const kind = a >>> KEY_SHIFT
    let key: string | symbol
    if (kind === KEY_STRING) key = name
    else if (kind === KEY_REGISTERED) key = symbolFor(name)
    else if (kind === KEY_WELL_KNOWN) {
      const s = WELL_KNOWN_BY_NAME.get(name)
      if (s === undefined) r.fail(`unknown well-known symbol ${JSON.stringify(name)}`)
      key = s
    } else return r.fail(`property key kind ${kind}`)
    p.keys.push(key)
    p.attrs.push(a)
    p.values.push((a & ATTR_IN_BODY) === 0 ? r.value() : undefined)
  }
  return p
}

/**
 * Gives `o` the properties and attributes read, then makes it non-extensible if it was; pins
 * it if a property is non-writable and non-configurable (pinned.ts, barrier.ts inv. 6).
 */
export function applyProps(o: object, p: PendingProps): void {
  for (let i = 0; i < p.keys.length; i++) {
    const a = p.attrs[i]
    if ((a & (ATTR_WRITABLE | ATTR_CONFIGURABLE)) === 0) pin(o)
    const d: PropertyDescriptor = { enumerable: (a & ATTR_ENUMERABLE) !== 0, writable: (a & ATTR_WRITABLE) !== 0, configurable: (a & ATTR_CONFIGURABLE) !== 0 }
    if ((a & ATTR_IN_BODY) === 0) d.value = p.values[i]
    defineProperty(o, p.keys[i], d)
  }
  if (p.sealed) preventExtensions(o)
}
