/**
 * Shapes: the key lists of plain objects, stored once as SHAPE records and referenced by
 * id from every OBJECT record with those keys (format.ts), so a record holds only values.
 *
 * Encoding finds a shape by walking a trie keyed by property names; restore compiles each
 * shape once into a `make` (an object literal with the keys, so every object of the shape
 * gets one hidden class) and a `fill` that stores the values in order.
 *
 * Invariant: a shape's keys never change; a node's `id` is 0 until its SHAPE record has been
 * written, and goes back to 0 when a compaction frees that record.
 */
import { defineProperty, objectCreate } from './builtins.js'
import { MAX_SHAPE_KEYS } from './format.js'

/** One node of the shape trie; a shape when `id !== 0`. */
export class ShapeNode {
  id = 0
  readonly keys: string[]
  readonly next = new Map<string, ShapeNode>()
  /** The comparator of plain objects of this shape with their shadow (verify.ts), compiled on first use; null if code generation is refused. */
  same: ((o: object, a: unknown[], p: number) => boolean) | null | undefined = undefined
  constructor(keys: string[]) { this.keys = keys }
}

/** Finds or creates the shape node for a key list. */
export class ShapeTrie {
  readonly root = new ShapeNode([])
  /** Last shape found per key count: objects of one shape repeat, and comparing interned key strings beats walking the trie. */
  readonly #recent: (ShapeNode | undefined)[] = []
  /** Last shape found per first key (the encoder's fast path finds its candidate by the first key it enumerates). */
  readonly #byFirst = new Map<string, ShapeNode>()

  /** The shape most recently looked up with `n` keys, if any. */
  recent(n: number): ShapeNode | undefined { return this.#recent[n] }

  /** The shape most recently looked up whose first key is `k`, if any. */
  recentByFirst(k: string): ShapeNode | undefined { return this.#byFirst.get(k) }

  lookup(keys: string[]): ShapeNode {
    const n = keys.length
    const hit = this.#recent[n]
    if (hit !== undefined) {
      const k = hit.keys
      let i = 0
      while (i < n && k[i] === keys[i]) i++
      if (i === n) return hit
    }
    const node = this.#walk(keys)
    if (n < 256) this.#recent[n] = node
    if (n > 0) this.#byFirst.set(keys[0], node)
    return node
  }

  #walk(keys: string[]): ShapeNode {
    let node = this.root
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]
      let child = node.next.get(k)
      if (child === undefined) {
        child = new ShapeNode(keys.slice(0, i + 1))
        node.next.set(k, child)
      }
      node = child
    }
    return node
  }
}

/** Reads one value from a restore stream. */
export interface ValueSource { value(): unknown }

/** A shape compiled for restore. */
export interface CompiledShape {
  readonly keys: readonly string[]
  /** A new plain object (Object.prototype) with the shape's keys, values undefined. */
  make(): object
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

/** Compiles a shape; the keys are embedded as JSON string literals, so any key is safe. */
export function compileShape(keys: readonly string[]): CompiledShape {
  if (!codegen || keys.length > MAX_SHAPE_KEYS || keys.includes('__proto__')) return genericShape(keys)
  const lits = keys.map(k => JSON.stringify(k))
  try {
    const make = new Function(`return function make() { return {${lits.map(l => `${l}: undefined`).join(', ')}} }`)() as () => object
    const fill = new Function(`return function fill(o, s) { ${lits.map(l => `o[${l}] = s.value();`).join(' ')} }`)() as (o: object, s: ValueSource) => void
    return { keys, make, fill }
  } catch (e) {
    if (!(e instanceof EvalError)) throw e
    codegen = false
    return genericShape(keys)
  }
}

/** A shape without generated code (keys that an object literal would treat specially). */
function genericShape(keys: readonly string[]): CompiledShape {
  return {
    keys,
    make: () => objectCreate(Object.prototype) as object,
    fill(o: object, s: ValueSource) { for (const k of keys) defineValue(o, k, s.value()) },
  }
}

export { defineValue }
