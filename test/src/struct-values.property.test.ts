// View inv. V1 (src/view.ts): a value written into a typed struct, array or variable is either
// what the documented type holds (integer fields store -0 as 0; f64 keeps NaN and -0) or a
// typed error (InvalidArgumentError) with nothing written: no field before the bad one, no
// heap block for a string field. Property test over every field type, inside a struct inside
// an array, the error caught inside the transaction (so a partial write would be committed).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { open, t, InvalidArgumentError, type TypeDesc } from '../../src/index.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-struct-values-'))

/** Every field type, with the model of what it accepts and what it reads back. */
const fields: Array<{ name: string; type: TypeDesc; ok: (v: unknown) => boolean; back: (v: unknown, prev: unknown) => unknown }> = [
  { name: 'u8', type: t.u8, ok: v => isInt(v, 0, 255), back: v => (v as number) + 0 },
  { name: 'u32', type: t.u32, ok: v => isInt(v, 0, 2 ** 32 - 1), back: v => (v as number) + 0 },
  { name: 'i32', type: t.i32, ok: v => isInt(v, -(2 ** 31), 2 ** 31 - 1), back: v => (v as number) + 0 },
  { name: 'f64', type: t.f64, ok: v => typeof v === 'number', back: v => v },
  { name: 'u64', type: t.u64, ok: v => typeof v === 'bigint' && v >= 0n && v < 1n << 64n, back: v => v },
  { name: 'ptr', type: t.ptr(), ok: v => v === null || isInt(v, 0, Number.MAX_SAFE_INTEGER) || (isPlain(v) && !ArrayBuffer.isView(v) && Object.hasOwn(v, 'offset') && isInt((v as { offset: unknown }).offset, 0, Number.MAX_SAFE_INTEGER)),
    back: v => v === null ? 0 : typeof v === 'object' ? (v as { offset: number }).offset + 0 : (v as number) + 0 }, // an object: a view or a handle
  { name: 'bytes(4)', type: t.bytes(4), ok: v => v instanceof Uint8Array && v.length === 4, back: v => Uint8Array.from(v as Uint8Array) },
  { name: 'string', type: t.string, ok: v => typeof v === 'string' && v.isWellFormed(), back: v => v }, // varlen inv. 4
  { name: 'blob', type: t.blob, ok: v => v instanceof Uint8Array, back: v => Uint8Array.from(v as Uint8Array) },
  { name: 'u8[3]', type: t.array(t.u8, 3), ok: v => (Array.isArray(v) || ArrayBuffer.isView(v)) && (v as unknown[]).length === 3 && Array.from(v as unknown[]).every(x => isInt(x, 0, 255)), back: v => Array.from(v as number[], x => x + 0) },
  { name: '{q:i32}', type: t.struct({ q: t.i32 }), ok: v => isPlain(v) && !ArrayBuffer.isView(v) && Object.keys(v).every(k => k === 'q') && (!Object.hasOwn(v, 'q') || isInt((v as { q: unknown }).q, -(2 ** 31), 2 ** 31 - 1)),
    back: (v, prev) => Object.hasOwn(v as object, 'q') ? { q: (v as { q: number }).q + 0 } : prev }, // a field not given is left as it was
]
function plainOf(v: unknown): unknown { return v !== null && typeof v === 'object' && 'toJSON' in v ? (v as { toJSON(): unknown }).toJSON() : v }
const show = (v: unknown): string => { try { return typeof v === 'bigint' ? `${v}n` : JSON.stringify(v) ?? String(v) } catch { return Object.prototype.toString.call(v) } }
function isInt(v: unknown, min: number, max: number): boolean { return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max }
function isPlain(v: unknown): v is object { return v !== null && typeof v === 'object' && !Array.isArray(v) }

const special = fc.constantFrom<unknown>(NaN, -0, 0, 1.5, -1, 255, 256, 2 ** 31, 2 ** 32, 2 ** 32 - 1, 2 ** 40, 2 ** 53, 2 ** 64, Infinity, -Infinity,
  -(2 ** 31) - 1, 0n, 1n, -1n, (1n << 64n) - 1n, 1n << 64n, '1', '', true, null, undefined, [], [1, 2, 3], [1, 2, 300], {}, { q: 1 }, { q: 1.5 }, { q: 1, r: 2 },
  new Uint8Array(4), new Uint8Array(3), Buffer.from('abcd'), '\uD800', 'a\uDFFFb', '\uD83D\uDE00', { offset: 64 }, { offset: 1.5 }, { offset: -8 }, Symbol('s'), () => 1)
const value = fc.oneof(special, fc.anything(), fc.integer(), fc.double(), fc.bigInt(), fc.string(), fc.uint8Array({ maxLength: 6 }),
  fc.array(fc.integer({ min: -1, max: 256 }), { maxLength: 4 }))

for (const f of fields) {
  test(`inv. V1: a ${f.name} field takes what its type holds, and anything else is InvalidArgumentError with nothing written`, () => {
    const S = t.struct({ a: t.u32, f: f.type, z: t.f64 })
    const pm = open(path.join(dir, `${f.name.replace(/\W/g, '_')}.pm`), { size: 4 << 20 })
    const v = pm.persistent('v', t.array(S, 2))
    const at = (i: number) => v.offset + i * S.size
    fc.assert(fc.property(value, value, fc.boolean(), fc.boolean(), (fv, zv, extraKey, badFirst) => {
      const whole: Record<string, unknown> = { a: badFirst ? 7.5 : 7, f: fv, z: typeof zv === 'number' ? zv : 2.5 }
      if (extraKey) whole.nope = 1
      const ok = !badFirst && !extraKey && f.ok(fv)
      pm.transaction(tx => {
        const before = tx.readBytes(v.offset, 2 * S.size)
        const prev = plainOf((tx.view(v).get(0) as unknown as Record<string, unknown>).f)
        const heap = tx.readBytes(pm.engine.dataOffset, 256) // the heap header (top, bins)
        let err: unknown = null
        try { tx.view(v).set(0, whole) } catch (e) { err = e }
        if (ok) {
          assert.equal(err, null, `${f.name} refused ${show(fv)}: ${(err as Error)?.message}`)
          const got = tx.view(v).get(0) as unknown as Record<string, unknown>
          assert.equal(got.a, 7)
          assert.ok(Object.is(got.z, whole.z))
          const read = plainOf(got.f)
          assert.deepEqual(read, f.back(fv, prev))
          if (typeof fv === 'number') assert.ok(f.type.kind !== 'f64' || Object.is(read, fv), 'f64 keeps -0 and NaN')
        } else {
          assert.ok(err instanceof InvalidArgumentError, `${f.name} ${show(fv)} extra=${extraKey} badFirst=${badFirst}: ${String(err)}`)
          assert.deepEqual(tx.readBytes(v.offset, 2 * S.size), before, 'nothing written, no field before the bad one')
          assert.deepEqual(tx.readBytes(pm.engine.dataOffset, 256), heap, 'no heap block allocated')
        }
      }, { durability: 'none' })
    }), { numRuns: 150 })
    // the field alone, through a struct view's setter
    fc.assert(fc.property(value, fv => {
      pm.transaction(tx => {
        const view = tx.view(v).get(1) as unknown as Record<string, unknown>
        const before = tx.readBytes(at(1), S.size)
        let err: unknown = null
        try { view.f = fv } catch (e) { err = e }
        if (f.ok(fv)) assert.equal(err, null)
        else {
          assert.ok(err instanceof InvalidArgumentError, `${f.name} ${show(fv)}: ${String(err)}`)
          assert.deepEqual(tx.readBytes(at(1), S.size), before)
        }
      }, { durability: 'none' })
    }), { numRuns: 100 })
    pm.close()
  })
}
