/**
 * The mapping of a live `Region`'s user area (region.ts) and the checked views handed out
 * over it (inv. R4). `Region` checks that it is usable (open, not broken) and checks view
 * arguments before asking for an array here; this file neither maps nor checks anything.
 *
 * States and transitions (the views of one mapping form one generation, a ViewRegistry):
 *  - mapped: `raw`, `bytes()` and `view()` work over the current mapping.
 *  - mapped -> mapped (`remap`, after grow or followGrowth): every view of the old mapping
 *    throws `RegionClosedError`; new views cover the new mapping, and `bytes()` is wrapped anew.
 *  - mapped -> invalidated (`invalidate`, the region broke, inv. R6): every view taken so far
 *    throws; the mapping stays (the region refuses to hand out more).
 *  - any -> released (`release`, close): every view throws and the mapping is dropped (unmapped
 *    once garbage collected). Final.
 */
import { ViewRegistry } from './checked-view.js'
import { readOnlyView } from './read-only-view.js'
import type { ViewCtor } from './types.js'

/** The current mapping of a region's user area and its checked views (see the header comment). */
export class MappedViews {
  readonly #path: string
  readonly #readOnly: boolean
  #map: Buffer | null
  #raw: Uint8Array | null
  #checkedBytes: Uint8Array | null = null
  #views: ViewRegistry

  constructor(path: string, readOnly: boolean, map: Buffer) {
    this.#path = path
    this.#readOnly = readOnly
    this.#map = map
    this.#raw = new Uint8Array(map.buffer, map.byteOffset, map.length)
    this.#views = this.#newRegistry()
  }

  /** The mapping; null once released. */
  get map(): Buffer | null { return this.#map }

  /** The raw, unchecked array over the mapping; null once released. */
  get raw(): Uint8Array | null { return this.#raw }

  /** The checked `Uint8Array` over the whole mapping, wrapped once per mapping. */
  bytes(): Uint8Array {
    this.#checkedBytes ??= this.#wrap(this.#raw!, Uint8Array)
    return this.#checkedBytes
  }

  /** A checked `ctor` view of `length` elements (bytes for DataView) at `byteOffset`, already checked. */
  view<C extends ViewCtor>(ctor: C, byteOffset: number, length: number): InstanceType<C> {
    const raw = this.#raw!
    const at = raw.byteOffset + byteOffset
    const real = ctor === DataView
      ? new DataView(raw.buffer, at, length)
      : new (ctor as Uint8ArrayConstructor)(raw.buffer, at, length)
    return this.#wrap(real, ctor) as InstanceType<C>
  }

  /** Replaces the mapping with `map` (the grown user area) and invalidates the old views (inv. R4). */
  remap(map: Buffer): void {
    this.#views.invalidateAll()
    this.#views = this.#newRegistry()
    this.#map = map
    this.#raw = new Uint8Array(map.buffer, map.byteOffset, map.length)
    this.#checkedBytes = null
  }

  /** Invalidates every view taken so far (the region broke, inv. R6). */
  invalidate(): void { this.#views.invalidateAll() }

  /** Invalidates every view and drops the mapping (close). */
  release(): void {
    this.#views.invalidateAll()
    this.#map = null
    this.#raw = null
    this.#checkedBytes = null
  }

  #newRegistry(): ViewRegistry {
    return new ViewRegistry(`Cannot use a view of region "${this.#path}": the region was closed, remapped by grow() or broken; take a new view from an open region`)
  }

  #wrap<T extends object>(real: T, ctor: ViewCtor): T {
    return this.#views.wrap(this.#readOnly ? readOnlyView(real, this.#path) : real, ctor)
  }
}
