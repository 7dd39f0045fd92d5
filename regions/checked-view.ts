/**
 * Checked views: typed arrays and DataViews over a region that throw
 * `RegionClosedError` once the region is closed or remapped.
 *
 * Why: the mmap binding cannot detach its Buffers (Node marks external buffers as
 * untransferable), so a plain typed array over a closed region would go on reading and
 * writing the file. A checked view is a Proxy whose target is an empty array of the same
 * class (so `instanceof`, `Symbol.toStringTag` and `Array.isArray`-like checks behave),
 * and whose handler forwards every access to the real view while the region is open. Once
 * invalidated, the handler drops the real view (so the mapping can be garbage collected)
 * and every access throws.
 *
 * Methods are bound to the real view so that `view.fill(0)`, `view.subarray(...)`,
 * `dv.getFloat64(...)` work; a subarray taken from a checked view is itself unchecked
 * (documented: take views through `region.view`).
 */
import { RegionClosedError } from './errors.js'
import type { ViewCtor } from './types.js'

/**
 * Invalidates every checked view handed out by one owner (one per region mapping). Views
 * are held weakly: a view the program dropped is garbage collected with its handler, so a
 * long-lived region that hands out many views does not grow.
 */
export class ViewRegistry {
  #handlers: Array<WeakRef<ViewHandler>> = []
  #pruneAt = 64
  #reason: string

  constructor(reason: string) { this.#reason = reason }

  /** Wraps `real` in a checked proxy registered here. */
  wrap<T extends object>(real: T, ctor: ViewCtor): T {
    const handler = new ViewHandler(real, this.#reason)
    this.#handlers.push(new WeakRef(handler))
    if (this.#handlers.length >= this.#pruneAt) this.#prune()
    const target = ctor === DataView ? new DataView(new ArrayBuffer(0)) : new (ctor as Uint8ArrayConstructor)(0)
    return new Proxy(target, handler as ProxyHandler<object>) as T
  }

  /** Makes every view wrapped so far throw on use. */
  invalidateAll(): void {
    for (const ref of this.#handlers) ref.deref()?.invalidate()
    this.#handlers = []
    this.#pruneAt = 64
  }

  /** Number of views still reachable (for tests). */
  get live(): number { this.#prune(); return this.#handlers.length }

  /** Drops collected views; amortised by doubling the threshold. */
  #prune(): void {
    this.#handlers = this.#handlers.filter(ref => ref.deref() !== undefined)
    this.#pruneAt = Math.max(64, this.#handlers.length * 2)
  }
}

class ViewHandler implements ProxyHandler<object> {
  #real: object | null
  #reason: string
  #bound = new Map<PropertyKey, unknown>()

  constructor(real: object, reason: string) {
    this.#real = real
    this.#reason = reason
  }

  invalidate(): void {
    this.#real = null
    this.#bound.clear()
  }

  #live(): object {
    if (this.#real === null) throw new RegionClosedError(this.#reason)
    return this.#real
  }

  get(_t: object, key: PropertyKey): unknown {
    const real = this.#live()
    const value = Reflect.get(real, key, real)
    if (typeof value !== 'function') return value
    let bound = this.#bound.get(key)
    if (bound === undefined) {
      bound = (value as (...a: unknown[]) => unknown).bind(real)
      this.#bound.set(key, bound)
    }
    return bound
  }

  set(_t: object, key: PropertyKey, value: unknown): boolean {
    const real = this.#live()
    return Reflect.set(real, key, value, real)
  }

  has(_t: object, key: PropertyKey): boolean { return Reflect.has(this.#live(), key) }
  ownKeys(_t: object): ArrayLike<string | symbol> {
    // The proxy target is non-extensible only if the real one is; typed arrays are extensible.
    return Reflect.ownKeys(this.#live())
  }
  getOwnPropertyDescriptor(_t: object, key: PropertyKey): PropertyDescriptor | undefined {
    const d = Reflect.getOwnPropertyDescriptor(this.#live(), key)
    if (d !== undefined) d.configurable = true
    return d
  }
  defineProperty(_t: object, key: PropertyKey, desc: PropertyDescriptor): boolean {
    return Reflect.defineProperty(this.#live(), key, desc)
  }
  deleteProperty(_t: object, key: PropertyKey): boolean { return Reflect.deleteProperty(this.#live(), key) }
}

/** Element size in bytes of a view constructor (1 for DataView). */
export function elementSize(ctor: ViewCtor): number {
  return ctor === DataView ? 1 : (ctor as Uint8ArrayConstructor).BYTES_PER_ELEMENT
}
