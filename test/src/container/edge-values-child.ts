/**
 * Child process of edge-values.test.ts (not a test): opens the container file given
 * (`lazy` as the second argument: a lazy restore) in a fresh process and prints one JSON
 * line: `describe` of each value under its root, and `check().ok`.
 */
import { Container } from '../../../src/container/index.js'

/** Own keys with their attributes and values (primitives as strings, objects by their own keys, one level). */
export function describe(o: unknown): unknown {
  if (typeof o !== 'object' || o === null) return String(o)
  if (Array.isArray(o) && o.length > 1000) return { length: o.length, keys: Object.keys(o), last: String(o[o.length - 1]) }
  const out: Record<string, string> = {}
  for (const k of Reflect.ownKeys(o)) {
    const d = Object.getOwnPropertyDescriptor(o, k)!
    const v = 'value' in d ? (typeof d.value === 'object' && d.value !== null ? JSON.stringify(Reflect.ownKeys(d.value).map(String)) : String(d.value)) : 'accessor'
    out[String(k)] = `${d.enumerable === true ? 'e' : '-'}${d.writable === true ? 'w' : '-'} ${v}`
  }
  return out
}

const [file, mode] = process.argv.slice(2)
if (file === undefined) console.log('usage: node edge-values-child.js FILE [lazy] (run by edge-values.test.js)')
else {
  const c = Container.open(file, { lazy: mode === 'lazy', readOnly: true })     // read-only: the test may still hold the writer
  const root = c.root as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(root)) out[k] = describe(c.unwrap(root[k]))
  process.stdout.write(JSON.stringify({ root: out, ok: c.check().ok }) + '\n')
  await c.close()
}
