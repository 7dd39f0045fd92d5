/**
 * Object identity for one container: a stable id per persisted object, and the map from
 * an object to the write-barrier proxy that stands for it.
 *
 * Ids are stamped on objects with private class fields (the "return override" trick): a
 * field added this way is invisible to user code, `Object.keys`, `util.inspect`,
 * `assert.deepStrictEqual` and Proxies, costs about 60 ns to add and 30 ns to read (a
 * WeakMap measured 4x slower, and a million-entry WeakMap slows every major GC). Each
 * container evaluates its own stamp class, so an object can be in two containers.
 *
 * Invariants:
 *   1. `objects[id] === o` for every live id; a stamp whose table entry does not hold the
 *      same object is stale (the id was freed) and `idOf` returns 0 for it.
 *   2. Id 0 is never used; ids of freed objects are reused only after the compaction that
 *      removed their records from the log (so a log never holds two live meanings of an id).
 *   3. An object's id is in its stamp or in the `loose` Map, never both; `release` removes
 *      a loose entry (the Map would otherwise keep a freed object alive). The loose Map is
 *      a BigMap (big-map.ts): more than V8's 2^24 entries of one Map (before session 15 the
 *      2^24th loose id, a graph of 16.8 million plain objects, failed every point with
 *      `RangeError: Map maximum size exceeded`).
 *
 * Loose ids: a private field is a hidden-class transition, shared by every object of one V8
 * map (about 60 ns) but a new map of its own for an object whose shape no other object has
 * (parsed JSON of varied keys: 1.5-2 us an object, 164 ms for the 93k objects of the corpus's
 * json-generated workload against 39 ms for a Map). The encoder asks for a loose id
 * (`assign(o, true)`) when the plain objects of the point rarely share shapes (encode.ts
 * `discover`), and for every plain object in a container that verifies (loose-ids.ts: a
 * stamp takes `Object.getOwnPropertyNames` off V8's fast path, which the verifying walk
 * checks each exposed plain object with at every point); everything else is stamped (a
 * Map costs 2-4x more than a shared transition on the users graph, and its lookups 3x
 * more; for objects without slack, whose stamp grows their property array, the first
 * point of bench/graph.mjs measured the same blocked time with loose ids, loose-ids.ts).
 */

import { isProxy } from './builtins.js'
import { BigMap } from './big-map.js'
import { grownU8 } from './by-id.js'

/** The key a container's proxy answers with its target (see `ObjectTable.targetOf`). */
export const PROXY_TARGET: unique symbol = Symbol('persistent-memory container proxy target')

class Base { constructor(o: object) { return o } }

/** Creates the private-field stamps of one container. */
function makeStamps() {
  class Stamp extends Base {
    #id = 0
    static getId(o: object): number { return #id in o ? o.#id : 0 }
    static setId(o: object, id: number): void { if (#id in o) o.#id = id; else new Stamp(o).#id = id }
  }
  class ProxyStamp extends Base {
    #proxy: object | undefined
    static get(o: object): object | undefined { return #proxy in o ? o.#proxy : undefined }
    static set(o: object, p: object): void { if (#proxy in o) o.#proxy = p; else new ProxyStamp(o).#proxy = p }
  }
  return { Stamp, ProxyStamp }
}

/** The id table of one container. */
export class ObjectTable {
  /** id -> object (or a shape/class descriptor); undefined for free ids. */
  objects: unknown[] = [undefined]
  /** Ids free for reuse (freed by a compaction); for a lazy restore, computed on first use (`setHighWater`). */
  get free(): number[] {
    if (this.#pending !== null) this.#freeFrom(this.#pending)
    return this.#free
  }
  set free(ids: number[]) { this.#pending = null; this.#free = ids }
  #free: number[] = []
  /** A lazy restore's free ids (highest first), until they are first needed. */
  #pending: (() => number[]) | null = null
  readonly #s = makeStamps()
  /** Ids given without a stamp (inv. 3): objects of shapes no other object shares. */
  readonly #loose: BigMap<object, number>

  /** `looseShard`: loose ids per Map (big-map.ts; tests pass a small one). */
  constructor(looseShard?: number) { this.#loose = new BigMap(looseShard) }

  /** The id of `o` in this container, or 0 if it has none. */
  idOf(o: object): number {
    const id = this.#s.Stamp.getId(o)
    if (id !== 0 && this.objects[id] === o) return id
    if (this.#loose.size === 0) return 0
    const l = this.#loose.get(o)      // a stale stamp does not hide a loose id
    return l !== undefined && this.objects[l] === o ? l : 0
  }

  /** Gives `o` a new id: in a stamp, or in the loose Map if `loose` (inv. 3). */
  assign(o: object, loose = false): number {
    const id = this.free.length > 0 ? this.free.pop()! : this.objects.length
    this.objects[id] = o
    if (loose) this.#loose.set(o, id)
    else this.#s.Stamp.setId(o, id)
    return id
  }

  /** Ids held in the loose Map (tests). */
  get looseCount(): number { return this.#loose.size }

  /** Empties the table and sizes it for ids below `high` (before a restore). */
  reset(high: number): void {
    this.objects = packedArray(high)
    this.free = []
    this.#loose.clear()
  }

  /** Records that `o` has id `id` (restore). */
  bind(o: object, id: number): void {
    while (this.objects.length < id) this.objects.push(undefined)
    this.objects[id] = o
    this.stamp(o, id)
  }

  /** Stamps `o` with `id` only (the caller has stored it in `objects`). */
  stamp(o: object, id: number): void {
    if (this.#loose.size !== 0) this.#loose.delete(o)
    this.#s.Stamp.setId(o, id)
    if (id >= this.#restored.length) this.#restored = grownU8(this.#restored, id)
    this.#restored[id] = 1
  }

  /** Ids stamped by a restore (`stamp`) and not freed since: 1 (a restore's object, never one the program made). */
  #restored: Uint8Array = new Uint8Array(1024)

  /** `o` is an object of the restore this table was filled from (stamped, not freed since): the program did not make it (barrier.ts inv. 10). */
  fromRestore(o: object): boolean {
    const id = this.idOf(o)
    return id !== 0 && id < this.#restored.length && this.#restored[id] === 1
  }

  /** Stores a descriptor (shape or class) under `id` without stamping. */
  bindDescriptor(d: object, id: number): void {
    while (this.objects.length < id) this.objects.push(undefined)
    this.objects[id] = d
  }

  /** Frees `id`; its stamp becomes stale. */
  release(id: number): void {
    if (this.#loose.size !== 0) { const o = this.objects[id]; if (typeof o === 'object' && o !== null && this.#loose.get(o) === id) this.#loose.delete(o) }
    if (id < this.#restored.length) this.#restored[id] = 0
    this.objects[id] = undefined
    this.free.push(id)
  }

  /** One past the highest id ever handed out. */
  get highWater(): number { return this.objects.length }

  /**
   * Makes the table end at `n` (restore: ids up to the persisted high-water mark); the free
   * ids are those holding nothing, or, if `freeIds` is given (a lazy restore: those without
   * a record in the log's index, lazy.ts), what it returns (highest first) when first needed.
   */
  setHighWater(n: number, freeIds?: () => number[]): void {
    while (this.objects.length < n) this.objects.push(undefined)
    this.free = []
    // Lazily (the open need not scan every id): nothing before the first use of `free` takes
    // or frees an id (assign and release go through it), and the offsets do not change.
    if (freeIds !== undefined) this.#pending = freeIds
    else for (let id = n - 1; id >= 1; id--) if (this.objects[id] === undefined) this.#free.push(id)
  }

  #freeFrom(freeIds: () => number[]): void {
    this.#pending = null
    this.#free = freeIds()
  }

  /** The proxy of `o`, or `o` itself once it is handed out raw after having had a proxy (`retire`), or undefined. */
  proxyOf(o: object): object | undefined { return this.#s.ProxyStamp.get(o) }
  setProxy(o: object, p: object): void { this.#s.ProxyStamp.set(o, p) }

  /** Proxies whose target is handed out raw since (exposed): they still unwrap to it. */
  readonly #retired = new WeakSet<object>()

  /** `o` (whose proxy is `p`) is handed out raw from now on; `p` stays one of this container's proxies. */
  retire(o: object, p: object): void {
    this.#retired.add(p)
    this.#s.ProxyStamp.set(o, o)
  }

  /**
   * The target of one of this container's proxies, or undefined for anything else. The
   * container's proxies answer `p[PROXY_TARGET]` with their target (barrier.ts); the answer
   * counts only if that target's proxy is `p` itself, so another container's proxy, or a
   * program's proxy that forwards the symbol to one of ours, is not taken for one of this
   * container's. (A private field on each proxy, as the ids are stamped, measured at about
   * 330 ns a proxy: V8 keeps a proxy's private fields in a dictionary.) A program's proxy
   * sees the read of the symbol in its get trap; if that trap throws, it is not ours.
   */
  targetOf(p: object): object | undefined {
    if (!isProxy(p)) return undefined
    let t: unknown
    try { t = (p as Record<symbol, unknown>)[PROXY_TARGET] } catch { return undefined }
    if (typeof t !== 'object' || t === null) return undefined
    const q = this.#s.ProxyStamp.get(t)
    return q === p || (q === t && this.#retired.has(p)) ? t : undefined
  }
}

/**
 * An array of length `n` whose elements read as undefined: fast holey elements (measured 4x
 * faster than pushing). Not filled with `undefined`: `new Array(n)` already has fast
 * elements (the holes read as undefined; nothing iterates the id table with a method that
 * skips holes), and the fill was a second pass over the 16 MB of a 2M-id table (18-21 ms
 * of CPU with the fill against 13-15 ms without, fresh processes).
 */
export function packedArray(n: number): unknown[] {
  return new Array<unknown>(n)
}
