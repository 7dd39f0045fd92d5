/**
 * The checks of a `crashTest` spec: every field is validated before the first run, so a
 * mistake in the spec is an InvalidArgumentError naming the field, not a TypeError from deep
 * inside fast-check or a run that silently tests less than asked (an unknown field, such as a
 * misspelt `maxOps`, is refused with the known ones listed).
 */
import { InvalidArgumentError, MAX_USER_SIZE, describe } from '../../regions/index.js'
import { checkPoolFits, checkPoolOptions } from '../pool-options.js'

const KEYS = ['setup', 'operation', 'run', 'model', 'read', 'runs', 'maxOps', 'size', 'logSize', 'imagesPerPoint', 'maxPoints', 'sanitize', 'seed', 'path', 'equals', 'lives', 'opsAfterRecovery', 'reachability', 'leaks']
const ACTION = 'Cannot run crashTest'

/** Throws InvalidArgumentError unless `spec` is a usable crashTest spec. */
export function checkCrashTestSpec(spec: unknown): void {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new InvalidArgumentError(`${ACTION}: expected a spec object { setup, operation, run, model, read }, got ${describe(spec)}`)
  const s = spec as Record<string, unknown>
  for (const key of Object.keys(s)) {
    if (!KEYS.includes(key)) throw new InvalidArgumentError(`${ACTION}: unknown spec field ${JSON.stringify(key)}; known fields are ${KEYS.join(', ')}`)
  }
  for (const key of ['setup', 'run', 'read']) fn(s, key, true)
  fn(s, 'equals', false)
  const op = s.operation as { generate?: unknown; shrink?: unknown } | null | undefined
  if (op === null || typeof op !== 'object' || typeof op.generate !== 'function' || typeof op.shrink !== 'function') {
    throw new InvalidArgumentError(`${ACTION}: spec.operation must be a fast-check arbitrary (fc.record(...), fc.oneof(...), ...), got ${describe(op)}`)
  }
  const m = s.model as { init?: unknown; step?: unknown } | null | undefined
  if (m === null || typeof m !== 'object' || typeof m.init !== 'function' || typeof m.step !== 'function') {
    throw new InvalidArgumentError(`${ACTION}: spec.model must be { init: () => state, step: (state, op) => state }, got ${describe(m)}`)
  }
  int(s, 'runs', 1); int(s, 'maxOps', 0); int(s, 'imagesPerPoint', 0); int(s, 'maxPoints', 0)
  int(s, 'size', 1); int(s, 'seed', -(2 ** 31))
  if (typeof s.size === 'number' && s.size > MAX_USER_SIZE) throw new InvalidArgumentError(`${ACTION}: spec.size ${s.size} is larger than the largest region (${MAX_USER_SIZE} bytes)`)
  const { logSize } = checkPoolOptions({ logSize: s.logSize }, ACTION)
  if (s.size !== undefined || logSize !== undefined) checkPoolFits((s.size as number | undefined) ?? 256 * 1024, logSize ?? 32 * 1024, ACTION)
  if (s.sanitize !== undefined && typeof s.sanitize !== 'boolean') throw new InvalidArgumentError(`${ACTION}: spec.sanitize must be true or false, got ${describe(s.sanitize)}`)
  for (const key of ['reachability', 'leaks']) {
    if (s[key] !== undefined && typeof s[key] !== 'boolean') throw new InvalidArgumentError(`${ACTION}: spec.${key} must be true or false, got ${describe(s[key])}`)
  }
  if (s.path !== undefined && typeof s.path !== 'string') throw new InvalidArgumentError(`${ACTION}: spec.path must be the replay path string a failure printed, got ${describe(s.path)}`)
}

function fn(s: Record<string, unknown>, key: string, required: boolean): void {
  const v = s[key]
  if (v === undefined && !required) return
  if (typeof v !== 'function') throw new InvalidArgumentError(`${ACTION}: spec.${key} must be a function, got ${describe(v)}`)
}

function int(s: Record<string, unknown>, key: string, min: number): void {
  const v = s[key]
  if (v === undefined) return
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new InvalidArgumentError(`${ACTION}: spec.${key} must be an integer of at least ${min}, got ${describe(v)}`)
}
