/**
 * The encoder's own-property checks (props.ts, the PROPS section): which records need one,
 * found as cheaply as possible, and the section itself. Functions over the encoder (not a
 * base class: a base-class split of decode.ts measured 1.09-1.13x slower).
 *
 * Invariant (encode.ts inv. 4): a plain object or class instance whose discovery found it
 * extensible, without symbol-keyed properties, and with as many own string keys as its
 * body holds, gets no PROPS section and no inspection at its record (`earlyNames`,
 * `nothingBeyond`): checked before the id stamp, because the stamp (a private field) takes
 * V8's `getOwnPropertyNames` off its fast path (25 ns before, 330 ns after, per user of the
 * performance graph).
 */
import { isDataView } from './builtins.js'
import { KIND_ARRAY, KIND_DATE, KIND_MAP, KIND_OBJECT, KIND_SET, KIND_VIEW } from './format.js'
import { ATTR_IN_BODY, exemptFor, inspect, own } from './props.js'
import { propsSeen } from './verify.js'
import type { Encoder } from './encode.js'

const isExtensible = Object.isExtensible
const gOPS = Object.getOwnPropertySymbols
const gOPN = Object.getOwnPropertyNames
const ownKeys = Reflect.ownKeys

/** `Encoder.record`'s `names`: nothing was looked at yet. */
export const NAMES_UNKNOWN = -1
/** `Encoder.record`'s `names`: discovery found the object not extensible, or with a symbol-keyed property. */
export const NAMES_EXTRA = -2

/**
 * The count of own string keys of `o` if it is extensible and has no symbol-keyed
 * property, else NAMES_EXTRA (inv. 4: called before the stamp, while
 * `getOwnPropertyNames` can copy V8's enum cache).
 */
export function earlyNames(o: object): number {
  return isExtensible(o) && gOPS(o).length === 0 ? gOPN(o).length : NAMES_EXTRA
}

/**
 * True when `o` has nothing beyond `body` that `ownSection` would write or report (so
 * `inspect` would answer false), found with one or two calls: the common case, for which
 * `inspect` makes three. False sends the record to `ownSection`. Objects (only when
 * `early`, i.e. `properties: 'all'`; 'attributes' checks the body's attributes): the count
 * of own string keys their discovery found (inv. 4), else one `Reflect.ownKeys` count
 * (string and symbol keys; on a stamped object it costs what `getOwnPropertyNames` alone
 * costs). Dates, Maps, Sets: extensible with no own key at all. Arrays: extensible with no
 * symbol-keyed property (their other keys are not looked at, props.ts). Not called for a
 * dirty object whose `plain` flag the encoder trusts (encode.ts inv. 5, `#plainTrusted`).
 */
export function nothingBeyond(o: object, kind: number, body: readonly string[], names: number, early: boolean): boolean {
  switch (kind) {
    case KIND_OBJECT:
      if (!early) return false
      if (names !== NAMES_UNKNOWN) return names === body.length
      return isExtensible(o) && ownKeys(o).length === body.length
    case KIND_ARRAY: return isExtensible(o) && gOPS(o).length === 0
    case KIND_DATE: case KIND_MAP: case KIND_SET: return isExtensible(o) && ownKeys(o).length === 0
    default: return false
  }
}

/**
 * The own properties the body does not hold, or holds with attributes other than the
 * defaults (props.ts): a PROPS section at the end of the record `e` is writing, and reports
 * of what cannot persist. `body`: the own enumerable string keys the body holds.
 */
export function ownSection(e: Encoder, id: number, o: object, kind: number, body: readonly string[]): void {
  const elements = kind === KIND_ARRAY || (kind === KIND_VIEW && !isDataView(o))
  const exempt = exemptFor(kind, o)
  // The attributes of the body's keys (one getOwnPropertyDescriptor per key: 2-4 us per
  // object here, more than v8.serialize spends on it) only with `properties: 'attributes'`,
  // or when the object is not extensible (props.ts `inspect` checks them then anyway).
  const checkAttrs = e.ctx.attributes && kind !== KIND_ARRAY
  const found = inspect(o, body, !elements, checkAttrs, exempt)
  // An exposed object: what was found is compared at the next points (verify.ts inv. V3).
  if (e.cap) e.ctx.verifier!.setProps(id, found ? propsSeen(body, !elements, checkAttrs, exempt) : null)
  if (!found) return
  // Copies: writing a value may discover objects, and nothing here may see `own` change under it.
  const keys = own.keys.slice(), attrs = own.attrs.slice(), values = own.values.slice(), real = own.real.slice(), drops = own.drops.slice(), sealed = own.sealed
  for (const [k, why] of drops) e.drop(k, 'prop', why)
  if (keys.length === 0 && !sealed) return
  const w = e.w
  w.u8(sealed ? 1 : 0)
  w.varint(keys.length)
  const cap = e.cap
  e.cap = false        // these values are not part of the shadow's layout (shadow.ts)
  for (let i = 0; i < keys.length; i++) {
    w.u8(attrs[i])
    w.str(keys[i])
    if ((attrs[i] & ATTR_IN_BODY) === 0) e.value(values[i], real[i], 'prop')
  }
  e.cap = cap
}
