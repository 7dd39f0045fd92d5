/**
 * Read-only wrappers for views over a read-only region.
 *
 * A read-only region is mapped PROT_READ: a store into it is not an exception but a
 * SIGSEGV that kills the process. So every write path of a wrapped view throws
 * `ReadOnlyError` first: indexed stores, `set`, `fill`, `copyWithin`, `reverse`, `sort`,
 * every DataView `set*` method, `defineProperty` and `deleteProperty`. `subarray` returns
 * a wrapped view too. Reads are forwarded unchanged.
 *
 * Not covered (documented escape hatches): `view.buffer` is the mapping's ArrayBuffer, and
 * any array built over it, like `region.unsafeBytes()`, is unchecked.
 */
import { ReadOnlyError } from './errors.js'

const TYPED_ARRAY_MUTATORS: ReadonlySet<PropertyKey> = new Set(['set', 'fill', 'copyWithin', 'reverse', 'sort'])

/** Wraps `real` (a typed array or DataView) so that every write throws `ReadOnlyError`. */
export function readOnlyView<T extends object>(real: T, path: string): T {
  const isDataView = real instanceof DataView
  const refuse = (what: string): never => {
    throw new ReadOnlyError(`Cannot ${what} region "${path}": it was opened read-only; open it without { readOnly: true } to write`)
  }
  const isMutator = (key: PropertyKey): boolean =>
    isDataView ? typeof key === 'string' && key.startsWith('set') : TYPED_ARRAY_MUTATORS.has(key)
  return new Proxy(real, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target)
      if (typeof value !== 'function' || key === 'constructor') return value
      if (isMutator(key)) return () => refuse(`call ${String(key)}() on a view of`)
      const method = value as (...args: unknown[]) => unknown
      if (key === 'subarray') return (...args: unknown[]) => readOnlyView(method.apply(target, args) as object, path)
      return method.bind(target)
    },
    set: () => refuse('write to'),
    defineProperty: () => refuse('define a property on a view of'),
    deleteProperty: () => refuse('delete from a view of'),
  })
}
