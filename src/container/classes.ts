/**
 * Registered classes: instances of a class registered with the container persist with
 * their own enumerable properties and come back with the class's prototype (the
 * constructor is not called on restore, as with `Object.create`). A class is stored by
 * name in a CLASS record; restore looks the name up among the classes registered at open.
 *
 * Private members (`#x`) cannot be read or written from outside their class, so a class
 * that has them persists them through hooks it defines as static methods (privates.ts finds
 * the classes that have them):
 *
 * ```ts
 * class Account {
 *   #balance = 0
 *   constructor(readonly owner: string) {}
 *   deposit(n: number) { this.#balance += n }
 *   static [Container.save](a: Account) { return { balance: a.#balance } }          // any persistable value
 *   static [Container.revive](a: Account, s: { balance: number }) { a.#balance = s.balance }
 *   static [Container.create]() { return new Account('') }                         // optional
 * }
 * ```
 *
 * `save(instance)` returns the private state (persisted with the instance, compared at each
 * point); on restore the instance is made by `create()` (default: `new Class()` with no
 * arguments, so that it has the class's private members), its own enumerable properties are
 * set, and once the whole graph is built `revive(instance, state)` is called (in log order),
 * so the state's objects are complete and cycles through the state are allowed. A class with
 * private members and no hooks (its own, or a superclass's that covers it) is reported in
 * `dropped` for every instance persisted; its restored instances have no private members
 * (their methods that use them throw V8's TypeError "Cannot read private member ...").
 *
 * Invariant: a name maps to one class and a prototype to one name; `Buffer` is always
 * registered (as "node:Buffer").
 */
import { InvalidArgumentError } from '../../regions/index.js'
import { functionName, getPrototypeOf, hasOwn } from './builtins.js'
import { ownPrivateMembers } from './privates.js'

/** A class that can be registered: anything with a `prototype` object. */
export type Registrable = abstract new (...args: never[]) => unknown

/** The static method that returns an instance's private state (`static [Container.save](instance)`). */
export const SAVE: unique symbol = Symbol.for('persistent-memory.container.save')
/** The static method that puts restored private state back (`static [Container.revive](instance, state)`). */
export const REVIVE: unique symbol = Symbol.for('persistent-memory.container.revive')
/** The optional static method that makes a blank instance for a restore (`static [Container.create]()`). */
export const CREATE: unique symbol = Symbol.for('persistent-memory.container.create')

/** A class's hooks, bound to the class. */
export interface ClassHooks {
  save(o: object): unknown
  revive(o: object, state: unknown): void
  create(): object
}

/** What the container knows of a registered class. */
export interface ClassInfo {
  readonly name: string
  readonly cls: Registrable
  readonly proto: object
  readonly hooks: ClassHooks | null
  /** Private instance members its hooks do not cover ([] for none). */
  readonly unsaved: readonly string[]
  /** Why its instances lack something after a restore ('' when nothing is lost). */
  readonly dropReason: string
}

type Statics = Record<symbol, unknown>

/** The hooks of `cls` (its own or inherited static methods), or null; InvalidArgumentError if only some are there. */
function hooksOf(cls: Registrable, name: string): ClassHooks | null {
  const c = cls as unknown as Statics
  const save = c[SAVE], revive = c[REVIVE], create = c[CREATE]
  if (save === undefined && revive === undefined) return null
  if (typeof save !== 'function' || typeof revive !== 'function') {
    throw new InvalidArgumentError(`Cannot register class "${name}": it needs both static [Container.save](instance) and static [Container.revive](instance, state) methods, it has only ${typeof save === 'function' ? 'save' : 'revive'}`)
  }
  if (create !== undefined && typeof create !== 'function') throw new InvalidArgumentError(`Cannot register class "${name}": its static [Container.create] must be a method returning a new instance`)
  return {
    save: o => (save as (o: object) => unknown).call(cls, o),
    revive: (o, s) => { (revive as (o: object, s: unknown) => void).call(cls, o, s) },
    create: create !== undefined ? () => (create as () => object).call(cls) : () => Reflect.construct(cls as unknown as new () => object, []),
  }
}

/** Private members of `cls` and its superclasses that its save hook does not cover (classes at or above the hook's owner are covered). */
function unsavedPrivates(cls: Registrable, hooked: boolean): string[] {
  const out: string[] = []
  for (let c: object | null = cls; c !== null && c !== Function.prototype && typeof c === 'function'; c = getPrototypeOf(c) as object | null) {
    if (hooked && hasOwn(c, SAVE)) break
    for (const m of ownPrivateMembers(c)) if (!out.includes(m)) out.push(m)
  }
  return out
}

export class ClassRegistry {
  readonly #byName = new Map<string, ClassInfo>()
  readonly #byProto = new Map<object, ClassInfo>()

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
    if (known?.proto === proto) return
    if (known !== undefined) throw new InvalidArgumentError(`Cannot register class "${n}": another class is already registered under that name`)
    if (this.#byProto.has(proto)) throw new InvalidArgumentError(`Cannot register class "${n}": it is already registered as "${this.#byProto.get(proto)!.name}"`)
    const hooks = n === 'node:Buffer' ? null : hooksOf(cls, n)
    const unsaved = n === 'node:Buffer' ? [] : unsavedPrivates(cls, hooks !== null)
    const dropReason = unsaved.length === 0 ? '' : `private members ${unsaved.join(', ')} of class ${n} are not persisted (give the class static [Container.save] and [Container.revive] methods)`
    const info: ClassInfo = { name: n, cls, proto, hooks, unsaved, dropReason }
    this.#byName.set(n, info)
    this.#byProto.set(proto, info)
  }

  /** The registered name of a prototype, or undefined. */
  nameOf(proto: object): string | undefined { return this.#byProto.get(proto)?.name }
  /** The prototype registered under `name`, or undefined. */
  protoOf(name: string): object | undefined { return this.#byName.get(name)?.proto }
  /** What is known of the class registered under `name`, or undefined. */
  infoOf(name: string): ClassInfo | undefined { return this.#byName.get(name) }
  /** What is known of the class whose prototype is `proto`, or undefined. */
  infoByProto(proto: object): ClassInfo | undefined { return this.#byProto.get(proto) }
}

/** In-memory descriptor of a CLASS record (kept in the object table under its id). */
export class ClassRef {
  id = 0
  constructor(readonly name: string, readonly proto: object, readonly info: ClassInfo | undefined = undefined) {}
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
