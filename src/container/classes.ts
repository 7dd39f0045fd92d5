/**
 * Registered classes: instances of a class registered with the container persist with
 * their own enumerable properties and come back with the class's prototype (the
 * constructor is not called on restore, as with `Object.create`). A class is stored by
 * name in a CLASS record; restore looks the name up among the classes registered at open.
 *
 * Invariant: a name maps to one class and a prototype to one name; `Buffer` is always
 * registered (as "node:Buffer").
 */
import { InvalidArgumentError } from '../../regions/index.js'
import { functionName } from './builtins.js'

/** A class that can be registered: anything with a `prototype` object. */
export type Registrable = abstract new (...args: never[]) => unknown

export class ClassRegistry {
  readonly #byName = new Map<string, object>()
  readonly #byProto = new Map<object, string>()

  constructor() { this.add(Buffer as unknown as Registrable, 'node:Buffer') }

  /** Registers `cls` under `name` (default: `cls.name`). Registering the same pair again is a no-op. */
  add(cls: Registrable, name?: string): void {
    if (typeof cls !== 'function' || cls.prototype === null || typeof cls.prototype !== 'object') {
      throw new InvalidArgumentError(`Cannot register class ${functionName(cls)}: a class (constructor with a prototype object) is required`)
    }
    const n = name ?? cls.name
    if (typeof n !== 'string' || n === '') throw new InvalidArgumentError('Cannot register an anonymous class: pass a name as the second argument')
    const proto = cls.prototype as object
    const known = this.#byName.get(n)
    if (known === proto) return
    if (known !== undefined) throw new InvalidArgumentError(`Cannot register class "${n}": another class is already registered under that name`)
    if (this.#byProto.has(proto)) throw new InvalidArgumentError(`Cannot register class "${n}": it is already registered as "${this.#byProto.get(proto)}"`)
    this.#byName.set(n, proto)
    this.#byProto.set(proto, n)
  }

  /** The registered name of a prototype, or undefined. */
  nameOf(proto: object): string | undefined { return this.#byProto.get(proto) }
  /** The prototype registered under `name`, or undefined. */
  protoOf(name: string): object | undefined { return this.#byName.get(name) }
}

/** In-memory descriptor of a CLASS record (kept in the object table under its id). */
export class ClassRef {
  id = 0
  constructor(readonly name: string, readonly proto: object) {}
}

/**
 * A registry that knows every class name: registered classes get their prototype, any other
 * name a placeholder prototype (one per name, null-prototype, named in its `Symbol.toStringTag`).
 * A check uses it to validate every record without the program's classes (pmem check).
 */
export class AnyClassRegistry extends ClassRegistry {
  readonly #placeholders = new Map<string, object>()
  override protoOf(name: string): object | undefined {
    const known = super.protoOf(name)
    if (known !== undefined) return known
    let p = this.#placeholders.get(name)
    if (p === undefined) { p = Object.create(null, { [Symbol.toStringTag]: { value: name } }) as object; this.#placeholders.set(name, p) }
    return p
  }
}
