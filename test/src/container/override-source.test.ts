/**
 * override-source.ts: which calls on the real instance of a Map or Set subclass cannot reach
 * the instance's entries (so their calls watch only their arguments, watch.ts), read from
 * the source; and, with `track: 'barriers'`, that overrides which do reach them by a way the
 * rules must refuse (a chained super call, `this` handed to a helper, a nested function
 * returning a super call, a getter of the class) still persist what they write.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Container } from '../../../src/container/index.js'
import { scan } from '../../../src/container/override-source.js'
import { simRegion } from './setup.js'
import { CLASSES, Counted, Tags, init, type Graph } from './override-kit.js'

test('override-source.ts scan: stores through super, this.NAME reads and writes are entry-free; reads of the built-in, calls on this, this handed on, chained or stored super results, nested functions, async and generators are not', () => {
  assert.deepEqual(scan(Counted.prototype.set.toString()), ['sets', 'log'])
  assert.deepEqual(scan(Tags.prototype.add.toString()), ['adds'])
  const ok = [
    'set(k, v) { return super.set(k, v) }',
    'add(v) {\n  this.n = (this.n ?? 0) + 1\n  super.add(v);\n  return this\n}',
    'delete(k) { this.last = k; return super.delete(k) }',
    'has(k) { return super.has(k) }',
    'count() { return super.size * 2 }',
    '(k, v) => super.set(k, v)',
  ]
  for (const src of ok) assert.notEqual(scan(src), null, src)
  const refused = [
    'bump(k) { super.get(k).n++ }',
    'set(k, v) { super.set(k, v).get(k).n++; return this }',
    'set(k, v) { const r = super.set(k, v); return r }',
    'set(k, v) { return [super.set(k, v)] }',
    'set(k, v) { helper(this); return super.set(k, v) }',
    'set(k, v) { super.set(k, v); return this.x ? this : null }',
    'set(k, v) { super.set(k, v); return this.get(k) }',
    'set(k, v) { this.touch(); return super.set(k, v) }',
    'set(k, v) { this.log?.(k); return super.set(k, v) }',
    'set(k, v) { for (const x of this.values()) x.n++; return super.set(k, v) }',
    'set(k, v) { const f = () => super.set(k, v); f().get(k).n++; return this }',
    'set(k, v) { function f() {} return super.set(k, v) }',
    'set(k, v) { return super.set(k + ")", v) }',
    'set(k, v) { return super[\'set\'](k, v) }',
    'set(k, v) { return super.set?.(k, v) }',
    'set(k, v) { return Map.prototype.set.call(this, k, v) }',
    'set(k, v) { return Reflect.apply(Map.prototype.set, this, [k, v]) }',
    'set(k, v) { this[k] = v; return super.set(k, v) }',
    'async set(k, v) { return super.set(k, v) }',
    '*keys() { yield* super.keys() }',
    'set(k, v) { eval(""); return super.set(k, v) }',
    '',
  ]
  for (const src of refused) assert.equal(scan(src), null, src)
})

const mapValues = Map.prototype.values
/** Writes every value of `m` raw (a helper the override hands `this` to). */
function bumpAll(m: Map<string, { n: number }>): void { for (const v of mapValues.call(m) as Iterable<{ n: number }>) v.n += 1 }

/** Each `set` writes the value of 'a' raw, by a way the rules refuse (entry-free must be false for all). */
class Chained extends Map<string, { n: number }> {
  override set(k: string, v: { n: number }): this { super.set(k, v).get('a')!.n += 1; return this }
}
class Helper extends Map<string, { n: number }> {
  override set(k: string, v: { n: number }): this { bumpAll(this); return super.set(k, v) }
}
class Nested extends Map<string, { n: number }> {
  override set(k: string, v: { n: number }): this { const f = (): this => super.set(k, v); f().get('a')!.n += 1; return this }
}
class Getter extends Map<string, { n: number }> {
  get first(): { n: number } { return super.get('a')! }
  override set(k: string, v: { n: number }): this { this.first.n += 1; return super.set(k, v) }
}
const SNEAKY = [Chained, Helper, Nested, Getter]

/** The kit's graph with persisted object values in its Counted Map (what a call reaching the entries would watch). */
function withEntries(g: Graph): Graph {
  for (let i = 0; i < 10; i++) Map.prototype.set.call(g.m, `p${i}`, { n: i })
  return g
}

test('override-source.ts inv. S1, track: \'barriers\': set overrides reaching the entries by a chained super call, a helper given this, a nested function, a getter of the class: what they write persists at the next ordinary point; entry-free overrides watch nothing (the point compares no object)', async () => {
  const region = simRegion()
  const c = Container.openRegion<any>(region, { classes: [...SNEAKY, ...CLASSES], track: 'barriers', init: () => ({ ...withEntries(init()), s: SNEAKY.map(C => { const m = new C(); Map.prototype.set.call(m, 'a', { n: 0 }); return m }) }) })
  await c.persist()
  const r = c.root
  r.m.set('Q', { n: 1 }); r.m.put('raw', { n: 2 }); r.tags.add(' Z ')      // entry-free: Counted.set, Counted.put, Tags.add
  const quiet = await c.persist()
  assert.deepEqual([quiet.full, quiet.verified], [false, 0], 'entry-free calls watched nothing')
  for (const m of r.s) m.set('b', { n: 0 })
  const st = await c.persist()
  assert.ok(!st.full && st.verified > 0, `an ordinary point compared what the calls reached (${st.verified})`)
  await c.close()
  const f = Container.openRegion<Graph & { s: Map<string, { n: number }>[] }>(region, { classes: [...SNEAKY, ...CLASSES], track: 'barriers' })
  const raw = f.unwrap(f.root)
  assert.deepEqual(raw.s.map(m => (Map.prototype.get.call(m, 'a') as { n: number }).n), [1, 1, 1, 1])
  assert.deepEqual([...Map.prototype.keys.call(raw.m)].slice(10), ['q', 'raw'])
  await f.close()
})
