/**
 * What an object handed out raw holds in its own data properties (barrier.ts inv. 10,
 * exposure.ts inv. E2). A restored error, Date, RegExp, ArrayBuffer, DataView, boxed
 * primitive or instance of a class with private members or hooks is handed out as itself
 * (its methods need the real object), so what its own properties hold is what the program
 * reaches from it: given as the container's proxies (`holdAsProxies`), the program meets one
 * object per persisted object whichever path it reads first, and its writes through them
 * reach a barrier. `c.unwrap` asks for the raw graph: `holdRaw` puts the targets back.
 *
 * Only data properties are replaced, and only where the property can be redefined (writable,
 * or configurable); attributes stay as they were (`defineProperty` with a value alone).
 */
const ownKeys = Reflect.ownKeys
const getOwnDescriptor = Reflect.getOwnPropertyDescriptor
const defineOwn = Reflect.defineProperty

/** True if one of `v`'s own data properties holds an object. */
export function holdsObjects(v: object): boolean {
  for (const k of ownKeys(v)) {
    const d = getOwnDescriptor(v, k)
    if (d !== undefined && typeof d.value === 'object' && d.value !== null) return true
  }
  return false
}

/** Replaces each object value of `v`'s own data properties by `wrap(value)` where that differs; `keep(x)`: leave `x` as it is (a proxy already, or new). */
export function holdAsProxies(v: object, wrap: (x: object) => unknown, keep: (x: object) => boolean): void {
  for (const k of ownKeys(v)) {
    const d = getOwnDescriptor(v, k)
    if (d === undefined || !('value' in d)) continue
    const x = d.value as unknown
    if (typeof x !== 'object' || x === null || keep(x)) continue
    const w = wrap(x)
    if (w === x || (d.writable !== true && d.configurable !== true)) continue
    defineOwn(v, k, { value: w })
  }
}

/** Puts back the target of each proxy `v`'s own data properties hold (`targetOf`: undefined for what is not a proxy). */
export function holdRaw(v: object, targetOf: (x: object) => object | undefined): void {
  for (const k of ownKeys(v)) {
    const d = getOwnDescriptor(v, k)
    const x = d === undefined ? undefined : d.value as unknown
    if (typeof x !== 'object' || x === null) continue
    const raw = targetOf(x)
    if (raw !== undefined && (d!.writable === true || d!.configurable === true)) defineOwn(v, k, { value: raw })
  }
}
