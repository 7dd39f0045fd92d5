/**
 * Map and Set subclasses that override members the write-barrier proxy answers itself, or
 * call the built-in through `super` (barrier.ts inv. 7, barrier-override.ts), for
 * override.test.ts and its child (override-child.ts). `lives` applies the same operations to
 * a container's root (through its proxies) and to a raw model graph of the same classes
 * outside any container: the model is the oracle of what the classes say.
 */
import { Container } from '../../../src/container/index.js'

type Box = { n: number }

/** Overrides `set` (counts the calls, keeps a log in an own array, lower-cases keys) through super.set. */
export class Counted extends Map<string, Box> {
  sets = 0
  log: string[] = []
  override set(k: string, v: Box): this {
    this.sets++
    this.log?.push(k)       // undefined while the Map constructor adds initial entries
    return super.set(k.toLowerCase(), v)
  }
  /** An own method looping `this.set` (the override). */
  setMany(entries: [string, Box][]): this { for (const [k, v] of entries) this.set(k, v); return this }
  /** An own method reaching the built-in through super (no override, no count). */
  put(k: string, v: Box): this { return super.set(k, v) }
  /** An own method without super mutating a value it reads through `this.get`. */
  bump(k: string): void { this.get(k)!.n++ }
  /** An own method handing a callback to the built-in forEach through super. */
  each(fn: (v: Box, k: string) => void): void { super.forEach((v, k) => fn(v, k)) }
  /** A getter reaching the built-in through super. */
  get total(): number { let s = 0; for (const v of super.values()) s += v.n; return s }
}

/** Overrides `add` (counts, trims and lower-cases) through super.add. */
export class Tags extends Set<string> {
  adds = 0
  override add(v: string): this { this.adds++; return super.add(v.trim().toLowerCase()) }
  addAll(vs: string[]): this { for (const v of vs) this.add(v); return this }
  /** Overrides `has` without super (it runs with the proxy as `this`: `this.values()` is the proxy's). */
  override has(v: string): boolean { for (const x of this.values()) if (x === v.trim().toLowerCase()) return true; return false }
  /** Overrides `size` (a getter of the built-in) through super. */
  override get size(): number { return super.size * 10 }
}

/** Overrides `get` to move the key to the end (least recently used first), and iterates values through a generator. */
export class Recent extends Map<string, Box> {
  override get(k: string): Box | undefined {
    const v = super.get(k)
    if (v !== undefined) { super.delete(k); super.set(k, v) }
    return v
  }
  /** A generator over the built-in's values: what it yields is handed out as the proxies'. */
  *boxes(): Generator<Box> { for (const v of super.values()) yield v }
  /** Oldest first, through an overridden `keys`. */
  override *keys(): MapIterator<string> { for (const k of super.keys()) yield k.toUpperCase() }
}

type Deep = Box & { tags?: string[]; child?: Box }

/**
 * Members running on the real instance that write what the built-in hands them (watch.ts,
 * barrier-override.ts inv. O5), and an arrow-function field (inv. O7).
 */
export class Writes extends Map<string, Deep> {
  /** a. a write to a value `super.get` returned. */
  bump(k: string): void { super.get(k)!.n++ }
  /** a. the same through `Map.prototype.get.call`. */
  bumpCall(k: string): void { Map.prototype.get.call(this, k)!.n += 2 }
  /** a. a loop over the built-in's values writing one level deeper (a new array, then into it). */
  tagAll(t: string): void { for (const v of super.values()) (v.tags ??= []).push(t) }
  /** a. a write two levels down. */
  bumpChildren(): void { for (const v of super.values()) if (v.child !== undefined) v.child.n += 5 }
  /** a. a generator whose body writes between its steps. */
  *doubled(): Generator<string> { for (const [k, v] of super.entries()) { v.n *= 2; yield k } }
  /** c. an arrow-function class field: its `this` is the real instance, whatever it is called on. */
  bumpArrow = (k: string): void => { this.get(k)!.n += 3 }
}

/** b. No member of its own: its proxy is made for a plain Set subclass; ops give its prototype a method reaching the built-in later. */
export class Bag extends Set<Box> {}
/** b. No member of its own; ops give its prototype a `set` override later (the Map proxy answered `set` itself). */
export class Upper extends Map<string, Box> {}

/** b. Members given to the prototypes of Bag and Upper after their instances' proxies were made (new functions each time). */
function lateMembers(): void {
  (Bag.prototype as unknown as { grow: () => void }).grow = function (this: Bag): void { for (const v of Set.prototype.values.call(this) as Iterable<Box>) v.n += 7 }
  Upper.prototype.set = function (this: Upper, k: string, v: Box): Upper { return Map.prototype.set.call(this, k.toUpperCase(), v) as Upper }
}

export const CLASSES = [Counted, Tags, Recent, Writes, Bag, Upper]

export interface Graph { m: Counted; tags: Tags; lru: Recent; later: Counted | null; lives: number; w: Writes; arrow: Writes; bag: Bag; up: Upper }

export function init(): Graph {
  return { m: new Counted(), tags: new Tags(), lru: new Recent(), later: null, lives: 0, w: new Writes(), arrow: new Writes([['z', { n: 0 }]]), bag: new Bag(), up: new Upper() }
}

/**
 * Life `life`'s operations on `r` (a container's root read through `c.root`, or the raw
 * model); what they return, for comparison.
 */
export function ops(r: Graph, life: number): unknown[] {
  const out: unknown[] = []
  r.lives = life
  if (life === 1) {
    out.push(r.m.set('A', { n: 1 }) === r.m)
    r.m.setMany([['B', { n: 2 }], ['C', { n: 3 }]])
    r.m.put('Raw', { n: 4 })
    r.m.bump('a')
    out.push(r.m.total, r.m.sets, r.m.get('a')!.n)
    r.tags.add(' X '); r.tags.addAll(['Y', ' z'])
    out.push(r.tags.size, r.tags.adds, r.tags.has(' X'))
    r.lru.set('p', { n: 1 }); r.lru.set('q', { n: 2 }); r.lru.set('s', { n: 3 })
    r.lru.get('p')!.n = 10
    r.later = new Counted()         // handed in raw, read back through the root
    r.later.set('K', { n: 7 })
    out.push(r.later.sets)
    r.w.set('a', { n: 1 }); r.w.set('b', { n: 2, child: { n: 0 } })
    r.arrow.bumpArrow('z')         // c: a value persisted by the first point, no other call reaches it; only in the first life (the field comes back null: functions cannot persist)
    r.bag.add({ n: 1 }); r.bag.add({ n: 2 })
  } else {
    out.push(r.m.total)           // first: in a lazy restore, before anything filled the values it reads raw
    r.m.set(`L${life}`, { n: life })
    r.m.each(v => { v.n++ })
    r.m.forEach((v, k, m) => { if (k === 'b') m.set(`B${life}`, { n: v.n }) })     // the built-in forEach's third argument: the proxy, whose set is the override
    out.push(r.m.total, r.m.sets, [...r.m.log])
    r.tags.add(` W${life} `)
    out.push(r.tags.size, r.tags.adds)
    r.lru.get('q')
    for (const b of r.lru.boxes()) b.n += 100
    out.push([...r.lru.keys()])
    r.later!.setMany([[`M${life}`, { n: life }]])
    out.push(r.later!.sets)
  }
  r.w.bump('a'); r.w.bumpCall('b'); r.w.tagAll(`t${life}`); r.w.bumpChildren()
  out.push([...r.w.doubled()])
  out.push(r.bag.size, r.up.size)     // the proxies exist before the members below do
  lateMembers()
  ;(r.bag as unknown as { grow: () => void }).grow()
  r.up.set(`u${life}`, { n: life })
  out.push([...r.up.keys()])
  return out
}

const mapEntries = Map.prototype.entries
const setValues = Set.prototype.values

/** The persisted state of a raw graph (read with the built-ins, not the classes' overrides). */
export function summary(r: Graph): unknown {
  const map = (m: Map<string, Box>): unknown => [...mapEntries.call(m)].map(([k, v]) => [k, v.n])
  return {
    lives: r.lives,
    m: map(r.m), sets: r.m.sets, log: [...r.m.log], isCounted: r.m instanceof Counted,
    tags: [...setValues.call(r.tags)], adds: r.tags.adds, isTags: r.tags instanceof Tags,
    lru: map(r.lru), isRecent: r.lru instanceof Recent,
    later: r.later === null ? null : [map(r.later), r.later.sets, r.later instanceof Counted],
    w: [...mapEntries.call(r.w)].map(([k, v]: [string, Deep]) => [k, v.n, v.tags ?? null, v.child?.n ?? null]), arrow: map(r.arrow),
    bag: [...setValues.call(r.bag)].map((v: Box) => v.n), up: map(r.up),
  }
}

/** The summary of the container at `file` opened (barriers mode) lazily or fully, raw. */
export async function reopened(file: string, lazy: boolean): Promise<unknown> {
  const c = Container.open<Graph>(file, { classes: CLASSES, track: 'barriers', lazy, readOnly: true })
  const s = summary(c.unwrap(c.root))
  await c.close()
  return s
}
