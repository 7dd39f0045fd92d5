/**
 * Types from their stored signatures: every named variable's entry holds the signature of its
 * type (`{value:f64,next:ptr}`, `u32[4]`, `ptr({a:u8})`, ...), so a tool that opens a file
 * without the program's type objects (`check(path, { reachability: true })`) can still walk
 * the typed pointer graph.
 *
 * Grammar (what `t` writes, see types.ts):
 *
 *     type   := base ('[' N ']')*            arrays wrap left to right: u8[3][4] = 4 x (3 x u8)
 *     base   := u8 | u32 | i32 | f64 | u64 | string | blob | bytes(N) | ptr | ptr(*) | ptr(type) | '{' fields '}'
 *     fields := (name ':' type (',' name ':' type)*)?      a name runs up to its ':'
 *
 * What a signature cannot tell: the target of a pointer declared with a function
 * (`t.ptr(() => Node)`, written `ptr(*)`); it comes back as an untyped pointer. A field name
 * containing ':' makes a signature ambiguous; the parse is rejected unless it re-renders to
 * the same signature.
 */
import { t } from './types.js'
import type { TypeDesc } from './types.js'

/** The type a signature describes, or null when it is not one `t` writes. */
export function typeFromSig(sig: string): TypeDesc | null {
  try {
    const p = new Parser(sig)
    const type = p.type()
    return p.at === sig.length && renders(type, sig) ? type : null
  } catch {
    return null
  }
}

/** A collection's signature (`hashMap(K,V)`, `sortedMap(K,V)`, `vector(V)`) parsed, or null. */
export interface CollectionSig { kind: 'hashMap' | 'sortedMap' | 'vector'; key: TypeDesc | null; value: TypeDesc }
export function collectionFromSig(sig: string): CollectionSig | null {
  const m = /^(hashMap|sortedMap|vector)\(/.exec(sig)
  if (m === null) return null
  try {
    const kind = m[1] as CollectionSig['kind']
    const p = new Parser(sig)
    p.at = m[0].length
    let key: TypeDesc | null = null
    if (kind !== 'vector') { key = p.type(); p.expect(',') }
    const value = p.type()
    p.expect(')')
    return p.at === sig.length ? { kind, key, value } : null
  } catch {
    return null
  }
}

/** True when `type` written back gives `sig` (`ptr(*)` stands for an untyped pointer here). */
function renders(type: TypeDesc, sig: string): boolean {
  return type.sig === sig || type.sig === sig.replaceAll('ptr(*)', 'ptr')
}

class Parser {
  at = 0
  constructor(readonly s: string) {}

  type(): TypeDesc {
    let type = this.base()
    while (this.s[this.at] === '[') { this.at++; type = t.array(type, this.number(']')) }
    return type
  }

  base(): TypeDesc {
    for (const k of ['u8', 'u32', 'i32', 'f64', 'u64', 'string', 'blob'] as const) if (this.eat(k)) return t[k]
    if (this.eat('bytes(')) return t.bytes(this.number(')'))
    if (this.eat('{')) return this.struct()
    if (!this.eat('ptr')) throw new SyntaxError(`unknown type at ${this.at}`)
    if (!this.eat('(')) return t.ptr()
    if (this.eat('*)')) return t.ptr()
    const target = this.type()
    this.expect(')')
    return t.ptr(target)
  }

  struct(): TypeDesc {
    const fields: Record<string, TypeDesc> = {}
    if (this.eat('}')) return t.struct(fields)
    for (;;) {
      const colon = this.s.indexOf(':', this.at)
      if (colon < 0) throw new SyntaxError('field without a type')
      const name = this.s.slice(this.at, colon)
      this.at = colon + 1
      if (Object.hasOwn(fields, name)) throw new SyntaxError(`field ${name} twice`)
      Object.defineProperty(fields, name, { value: this.type(), enumerable: true, writable: true, configurable: true })
      if (this.eat('}')) return t.struct(fields)
      this.expect(',')
    }
  }

  number(close: string): number {
    const end = this.s.indexOf(close, this.at)
    const text = this.s.slice(this.at, end)
    if (end < 0 || !/^(0|[1-9]\d{0,14})$/.test(text)) throw new SyntaxError(`bad count at ${this.at}`)
    this.at = end + 1
    return Number(text)
  }

  eat(word: string): boolean {
    if (!this.s.startsWith(word, this.at)) return false
    this.at += word.length
    return true
  }

  expect(word: string): void { if (!this.eat(word)) throw new SyntaxError(`expected ${word} at ${this.at}`) }
}
