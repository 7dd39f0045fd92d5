/**
 * Classes with `#private` members (the second "silent loss"): their methods work
 * through the container (instances are handed out as themselves), private state persists
 * through `[Container.save]` / `[Container.revive]` hooks, and without hooks it is reported
 * in `dropped` and at restore (classes.ts, privates.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { simRegion } from './setup.js'
import { ClassHookError, Container } from '../../../src/container/index.js'
import { InvalidArgumentError } from '../../../regions/index.js'
import { ownPrivateMembers, privateMembers } from '../../../src/container/privates.js'

class Account {
  #balance = 0
  #history: number[] = []
  constructor(readonly owner: string) {}
  deposit(n: number): void { this.#balance += n; this.#history.push(n) }
  get balance(): number { return this.#balance }
  get history(): readonly number[] { return this.#history }
  static [Container.save](a: Account): unknown { return { balance: a.#balance, history: a.#history } }
  static [Container.revive](a: Account, s: { balance: number; history: number[] }): void { a.#balance = s.balance; a.#history = s.history }
  static [Container.create](): Account { return new Account('') }
}

/** No hooks: its private state cannot persist. */
class Vault { #secret = 'x'; label = 'vault'; open(): string { return this.#secret } set(s: string): void { this.#secret = s } }

/** Private state that holds other objects of the graph, in a cycle through the state. */
class Node2 {
  #next: Node2 | null = null
  #data: { owner: Node2 | null } = { owner: null }
  constructor(readonly name = '') { this.#data.owner = this }
  link(n: Node2): void { this.#next = n }
  get next(): Node2 | null { return this.#next }
  get data(): { owner: Node2 | null } { return this.#data }
  static [Container.save](n: Node2): unknown { return { next: n.#next, data: n.#data } }
  static [Container.revive](n: Node2, s: { next: Node2 | null; data: { owner: Node2 } }): void { n.#next = s.next; n.#data = s.data }
}

const quietly = async <T>(f: () => Promise<T>): Promise<{ value: T; warnings: string[] }> => {
  const warnings: string[] = []
  const on = (w: Error & { code?: string }): void => { warnings.push(`${w.code}: ${w.message}`) }
  process.on('warning', on)
  try { const value = await f(); await new Promise(r => setImmediate(r)); return { value, warnings } } finally { process.off('warning', on) }
}

test('#private: methods work through c.root, private state persists through the hooks (first life and after a restore)', async () => {
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ acct: new Account('ada') }), classes: [Account] })
  c.root.acct.deposit(5)                       // would throw TypeError through a proxy
  await c.persist()
  c.root.acct.deposit(7)                       // private state only: the point finds it (save() differs)
  const s = await c.persist()
  assert.ok(s.objects >= 1)
  assert.deepEqual(c.dropped, [])
  await c.close()
  const f = Container.openRegion(region, { classes: [Account] })
  const a = f.root.acct
  assert.ok(a instanceof Account)
  assert.equal(a.balance, 12)
  assert.deepEqual(a.history, [5, 7])
  assert.equal(a.owner, 'ada')
  a.deposit(1)
  await f.persist()
  const g = Container.openRegion(region.crash(1), { classes: [Account] })
  assert.equal(g.root.acct.balance, 13)
  assert.deepEqual(g.root.acct.history, [5, 7, 1])
})

test('#private without hooks: reported in dropped with the reason; a restore warns and its methods throw TypeError (never silent)', async () => {
  const region = simRegion()
  const c = Container.openRegion(region, { init: () => ({ v: new Vault(), list: [new Vault()] }), classes: [Vault] })
  c.root.v.set('changed')
  assert.equal(c.root.v.open(), 'changed', 'methods work in the first life')
  await c.persist()
  assert.deepEqual(c.dropped.map(d => d.path), ['root.v', 'root.list[0]'])
  assert.match(c.dropped[0].reason, /private members #secret of class Vault are not persisted/)
  await c.close()
  const { value: f, warnings } = await quietly(async () => Container.openRegion(region, { classes: [Vault] }))
  assert.ok(warnings.some(w => /PMEM_CONTAINER_PRIVATE_STATE.*class Vault.*#secret/.test(w)), warnings.join('\n'))
  assert.equal(f.root.v.label, 'vault', 'public state persists')
  assert.throws(() => f.root.v.open(), TypeError, 'a method that uses the missing private member throws')
})

test('hooks: revive runs once the whole graph is built (cycles through the private state), create defaults to new Class()', async () => {
  const region = simRegion()
  const a = new Node2('a'), b = new Node2('b')
  a.link(b); b.link(a)
  const c = Container.openRegion(region, { init: () => ({ a, b, seen: [a.data] }), classes: [Node2] })
  await c.persist()
  await c.close()
  const f = Container.openRegion(region, { classes: [Node2] })
  const fa = f.root.a as Node2, fb = f.root.b as Node2
  assert.equal(fa.next, fb)
  assert.equal(fb.next, fa)
  assert.equal(fa.data.owner, fa)
  assert.equal(f.root.seen[0], fa.data, 'an object of the private state is shared with the graph')
  fa.data.owner = null                        // raw, inside the private state
  await f.persist()
  const g = Container.openRegion(region.crash(1), { classes: [Node2] })
  assert.equal((g.root.a as Node2).data.owner, null)
})

test('hooks that throw or return something unusable are a ClassHookError at restore, not damage', async () => {
  const region = simRegion()
  class Bad { #x = 1; static [Container.save](b: Bad): unknown { return b.#x } static [Container.revive](): void { throw new Error('no revive today') } }
  const c = Container.openRegion(region, { init: () => ({ b: new Bad() }), classes: [Bad] })
  await c.persist()
  await c.close()
  assert.throws(() => Container.openRegion(region, { classes: [Bad] }), (e: unknown) => e instanceof ClassHookError && /revive\] of class "Bad" threw \(no revive today\)/.test(e.message))
  class Wrong { #y = 2; static [Container.save](w: Wrong): unknown { return w.#y } static [Container.revive](): void {} static [Container.create](): object { return {} } }
  const d = Container.openRegion(simRegion(), { init: () => ({ w: new Wrong() }), classes: { Bad: Wrong } })
  await d.persist()
  assert.throws(() => Container.openRegion(region, { classes: { Bad: Wrong } }), ClassHookError)
  class Half { #z = 1; static [Container.save](h: Half): unknown { return h.#z } }
  assert.throws(() => Container.openRegion(simRegion(), { init: () => ({}), classes: [Half] }), InvalidArgumentError)
})

test('a subclass whose own private members its inherited hooks do not cover is reported; hooks of a class extending Array are not used', async () => {
  class Sub extends Account { #extra = 1; bump(): void { this.#extra++ } }
  class Listy extends Array<number> { #n = 0; static [Container.save](l: Listy): unknown { return l.#n } static [Container.revive](): void {} }
  const c = Container.openRegion(simRegion(), { init: () => ({ s: new Sub('x'), l: new Listy() }), classes: [Account, Sub, Listy] })
  await c.persist()
  const reasons = c.dropped.map(d => `${d.path}: ${d.reason}`)
  assert.ok(reasons.some(r => /^root\.s: private members #extra of class Sub/.test(r)), reasons.join('\n'))
  assert.ok(reasons.some(r => /^root\.l: class Listy is a array subclass/.test(r)), reasons.join('\n'))
})

test('privates.ts finds private instance members in class source: fields, methods, accessors; not static ones, strings, comments, regexps or uses', () => {
  class A { #a = 1; static #s = 2; b = '#notme'; m(): number { return this.#a + A.#s } }
  class B extends A {
    // #comment
    /* #block */
    #c() { return /#re/.test(`#tpl ${'#x'}`) }
    get #d(): number { return 1 }
    static #e(): number { return 1 }
    uses(): boolean { return #f in this && this.#c() && this.#d > 0 && B.#e() > 0 }
    #f
    = 1
  }
  class C { x = 1 }
  assert.deepEqual(ownPrivateMembers(A), ['#a'])
  assert.deepEqual(ownPrivateMembers(B), ['#c', '#d', '#f'])
  assert.deepEqual(privateMembers(B), ['#c', '#d', '#f', '#a'])
  assert.deepEqual(privateMembers(C), [])
  assert.deepEqual(privateMembers(Map), [], 'native code: nothing to see')
  // a class compiled by TypeScript for a target below ES2022 (private fields as WeakMaps)
  const compiled = new Function('__classPrivateFieldGet', 'return class T { constructor() { } get v() { return __classPrivateFieldGet(this, _T_v, "f") } }')(() => 1) as object
  assert.deepEqual(ownPrivateMembers(compiled), ['#<compiled>'])
})
