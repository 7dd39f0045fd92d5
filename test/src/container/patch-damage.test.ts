/**
 * Damage inside a PATCH part of form 1 (format 5, patch-record.ts inv. PR1, PR2) and in the
 * records it names, byte by byte, at the decoder (under the chunk store's CRC-32C, which a
 * damaged chunk meets first: damage.test.ts): every byte of a small part, of the object its
 * value references and of that object's SHAPE record flipped (each bit, and all bits), zeroed,
 * and the log cut there. Every outcome is a CorruptionError (naming the part and its
 * collection when the damage is in the part's own changes), or the collection the log holds,
 * or, for a byte that says which value (a value's tag, a string's characters, a number, a
 * reference's id, an array index, a prototype), another value in its place (a checksum is the guard there, not the
 * record's structure); never another error, never a hang.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CorruptionError, PmemError, SimRegion } from '../../../regions/index.js'
import { Container } from '../../../src/container/index.js'
import { DATA_START } from '../../../txn/shadow-format.js'
import { ByteWriter } from '../../../src/container/writer.js'
import { writeSegment } from '../../../src/container/records.js'
import { KIND_MAP, KIND_OBJECT, KIND_PATCH, KIND_SHAPE, KIND_SET, KIND_ARRAY, PROTO_BUILTIN, TAG_REF } from '../../../src/container/format.js'
import { PART_OWNED } from '../../../src/container/patch-record.js'
import { restoreFirst } from './patch-kit.js'
import { graphText } from './graph-json.js'

interface Spans { part: [number, number]; changes: number; named: [number, number]; values: [number, number][] }

/**
 * A log: SEGMENT 2 (the base), SHAPE 6 (key 'x'), OBJECT 5 ({ x: 42 }), PATCH part 3 of
 * collection 1 (form 1) and collection 1's PATCH record listing it; `base` picks the kind:
 *   MAP   base a -> 1, b -> 2; the part deletes 'a', sets 'b' to object 5, appends 'c' -> 'z'
 *   SET   base 'a', 'b'; the part deletes 'a', appends object 5 and 'z'
 *   ARRAY base [1, 2, 3]; the part cuts it to 2 and grows it to 4: [1, object 5, 'z', 'y']
 * and the spans: the part's record, where its changes start, the named records (5 and 6),
 * and each value's bytes.
 */
function log(base: number): { bytes: Uint8Array; spans: Spans } {
  const w = new ByteWriter(1 << 12)
  const values: [number, number][] = []
  const val = (write: () => void): void => { const at = w.pos; write(); values.push([at, w.pos]) }
  const which = val     // an index or a prototype: its bytes say which, like a value's
  const seg = new ByteWriter(64)
  if (base === KIND_MAP) { seg.str('a'); seg.num(1); seg.str('b'); seg.num(2) } else if (base === KIND_SET) { seg.str('a'); seg.str('b') } else { seg.num(1); seg.num(2); seg.num(3) }
  const entries = base === KIND_ARRAY ? 3 : 2
  writeSegment(w, 2, entries, seg.view())
  const named0 = w.pos
  let at = w.beginRecord(6)
  w.u8(KIND_SHAPE); w.varint(PROTO_BUILTIN); w.varint(1); val(() => w.str('x'))
  w.endRecord(at)
  at = w.beginRecord(5)
  w.u8(KIND_OBJECT); which(() => w.varint(PROTO_BUILTIN)); w.varint(6); val(() => w.num(42))
  w.endRecord(at)
  const named1 = w.pos
  const ref = (): void => val(() => { w.u8(TAG_REF); w.varint(5) })
  const part0 = w.pos
  at = w.beginRecord(3)
  w.u8(KIND_PATCH); w.varint(PROTO_BUILTIN); w.u8(PART_OWNED); w.u8(base); w.varint(1)
  const changes = w.pos
  if (base === KIND_MAP) {
    w.varint(2)                                       // entries after it
    w.varint(1); val(() => w.str('a'))                // deleted
    w.varint(1); val(() => w.str('b')); ref()         // set in place
    w.varint(1); val(() => w.str('c')); val(() => w.str('z'))     // appended
  } else if (base === KIND_SET) {
    w.varint(3)
    w.varint(1); val(() => w.str('a'))
    w.varint(2); ref(); val(() => w.str('z'))
  } else {
    w.varint(4)
    w.varint(3); which(() => w.varint(1)); ref(); which(() => w.varint(3)); val(() => w.str('y')); which(() => w.varint(2)); val(() => w.str('z'))
  }
  w.endRecord(at)
  const part1 = w.pos
  at = w.beginRecord(1)
  const n = base === KIND_MAP ? 2 : base === KIND_SET ? 3 : 4
  w.u8(KIND_PATCH); w.varint(PROTO_BUILTIN); w.u8(base); w.varint(n); w.varint(1); w.varint(2); w.varint(entries); w.varint(1); w.varint(3)
  w.endRecord(at)
  return { bytes: new Uint8Array(w.view()), spans: { part: [part0, part1], changes, named: [named0, named1], values } }
}

/** What restoring `bytes` gives: the graph's text, or the error. */
function outcome(bytes: Uint8Array): { text: string } | { error: unknown } {
  try { return { text: graphText(restoreFirst(bytes, 'patch-damage')) } } catch (error) { return { error } }
}

for (const [name, base] of [['Map', KIND_MAP], ['Set', KIND_SET], ['array', KIND_ARRAY]] as const) {
  test(`patch-record.ts inv. PR1, PR2: every byte of a form-1 part of a ${name} (and of the object it names, and its shape) flipped, zeroed or cut: CorruptionError naming the part, the same ${name}, or another value only where a value's bytes were`, () => {
    const { bytes, spans } = log(base)
    const good = outcome(bytes)
    assert.ok('text' in good, `the undamaged log restores: ${'error' in good ? String(good.error) : ''}`)
    const inValue = (i: number): boolean => spans.values.some(([a, b]) => i >= a && i < b)      // a value's bytes (its tag too: small integers are tags), an index's, a prototype's
    let corrupt = 0, same = 0, other = 0
    for (const [from, to] of [spans.part, spans.named]) {
      for (let i = from; i < to; i++) {
        const variants: [string, Uint8Array][] = [['zeroed', bytes.slice()], ['all bits flipped', bytes.slice()], ['cut', bytes.slice(0, i)]]
        variants[0][1][i] = 0
        variants[1][1][i] ^= 0xff
        for (let bit = 0; bit < 8; bit++) { const b = bytes.slice(); b[i] ^= 1 << bit; variants.push([`bit ${bit} flipped`, b]) }
        for (const [how, damaged] of variants) {
          if (how !== 'cut' && damaged[i] === bytes[i]) continue
          const what = `${name}: byte ${i} (${i - from} of ${from === spans.part[0] ? 'the part' : 'the named records'}) ${how}`
          const got = outcome(damaged)
          if ('error' in got) {
            assert.ok(got.error instanceof CorruptionError, `${what}: ${String((got.error as Error)?.stack ?? got.error)}`)
            if (from === spans.part[0] && i >= spans.changes && how !== 'cut') {
              assert.match((got.error as Error).message, /part 3 of patched collection 1: /, `${what}: the error names the part and its collection`)
            }
            corrupt++
          } else if (got.text === good.text) same++
          else {
            assert.ok(inValue(i), `${what}: restored another ${name} from a damaged structure byte: ${got.text}`)
            other++
          }
        }
      }
    }
    assert.ok(corrupt > 0 && corrupt + same + other > 100, `${corrupt} CorruptionError, ${same} unchanged, ${other} other values`)
  })
}

test('a point that wrote form-1 parts (deletions, object values, a length change), its file damaged byte by byte where that point wrote (under the chunk store\'s checksums): a reported fall-back to the exact graph before it, or a typed error; never a wrong graph', async () => {
  const sim = SimRegion.fromImage(new Uint8Array(1 << 17), { path: 'parts.pmc' })
  const c = Container.openRegion(sim, {
    chunkSize: 512, keepVersions: 3,
    init: () => ({ m: new Map(Array.from({ length: 400 }, (_, i) => [`k${i}`, i])), a: Array.from({ length: 400 }, (_, i) => i) }),
  })
  await c.persist()
  await c.close()
  const d = Container.openRegion(sim)
  const r = d.root as { m: Map<string, unknown>; a: unknown[] }
  r.m.set('k1', { one: 1 }); r.a.push('x')
  await d.persist()
  const before = graphText(d.snapshot())
  const image0 = sim.durableImage()
  r.m.delete('k2'); r.m.set('k3', { three: [3] }); r.a.pop(); r.a.pop(); r.a.push({ pushed: true })
  const st = await d.persist()
  assert.ok(st.bytes < 400, `parts, no segment (${st.bytes} bytes)`)
  const after = graphText(d.snapshot())
  await d.close()
  const image = sim.durableImage()
  const written: number[] = []
  for (let i = DATA_START; i < image.length; i++) if (image[i] !== image0[i]) written.push(i)
  assert.ok(written.length > 100, `the point wrote ${written.length} bytes`)
  let fellBack = 0, refused = 0
  for (let j = 0; j < written.length; j += 3) {
    for (const mask of [0x01, 0xff]) {
      const img = image.slice()
      img[written[j]] ^= mask
      let e: Container
      try { e = Container.openRegion(SimRegion.fromImage(img, { path: 'parts.pmc' })) } catch (err) {
        assert.ok(err instanceof PmemError, `byte ${written[j]}: an untyped error: ${String(err)}`)
        refused++
        continue
      }
      try {
        const text = graphText(e.snapshot())
        if (e.fellBack === null) assert.ok(text === after, `byte ${written[j]} ^ ${mask}: the newest version restored with another graph`)
        else { assert.ok(text === before, `byte ${written[j]} ^ ${mask}: fell back to another graph`); fellBack++ }
      } finally { await e.close() }
    }
  }
  assert.ok(fellBack > 0, `flips fell back (${fellBack}; refused ${refused})`)
})
