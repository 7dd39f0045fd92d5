/**
 * Class instances with private members (classes.ts): the state a hooked instance's record
 * holds, and what an instance of a class without hooks loses (reported in `dropped`).
 */
import { KIND_OBJECT, kindName } from './format.js'
import type { ClassHooks, ClassInfo } from './classes.js'
import { stateEqual } from './verify-compare.js'

/**
 * The state to persist for hooked instance `id`: `save(o)`, or the state its record already
 * holds when that is equal (so an unchanged state keeps its objects and ids). Records it in
 * `states`. A `save` that throws fails the point (as a getter that throws does).
 */
export function savedState(hooks: ClassHooks, o: object, id: number, states: Map<number, unknown>): unknown {
  let state = hooks.save(o)
  if (states.has(id)) {
    const prev = states.get(id)
    if (stateEqual(state, prev)) state = prev
  }
  states.set(id, state)
  return state
}

/** Why an instance of the class `info` describes, stored as `kind`, lacks something ('' if it does not). */
export function classDrop(info: ClassInfo | undefined, kind: number): string {
  if (info === undefined) return ''
  if (kind !== KIND_OBJECT && info.hooks !== null) {
    return `class ${info.name} is a ${kindName(kind)} subclass: its [Container.save] state is not persisted (hooks work for classes whose instances are objects)`
  }
  return info.dropReason
}
