/**
 * Segmented and patched dictionaries (format 7; patch-record.ts inv. PR6, change-log.ts inv.
 * CL3, write.ts inv. F6): a plain object of more than 256 own enumerable string keys is stored
 * as segments cut by content, and after a restore (behind its proxy) a point that changes k of
 * its keys writes a PATCH part of those k entries and the list of its segments, not the object.
 * Key order (integer-like keys ascending first, then strings in insertion order; a deleted then
 * re-added key last), prototype, non-enumerable and symbol-keyed properties (the PROPS
 * section), identity and aliasing restore as JavaScript had them.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import './setup.js'
import { Container } from '../../../src/container/index.js'
import { FORMAT_VERSION } from '../../../src/container/meta.js'
import { describeDict, dictRecords, type DictDescription } from './dict-patch-kit.js'
import { restoreFirst } from './patch-kit.js'
import { CorruptionError } from '../../../regions/index.js'
import { ByteWriter } from '../../../src/container/writer.js'
import { writeSegment } from '../../../src/container/records.js'
import { KIND_DICT, KIND_PATCH, PROTO_BUILTIN, PROTO_CLASS_BASE } from '../../../src/container/format.js'

type Dict = Record<string, unknown>
const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dict-patch-child.js')

function tmpFile(name: string): { dir: string; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-dictpatch-'))
  return { dir, file: path.join(dir, name) }
}

/** What a fresh process restores of the root's `d` from `file`. */
function restoredElsewhere(file: string, lazy: boolean): DictDescription & { check: boolean } {
  return JSON.parse(execFileSync(process.execPath, [child, file, lazy ? 'lazy' : 'full'], { maxBuffer: 16 << 20 }).toString()) as DictDescription & { check: boolean }
}

function bigDict(n: number, proto: object | null = Object.prototype): Dict {
  const d = Object.create(proto) as Dict
  for (let i = 0; i < n; i++) d['key' + i] = i % 2 === 0 ? i : { v: i, s: 'value number ' + i }
  return d
}

test('patch-record.ts inv. PR6: one key changed per point writes O(1) entries after a restore (a PATCH part, no segment), a few segments in the first life; the whole object is 100x more', async () => {
  const { dir, file } = tmpFile('bytes.pmc')
  try {
    const N = 20_000
    const d = bigDict(N)
    let c = Container.open<{ d: Dict }>(file, { init: () => ({ d }) })
    const whole = (await c.persist()).bytes
    assert.ok(whole > 400_000, `the first point wrote ${whole} bytes`)
    // First life: held raw, compared at the point; re-encoded by segments cut by content.
    for (let p = 0; p < 3; p++) {
      d['key' + (p * 997)] = 'changed ' + p
      const s = await c.persist()
      assert.ok(s.bytes < 12_000, `first life, one key changed: ${s.bytes} bytes`)
    }
    await c.close()
    assert.equal(dictRecords(file).format, 7)
    // After a restore: through the proxy, from its change log.
    const m = await restoredCopy(file)
    c = Container.open<{ d: Dict }>(file)
    const steps: [string, number, (o: Dict) => void][] = [
      ['one key set', 1, o => { o.key7 = 'seven' }],
      ['one key deleted', 1, o => { delete o.key9 }],
      ['one key added', 1, o => { o.fresh = { made: 1 } }],
      ['a key deleted and set again (to the end)', 1, o => { delete o.key11; o.key11 = 11 }],
      ['an integer-like key added', 1, o => { o['42'] = 'int' }],
      ['ten keys set', 10, o => { for (let i = 0; i < 10; i++) o['key' + (i * 1013)] = -i }],
    ]
    for (const [what, k, step] of steps) {
      step(c.root.d); step(m)
      const s = await c.persist()
      assert.ok(s.bytes < 600 + 60 * k, `${what}: ${s.bytes} bytes after a restore`)
    }
    await c.close()
    const r = dictRecords(file)
    assert.ok(r.parts >= steps.length, `${r.parts} PATCH parts of base DICT in the log`)
    const got = restoredElsewhere(file, false)
    assert.deepEqual(got.keys, Object.keys(m))
    assert.equal(got.hash, describeDict(m).hash)
    assert.ok(got.check)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

/** The root's `d` of `file` as plain JSON (read through proxies in a read-only open: nothing is exposed in the file's writer). */
async function restoredCopy(file: string): Promise<Dict> {
  const c = Container.open<{ d: Dict }>(file, { readOnly: true })
  try { return JSON.parse(JSON.stringify(c.root.d)) as Dict } finally { await c.close() }
}

test('change-log.ts inv. CL3, patch-record.ts inv. PR6: key order, prototype and own properties beyond the body restore exactly through patched points (integer-like keys, 2^32 - 2 and 2^32 - 1, __proto__ as an own key, a null prototype, re-added keys, undefined values, a non-enumerable and a Symbol.for property)', async () => {
  for (const proto of [Object.prototype, null]) {
    const { dir, file } = tmpFile('order.pmc')
    try {
      const make = (): Dict => {
        const d = bigDict(600, proto)
        Object.defineProperty(d, '__proto__', { value: 'own', writable: true, enumerable: true, configurable: true })
        d['7'] = 'seven'
        return d
      }
      const m = make()
      let c = Container.open<{ d: Dict }>(file, { init: () => ({ d: make() }) })
      await c.persist()
      await c.close()
      const steps: ((o: Dict) => void)[] = [
        o => { o['4294967294'] = 'last index'; o['4294967295'] = 'not an index'; o['3'] = 3; o['-1'] = 'neg'; o['01'] = 'str' },
        o => { delete o.key1; o.key1 = 'moved'; delete o['7']; o['7'] = 'seven again' },
        o => { o.__proto__ = 'still own'; o.key2 = undefined; Object.defineProperty(o, 'key4', { value: 4, writable: true, enumerable: true, configurable: true }) },
        o => { Object.defineProperty(o, 'hidden', { value: 'h', enumerable: false, writable: true, configurable: true }); o[Symbol.for('tag') as unknown as string] = 'sym' },
        o => { o.key3 = 'after hidden'; delete o.key5 },
        o => { const v = o.key1001; o.alias = v; o.key6 = { nested: [1, 2] } },
      ]
      for (let i = 0; i < steps.length; i++) {
        c = Container.open<{ d: Dict }>(file, { lazy: i % 2 === 1 })
        steps[i](c.root.d); steps[i](m)
        await c.persist()
        await c.close()
        const want = describeDict(m)
        for (const lazy of [false, true]) {
          const got = restoredElsewhere(file, lazy)
          assert.deepEqual(got.keys, want.keys, `proto ${proto === null ? 'null' : 'Object'}, step ${i}, lazy ${lazy}: key order`)
          assert.equal(got.hash, want.hash, `step ${i}: content`)
          assert.deepEqual(got.hidden, want.hidden, `step ${i}: own properties beyond the body`)
          assert.deepEqual(got.alias, want.alias, `step ${i}: aliasing`)
          assert.equal(got.proto, want.proto)
          assert.ok(got.check)
        }
      }
      assert.ok(dictRecords(file).parts >= 2, 'no step was a PATCH part')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
})

test('write.ts inv. F6: format 7 only while the log may hold a segmented dictionary; 256 keys stay a DICT record (format 5); a full point without one writes 5 again', async () => {
  const { dir, file } = tmpFile('format.pmc')
  try {
    assert.equal(FORMAT_VERSION, 7)
    const c = Container.open<{ d: Dict }>(file, { init: () => ({ d: bigDict(256) }) })
    await c.persist()
    assert.deepEqual(dictRecords(file), { format: 5, segmented: 0, patched: 0, parts: 0 }, '256 keys: one DICT record, format 5')
    c.root.d.one = 'more'
    await c.persist()
    const r = dictRecords(file)
    assert.equal(r.format, 7)
    assert.equal(r.segmented, 1)
    c.root.d = { small: true }
    await c.persist()
    assert.equal(dictRecords(file).format, 7, 'the superseded SEGMENTED record is still in the log')
    await c.persist({ full: true })
    assert.equal(dictRecords(file).format, 5, 'a full point rewrote the log without it')
    await c.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

/** One random change to a dictionary, applied alike to the container's (`o`) and the model. */
function change(rnd: (n: number) => number, n: number, round: number): (o: Dict) => void {
  const key = (): string => rnd(4) === 0 ? String(rnd(n)) : 'key' + rnd(n + 40)
  const k = key(), k2 = key(), ik = String(rnd(n))      // drawn here: the change is applied twice (the container's, the model)
  switch (rnd(9)) {
    case 0: return o => { o[k] = round }
    case 1: return o => { delete o[k] }
    case 2: return o => { delete o[k]; o[k] = { re: round } }
    case 3: return o => { o[ik] = 'int ' + round }
    case 4: return o => { const v = o[k]; if (typeof v === 'object' && v !== null) o[k2] = v }      // aliasing
    case 5: return o => { const v = o[k]; if (typeof v === 'object' && v !== null) (v as Dict).w = round }
    case 6: return o => { Object.defineProperty(o, k, { value: [round], writable: true, enumerable: true, configurable: true }) }
    case 7: return o => { o[k] = undefined }
    default: return o => { o[k] = { v: round, list: [round, { deep: k }] } }
  }
}

test('a property test of random dictionary changes (sets, deletes, re-adds, integer-like keys, object values, aliasing, defines) through kept raw references and through proxies over several lives and points, each life restored in a fresh process (full and lazy) and compared with a model', async () => {
  for (let seed = 1; seed <= 4; seed++) {
    const { dir, file } = tmpFile('prop.pmc')
    try {
      let s = seed * 7919
      const rnd = (k: number): number => { s = (s * 1103515245 + 12345) % 2147483648; return s % k }
      const N = 1200
      const m = bigDict(N)
      const d = bigDict(N)
      let c = Container.open<{ d: Dict }>(file, { init: () => ({ d }), compactFactor: 1.5 })
      await c.persist()
      let round = 0
      for (let life = 0; life < 4; life++) {
        if (life > 0) c = Container.open<{ d: Dict }>(file, { lazy: life % 2 === 0, compactFactor: 1.5 })
        // life 0: the init graph, held raw; later lives: through the proxy, but seed 2 keeps a
        // raw reference in life 2 (exposed: compared, re-encoded by segments, its log dropped).
        const target = (): Dict => life === 0 ? d : seed === 2 && life === 2 ? c.unwrap(c.root.d) : c.root.d
        for (let p = 0; p < 3; p++) {
          round++
          const count = seed === 3 && p === 1 ? 400 : 30      // seed 3: past 1/4 of the keys in one point: re-encoded (a new base)
          const o = target()
          for (let j = 0; j < count; j++) { const f = change(rnd, N, round); f(o); f(m) }
          await c.persist()
        }
        await c.close()
        const want = describeDict(m)
        const got = restoredElsewhere(file, life % 2 === 1)
        const at = `seed ${seed}, life ${life}`
        assert.deepEqual(got.keys, want.keys, `${at}: key order`)
        assert.equal(got.hash, want.hash, `${at}: content`)
        assert.deepEqual(got.alias, want.alias, `${at}: aliasing`)
        assert.ok(got.check, `${at}: check()`)
      }
      const r = dictRecords(file)
      assert.equal(r.format, 7)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
})

test('paths.ts membersOf: c.dropped names a value that cannot persist under a segmented dictionary, in its first life and after a restore (held by a patched key)', async () => {
  const { dir, file } = tmpFile('dropped.pmc')
  try {
    const d = bigDict(600)
    d.key5 = { f: () => 1 }
    let c = Container.open<{ d: Dict }>(file, { init: () => ({ d }) })
    await c.persist()
    assert.deepEqual(c.dropped, [{ path: 'root.d.key5.f', reason: 'function' }])
    await c.close()
    c = Container.open<{ d: Dict }>(file)
    c.root.d.key7 = { g: Symbol('s') }
    await c.persist()
    assert.ok(dictRecords(file).parts >= 1, 'key7 was a PATCH part')
    assert.deepEqual(c.dropped.map(x => x.path).sort(), ['root.d.key7.g'])
    const copy = c.snapshot().d
    assert.deepEqual(Object.keys(copy), Object.keys(c.root.d), 'snapshot: the same keys in the same order')
    await c.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

/** A log of a dictionary (id 1: PATCH record of base DICT, proto `proto`) over segment 2 (`seg` pairs) and one part (id 3) whose changes `part` writes after its `after` count. */
function dictLog(seg: [unknown, unknown][], after: number, part: (w: ByteWriter) => void, proto = PROTO_BUILTIN): Uint8Array {
  const w = new ByteWriter(1 << 12)
  const sw = new ByteWriter(256)
  for (const [k, v] of seg) { if (typeof k === 'string') sw.str(k); else sw.u8(k as number); if (typeof v === 'string') sw.str(v); else sw.u8(v as number) }
  writeSegment(w, 2, seg.length, sw.buf.subarray(0, sw.pos))
  let at = w.beginRecord(3)
  w.u8(KIND_PATCH); w.varint(PROTO_BUILTIN); w.u8(1); w.u8(KIND_DICT); w.varint(1); w.varint(after)
  part(w)
  w.endRecord(at)
  at = w.beginRecord(1)
  w.u8(KIND_PATCH); w.varint(proto); w.u8(KIND_DICT); w.varint(after); w.varint(1); w.varint(2); w.varint(seg.length); w.varint(1); w.varint(3)
  w.endRecord(at)
  return new Uint8Array(w.view())
}

test('patch-apply.ts inv. PR6: a damaged dictionary part or segment is CorruptionError (a key deleted or set that is not own, a wrong key count, a key repeated in the segments, a non-string key, a class prototype)', () => {
  const seg: [unknown, unknown][] = [['a', 1], ['7', 2], ['b', 3]]
  const good = dictLog(seg, 3, w => { w.varint(1); w.str('a'); w.varint(1); w.str('b'); w.u8(30); w.varint(1); w.str('a'); w.u8(10) })
  const d = restoreFirst(good, 'dict-damage') as Dict
  assert.deepEqual(Object.entries(d), [['7', 2], ['b', 30], ['a', 10]], 'deleted and set again: last')
  for (const [what, bytes] of [
    ['a deleted key that is not own', dictLog(seg, 2, w => { w.varint(1); w.str('zz'); w.varint(0); w.varint(0) })],
    ['a set key that is not own', dictLog(seg, 3, w => { w.varint(0); w.varint(1); w.str('zz'); w.u8(1); w.varint(0) })],
    ['a key count that is not the part\'s', dictLog(seg, 4, w => { w.varint(0); w.varint(0); w.varint(1); w.str('b'); w.u8(1) })],
    ['a key repeated in the segments', dictLog([['a', 1], ['a', 2]], 2, w => { w.varint(0); w.varint(0); w.varint(0) })],
    ['a key that is not a string', dictLog(seg, 3, w => { w.varint(0); w.varint(0); w.varint(1); w.u8(5); w.u8(1) })],
    ['a class prototype', dictLog(seg, 3, w => { w.varint(0); w.varint(0); w.varint(0) }, PROTO_CLASS_BASE + 9)],
  ] as const) {
    assert.throws(() => restoreFirst(bytes, 'dict-damage'), (e: unknown) => e instanceof CorruptionError, what)
  }
})
