/**
 * Large arrays skip Object.keys when util.inspect shows no named key (array-keys.ts): the
 * check answers true only for arrays without own enumerable non-index keys, and arrays of
 * every size, holey, sparse or with named keys, round-trip exactly.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { NAMED_KEYS_CHECK_MIN, noNamedKeys } from '../../../src/container/array-keys.js'

test('noNamedKeys is true only for arrays whose own enumerable keys are all indices (array-keys.ts inv.)', () => {
  const big = (): unknown[] => Array.from({ length: 1000 }, (_, i) => i)
  assert.equal(noNamedKeys([]), true)
  assert.equal(noNamedKeys(big()), true)
  const holey = big(); delete holey[5]
  assert.equal(noNamedKeys(holey), true)
  const hidden = big(); Object.defineProperty(hidden, 'h', { value: 1, enumerable: false })
  assert.equal(noNamedKeys(hidden), true, 'a non-enumerable key is not persisted either')
  const cases: Array<[string, (a: unknown[]) => void]> = [
    ['a named key', a => { (a as unknown as Record<string, unknown>).x = 1 }],
    ['a key that is not an index', a => { (a as unknown as Record<string, unknown>)['4294967295'] = 1 }],
    ['a negative key', a => { (a as unknown as Record<string, unknown>)['-1'] = 1 }],
    ['an enumerable symbol', a => { (a as unknown as Record<symbol, unknown>)[Symbol('s')] = 1 }],
    ['a getter', a => { Object.defineProperty(a, 'g', { get() { throw new Error('never called') }, enumerable: true }) }],
    ['a null prototype (inspect names it)', a => { Object.setPrototypeOf(a, null) }],
  ]
  for (const [what, change] of cases) {
    const a = big(); change(a)
    assert.equal(noNamedKeys(a), false, what)
  }
  assert.equal(noNamedKeys(new Proxy(big(), {})), false, 'a proxy is never inspected')
  assert.equal(noNamedKeys(Object.freeze(big()) as unknown[]), false, 'nor a frozen array (its attributes are checked key by key)')
})

test('a large array with as many holes as named keys keeps both (it was written as a dense segmented array)', async () => {
  const a: unknown[] = Array.from({ length: 300 }, (_, i) => i)
  delete a[10]
  ;(a as unknown as Record<string, unknown>).x = 'vx'
  const region = simRegion(1 << 22)
  const c = Container.openRegion(region, { init: () => ({ a }) })
  await c.persist()
  const back = Container.openRegion(region.crash(1))
  const got = (back.unwrap(back.root) as { a: unknown[] }).a
  assert.equal(10 in got, false, 'the hole is kept')
  assert.equal((got as unknown as Record<string, unknown>).x, 'vx', 'the named key is kept')
  assert.deepStrictEqual(got, a)
})

test('arrays around the check size, holey, sparse and with named keys, round-trip exactly (array-keys.ts inv.)', async () => {
  const arrays = fc.record({
    length: fc.integer({ min: NAMED_KEYS_CHECK_MIN - 2, max: 700 }),
    holes: fc.array(fc.nat(), { maxLength: 12 }),
    sparse: fc.boolean(),
    named: fc.array(fc.constantFrom('x', 'length2', '-1', '4294967295', '1e3', 'foo bar'), { maxLength: 3 }),
  }).map(({ length, holes, sparse, named }) => {
    const a: unknown[] = sparse ? new Array(length) : Array.from({ length }, (_, i) => (i % 3 === 0 ? `s${i}` : i * 0.5))
    if (sparse) for (const h of holes) a[h % length] = h
    else for (const h of holes) delete a[h % length]
    for (const k of named) (a as unknown as Record<string, unknown>)[k] = `v${k}`
    return a
  })
  await fc.assert(fc.asyncProperty(fc.array(arrays, { minLength: 1, maxLength: 4 }), async list => {
    const region = simRegion(1 << 22)
    const c = Container.openRegion(region, { init: () => ({ list }) })
    await c.persist()
    const back = Container.openRegion(region.crash(1))
    assert.deepStrictEqual(back.unwrap(back.root), { list })
  }), { numRuns: 40 })
})
