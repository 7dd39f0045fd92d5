/**
 * PATCH parts that hold references (patch-record.ts inv. PR2, format version 5, part form 1):
 * a large Map, Set or array whose changed keys or values are objects (`users.set(id, {...})`,
 * `set.add(obj)`) writes those entries and the new objects, not the segments they touch;
 * through the barrier's change log (after a restore) and through the verifying walk's
 * positions (held raw, verify.ts inv. V4). Restored in a fresh process image fully and
 * lazily, identity and order included; compaction keeps what a part names; `dropped` is
 * right; damaged parts are CorruptionError.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { simRegion } from './setup.js'
import { Container } from '../../../src/container/index.js'
import { CorruptionError, UnsupportedVersionError } from '../../../regions/index.js'
import { ByteWriter } from '../../../src/container/writer.js'
import { writeSegment } from '../../../src/container/records.js'
import { KIND_ARRAY, KIND_OBJECT, KIND_PATCH, KIND_SET, PROTO_BUILTIN, TAG_REF } from '../../../src/container/format.js'
import { PART_OWNED } from '../../../src/container/patch-record.js'
import { restoreFirst } from './patch-kit.js'
import { FORMAT_VERSION, decodeMeta, encodeMeta } from '../../../src/container/meta.js'
import { crc32 } from 'node:zlib'

interface User { name: string; tags: string[] }
interface Root { users: Map<number, User | null>; seen: Set<unknown>; list: unknown[]; byObj: Map<object, number>; shared: User }

const N = 2000
function init(): Root {
  const shared = { name: 'shared', tags: ['s'] }
  return {
    users: new Map(Array.from({ length: N }, (_, i) => [i, { name: `u${i}`, tags: [`t${i % 7}`] }] as [number, User])),
    seen: new Set<unknown>(Array.from({ length: N }, (_, i) => `s${i}`)),
    list: Array.from({ length: N }, (_, i) => i),
    byObj: new Map(Array.from({ length: 300 }, (_, i) => [{ key: i }, i] as [object, number])),
    shared,
  }
}

/** What a root holds, objects as plain copies (order kept) and the shared object as a token (identity). */
function model(r: Root): unknown {
  const v = (x: unknown): unknown => x === r.shared ? '<shared>' : typeof x === 'object' && x !== null ? JSON.parse(JSON.stringify(x)) as unknown : x
  return {
    users: [...r.users.entries()].map(([k, x]) => [k, v(x)]),
    seen: [...r.seen].map(v),
    list: [...r.list].map(v),
    byObj: [...r.byObj.entries()].map(([k, x]) => [v(k), x]),
  }
}

/** A container of `init` after its first point, closed, crashed and reopened (collections behind proxies). */
async function restored(): Promise<{ region: ReturnType<typeof simRegion>; d: Container; r: Root }> {
  const region = simRegion(1 << 23)
  const c = Container.openRegion(region, { init, compactFactor: 100, chunkSize: 4096 })
  await c.persist()
  await c.close()
  const img = region.crash(1)
  const d = Container.openRegion(img, { compactFactor: 100, chunkSize: 4096 })
  return { region: img, d, r: d.root as Root }
}

async function sameAfterCrash(region: ReturnType<typeof simRegion>, want: unknown, what: string, seed: number): Promise<void> {
  for (const lazy of [false, true]) {
    const f = Container.openRegion(region.crash(seed), { lazy })
    const r = f.root as Root
    assert.deepStrictEqual(model(r), want, `${what} (${lazy ? 'lazy' : 'full'})`)
    if (!lazy) assert.deepEqual(f.check().problems, [], `${what}: check`)
    await f.close()
  }
}

/** Closes `c`, checks `sameAfterCrash` against the model of `root` as it was, then `identity` on the root of one more crash image (seed + 1). */
async function closedSameAfterCrash(c: Container, root: Root, region: ReturnType<typeof simRegion>, what: string, seed: number, identity: (fr: Root) => void): Promise<void> {
  const want = model(root)
  await c.close()
  await sameAfterCrash(region, want, what, seed)
  const f = Container.openRegion(region.crash(seed + 1))
  identity(f.root as Root)
  await f.close()
}

test('patch-record.ts inv. PR2 (barrier path): object values and keys set, added and deleted through proxies are PATCH parts and the new objects; restored with identity and order', async () => {
  const { region, d, r } = await restored()
  r.users.set(5, { name: 'five', tags: ['new'] })            // an object value in place
  r.users.set(N + 1, r.shared)                              // appended, an object with an id already
  r.users.set(7, r.shared)                                  // the same object twice: one object on restore
  r.users.delete(9)
  r.seen.add(r.shared); r.seen.add({ name: 'fresh', tags: [] })
  r.list[100] = { name: 'in the array', tags: [] }
  const k = [...r.byObj.keys()][10]!
  r.byObj.delete(k); r.byObj.set({ key: 'new' }, 1); r.byObj.set([...r.byObj.keys()][20]!, -1)
  const st = await d.persist()
  // 4 collections x (part + record), and the new objects: {five}, its tags, {fresh}, its tags, {in the array}, its tags, {key: new}
  assert.ok(st.objects <= 8 + 7 + 1, `parts, PATCH records and the new objects only: ${st.objects} records`)
  assert.ok(st.bytes < 6000, `no segment re-encoded: ${st.bytes} bytes`)
  r.byObj.delete([...r.byObj.keys()][30]!); r.byObj.set({ key: 'another' }, 2)      // object keys alone (change-log.ts: no longer inv. CL2's `whole`)
  let keys = await d.persist()
  assert.ok(keys.objects === 3 && keys.bytes < 200, `object keys deleted and added: a part, the PATCH record and the new key object, no segment (${keys.objects} records, ${keys.bytes} bytes)`)
  r.seen.delete(r.shared)
  keys = await d.persist()
  assert.ok(keys.objects === 2 && keys.bytes < 200, `an object deleted from a Set: a part and the PATCH record (${keys.objects} records, ${keys.bytes} bytes)`)
  await closedSameAfterCrash(d, r, region, 'after points of object changes', 2, fr => {
    assert.equal(fr.users.get(7), fr.shared, 'identity: the shared object, not a copy')
    assert.equal(fr.users.get(N + 1), fr.shared)
    assert.ok(![...fr.seen].includes(fr.shared), 'deleted from the Set by a part')
  })
})

test('patch-record.ts inv. PR2, PR4: several lives of object changes through proxies, a crash after each; compaction keeps what a part names; restored exactly', async () => {
  let { region, d, r } = await restored()
  let compacted = false
  for (let life = 0; life < 3; life++) {
    for (let p = 0; p < 3; p++) {
      for (let j = 0; j < 5; j++) {
        const i = (life * 97 + p * 31 + j * 7) % N
        r.users.set(i, { name: `l${life}p${p}j${j}`, tags: [String(i)] })
        r.seen.add({ name: `added ${life}.${p}.${j}`, tags: [] })
        r.list[(i * 3) % N] = j % 2 === 0 ? r.shared : { name: 'el', tags: [] }
      }
      r.users.delete((life * 13 + p) % N)
      const st = await d.persist()
      if (st.compacted) compacted = true
      else assert.ok(st.bytes < 8000, `life ${life} point ${p}: parts, not segments (${st.bytes} bytes)`)
    }
    for (let k = 0; life === 1 && !compacted && k < 60; k++) {       // until the log is compacted (compactFactor 1.1)
      for (let j = 0; j < 10; j++) r.users.set(k * 10 + j, { name: `more ${k}.${j} `.repeat(30), tags: [] })
      compacted = (await d.persist()).compacted
    }
    if (life === 1) assert.ok(compacted, 'life 2 compacted its log')
    const want = model(r)
    await d.close()
    region = region.crash(life + 10)
    await sameAfterCrash(region, want, `life ${life + 1}${life === 1 ? ', compacted' : ''}`, life + 20)
    d = Container.openRegion(region, { compactFactor: life === 0 ? 1.1 : 100, chunkSize: 4096, lazy: life % 2 === 0 })
    r = d.root as Root
  }
  await d.close()
})

test('patch-record.ts inv. PR2: a value that cannot persist (a function, an unregistered class, an excluded object) is never in a part, nor is a part written over a base that dropped one: `dropped` keeps reporting it', async () => {
  const { region, d, r } = await restored()
  class Unregistered { x = 1 }
  const excluded = { secret: true }
  d.exclude(excluded)
  const reported = (what: string): string[] => {
    const paths = d.dropped.map(x => x.path)
    assert.ok(paths.some(p => p.includes('users') && p.includes('3')), `${what}: the function at users 3 is reported: ${JSON.stringify(paths)}`)
    return paths
  }
  r.users.set(3, (() => 1) as unknown as User)
  await d.persist()
  reported('its point')
  r.users.set(4, new Unregistered() as unknown as User)
  r.seen.add(excluded)
  await d.persist()
  assert.ok(reported('an unregistered instance added').some(p => p.includes('4')), 'the unregistered instance is reported too')
  r.users.set(10, { name: 'a change after', tags: [] })          // a part here would forget what the base dropped
  await d.persist()
  assert.ok(reported('a later change').some(p => p.includes('4')), 'both still reported after a later point')
  await d.close()
  const f = Container.openRegion(region.crash(2))
  const fr = f.root as Root
  assert.equal(fr.users.get(3), null, 'the function restored as null')
  assert.equal(fr.users.get(4), null, 'the unregistered instance restored as null')
  assert.equal(fr.users.get(10)?.name, 'a change after')
  assert.equal(fr.users.size, N)
  assert.ok(!([...fr.seen].some(x => typeof x === 'object' && x !== null && 'secret' in x)), 'the excluded object is not restored')
  assert.equal(fr.seen.size, N + 1)
  await f.close()
})

test('patch-record.ts writeVerifiedEntries, verify.ts inv. V4: a Map and a Set held raw whose changed values and appended entries are objects are PATCH parts; restored with identity', async () => {
  const region = simRegion(1 << 23)
  const root = init()
  const c = Container.openRegion(region, { init: () => root, compactFactor: 100 })
  await c.persist()
  for (let p = 1; p <= 3; p++) {
    for (let j = 0; j < 20; j++) root.users.set((j * 7919 + p * 104729) % N, { name: `p${p}j${j}`, tags: [] })
    root.users.set(p, root.shared)
    root.seen.add({ name: `appended ${p}`, tags: [] }); root.seen.add(root.shared)
    root.users.set(N + p, { name: 'appended', tags: [] })
    const st = await c.persist()
    assert.ok(st.bytes < 8000, `point ${p}: parts and the new objects, no segments (${st.bytes} bytes, ${st.objects} records)`)
    assert.ok(st.objects <= 4 + 2 * 22 + 2, `point ${p}: ${st.objects} records`)
  }
  await closedSameAfterCrash(c, root, region, 'held raw', 4, fr => {
    assert.equal(fr.users.get(2), fr.shared, 'identity kept through a part of the comparison')
  })
})

test('patch-record.ts inv. PR2: a damaged part that holds references is CorruptionError: a reference to a missing id, a part of another collection, a reference to a segment', () => {
  const setBase = (w: ByteWriter): void => { w.str('a'); w.str('b') }
  /** SEGMENT 2 (two strings), object 5 ({}), part 3 of `owner` adding `ref`, then Set 1's PATCH record listing part 3. */
  const log = (owner: number, ref: number, after = 3): Uint8Array => {
    const w = new ByteWriter(1 << 12)
    const seg = new ByteWriter(64); setBase(seg)
    writeSegment(w, 2, 2, seg.view())
    let at = w.beginRecord(5)
    w.u8(KIND_OBJECT); w.varint(PROTO_BUILTIN); w.varint(0)
    w.endRecord(at)
    const shape = w.beginRecord(6); w.u8(11); w.varint(0); w.varint(0); w.endRecord(shape)     // SHAPE 6: no keys
    at = w.beginRecord(3)
    w.u8(KIND_PATCH); w.varint(PROTO_BUILTIN); w.u8(PART_OWNED); w.u8(KIND_SET); w.varint(owner); w.varint(after)
    w.varint(0); w.varint(1); w.u8(TAG_REF); w.varint(ref)
    w.endRecord(at)
    at = w.beginRecord(1)
    w.u8(KIND_PATCH); w.varint(PROTO_BUILTIN); w.u8(KIND_SET); w.varint(3); w.varint(1); w.varint(2); w.varint(2); w.varint(1); w.varint(3)
    w.endRecord(at)
    return new Uint8Array(w.view())
  }
  // The object record 5 names shape 6: fix its body to `varint 6` (the shape id), written above as 0.
  const good = log(1, 5)
  const fix = (b: Uint8Array): Uint8Array => { const i = b.indexOf(KIND_OBJECT, 0); b[i + 2] = 6; return b }
  const s = restoreFirst(fix(good), 'patch-refs') as Set<unknown>
  assert.equal(s.size, 3)
  assert.deepEqual([...s].slice(0, 2), ['a', 'b'])
  assert.equal(typeof [...s][2], 'object', 'the reference restores as the object')
  for (const [what, bytes] of [
    ['a reference to an id with no record', fix(log(1, 9))],
    ['a reference past the high-water mark', fix(log(1, 40))],
    ['a part of another collection', fix(log(4, 5))],
    ['a reference to a segment', fix(log(1, 2))],
    ['a reference to the part itself', fix(log(1, 3))],
  ] as const) {
    assert.throws(() => restoreFirst(bytes, 'patch-refs'), (e: unknown) => e instanceof CorruptionError, what)
  }
})

test('meta.ts: a point writes format version 5 unless told 6 or 7 (write.ts inv. F6); version 4 is still read; version 8 is UnsupportedVersionError', () => {
  assert.equal(FORMAT_VERSION, 7)
  const m = { logEnd: 10, rootId: 1, highWater: 2, objectsWritten: 1, records: 1, bytesWritten: 10, compactedSize: 0, time: 0, blockedMs: 0, indexAt: -1 }
  const withVersion = (v: number): Uint8Array => {
    const b = encodeMeta(m)
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
    dv.setUint16(4, v, true)
    dv.setUint32(72, crc32(b.subarray(0, 72)), true)
    return b
  }
  assert.equal(new DataView(encodeMeta(m).buffer).getUint16(4, true), 5)
  assert.equal(new DataView(encodeMeta({ ...m, format: 6 }).buffer).getUint16(4, true), 6)
  assert.equal(decodeMeta(withVersion(4), 'v4').logEnd, 10, 'a version-4 blob opens')
  assert.equal(decodeMeta(withVersion(6), 'v6').format, 6, 'a version-6 blob opens')
  assert.equal(decodeMeta(withVersion(7), 'v7').format, 7, 'a version-7 blob opens (segmented dictionaries)')
  assert.throws(() => decodeMeta(withVersion(8), 'v8'), (e: unknown) => e instanceof UnsupportedVersionError)
})

test('verify.ts inv. V4, patch-record.ts writeVerifiedEntries: entries deleted from a Map and a Set held raw (re-added, appended, values changed too) are a PATCH part, not segments; restored exactly, in order', async () => {
  const region = simRegion(1 << 23)
  const m = new Map<unknown, unknown>(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i]))
  const s = new Set<unknown>(Array.from({ length: 5000 }, (_, i) => `w${i}`))
  const obj = { shared: true }
  const c = Container.openRegion(region, { init: () => ({ m, s, obj }), compactFactor: 100 })
  await c.persist()
  const steps: [string, () => void][] = [
    ['deletions spread over the Map and the Set', () => { for (let j = 0; j < 20; j++) { m.delete(`k${j * 211}`); s.delete(`w${j * 241}`) } }],
    ['the last entries deleted', () => { m.delete('k4999'); s.delete('w4999') }],
    ['the first entries deleted', () => { m.delete('k0'); m.delete('k1'); s.delete('w1') }],
    ['a key deleted and set again (to the end), another changed, an object appended', () => { m.delete('k7'); m.set('k7', obj); m.set('k8', 'changed'); s.delete('w8'); s.add('w8'); s.add(obj) }],
    ['deleted, appended and re-added in one point', () => { m.delete('k9'); m.set('new', 1); m.set('k9', 9); m.delete('k10'); s.delete('w9'); s.add('new'); s.add('w9') }],
    ['an appended entry deleted in a later point', () => { m.delete('new'); s.delete('new'); s.delete(obj) }],
  ]
  for (const [what, step] of steps) {
    step()
    const st = await c.persist()
    assert.equal(st.objects, 4, `${what}: a PATCH part and record for each (${st.objects} records)`)
    assert.ok(st.bytes < 1500, `${what}: no segment (${st.bytes} bytes)`)
    for (const lazy of [false, true]) {
      const f = Container.openRegion(region.crash(1), { lazy })
      const r = f.root as { m: Map<unknown, unknown>; s: Set<unknown>; obj: object }
      const tokM = [...r.m.entries()].map(([k, v]) => [k, v === r.obj ? '<obj>' : v])
      assert.deepStrictEqual(tokM, [...m.entries()].map(([k, v]) => [k, v === obj ? '<obj>' : v]), `${what}: Map (${lazy ? 'lazy' : 'full'})`)
      assert.deepStrictEqual([...r.s].map(v => v === r.obj ? '<obj>' : v), [...s].map(v => v === obj ? '<obj>' : v), `${what}: Set (${lazy ? 'lazy' : 'full'})`)
      await f.close()
    }
  }
  assert.equal((await c.persist()).objects, 0, 'nothing changed since: the shadow is what the records hold (patch-segments.ts inv. P1)')
  m.clear(); for (let i = 0; i < 300; i++) m.set(`z${i}`, i)      // more changes than a part takes: re-encoded
  await c.persist()
  await c.close()
  const f = Container.openRegion(region.crash(2))
  assert.deepStrictEqual([...(f.root as { m: Map<unknown, unknown> }).m.entries()], [...m.entries()])
  await f.close()
})

test('patch-record.ts inv. PR1 (format 5): a large array behind a proxy that is pushed to, popped and truncated is a PATCH part of the elements from its lowest length; holes re-encode it; restored exactly', async () => {
  const { region, d, r } = await restored()
  const steps: [string, () => void, number][] = [
    ['pushes', () => { r.list.push(1, 2, 3); r.list.push({ name: 'pushed', tags: [] }) }, 4],     // + the new object and its tags array
    ['pops', () => { r.list.pop(); r.list.pop() }, 2],
    ['a truncation', () => { r.list.length = N - 100 }, 2],
    ['pops then pushes (same length)', () => { r.list.pop(); r.list.pop(); r.list.push('a', 'b') }, 2],
    ['a truncation then pushes past the old length', () => { r.list.length = N - 150; for (let i = 0; i < 80; i++) r.list.push(i * 2) }, 2],
    ['an element set and the array popped past it', () => { r.list[r.list.length - 1] = 'gone'; r.list.pop() }, 2],
  ]
  for (const [what, step, records] of steps) {
    step()
    const st = await d.persist()
    assert.equal(st.objects, records, `${what}: a PATCH part and record (${st.objects} records)`)
    assert.ok(st.bytes < 1200, `${what}: no segment (${st.bytes} bytes)`)
    const f = Container.openRegion(region.crash(8))
    assert.deepStrictEqual(model(f.root as Root), model(r), `${what}: restored`)
    await f.close()
  }
  r.list.length = r.list.length - 10; r.list.length = r.list.length + 10        // cut and grown back: holes where elements were (change-log.ts `low`)
  await d.persist()
  assert.deepStrictEqual(model(Container.openRegion(region.crash(7)).root as Root), model(r), 'holes after a cut, not the old elements')
  r.list.length = r.list.length + 2            // holes: not a segmented array any more
  await d.persist()
  r.list[r.list.length - 1] = 'filled'; r.list[r.list.length - 2] = 'filled too'
  await d.persist()
  const want = model(r)
  await d.close()
  await sameAfterCrash(region, want, 'after length changes', 3)
})

test('patch-record.ts inv. PR1 (format 5): hand-made array parts that change the length restore as the layout says; a grown array with a missing element, or an impossible length (the byte bound on a growing part), is CorruptionError', () => {
  /** SEGMENT 2 of [1, 2, 3], then array 1's PATCH record (`n` entries) listing form-1 parts 3, 4, ... (each: entries after it, then its changes). */
  const log = (n: number, parts: ((w: ByteWriter) => void)[]): Uint8Array => {
    const w = new ByteWriter(1 << 12)
    const seg = new ByteWriter(64); seg.num(1); seg.num(2); seg.num(3)
    writeSegment(w, 2, 3, seg.view())
    parts.forEach((part, k) => {
      const at = w.beginRecord(3 + k)
      w.u8(KIND_PATCH); w.varint(PROTO_BUILTIN); w.u8(PART_OWNED); w.u8(KIND_ARRAY); w.varint(1)
      part(w)
      w.endRecord(at)
    })
    const at = w.beginRecord(1)
    w.u8(KIND_PATCH); w.varint(PROTO_BUILTIN); w.u8(KIND_ARRAY); w.varint(n); w.varint(1); w.varint(2); w.varint(3); w.varint(parts.length)
    parts.forEach((_, k) => w.varint(3 + k))
    w.endRecord(at)
    return new Uint8Array(w.view())
  }
  const a = restoreFirst(log(4, [
    w => { w.varint(2); w.varint(0) },                                            // cut to 2
    w => { w.varint(4); w.varint(2); w.varint(3); w.str('y'); w.varint(2); w.str('x') },   // grown to 4: elements 2 and 3 (any order)
  ]), 'patch-array') as unknown[]
  assert.deepStrictEqual(a, [1, 2, 'x', 'y'])
  for (const [what, bytes] of [
    ['a grown array without one of its new elements', log(5, [w => { w.varint(5); w.varint(2); w.varint(3); w.num(9); w.varint(3); w.num(8) }])],
    ['a grown array with too few bytes for its new elements', log(5, [w => { w.varint(5); w.varint(1); w.varint(3); w.num(9) }])],
    ['an impossible length', log(1_000_000, [w => { w.varint(1_000_000); w.varint(1); w.varint(3); w.num(9) }])],
    ['an index past the new length', log(2, [w => { w.varint(2); w.varint(1); w.varint(2); w.num(9) }])],
    ['a record length other than the parts leave', log(3, [w => { w.varint(2); w.varint(0) }])],
  ] as const) {
    assert.throws(() => restoreFirst(bytes, 'patch-array'), (e: unknown) => e instanceof CorruptionError, what)
  }
  // The record's own length is small (past decode.ts's check of n against the log): the byte
  // bound on a growing part (patch-apply.ts) refuses a length its bytes cannot fill before
  // setting it, and says so, naming the part and its collection; without it, `a.length =
  // 2 ** 32` is a RangeError (reported as "damaged record", the cause lost) and a billion
  // is refused later, as a missing element 4.
  for (const [what, after] of [['past the largest array length (2^32)', 2 ** 32], ['by a billion in a few bytes', 1e9]] as const) {
    const bytes = log(3, [w => { w.varint(after); w.varint(1); w.varint(3); w.num(9) }, w => { w.varint(3); w.varint(0) }])
    assert.throws(() => restoreFirst(bytes, 'patch-array'), (e: unknown) => e instanceof CorruptionError &&
      e.message.includes(`part 3 of patched collection 1: patch part grows an array from 3 to ${after} entries in`), `a part growing the array ${what}`)
  }
})

test('verify.ts inv. V4, patch-record.ts writeVerifiedNumbers: an array of numbers held raw that is pushed to, popped and truncated (values changed too) is a PATCH part; restored exactly', async () => {
  const region = simRegion(1 << 23)
  const a = Array.from({ length: 20_000 }, (_, i) => i * 1.25)
  const c = Container.openRegion(region, { init: () => ({ a }), compactFactor: 100 })
  await c.persist()
  const steps: [string, () => void][] = [
    ['pushes', () => { a.push(1.5, 2.5, -0) }],
    ['pops and a value changed', () => { a.pop(); a.pop(); a[7] = NaN }],
    ['a truncation', () => { a.length = 19_900 }],
    ['a truncation then pushes past the old length', () => { a.length = 19_850; for (let i = 0; i < 80; i++) a.push(i / 3) }],
  ]
  for (const [what, step] of steps) {
    step()
    const st = await c.persist()
    assert.equal(st.objects, 2, `${what}: a PATCH part and record (${st.objects} records)`)
    assert.ok(st.bytes < 2000, `${what}: no segment (${st.bytes} bytes)`)
    const f = Container.openRegion(region.crash(1))
    assert.deepStrictEqual([...(f.root as { a: number[] }).a], a, `${what}: restored`)
    await f.close()
  }
  assert.equal((await c.persist()).objects, 0, 'nothing changed since: the shadow has the new length (patch-segments.ts inv. P1)')
  a.push('text' as unknown as number)
  await c.persist()
  a.pop(); a.push(4)
  await c.persist()
  await c.close()
  for (const lazy of [false, true]) {
    const f = Container.openRegion(region.crash(2), { lazy })
    assert.deepStrictEqual([...(f.root as { a: number[] }).a], a, lazy ? 'lazy' : 'full')
    await f.close()
  }
})

test('change-log.ts `low`: a large array behind a proxy whose length is set to a value that is not a number (\'5\', null, true: JavaScript converts it) and grown back with holes restores with the holes, not the old elements', async () => {
  for (const [what, cut, n] of [['a string', '1990', 1990], ['null', null, 0], ['true', true, 1], ['an array', [1995], 1995]] as const) {
    const { region, d, r } = await restored()
    ;(r.list as { length: unknown }).length = cut           // the engine converts it: the array is cut
    assert.equal(r.list.length, n, what)
    r.list.length = N                                    // grown back: holes where the cut elements were
    await d.persist()
    const want = model(r)
    await d.close()
    const f = Container.openRegion(region.crash(3))
    const list = (f.root as Root).list
    assert.equal(list.length, N, what)
    assert.ok(!(n in list), `${what}: element ${n} is a hole after the cut and the growth`)
    assert.deepStrictEqual(model(f.root as Root), want, what)
    await f.close()
  }
})
