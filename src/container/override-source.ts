/**
 * Which calls on the real instance cannot reach the instance's entries (barrier-override.ts
 * inv. O5), read from the function's source. Watching what such a call reaches (watch.ts)
 * costs a walk of the instance's entries and everything they reach, the first time between
 * two points: for a Map of 200,000 objects about 0.2-0.4 s, then their comparison at the
 * point. The common override, `set(k, v) { this.count++; return super.set(k, v) }`, only
 * stores: the built-in hands it nothing but the instance itself (the result of `super.set`,
 * returned, so handed out as the proxy). Such a function is `entry-free` and its calls watch
 * only their object arguments.
 *
 * A function is entry-free when its source (the whole text, strings and comments included:
 * anything unusual there only makes it not entry-free) has:
 *   - no `async` or generator head (their bodies run after the call, with no own property
 *     swapped for its proxy, inv. O2);
 *   - no nested function (`=>` beyond an arrow function's own, `function`, `class`): one could
 *     return what the built-in returned to code the rules below do not look at;
 *   - no `eval`, `Function`, `Reflect`, `arguments`, `Map.prototype`, `Set.prototype`;
 *   - every `super` as `super.size`, or as a call of `set`, `add`, `delete`, `has` or `clear`
 *     standing alone as a statement or returned (`super.set(k, v);`, `return super.set(k,
 *     v)`, an arrow's body), with no quote, slash or backtick in its arguments (their
 *     parentheses are counted plainly);
 *   - every `this` as `this.NAME`, read or written, not called (`this.NAME(`, `this.NAME?.(`,
 *     a tagged template), NAME not `get`, `values`, `entries`, `keys` or `forEach`; or as
 *     `return this` standing alone (the call's result is handed out as the proxy).
 * And when it is called (`entryFree(f, t)`): every such NAME is, on the instance, an own
 * writable data property or an own property holding a primitive (a writable one holds its
 * value's proxy during the call, inv. O2), or is not defined by the subclass's prototypes as
 * an accessor (a getter would run with the real instance as `this`).
 *
 * Invariant S1: a call of an entry-free function on the real instance, while it runs, can
 * reach raw only the instance itself (which it cannot hand on: `this` appears only as
 * `this.NAME` or returned, and a super call's result is only returned), its arguments, and primitives
 * from the built-in (`has`, `delete`, `size`).
 */
import { getPrototypeOf, hasOwn, sourceOf } from './builtins.js'

type Fn = (...args: unknown[]) => unknown

/** The NAMEs of `this.NAME` in an entry-free function, or null if it is not entry-free; read once per function. */
const factsByFn = new WeakMap<Fn, readonly string[] | null>()

const FORBIDDEN = /\b(?:eval|Function|Reflect|arguments|function|class)\b|\b(?:Map|Set)\s*\.\s*prototype\b/
const HEAD = /^\s*(?:async\b|\*|static\b)/
const SUPER_CALLS = new Set(['set', 'add', 'delete', 'has', 'clear'])
const READERS = new Set(['get', 'values', 'entries', 'keys', 'forEach'])
const NAME = /^\s*\.\s*([A-Za-z_$][\w$]*)/

/** `this.NAME` names of `src`, or null if it is not entry-free (the rules at the top). */
export function scan(src: string): readonly string[] | null {
  if (src === '' || HEAD.test(src) || FORBIDDEN.test(src)) return null
  const arrow = /^\s*(?:\([^)]*\)|[A-Za-z_$][\w$]*)\s*=>/.test(src)
  const arrows = src.split('=>').length - 1
  if (arrows > (arrow ? 1 : 0)) return null
  const names = new Set<string>()
  for (const m of src.matchAll(/\bthis\b/g)) {
    const rest = src.slice(m.index + 4)
    if (/\breturn\s+$/.test(src.slice(0, m.index)) && /^\s*(?:;|\}|$|\n)/.test(rest)) continue     // `return this`: handed out as its proxy
    const n = NAME.exec(rest)
    if (n === null || READERS.has(n[1])) return null
    const after = rest.slice(n[0].length)
    if (/^\s*(?:\(|\?\.\s*\(|`)/.test(after)) return null
    names.add(n[1])
  }
  for (const m of src.matchAll(/\bsuper\b/g)) {
    const rest = src.slice(m.index + 5)
    const n = NAME.exec(rest)
    if (n === null) return null
    if (n[1] === 'size') { if (/^\s*(?:\(|`)/.test(rest.slice(n[0].length))) return null; continue }
    if (!SUPER_CALLS.has(n[1])) return null
    const open = rest.slice(n[0].length).search(/\S/)
    let i = m.index + 5 + n[0].length + open
    if (src[i] !== '(') return null
    let depth = 0
    for (; i < src.length; i++) {
      const ch = src[i]
      if (ch === '\'' || ch === '"' || ch === '`' || ch === '/') return null
      if (ch === '(') depth++
      else if (ch === ')' && --depth === 0) break
    }
    if (i >= src.length || !/^\s*(?:;|\}|$|\n)/.test(src.slice(i + 1))) return null
    const before = src.slice(0, m.index)
    if (!/(?:^|[;{}\n]|\breturn|=>)\s*$/.test(before)) return null
  }
  return [...names]
}

/** True if a call of `f` on the real instance `t` (a Map or Set subclass below `builtin`; any other object, `builtin` null) cannot reach `t`'s entries (inv. S1). */
export function entryFree(f: Fn, t: object, builtin: object | null): boolean {
  let names = factsByFn.get(f)
  if (names === undefined) { names = scan(sourceOf(f)); factsByFn.set(f, names) }
  if (names === null) return false
  for (const k of names) {
    if (hasOwn(t, k)) {
      const d = Reflect.getOwnPropertyDescriptor(t, k)!
      if (d.get !== undefined || d.set !== undefined) return false
      if (d.writable !== true && typeof d.value === 'object' && d.value !== null) return false
      continue
    }
    for (let p = getPrototypeOf(t) as object | null; p !== null && p !== builtin; p = getPrototypeOf(p) as object | null) {
      if (!hasOwn(p, k)) continue
      const d = Reflect.getOwnPropertyDescriptor(p, k)!
      if (d.get !== undefined || d.set !== undefined) return false
      break
    }
  }
  return true
}
