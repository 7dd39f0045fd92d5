/**
 * The reachability check (`pm.check({ reachability: true })`): walks the typed pointer graph
 * from the named variables and reports pointers that lead nowhere valid and allocated blocks
 * that nothing reaches.
 *
 * Roots: every named variable's data block and directory entry block. From a variable of a
 * known type the walk follows every `t.ptr` field (in structs and arrays, any depth):
 *
 * | pointer                    | valid when                                                     | then                                   |
 * | -------------------------- | -------------------------------------------------------------- | -------------------------------------- |
 * | 0                          | always (null)                                                  | nothing                                |
 * | typed, `t.ptr(T)`          | its T.size bytes lie in the payload of one allocated block,    | the block is reached; T is walked      |
 * |                            | aligned to T.align                                             |                                        |
 * | untyped, `t.ptr()`         | it points into the payload of an allocated block               | the block is reached and scanned       |
 * |                            |                                                                | conservatively (below)                 |
 *
 * Anything else is a dangling pointer, with the reason: outside the heap, into a block
 * header, into a free block, misaligned, or running past the end of its block.
 *
 * Conservative scan: a block reached through an untyped pointer (or a variable whose type is
 * unknown) has no known layout, so every aligned 8-byte word in it that points into an
 * allocated block's payload keeps that block reached (and scanned in turn). Words in such a
 * block are never reported as dangling: nothing says they are pointers. So nothing reached
 * only through untyped pointers is ever called a leak, and a stray number may hide one.
 * Declaring targets (`t.ptr(() => Node)` for recursive types) gives the full check.
 *
 * Types come from, in order: `types` given to check, the type a variable was declared with in
 * this process (`pm.persistent`), and the signature stored in the file (type-sig.ts; a
 * `ptr(*)` there, a function target, becomes untyped).
 *
 * Invariants: read only; bounded (each block is scanned at most once and each (offset, type)
 * pair walked at most once, and every walked object lies inside a block, so the walk ends
 * on any file, cyclic graphs included); never throws on damaged data.
 */
import { InvalidArgumentError, describe } from '../regions/index.js'
import type { Tx } from '../txn/index.js'
import { BLOCK_HEADER, blockIndex, type BlockTable } from './heap.js'
import type { TypeDesc } from './types.js'
import { checkSlot } from './varlen.js'

/** Options of `pm.check()` and `check(path)`. */
export interface CheckOptions {
  /**
   * Also walk the typed pointer graph from the named variables and report dangling pointers
   * and (unless `leaks: false`) allocated blocks nothing reaches. Default false.
   */
  reachability?: boolean
  /** With `reachability`: report allocated blocks that no variable reaches. Default true. */
  leaks?: boolean
  /**
   * With `reachability`: the types of named variables, by name, used instead of what the pool
   * knows (useful for `check(path)`, where a pointer declared as `t.ptr(() => Node)` is stored
   * as an untyped `ptr(*)`). Each must have the signature the variable was declared with
   * (TypeMismatchError otherwise); names the pool does not hold are ignored.
   */
  types?: Readonly<Record<string, TypeDesc>>
}

/** A pointer the reachability check found invalid. */
export interface DanglingPointer {
  /** Where the pointer is stored. */
  readonly at: number
  /** The offset it holds. */
  readonly value: number
  /** How the walk got there, from a variable: `"head" -> .next -> .next`. */
  readonly path: string
  readonly reason: string
}

/** An allocated block that no variable reaches. */
export interface UnreachableBlock {
  /** Offset of the block header. */
  readonly block: number
  /** Offset of its payload (what `tx.alloc` returned, for allocations aligned to at most 16). */
  readonly payload: number
  /** Payload bytes. */
  readonly size: number
}

/** What the walk found. */
export interface ReachabilityReport {
  /** Allocated blocks reached from the variables. */
  reached: number
  dangling: DanglingPointer[]
  /** Empty when leak reporting is off. */
  unreachable: UnreachableBlock[]
  /** Blocks scanned conservatively (reached through untyped pointers or variables of unknown type). */
  untypedBlocks: number
  /** One line per finding (the first 20 of each kind, then a count). */
  problems: string[]
}

/** A named variable as a root of the walk; `type` null when unknown. */
export interface Root { name: string; entry: number; offset: number; size: number; type: TypeDesc | null }

const MAX_LINES = 20

/** Validates check options; InvalidArgumentError naming the bad one. */
export function checkOptions(opts: unknown, action: string): CheckOptions {
  if (opts === undefined) return {}
  if (opts === null || typeof opts !== 'object') throw new InvalidArgumentError(`${action}: options must be an object, got ${describe(opts)}`)
  const o = opts as Record<string, unknown>
  for (const k of ['reachability', 'leaks'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new InvalidArgumentError(`${action}: ${k} must be a boolean, got ${describe(o[k])}`)
  }
  if (o.types !== undefined) {
    if (o.types === null || typeof o.types !== 'object') throw new InvalidArgumentError(`${action}: types must be an object of types by variable name, got ${describe(o.types)}`)
    for (const [name, type] of Object.entries(o.types)) {
      if (type === null || typeof type !== 'object' || typeof (type as TypeDesc).sig !== 'string') throw new InvalidArgumentError(`${action}: types["${name}"] must be a type from t, got ${describe(type)}`)
    }
  }
  return o as CheckOptions
}

/** Walks the graph from `roots` over the blocks of `table`; see the file comment. */
export function checkReachability(tx: Tx, table: BlockTable, roots: readonly Root[], leaks: boolean): ReachabilityReport {
  const walk = new Walk(tx, table)
  for (const r of roots) walk.root(r)
  walk.run()
  const report: ReachabilityReport = { reached: 0, dangling: walk.dangling, unreachable: [], untypedBlocks: walk.scannedCount, problems: [] }
  for (let i = 0; i < table.starts.length; i++) {
    if (table.allocated[i] === 0) continue
    if (walk.reached[i] === 1) report.reached++
    else if (leaks) report.unreachable.push({ block: table.starts[i]!, payload: table.starts[i]! + BLOCK_HEADER, size: table.ends[i]! - table.starts[i]! - BLOCK_HEADER })
  }
  lines(report.problems, report.dangling, d => `dangling pointer ${d.path} (stored at ${d.at}) holds ${d.value}, which ${d.reason}`, 'dangling pointer(s)')
  lines(report.problems, report.unreachable, u => `leak: the allocated block at ${u.block} (${u.size} bytes at ${u.payload}) is reachable from no variable`, 'leaked block(s)')
  return report
}

function lines<T>(out: string[], items: readonly T[], line: (x: T) => string, what: string): void {
  for (const x of items.slice(0, MAX_LINES)) out.push(line(x))
  if (items.length > MAX_LINES) out.push(`... and ${items.length - MAX_LINES} more ${what}`)
}

/** One step of a path: a field, an index, or a pointer followed. */
interface Seg { readonly up: Seg | null; readonly name: string }

function render(seg: Seg): string {
  const parts: string[] = []
  for (let s: Seg | null = seg; s !== null; s = s.up) parts.push(s.name)
  parts.reverse()
  const text = parts.length <= 12 ? parts : [...parts.slice(0, 5), ` ... (${parts.length - 10} steps) ...`, ...parts.slice(-5)]
  return text.join('')
}

const withPointers = new WeakMap<TypeDesc, boolean>()
/** True when values of `type` hold a pointer (targets are not followed: a pointer is one). */
function hasPointers(type: TypeDesc): boolean {
  let v = withPointers.get(type)
  if (v === undefined) {
    v = type.kind === 'ptr' || type.kind === 'string' || type.kind === 'blob' || (type.kind === 'array' && type.length > 0 && hasPointers(type.elem)) ||
      (type.kind === 'struct' && type.fields.some(f => hasPointers(f.type)))
    withPointers.set(type, v)
  }
  return v
}

const short = (sig: string) => sig.length > 60 ? `${sig.slice(0, 57)}...` : sig

class Walk {
  readonly reached: Uint8Array
  readonly dangling: DanglingPointer[] = []
  scannedCount = 0
  #scanned: Uint8Array
  #seen = new Map<TypeDesc, Set<number>>()
  #typed: Array<{ off: number; type: TypeDesc; seg: Seg }> = []
  #untyped: number[] = []
  #tx: Tx
  #table: BlockTable

  constructor(tx: Tx, table: BlockTable) {
    this.#tx = tx
    this.#table = table
    this.reached = new Uint8Array(table.starts.length)
    this.#scanned = new Uint8Array(table.starts.length)
  }

  /** A variable: its entry and data blocks are reached; its value is walked (readVars checked both blocks). */
  root(r: Root): void {
    for (const off of [r.entry, r.offset]) { const i = blockIndex(this.#table, off); if (i >= 0) this.reached[i] = 1 }
    if (r.type === null) this.#scan(blockIndex(this.#table, r.offset))
    else this.#typed.push({ off: r.offset, type: r.type, seg: { up: null, name: JSON.stringify(r.name) } })
  }

  run(): void {
    for (;;) {
      const item = this.#typed.pop()
      if (item !== undefined) { this.#value(item.off, item.type, item.seg); continue }
      const block = this.#untyped.pop()
      if (block === undefined) return
      this.#scanWords(block)
    }
  }

  /** Walks the pointers inside a value of `type` at `off`. */
  #value(off: number, type: TypeDesc, seg: Seg): void {
    if (type.kind === 'ptr') this.#pointer(off, type.target, seg)
    else if (type.kind === 'string' || type.kind === 'blob') this.#slot(off, seg)
    else if (type.kind === 'struct') {
      for (const f of type.fields) if (hasPointers(f.type)) this.#value(off + f.offset, f.type, { up: seg, name: `.${f.name}` })
    } else if (type.kind === 'array' && hasPointers(type.elem)) {
      for (let i = 0; i < type.length; i++) this.#value(off + i * type.elem.size, type.elem, { up: seg, name: `[${i}]` })
    }
  }

  #pointer(at: number, targetOf: () => TypeDesc | undefined, seg: Seg): void {
    const value = Number(this.#tx.readBigU64(at))
    if (value === 0) return
    let target: TypeDesc | undefined
    try { target = targetOf() } catch { target = undefined }
    const i = blockIndex(this.#table, value)
    const reason = this.#invalid(value, i, target)
    if (reason !== null) { this.dangling.push({ at, value, path: render(seg), reason }); return }
    this.reached[i] = 1
    if (target === undefined) this.#scan(i)
    else if (hasPointers(target) && this.#first(target, value)) this.#typed.push({ off: value, type: target, seg: { up: seg, name: ' -> *' } })
  }

  /** A string or blob slot: its out-of-line block, if any, is reached (varlen inv. 1; never scanned: it holds bytes). */
  #slot(at: number, seg: Seg): void {
    const t = this.#table
    const reason = checkSlot(this.#tx, at, ptr => {
      const i = blockIndex(t, ptr)
      return i >= 0 && t.allocated[i] === 1 && ptr === t.starts[i]! + BLOCK_HEADER ? t.ends[i]! - ptr : null
    })
    if (reason !== null) { this.dangling.push({ at, value: Number(this.#tx.readBigU64(at)), path: render(seg), reason: `is a string/blob slot that ${reason}` }); return }
    const w3 = this.#tx.readU32(at + 12), ptr = Number(this.#tx.readBigU64(at))
    if (w3 === 0 && ptr !== 0) this.reached[blockIndex(t, ptr)] = 1
  }

  /** Why `value` is not a valid pointer to `target` (undefined: untyped), or null. */
  #invalid(value: number, i: number, target: TypeDesc | undefined): string | null {
    const t = this.#table
    if (i < 0) return `points outside the heap (its blocks span ${t.base + 1024}..${t.top})`
    if (value < t.starts[i]! + BLOCK_HEADER) return `points into the header of block ${t.starts[i]}`
    if (t.allocated[i] === 0) return `points into a free block (block ${t.starts[i]})`
    if (target === undefined) return null
    if (value % target.align !== 0) return `is misaligned for ${short(target.sig)} (alignment ${target.align})`
    if (value + target.size > t.ends[i]!) return `has a target (${short(target.sig)}, ${target.size} bytes) that runs past the end of its block at ${t.ends[i]}`
    return null
  }

  #first(type: TypeDesc, off: number): boolean {
    let s = this.#seen.get(type)
    if (s === undefined) this.#seen.set(type, s = new Set())
    if (s.has(off)) return false
    s.add(off)
    return true
  }

  #scan(i: number): void {
    if (i < 0 || this.#scanned[i] === 1) return
    this.#scanned[i] = 1
    this.scannedCount++
    this.#untyped.push(i)
  }

  /** Conservative scan of block `i`: every word pointing into an allocated payload reaches it. */
  #scanWords(i: number): void {
    const t = this.#table
    for (let w = t.starts[i]! + BLOCK_HEADER; w + 8 <= t.ends[i]!; w += 8) {
      const v = Number(this.#tx.readBigU64(w))
      const j = blockIndex(t, v)
      if (j < 0 || t.allocated[j] === 0 || v < t.starts[j]! + BLOCK_HEADER) continue
      this.reached[j] = 1
      this.#scan(j)
    }
  }
}
