/**
 * Which classes have private instance members (`#field`, `#method()`, `get #x()`), found by
 * reading their source text (`Function.prototype.toString`), superclasses included. A
 * container cannot read or write private members, so it persists them only through a
 * class's save/revive hooks (classes.ts); without hooks, they are reported in `dropped`.
 *
 * The scanner skips strings, template literals, comments and regular expression literals,
 * and counts a `#name` as a declaration when it stands at member level of the class body
 * (brace depth 1) and is not a use (`this.#x`, `#x in o`); `static` members do not belong
 * to instances and are left out. It also recognizes classes compiled by TypeScript for
 * targets below ES2022, where private fields become WeakMaps used through the helpers
 * `__classPrivateFieldGet` / `__classPrivateFieldSet` (reported as `#<compiled>`).
 *
 * What it cannot see: private state that is not a class private member (closures, WeakMaps
 * a program manages itself, symbols), classes whose source is not JavaScript
 * (`[native code]`: built-ins, bound functions), and members added by a base constructor
 * that returns another object. Those instances persist their own enumerable properties only.
 */
import { getPrototypeOf, sourceOf } from './builtins.js'

const FunctionProto = Function.prototype
const COMPILED = /__classPrivateField(?:Get|Set|In)\b/
const MODIFIERS = new Set(['get', 'set', 'async', 'accessor', '*'])
const cache = new WeakMap<object, string[]>()

/** The private instance members declared by `cls` and its superclasses ([] if none). */
export function privateMembers(cls: object): string[] {
  const out: string[] = []
  for (let c: object | null = cls; c !== null && c !== FunctionProto && typeof c === 'function'; c = getPrototypeOf(c) as object | null) {
    for (const n of ownPrivateMembers(c)) if (!out.includes(n)) out.push(n)
  }
  return out
}

/** The private instance members declared by `cls` itself. */
export function ownPrivateMembers(cls: object): string[] {
  let known = cache.get(cls)
  if (known !== undefined) return known
  const src = sourceOf(cls)
  known = src.startsWith('class') ? scanClass(src) : []
  cache.set(cls, known)
  return known
}

/**
 * The private instance member names declared at the top level of a class's source. A
 * `#name` at depth 1 is a declaration when it is not a use (after `.`, before `in`) and only
 * modifiers precede it in its member, or on its line (fields separated by newlines, no `;`).
 */
function scanClass(src: string): string[] {
  const names: string[] = []
  if (COMPILED.test(src)) names.push('#<compiled>')
  const n = src.length
  let depth = 0
  let prev = ''              // the last significant token (word or punctuation)
  let words: string[] = []   // tokens since the start of the current member (depth 1)
  let line: string[] = []    // tokens since the start of the current line (depth 1)
  const reset = (): void => { words = []; line = [] }
  for (let i = 0; i < n;) {
    const c = src[i]
    if (c === '/' && src[i + 1] === '/') { const e = src.indexOf('\n', i); i = e < 0 ? n : e; continue }
    if (c === '/' && src[i + 1] === '*') { const e = src.indexOf('*/', i + 2); i = e < 0 ? n : e + 2; continue }
    if (c === '"' || c === '\'') { i = skipString(src, i, c); prev = 'str'; continue }
    if (c === '`') { i = skipTemplate(src, i); prev = 'str'; continue }
    if (c === '/' && regexAllowed(prev)) { i = skipRegex(src, i); prev = 'str'; continue }
    if (c === '\n') { if (depth === 1) line = []; i++; continue }
    if (c === '{' || c === '}') { depth += c === '{' ? 1 : -1; if (depth === 1) reset(); prev = c; i++; continue }
    if (c === ';' && depth === 1) { reset(); prev = c; i++; continue }
    if (c === '#' || isWordStart(c)) {
      let j = i + 1
      while (j < n && isWordPart(src[j])) j++
      const word = src.slice(i, j)
      if (c === '#' && depth === 1 && prev !== '.' && !isIn(src, j) && (onlyModifiers(words) || onlyModifiers(line)) && !names.includes(word)) names.push(word)
      if (depth === 1) { words.push(word); line.push(word) }
      prev = word
      i = j
      continue
    }
    if (depth === 1 && c.trim() !== '') { words.push(c); line.push(c) }
    if (c.trim() !== '') prev = c
    i++
  }
  return names
}

/** True if the tokens before a `#name` in its member are modifiers of an instance member (not `static`). */
function onlyModifiers(tokens: string[]): boolean {
  for (const t of tokens) if (!MODIFIERS.has(t)) return false
  return true
}

function isWordStart(c: string): boolean { return /[A-Za-z_$\u0080-\uffff]/.test(c) }
function isWordPart(c: string): boolean { return /[\w$\u0080-\uffff]/.test(c) }
function isIn(src: string, at: number): boolean { return /^\s+in\b/.test(src.slice(at, at + 8)) }

function skipString(src: string, i: number, q: string): number {
  for (let j = i + 1; j < src.length; j++) {
    if (src[j] === '\\') j++
    else if (src[j] === q) return j + 1
  }
  return src.length
}

/** Skips a template literal, with nested `${ ... }` expressions (which may hold strings and templates). */
function skipTemplate(src: string, i: number): number {
  for (let j = i + 1; j < src.length; j++) {
    const c = src[j]
    if (c === '\\') { j++; continue }
    if (c === '`') return j + 1
    if (c === '$' && src[j + 1] === '{') {
      let depth = 1
      j += 2
      while (j < src.length && depth > 0) {
        const d = src[j]
        if (d === '{') depth++
        else if (d === '}') depth--
        else if (d === '"' || d === '\'') { j = skipString(src, j, d) - 1 }
        else if (d === '`') { j = skipTemplate(src, j) - 1 }
        j++
      }
      j--
    }
  }
  return src.length
}

/** A `/` starts a regular expression literal after these tokens (else it divides). */
function regexAllowed(prev: string): boolean {
  return prev === '' || /^[(,=:[!&|?{};+\-*%<>~^]$/.test(prev) || prev === 'return' || prev === 'typeof' || prev === 'case' || prev === 'in' || prev === 'of' || prev === 'new' || prev === 'delete' || prev === 'void' || prev === 'throw'
}

function skipRegex(src: string, i: number): number {
  let cls = false
  for (let j = i + 1; j < src.length; j++) {
    const c = src[j]
    if (c === '\\') { j++; continue }
    if (c === '\n') return j
    if (cls) { if (c === ']') cls = false; continue }
    if (c === '[') cls = true
    else if (c === '/') { let k = j + 1; while (k < src.length && /[a-z]/i.test(src[k])) k++; return k }
  }
  return src.length
}
