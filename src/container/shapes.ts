/**
 * Shapes: the key lists of plain objects, stored once as SHAPE records and referenced by
 * id from every OBJECT record with those keys (format.ts), so a record holds only values.
 *
 * Encoding finds a shape by walking a trie keyed by property names; restore interprets a
 * shape (an empty object, then one store per key) for its first COMPILE_AFTER objects and
 * then compiles it into a `make` (an object literal with the keys, so every object of the
 * shape gets one hidden class) and a `fill` that stores the values in order. Parsed JSON
 * has thousands of shapes used once or twice each: compiling every one (two `new Function`
 * per shape) took 180 ms of a 360 ms restore of the node_modules JSON corpus.
 *
 * Invariants:
 *   1. A shape's keys never change; a node's `id` is 0 until its SHAPE record has been
 *      written, and goes back to 0 when a compaction frees that record.
 *   2. Interpreted and compiled, a shape builds the same object: the same own enumerable
 *      data properties in the same order on Object.prototype (a literal and stores in key
 *      order give the same property order), whatever mix made and filled one object (a shell
 *      may be made before the shape compiles and filled after).
 *   3. An object of a shape on another prototype (a registered class's, or null) gets its
 *      keys as own data properties while it is still on Object.prototype, and its prototype
 *      after (`makeWith`); filling it then only stores into own writable data properties,
 *      so no accessor or read-only property of the class's prototype chain is ever
 *      reached. (Defining each property with `Object.defineProperty` instead cost 2.4 s of
 *      a 5.2 s restore profile of 646k class instances; `setPrototypeOf` on the fresh object
 *      is one cached map transition.)
 *  3a. Except when no key is a numeric string and nothing of the prototype's chain below
 *      Object.prototype is a proxy or has an own property of one of the keys (checked,
 *      `#storesOwn`): then the object is
 *      `Object.create(proto)` and a store of each key, which can only make own data
 *      properties. A map reached by `setPrototypeOf` caches no further transition in V8:
 *      every property added to such an object later (the id stamp, the proxy stamp of
 *      identity.ts, a new property) made a map of its own, per object: stamping 859k
 *      restored class instances took about 1 us each instead of about 0.1 us, and left
 *      859k maps behind.
 *   4. Which keys Object.prototype has (a store of such a key would run its accessor, or
 *      fail on a read-only property, instead of making an own property) is known for the
 *      shape epoch it was taken in only: once program code ran (a lazy fill is handed out, a
 *      `create` hook ran: `shapeEpoch`), a shape checks its keys again with `Object.hasOwn`
 *      before it makes or fills an object (`#checkProto`, once per shape and epoch), and a
 *      DICT fill checks each key (decode-values.ts). A key found turns the shape special for
 *      good. A full restore runs no program code: one check at the open, as before.
 */
import { ObjectProto, defineProperty, getPrototypeOf, hasOwn, isProxy, objectCreate, setPrototypeOf } from './builtins.js'
import { MAX_SHAPE_KEYS } from './format.js'

/**
 * One node of the shape trie; a shape when `id !== 0`. Its key list is made when first
 * asked for (or handed over by the lookup that ends at it): a node per prefix of every key
 * list, each with its own copy of the prefix, allocated O(k^2) per new shape of k keys.
 */
export class ShapeNode {
  id = 0
  #keys: string[] | null
  /**
   * Children by next key: the first child inline (`only`), a Map from the second on (most
   * nodes of a trie of varied shapes are leaves or have one child: a Map per node took a
   * third of the trie's time on parsed JSON of varied keys).
   */
  only: ShapeNode | null = null
  next: Map<string, ShapeNode> | null = null
  constructor(readonly parent: ShapeNode | null, readonly key: string) { this.#keys = parent === null ? [] : null }

  get keys(): string[] {
    if (this.#keys !== null) return this.#keys
    const keys: string[] = []
    for (let n: ShapeNode = this; n.parent !== null; n = n.parent) keys.push(n.key)
    return (this.#keys = keys.reverse())
  }

  /** Takes `keys` (equal to this node's key list, never changed after) as its key list. */
  adoptKeys(keys: string[]): void { this.#keys ??= keys }

  /** The comparator of plain objects of this shape with their shadow (verify.ts), compiled on first use; null if code generation is refused. */
  same: ((o: object, a: unknown[], p: number) => boolean) | null | undefined = undefined
}

/** Finds or creates the shape node for a key list. */
export class ShapeTrie {
  readonly root = new ShapeNode(null, '')
  /** Last shape found per key count: objects of one shape repeat, and comparing interned key strings beats walking the trie. */
  readonly #recent: (ShapeNode | undefined)[] = []
  /** Last shape found per first key (the encoder's fast path finds its candidate by the first key it enumerates). */
  readonly #byFirst = new Map<string, ShapeNode>()

  /** The shape most recently looked up with `n` keys, if any. */
  recent(n: number): ShapeNode | undefined { return this.#recent[n] }

  /** The shape most recently looked up whose first key is `k`, if any. */
  recentByFirst(k: string): ShapeNode | undefined { return this.#byFirst.get(k) }

  /** The shape most recently looked up with as many keys, if its keys are `keys`. */
  #recentHit(keys: readonly string[]): ShapeNode | undefined {
    const n = keys.length
    const hit = this.#recent[n]
    if (hit === undefined) return undefined
    const k = hit.keys
    let i = 0
    while (i < n && k[i] === keys[i]) i++
    return i === n ? hit : undefined
  }

  lookup(keys: string[]): ShapeNode {
    const n = keys.length
    const hit = this.#recentHit(keys)
    if (hit !== undefined) return hit
    const node = this.#walk(keys)
    if (n < 256) this.#recent[n] = node
    if (n > 0) this.#byFirst.set(keys[0], node)
    return node
  }

  /** The node of `keys` if the trie has it (creates nothing), else undefined. */
  find(keys: readonly string[]): ShapeNode | undefined {
    const n = keys.length
    const hit = this.#recentHit(keys)
    if (hit !== undefined) return hit
    let node = this.root
    for (let i = 0; i < n; i++) {
      const k = keys[i]
      const only = node.only
      const child = only === null ? undefined : only.key === k ? only : node.next?.get(k)
      if (child === undefined) return undefined
      node = child
    }
    return node
  }

  #walk(keys: string[]): ShapeNode {
    let node = this.root
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]
      const only = node.only
      let child: ShapeNode | undefined
      if (only === null) node.only = child = new ShapeNode(node, k)
      else if (only.key === k) child = only
      else {
        child = node.next?.get(k)
        if (child === undefined) {
          child = new ShapeNode(node, k)
          ;(node.next ??= new Map()).set(k, child)
        }
      }
      node = child
    }
    node.adoptKeys(keys)
    return node
  }
}

/** Reads one value from a restore stream. */
export interface ValueSource { value(): unknown }

/** The generated code of a compiled shape. */
interface Generated {
  make(): object
  fill(o: object, src: ValueSource): void
}

/** A shape compiled for restore. */
export interface CompiledShape {
  readonly keys: readonly string[]
  /** A new plain object (Object.prototype) with the shape's keys, values undefined. */
  make(): object
  /**
   * A new object with prototype `proto` whose keys are already own data properties
   * (values undefined), so that `fill` stores into own properties and never reaches an
   * accessor of `proto`'s chain (inv. 3).
   */
  makeWith(proto: object | null): object
  /** Stores the next `keys.length` values of `src` into `o`, in key order. */
  fill(o: object, src: ValueSource): void
}

function defineValue(o: object, k: string, v: unknown): void {
  defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true })
}

/**
 * Whether generated code may be used: false once `new Function` was refused (Node run with
 * --disallow-code-generation-from-strings, a CSP): every shape is then interpreted. The
 * refusal is an EvalError from the environment, never a sign of damage (it must not
 * become a CorruptionError).
 */
let codegen = true

/** Objects a shape builds interpreted before it is compiled. */
export const COMPILE_AFTER = 8

/** Shapes compiled in this process (tests check that shapes used once are not). */
export const shapeStats = { compiled: 0 }

/**
 * The restore's shape: interpreted for its first COMPILE_AFTER objects, compiled after
 * (inv. 2). A shape with a key that Object.prototype has (`__proto__`, `constructor`,
 * `toString`...: a store would reach the prototype's accessor, or throw when intrinsics are
 * frozen) or too many keys for generated code is never compiled: its keys are defined one
 * by one, as own data properties.
 */
class LazyShape implements CompiledShape {
  readonly keys: readonly string[]
  #compiled: Generated | null = null
  #uses = 0
  #special: boolean
  /** The shape epoch in which the keys were last found absent from Object.prototype (inv. 4). */
  #protoEpoch: number
  constructor(keys: readonly string[], protoKeys: ReadonlySet<string>, protoEpoch: number) {
    this.keys = keys
    let special = keys.length > MAX_SHAPE_KEYS
    for (let i = 0; i < keys.length && !special; i++) special = protoKeys.has(keys[i])
    this.#special = special
    this.#protoEpoch = protoEpoch
  }

  /**
   * Inv. 4: program code ran since the keys were checked against Object.prototype (a lazy
   * fill, a `create` hook): checks them again; a key Object.prototype has now makes the shape
   * special for good (its keys defined, never stored; its generated code dropped).
   */
  #checkProto(): void {
    if (this.#protoEpoch === shapeEpoch.n || this.#special) return
    this.#protoEpoch = shapeEpoch.n
    const keys = this.keys
    for (let i = 0; i < keys.length; i++) {
      if (hasOwn(ObjectProto, keys[i])) {
        this.#special = true
        this.#compiled = null
        this.#init = null
        return
      }
    }
  }

  make(): object {
    this.#checkProto()
    if (this.#compiled !== null) return this.#compiled.make()
    if (++this.#uses === COMPILE_AFTER && !this.#special) this.#compiled = compiledShape(this.keys)
    return {}
  }

  makeWith(proto: object | null): object {
    this.#checkProto()
    if (proto !== null && !this.#special && this.#storesOwn(proto)) {
      // inv. 3a: Object.create and stores (a map of the prototype's own transition tree)
      const o = objectCreate(proto) as object
      if (this.#init !== null) { this.#init(o); return o }
      if (this.#compiled !== null) this.#init = compiledInit(this.keys)
      const keys = this.keys
      const r = o as Record<string, unknown>
      for (let i = 0; i < keys.length; i++) r[keys[i]] = undefined
      return o
    }
    let o: object
    if (this.#compiled !== null) o = this.#compiled.make()
    else {
      o = this.make()
      const keys = this.keys
      const r = o as Record<string, unknown>
      if (this.#special) for (let i = 0; i < keys.length; i++) defineValue(o, keys[i], undefined)
      else for (let i = 0; i < keys.length; i++) r[keys[i]] = undefined
    }
    setPrototypeOf(o, proto)
    return o
  }

  /** Stores the keys (values undefined) into a fresh `Object.create(proto)` (inv. 3a), once compiled. */
  #init: ((o: object) => void) | null = null
  /** The prototype `#storesOwn` last found clean, and the shape epoch it was found in. */
  #cleanProto: object | null = null
  #cleanEpoch = -1

  /**
   * Inv. 3a: true when no key is a numeric string and no object of `proto`'s chain below
   * Object.prototype is a proxy or has an own property named by one of the keys
   * (Object.prototype's are `#special`), so that a
   * store of each key into `Object.create(proto)` makes an own data property and runs
   * nothing. Remembered for one prototype within one shape epoch (no program code runs in
   * between: `shapeEpoch`).
   */
  #storesOwn(proto: object): boolean {
    if (proto === this.#cleanProto && this.#cleanEpoch === shapeEpoch.n) return true
    const keys = this.keys
    // a numeric key: a typed array in the chain would swallow the store (its [[Set]] of an index)
    for (let i = 0; i < keys.length; i++) if (keys[i] === '-0' || String(Number(keys[i])) === keys[i]) return false
    for (let p: object | null = proto; p !== null && p !== ObjectProto; p = getPrototypeOf(p) as object | null) {
      if (isProxy(p)) return false
      for (let i = 0; i < keys.length; i++) if (hasOwn(p, keys[i])) return false
    }
    this.#cleanProto = proto
    this.#cleanEpoch = shapeEpoch.n
    return true
  }

  fill(o: object, s: ValueSource): void {
    this.#checkProto()
    if (this.#compiled !== null) { this.#compiled.fill(o, s); return }
    const keys = this.keys
    const r = o as Record<string, unknown>
    if (this.#special) for (let i = 0; i < keys.length; i++) defineValue(o, keys[i], s.value())
    else for (let i = 0; i < keys.length; i++) r[keys[i]] = s.value()
  }
}

/** A shape for restore (compiled once it has built COMPILE_AFTER objects); `protoKeys` from {@link objectPrototypeKeys}. */
export function compileShape(keys: readonly string[], protoKeys: ReadonlySet<string> = objectPrototypeKeys(), protoEpoch = shapeEpoch.n): CompiledShape { return new LazyShape(keys, protoKeys, protoEpoch) }

const ownNames = Object.getOwnPropertyNames

/**
 * The property names of Object.prototype now (a restore takes them once: a string set
 * lookup costs less than `in`, which internalizes every new key string first).
 */
export function objectPrototypeKeys(): ReadonlySet<string> { return new Set(ownNames(ObjectProto)) }

/**
 * Moved on whenever program code may have run since (a class's `create` hook, a lazy fill:
 * decode.ts, shells.ts): a shape's verdict on a prototype (`#storesOwn`, inv. 3a) holds
 * within one epoch only.
 */
export const shapeEpoch = { n: 0 }

/** The stores of `makeWith`'s fast path (inv. 3a), generated; null if code generation is refused. */
function compiledInit(keys: readonly string[]): ((o: object) => void) | null {
  if (!codegen) return null
  try {
    return new Function(`return function init(o) { ${keys.map(k => `o[${JSON.stringify(k)}] = undefined;`).join(' ')} }`)() as (o: object) => void
  } catch (e) {
    if (!(e instanceof EvalError)) throw e
    codegen = false
    return null
  }
}

/** Compiles a shape; the keys are embedded as JSON string literals, so any key is safe. */
function compiledShape(keys: readonly string[]): Generated | null {
  if (!codegen) return null
  const lits = keys.map(k => JSON.stringify(k))
  try {
    const make = new Function(`return function make() { return {${lits.map(l => `${l}: undefined`).join(', ')}} }`)() as () => object
    const fill = new Function(`return function fill(o, s) { ${lits.map(l => `o[${l}] = s.value();`).join(' ')} }`)() as (o: object, s: ValueSource) => void
    shapeStats.compiled++
    return { make, fill }
  } catch (e) {
    if (!(e instanceof EvalError)) throw e
    codegen = false
    return null
  }
}

export { defineValue }
