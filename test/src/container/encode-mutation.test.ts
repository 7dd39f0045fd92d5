/**
 * snapshot.ts inv. 5: a Map or Set whose entries change while a point encodes it (a proxy trap
 * the encoder runs on a new entry's value adds to it) costs no entry and no plain Error: the
 * point is taken again, full, and persists every entry; the restore in a fresh process has
 * them all. Before: `collection changed size while it was encoded` (a plain Error) from a PATCH
 * part (patch-record.ts `writeVerifiedEntries`) and from a re-encode in segments
 * (encode-bodies.ts `endSegmented`), and a small collection's record said one count and held
 * another.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { ChangedWhileEncodedError, Container } from '../../../src/container/index.js'
import { graphText } from './graph-json.js'

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'kept-child.js')
const tmp = (): string => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-encmut-')), 'e.pmc')
const restored = (file: string): string => {
  const line = JSON.parse(execFileSync(process.execPath, [child, file]).toString().trim()) as { text?: string; error?: string }
  assert.equal(line.error, undefined)
  return line.text!
}

/** A proxy whose prototype trap, the first time the encoder asks, adds `extra` entries to `into`. */
function adder(into: Map<string, unknown> | Set<unknown>, extra: number): object {
  let fired = false
  return new Proxy({ p: 1 }, {
    getPrototypeOf(t) {
      if (!fired) {
        fired = true
        for (let k = 0; k < extra; k++) { if (into instanceof Map) into.set(`extra${k}`, k); else into.add(`extra${k}`) }
      }
      return Reflect.getPrototypeOf(t)
    },
  })
}

for (const [name, size, track] of [
  ['a PATCH part of an exposed Map (writeVerifiedEntries)', 400, 'all'],
  ['a small Map record', 10, 'all'],
  ['a Map re-encoded in segments, through its proxy', 400, 'barriers'],
  ['a PATCH part of an exposed Set', 400, 'set'],
] as const) {
  test(`snapshot.ts inv. 5: entries added while the point encodes ${name} all persist (the point is taken again, full)`, async () => {
    const file = tmp()
    const isSet = track === 'set'
    const init = (): { m: Map<string, unknown> | Set<unknown> } => ({ m: isSet ? new Set(Array.from({ length: size }, (_, i) => `k${i}`)) : new Map(Array.from({ length: size }, (_, i) => [`k${i}`, i])) })
    const c = Container.open<{ m: Map<string, unknown> | Set<unknown> }>(file, { init, track: track === 'barriers' ? 'barriers' : 'all' })
    await c.persist()
    const m = track === 'barriers' ? c.root.m : c.unwrap(c.root).m
    const raw = c.unwrap(c.root).m
    if (m instanceof Map) m.set('new', adder(raw, 3)); else m.add(adder(raw, 3))
    const st = await c.persist()
    assert.equal(st.full, true, 'taken again, full')
    assert.equal(raw.size, size + 4)
    const want = graphText(c.unwrap(c.root))
    await c.close()
    assert.equal(restored(file), want)
    const check = Container.check(file)
    assert.ok(check.ok, `every retained version restores: ${check.problems.join('; ')}`)
  })
}

test('snapshot.ts inv. 5: a collection whose entries change at every attempt fails the point with ChangedWhileEncodedError (typed, nothing written); once the traps stop, the next point persists every entry', async () => {
  const file = tmp()
  const c = Container.open<{ m: Map<string, unknown> }>(file, { init: () => ({ m: new Map([['a', 1]]) }) })
  await c.persist()
  const raw = c.unwrap(c.root).m
  let on = true, n = 0
  const trap = { getPrototypeOf: (t: object) => { if (on) raw.set(`t${n++}`, new Proxy({}, trap)); return Reflect.getPrototypeOf(t) } }
  raw.set('p', new Proxy({}, trap))
  const v = c.version
  assert.throws(() => c.persist(), ChangedWhileEncodedError)
  assert.equal(c.version, v, 'no version written')
  on = false
  const st = await c.persist()
  assert.equal(st.full, true)
  const want = graphText(c.unwrap(c.root))
  await c.close()
  assert.equal(restored(file), want)
  assert.ok(Container.check(file).ok)
})
