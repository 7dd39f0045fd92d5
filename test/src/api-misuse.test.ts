// Misuse of the public API (DESIGN.md section 4): every exported function and method of
// `persistent-memory` and `persistent-memory/testing` is called with wrong types, out-of-range
// values and missing arguments, and must answer with a PmemError (never a TypeError or a
// RangeError, never by accepting the value) and change nothing: the region image, or the file
// on disk for the functions that touch files. The exports and the methods of every exported
// class are enumerated, so a new one without a row here fails the coverage test.
//
// Container, containerCrashTest and the other container exports are covered by
// test/src/container/api-misuse.test.ts.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { inspect } from 'node:util'
import fc from 'fast-check'
import * as main from '../../src/index.js'
import * as testing from '../../src/testing/index.js'
import * as postgres from '../../src/postgres/index.js'
import {
  open, check, t, PersistentMemory, PmTx, Region, SimRegion, PmemError, InvalidArgumentError, type PmTx as PmTxType,
} from '../../src/index.js'
import { crashTest, findUnloggedStores } from '../../src/testing/index.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-misuse-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
let fileNo = 0
const tmp = (name = 'f') => path.join(dir, `${name}-${fileNo++}.pm`)

// ---------------------------------------------------------------------------------------
// Targeted regressions (issue "Trust II", items 1, 2 and 5).

test('open: unknown and ill-typed options are refused before the disk is touched', () => {
  const file = tmp('pool')
  open(file, { size: 1 << 20 }).close()
  const before = fs.readFileSync(file)
  const missing = tmp('missing')
  const bad: unknown[] = [
    { readonly: true }, { maxSize: 'big' }, { logSize: '64k' }, { size: '1MB' }, { create: 'yes' }, { readOnly: 1 },
    5, 'x', [], null, true, 5n, Symbol('s'), () => ({}), { logSize: 5000 }, { logSize: 4096 }, { maxSize: -1 },
    { size: 1 << 20, maxSize: 1 << 16 }, { logsize: 8192, size: 1 << 20 },
  ]
  for (const opts of bad) {
    for (const p of [file, missing]) {
      assert.throws(() => open(p, opts as never), (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError, `open(${p === file ? 'pool' : 'missing'}, ${inspect(opts)}) threw ${inspect(err)}`)
        return true
      })
    }
  }
  assert.throws(() => open(file, { readonly: true } as never), /unknown option "readonly"; known options are size, readOnly, create, logSize, maxSize/)
  assert.throws(() => open(file, { maxSize: 'big' } as never), /maxSize .*"big"/)
  assert.deepEqual(fs.readFileSync(file), before, 'the pool file is unchanged')
  assert.equal(fs.existsSync(missing), false, 'no file was created')
  const ro = open(file, { readOnly: true })
  assert.equal(ro.region.readOnly, true)
  ro.close()
})

test('open: a size too small for a pool is refused before the file is created, naming the minimum', () => {
  const p = tmp('small')
  assert.throws(() => open(p, { size: 8192 }), /size 8192 is too small .* at least 16384 bytes/)
  assert.equal(fs.existsSync(p), false, 'no broken file is left behind')
  assert.throws(() => open(p, { size: 12288 }), InvalidArgumentError) // the default log shrinks to fit small regions (8 KiB at least)
  assert.throws(() => open(p, { size: 1 << 20, logSize: 1 << 20 }), /at least 1056768 bytes .*logSize of at most 1040384/)
  assert.throws(() => open(p, { size: 16384, logSize: 16384 }), InvalidArgumentError)
  assert.equal(fs.existsSync(p), false)
  const pm = open(p, { size: 73728 - 100 }) // rounds up to the minimum: works, and holds a variable
  pm.transaction(tx => tx.writeF64(pm.persistent('x', t.f64).offset, 1))
  pm.close()
  const q = tmp('small-log')
  const pm2 = open(q, { size: 16384, logSize: 8192 }) // the smallest pool of all
  assert.ok(pm2.check().ok)
  pm2.close()
  assert.ok(check(p).ok && check(q).ok)
})

test('untyped errors no longer escape: read, readBytes/zero lengths, view types, SimRegion sizes, crashTest specs', async () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 256 * 1024 }))
  const v = pm.persistent('v', t.array(t.u64, 4))
  const isPmem = (err: unknown) => { assert.ok(err instanceof PmemError, inspect(err)); return true }
  assert.throws(() => pm.read(5 as never), isPmem)
  for (const len of [5n, Symbol('len'), '8', null]) {
    assert.throws(() => pm.read(tx => tx.readBytes(v.offset, len as never)), isPmem)
    assert.throws(() => pm.transaction(tx => tx.zero(v.offset, len as never)), isPmem)
  }
  assert.throws(() => pm.transaction(tx => tx.view({ type: 5 as never, offset: v.offset })), isPmem)
  assert.throws(() => pm.read(tx => tx.at(Symbol('x') as never, v.offset)), isPmem)
  assert.throws(() => SimRegion.create({ size: 2 ** 40 }), isPmem)
  assert.throws(() => SimRegion.create({ size: 2 ** 31 }), isPmem)
  const good = { setup: () => 0, operation: fc.constant(1), run: () => {}, model: { init: () => 0, step: () => 0 }, read: () => 0, runs: 1 }
  for (const spec of [undefined, null, 5, {}, { ...good, setup: 5 }, { ...good, operation: 5 }, { ...good, operation: {} },
    { ...good, model: null }, { ...good, model: { init: () => 0 } }, { ...good, read: undefined }, { ...good, runs: 0 }, { ...good, runs: 'many' },
    { ...good, size: 2 ** 40 }, { ...good, size: 8192 }, { ...good, logSize: 5 }, { ...good, maxOp: 3 }, { ...good, equals: 1 }, { ...good, sanitize: 'yes' }]) {
    await assert.rejects(crashTest(spec as never), isPmem, inspect(spec))
  }
  await crashTest(good)
  assert.throws(() => findUnloggedStores(null as never), isPmem)
})

// ---------------------------------------------------------------------------------------
// The table: every exported function and method.

/** Wrong values tried at every argument position, by label. */
const WRONG: ReadonlyArray<readonly [string, unknown]> = [
  ['undefined', undefined], ['null', null], ['true', true], ['0', 0], ['-1', -1], ['1.5', 1.5], ['NaN', NaN],
  ['Infinity', Infinity], ['2**53', 2 ** 53], ['""', ''], ['"x"', 'x'], ['5n', 5n], ['Symbol', Symbol('s')],
  ['[]', []], ['{}', {}], ['function', function f() { return 1 }],
]

/** A subject a row calls on: made once, and for every bad call its state must stay the same. */
interface Subject {
  call(args: unknown[]): unknown
  /** Bytes that a refused call must leave unchanged (the region image or the files). */
  state(): Buffer
  /** After the valid call: closes what it left open. */
  cleanup?(result: unknown): unknown
}

interface Row {
  /** `name`, `Class.static` or `Class#method`. */
  name: string
  subject: () => Subject
  /** Arguments that work: the row calls them last, to show it exercises the real function. */
  valid: unknown[]
  /** Per position, labels of WRONG values that are in fact valid there. */
  ok?: Record<number, string[]>
  /** Trailing arguments that may be omitted. */
  optional?: number
  /** More calls that must be refused: out of range, misspelt options, forged values. */
  extra?: unknown[][]
}

const rows: Row[] = []
const row = (r: Row) => rows.push(r)
const NUMS = ['0', '-1', '1.5', 'NaN', 'Infinity', '2**53']

// --- subjects --------------------------------------------------------------------------

function simPool(): { sim: SimRegion; pm: PersistentMemory; v: { offset: number }; block: number } {
  const sim = SimRegion.create({ size: 256 * 1024, path: 'misuse.pm' })
  const pm = PersistentMemory.fromRegion(sim, { logSize: 16 * 1024 })
  const v = pm.persistent('v', t.array(t.u64, 8))
  const block = pm.transaction(tx => tx.alloc(64))
  return { sim, pm, v, block }
}

const image = (sim: SimRegion) => Buffer.from(sim.volatileImage())

function poolSubject(call: (pm: PersistentMemory, args: unknown[], v: { offset: number }, block: number) => unknown): () => Subject {
  return () => {
    const { sim, pm, v, block } = simPool()
    return { call: args => call(pm, args, v, block), state: () => image(sim) }
  }
}

/**
 * The scratch directory (names, sizes, modification times) and the bytes of the shared pool
 * and region files: a refused call creates, changes or deletes none of them.
 */
function filesState(): Buffer {
  const parts: Buffer[] = []
  for (const name of fs.readdirSync(dir).sort()) {
    const st = fs.statSync(path.join(dir, name))
    // a writable open writes its writer record and its close zeros it (regions/lock.ts inv. L10):
    // a refused open of the plain region file leaves its bytes (compared below), not its mtime
    // a writer's lock is made and moved aside in the file's asides directory (regions/lock.ts
    // inv. L8), which changes its mtime: its entries are compared instead
    const mtime = path.join(dir, name) === REGION ? '' : name.endsWith('.lock.asides') ? fs.readdirSync(path.join(dir, name)).join() : st.mtimeMs
    parts.push(Buffer.from(`${name}:${st.size}:${mtime};`))
  }
  for (const p of [POOL, REGION]) if (fs.existsSync(p)) parts.push(fs.readFileSync(p))
  return Buffer.concat(parts)
}

function regionSubject(call: (r: Region, args: unknown[]) => unknown, cleanup?: (result: unknown) => unknown): () => Subject {
  return () => {
    const r = Region.open(tmp('region'), { size: 16384 })
    return { call: args => call(r, args), state: () => Buffer.concat([filesState(), Buffer.from(r.unsafeBytes())]), cleanup: async res => { await cleanup?.(res); r.close() } }
  }
}

function simSubject(call: (s: SimRegion, args: unknown[]) => unknown): () => Subject {
  return () => {
    const s = SimRegion.create({ size: 16384, path: 'sim.rg' })
    s.unsafeBytes()[100] = 1 // something dirty, so crash images differ
    return { call: args => call(s, args), state: () => Buffer.concat([image(s), Buffer.from(s.durableImage())]) }
  }
}

const fileSubject = (call: (args: unknown[]) => unknown, cleanup?: (res: unknown) => unknown): () => Subject =>
  () => ({ call, state: filesState, cleanup })

const closeIt = (res: unknown) => (res as { close(): void }).close()

// --- main entry: functions ------------------------------------------------------------

const POOL = tmp('main-pool')
open(POOL, { size: 1 << 20 }).close()
const REGION = tmp('region-file')
Region.open(REGION, { size: 8192 }).close()
row({
  name: 'open', subject: fileSubject(args => open(...(args as [string])), closeIt), valid: [POOL, {}], optional: 1, ok: { 1: ['undefined', '{}'] },
  extra: [[POOL, { readonly: true }], [tmp('x'), { size: 8192 }], [tmp('x'), { size: 1 << 20, logSize: 1 << 20 }], [POOL, { maxSize: 'big' }],
    [tmp('x'), { size: 1 << 20, logSize: 12345 }], [tmp('x'), { size: 2 ** 40 }], [tmp('x')], [POOL, { exclusive: true }], [REGION, {}]],
})
row({ name: 'check', subject: fileSubject(args => check(...(args as [string]))), valid: [POOL], extra: [[tmp('x')]] })

// --- PersistentMemory ------------------------------------------------------------------

row({
  name: 'PersistentMemory.fromRegion',
  subject: () => {
    const sim = SimRegion.create({ size: 256 * 1024 })
    const closed = SimRegion.create({ size: 256 * 1024 }); closed.close()
    return {
      call: args => PersistentMemory.fromRegion(...(args.map(a => a === 'closed' ? closed : a === 'sim' ? sim : a) as [SimRegion])),
      state: () => image(sim),
    }
  },
  valid: ['sim', {}, false], optional: 2, ok: { 1: ['undefined', '{}'], 2: ['undefined', 'true'] },
  extra: [['closed'], ['sim', { logSize: 5000 }], ['sim', { logsize: 8192 }], ['sim', { logSize: 1 << 20 }], ['sim', { maxSize: 'big' }], [{ size: 5 }]],
})
const pmRow = (name: string, call: (pm: PersistentMemory, args: unknown[], v: { offset: number }, block: number) => unknown, r: Omit<Row, 'name' | 'subject'>) =>
  row({ name: `PersistentMemory#${name}`, subject: poolSubject(call), ...r })
const P = PersistentMemory.prototype as unknown as Record<string, (...a: unknown[]) => unknown>
pmRow('persistent', (pm, a) => P.persistent!.apply(pm, a), {
  valid: ['w', t.u32], ok: { 0: ['"x"'] },
  extra: [['v', t.u32], ['a'.repeat(256), t.u8], ['x', { ...t.u8 }], ['x', { kind: 'u8', sig: 'u8', size: 1, align: 1 }]],
})
pmRow('variables', (pm, a) => P.variables!.apply(pm, a), { valid: [] })
pmRow('transaction', (pm, a) => P.transaction!.apply(pm, a), {
  valid: [() => 1, { durability: 'sync' }], optional: 1, ok: { 0: ['function'], 1: ['undefined', '{}'] },
  extra: [[() => 1, 'group'], [() => 1, { durability: 'later' }], [() => 1, { durabilty: 'group' }], [async () => 1], [async () => 1, { durability: 'group' }]],
})
pmRow('read', (pm, a) => P.read!.apply(pm, a), { valid: [() => 1], ok: { 0: ['function'] }, extra: [[async () => 1]] })
pmRow('flush', (pm, a) => P.flush!.apply(pm, a), { valid: [] })
pmRow('check', (pm, a) => P.check!.apply(pm, a), { valid: [] })
pmRow('close', (pm, a) => P.close!.apply(pm, a), { valid: [] })

// --- PmTx and Tx: run inside a transaction ---------------------------------------------

// One layout for every pool subject: the same setup gives the same offsets.
const { v: { offset: VOFF }, block: BLOCK, pm: layoutPm } = simPool()
const HEAP_BASE = layoutPm.heap.base
const txRow = (name: string, valid: unknown[], r: Omit<Row, 'name' | 'subject' | 'valid'> = {}) => {
  const proto = Object.hasOwn(PmTx.prototype, name) ? 'PmTx' : 'Tx'
  row({
    name: `${proto}#${name}`, valid, ...r,
    subject: () => {
      const { sim, pm, v, block } = simPool()
      assert.deepEqual([v.offset, block], [VOFF, BLOCK])
      return { call: args => pm.transaction(tx => (tx as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...args)), state: () => image(sim) }
    },
  })
}
// offsets: 0 is below the data area, 2**53 and 1 << 30 beyond it; -1, 1.5, NaN are not offsets
const OUT = [[1 << 30], [256 * 1024]]
txRow('readU8', [VOFF], { extra: OUT })
txRow('readU32', [VOFF], { extra: [...OUT, [VOFF + 2]] })
txRow('readI32', [VOFF], { extra: [...OUT, [VOFF + 2]] })
txRow('readF64', [VOFF], { extra: [...OUT, [VOFF + 4]] })
txRow('readBigU64', [VOFF], { extra: [...OUT, [VOFF + 4]] })
txRow('readInto', [VOFF, new Uint8Array(8)], { extra: [[1 << 30, new Uint8Array(1)], [VOFF, new Uint8Array(1 << 20)], [VOFF, [1, 2]], [VOFF, new Uint16Array(2)]] })
txRow('readBytes', [VOFF, 8], { ok: { 1: ['0'] }, extra: [[1 << 30, 1], [VOFF, 1 << 20], [HEAP_BASE - 8, 4]] })
txRow('writeU8', [VOFF, 1], { ok: { 1: ['0'] }, extra: [[1 << 30, 1], [VOFF, 256]] })
txRow('writeU32', [VOFF, 1], { ok: { 1: ['0'] }, extra: [[1 << 30, 1], [VOFF + 2, 1], [VOFF, 2 ** 32]] })
txRow('writeI32', [VOFF, 1], { ok: { 1: ['0', '-1'] }, extra: [[1 << 30, 1], [VOFF + 2, 1], [VOFF, 2 ** 31]] })
txRow('writeF64', [VOFF, 1], { ok: { 1: NUMS }, extra: [[1 << 30, 1], [VOFF + 4, 1]] })
txRow('writeBigU64', [VOFF, 1n], { ok: { 1: ['5n'] }, extra: [[1 << 30, 1n], [VOFF + 4, 1n], [VOFF, -1n], [VOFF, 1n << 64n]] })
txRow('writeBytes', [VOFF, Uint8Array.of(1, 2)], { extra: [[1 << 30, Uint8Array.of(1)], [256 * 1024 - 1, Uint8Array.of(1, 2)], [VOFF, [1, 2]]] })
txRow('zero', [VOFF, 8], { ok: { 1: ['0'] }, extra: [[1 << 30, 8], [VOFF, 1 << 20]] })
txRow('end', [])
txRow('alloc', [24, 8], { optional: 1, ok: { 1: ['undefined'] }, extra: [[2 ** 40], [8, 3], [8, 8192], [0]] })
txRow('free', [BLOCK], { extra: [[1 << 30], [VOFF + 16], [HEAP_BASE + 32], [BLOCK + 16]] })
txRow('view', [{ type: t.u64, offset: VOFF }], { extra: [[{ type: 5, offset: VOFF }], [{ type: t.u64 }], [{ type: { ...t.u64 }, offset: VOFF }], [{ type: t.u64, offset: 'x' }]] })
txRow('at', [t.u64, VOFF], { extra: [[{ ...t.u8 }, VOFF], [t.u64, 1 << 30], [t.u64, VOFF + 4], [t.u64, 0]] })

// --- t -----------------------------------------------------------------------------------

const tSubject = (fn: (...a: unknown[]) => unknown): () => Subject => () => ({ call: args => fn(...args), state: () => Buffer.alloc(0) })
row({ name: 't.bytes', subject: tSubject(t.bytes as never), valid: [4], ok: { 0: ['0'] }, extra: [[2 ** 32]] })
row({ name: 't.array', subject: tSubject(t.array as never), valid: [t.u8, 3], ok: { 1: ['0'] }, extra: [[{ ...t.u8 }, 2], [t.f64, 2 ** 40]] })
row({ name: 't.struct', subject: tSubject(t.struct as never), valid: [{ a: t.u8 }], ok: { 0: ['{}'] }, extra: [[{ a: { ...t.u8 } }], [{ a: 5 }], [{ a: t.array(t.u8, 2 ** 30), b: t.array(t.u8, 2 ** 30) }]] })
row({ name: 't.ptr', subject: tSubject(t.ptr as never), valid: [t.u8], optional: 1, ok: { 0: ['undefined', 'function'] }, extra: [[{ ...t.u8 }]] })

// --- Region --------------------------------------------------------------------------------

row({ name: 'Region.open', subject: fileSubject(a => Region.open(...(a as [string])), closeIt), valid: [REGION, {}], optional: 1, ok: { 1: ['undefined', '{}'] },
  extra: [[REGION, { readonly: true }], [tmp('x'), { size: 2 ** 40 }], [tmp('x'), { create: true }]] })
row({ name: 'Region.check', subject: fileSubject(a => Region.check(...(a as [string]))), valid: [REGION], extra: [[tmp('x')]] })
row({ name: 'Region.delete', subject: fileSubject(a => Region.delete(...(a as [string]))), valid: [REGION], extra: [[tmp('x')], [POOL + '.not']] })
const R = Region.prototype as unknown as Record<string, (...a: unknown[]) => unknown>
const regionRow = (name: string, r: Omit<Row, 'name' | 'subject'>, cleanup?: (res: unknown) => unknown) =>
  row({ name: `Region#${name}`, subject: regionSubject((reg, a) => R[name]!.apply(reg, a), cleanup), ...r })
regionRow('view', { valid: [Float64Array, 8, 2], ok: { 1: ['0'], 2: ['0'] }, extra: [[Float64Array, 4, 1], [Uint8Array, 0, 16385], [Array, 0, 1]] })
regionRow('unsafeBytes', { valid: [] })
regionRow('flush', { valid: [0, 8], optional: 2, ok: { 0: ['undefined', '0'], 1: ['undefined', '0'] }, extra: [[16384, 1], [0, 16385]] })
regionRow('flushAsync', { valid: [0, 8], optional: 2, ok: { 0: ['undefined', '0'], 1: ['undefined', '0'] }, extra: [[16384, 1], [0, 16385]] })
regionRow('prepareFlushAsync', { valid: [] })
regionRow('liveWriter', { valid: [] })
regionRow('pathHolds', { valid: [] })
regionRow('writerRecordHolds', { valid: [] })
regionRow('followGrowth', { valid: [] })
regionRow('grow', { valid: [32768], extra: [[4096], [2 ** 40]] })
regionRow('reserveAsync', { valid: [32768], ok: { 0: ['0'] } })
regionRow('appendStream', { valid: [1 << 20, 4096], extra: [[0, 4096], [1 << 20, 0], [1 << 20, 2 ** 30]] }, res => (res as { discard(): void } | null)?.discard())
regionRow('close', { valid: [] })

// --- SimRegion -----------------------------------------------------------------------------

row({ name: 'SimRegion.create', subject: tSubject(SimRegion.create as never), valid: [{ size: 4096 }],
  extra: [[{ size: 2 ** 40 }], [{ size: 4096, sizee: 1 }], [{ size: 4096, path: 5 }], [{ size: 4096, maxSize: 'x' }], [{ size: 4096, readOnly: 1 }], [{}]] })
row({ name: 'SimRegion.fromImage', subject: tSubject(SimRegion.fromImage as never), valid: [new Uint8Array(4096), {}], optional: 1, ok: { 1: ['undefined', '{}'] },
  extra: [[new Uint8Array(100)], [new Uint8Array(0)], [new Uint8Array(4096), { path: 5 }], [new Uint8Array(4096), { readOnly: 'yes' }], [new Uint8Array(4096), { pth: 'x' }]] })
const S = SimRegion.prototype as unknown as Record<string, (...a: unknown[]) => unknown>
const simRow = (name: string, r: Omit<Row, 'name' | 'subject'>) => row({ name: `SimRegion#${name}`, subject: simSubject((s, a) => S[name]!.apply(s, a)), ...r })
simRow('view', { valid: [Float64Array, 8, 2], ok: { 1: ['0'], 2: ['0'] }, extra: [[Float64Array, 4, 1], [Uint8Array, 0, 16385]] })
simRow('unsafeBytes', { valid: [] })
simRow('liveWriter', { valid: [] })
simRow('followGrowth', { valid: [] })
simRow('flush', { valid: [0, 8], optional: 2, ok: { 0: ['undefined', '0'], 1: ['undefined', '0'] }, extra: [[16384, 1]] })
simRow('flushAsync', { valid: [0, 8], optional: 2, ok: { 0: ['undefined', '0'], 1: ['undefined', '0'] }, extra: [[16384, 1]] })
simRow('reserveAsync', { valid: [32768], ok: { 0: ['0'] } })
simRow('appendStream', { valid: [1 << 20, 4096], extra: [[0, 4096], [1 << 20, 0], [1 << 20, 2 ** 30], [2 ** 31, 4096]] })
simRow('grow', { valid: [32768], ok: { 0: ['0'] }, extra: [[2 ** 40]] })
simRow('close', { valid: [] })
simRow('dirtySectors', { valid: [] })
simRow('durableImage', { valid: [] })
simRow('volatileImage', { valid: [] })
simRow('crash', { valid: [7], ok: { 0: ['0', '-1'] } })
simRow('processCrash', { valid: [] })
simRow('crashImages', { valid: [{ max: 4, seed: 1 }], optional: 1, ok: { 0: ['undefined', '{}'] }, extra: [[{ max: 0 }], [{ maxx: 4 }], [{ seed: 'x' }]] })

// --- persistent-memory/testing ---------------------------------------------------------------

const goodSpec = { setup: () => 0, operation: fc.constant(1), run: () => {}, model: { init: () => 0, step: () => 0 }, read: () => 0, runs: 1 }
row({ name: 'testing.crashTest', subject: tSubject(crashTest as never), valid: [goodSpec], extra: [[{ ...goodSpec, runs: -1 }], [{ ...goodSpec, model: 5 }], [{ ...goodSpec, size: 4096 }]] })
row({
  name: 'testing.findUnloggedStores', valid: ['pm'],
  subject: () => {
    const sim = SimRegion.create({ size: 64 * 1024 }), pm = PersistentMemory.fromRegion(sim, { logSize: 8192 })
    const onFile = open(tmp('pool'), { size: 1 << 20 })
    return {
      call: a => findUnloggedStores(...(a.map(x => x === 'pm' ? pm : x === 'file' ? onFile : x) as [PersistentMemory])),
      state: () => image(sim), cleanup: () => onFile.close(),
    }
  },
  extra: [['file']],
})

// --- collections -----------------------------------------------------------------------------

const Rec = t.struct({ a: t.u32, s: t.string })
function collPool() {
  const { sim, pm } = simPool()
  const h = pm.hashMap('h', t.string, Rec)
  h.put('x', { a: 1, s: 'a string longer than fifteen bytes' })
  const sm = pm.sortedMap('s', t.f64, t.string)
  sm.put(1, 'one')
  const vec = pm.vector('vec', t.u32)
  vec.push(5)
  return { sim, pm, h, sm, vec }
}
type Colls = ReturnType<typeof collPool>
const collRow = (name: string, call: (c: Colls, args: unknown[]) => unknown, r: Omit<Row, 'name' | 'subject'>) =>
  row({ name, subject: () => { const c = collPool(); return { call: args => call(c, args), state: () => image(c.sim) } }, ...r })
const methodOf = (obj: object, name: string, args: unknown[]) => (Object.getPrototypeOf(obj) as Record<string, (...a: unknown[]) => unknown>)[name]!.apply(obj, args)
const OPTS = { ok: ['undefined', '{}'] }
for (const kind of ['hashMap', 'sortedMap'] as const) {
  collRow(`PersistentMemory#${kind}`, (c, a) => methodOf(c.pm, kind, a), {
    valid: ['new', t.string, t.u32, {}], optional: 1, ok: { 0: ['"x"'], 3: OPTS.ok },
    extra: [['h', t.u32, Rec], ['s', t.f64, t.u32], ['vec', t.string, t.u32], ['k', Rec, t.u8], ['k', t.bytes(4), t.u8], ['k', t.string, { ...t.u8 }],
      ['k', t.string, t.u8, { durability: 'later' }], ['k', t.string, t.u8, { durabilty: 'sync' }], ['', t.string, t.u8]],
  })
}
collRow('PersistentMemory#vector', (c, a) => methodOf(c.pm, 'vector', a), {
  valid: ['new', t.u32, {}], optional: 1, ok: { 0: ['"x"'], 2: OPTS.ok },
  extra: [['vec', t.f64], ['h', t.u32], ['k', { ...t.u8 }], ['k', t.u8, { durability: 5 }]],
})
const STR_KEY = { 0: ['""', '"x"'] }
for (const [cls, pick, key, value, okKey, okVal, badKey, badVal] of [
  ['HashMap', (c: Colls) => c.h, 'y', { a: 2, s: 't' }, STR_KEY[0], ['{}'], [5], [{ a: -1 }, { a: 1, s: 5 }, { s: Symbol('s') }]],
  ['SortedMap', (c: Colls) => c.sm, 2, 'two', NUMS.filter(n => n !== 'NaN'), ['""', '"x"'], ['2', NaN, 5n], [5, null]],
] as const) {
  const m = (c: Colls) => pick(c) as unknown as object
  collRow(`${cls}#get`, (c, a) => methodOf(m(c), 'get', a), { valid: [key], ok: { 0: [...okKey] }, extra: badKey.map(k => [k]) })
  collRow(`${cls}#has`, (c, a) => methodOf(m(c), 'has', a), { valid: [key], ok: { 0: [...okKey] }, extra: badKey.map(k => [k]) })
  collRow(`${cls}#put`, (c, a) => methodOf(m(c), 'put', a), {
    valid: [key, value, {}], optional: 1, ok: { 0: [...okKey], 1: [...okVal], 2: OPTS.ok },
    extra: [...badVal.map(v => [key, v]), [key, value, { durability: 'x' }], [key, value, { durability: 'sync', extra: 1 }]],
  })
  collRow(`${cls}#delete`, (c, a) => methodOf(m(c), 'delete', a), { valid: [key, {}], optional: 1, ok: { 0: [...okKey], 1: OPTS.ok }, extra: [[key, { durability: 'x' }]] })
  collRow(`${cls}#clear`, (c, a) => methodOf(m(c), 'clear', a), { valid: [{}], optional: 1, ok: { 0: OPTS.ok }, extra: [[{ durability: 'x' }]] })
  for (const it of ['keys', 'values', 'entries']) collRow(`${cls}#${it}`, (c, a) => [...methodOf(m(c), it, a) as Iterable<unknown>], { valid: [] })
}
collRow('HashMap#sweep', (c, a) => methodOf(c.h, 'sweep', a), {
  valid: [0, 10, () => false, {}], optional: 1, ok: { 0: ['0'], 2: ['function'], 3: OPTS.ok },
  extra: [[-1, 1, () => false], [0, 0, () => false], [0, 1.5, () => false], [0, 1, 'x'], [0, 1, () => false, { durability: 'x' }]],
})
collRow('SortedMap#getRange', (c, a) => [...methodOf(c.sm, 'getRange', a) as Iterable<unknown>], {
  valid: [{ start: 0, end: 10, reverse: true, limit: 5, offset: 0 }], optional: 1, ok: { 0: OPTS.ok },
  extra: [[{ start: 'a' }], [{ end: NaN }], [{ limit: -1 }], [{ offset: 1.5 }], [{ reverse: 1 }], [{ lmit: 3 }]],
})
collRow('Vector#get', (c, a) => methodOf(c.vec, 'get', a), { valid: [0], ok: { 0: ['0'] } })
collRow('Vector#set', (c, a) => methodOf(c.vec, 'set', a), { valid: [0, 7, {}], optional: 1, ok: { 0: ['0'], 1: ['0'], 2: OPTS.ok }, extra: [[1, 7], [0, 7, { durability: 'x' }]] })
collRow('Vector#push', (c, a) => methodOf(c.vec, 'push', a), { valid: [7, {}], optional: 1, ok: { 0: ['0'], 1: OPTS.ok }, extra: [[7, { durability: 'x' }]] })
collRow('Vector#pop', (c, a) => methodOf(c.vec, 'pop', a), { valid: [{}], optional: 1, ok: { 0: OPTS.ok }, extra: [[{ durability: 'x' }]] })
collRow('Vector#clear', (c, a) => methodOf(c.vec, 'clear', a), { valid: [{}], optional: 1, ok: { 0: OPTS.ok }, extra: [[{ durability: 'x' }]] })

test('collections: writing t.string outside a pool transaction, and stale handles after close, are typed errors', () => {
  const { pm, h, vec } = collPool()
  assert.throws(() => pm.read(tx => (tx.at(Rec, pm.variables().find(v => v.name === 'h')!.offset) as unknown as { s: string }).s = 'x'), PmemError)
  pm.close()
  for (const f of [() => h.get('x'), () => h.put('x', { a: 1 }), () => h.size, () => vec.length, () => [...h.keys()]]) assert.throws(f, PmemError)
})

// --- what the table does not call, and why ---------------------------------------------------

const SKIP: Record<string, string> = {
  'Container': 'container: test/src/container/api-misuse.test.ts',
  'DEFAULT_CHUNK_SIZE': 'container constant: test/src/container/api-misuse.test.ts',
  'UnknownClassError': 'container error class: test/src/container/api-misuse.test.ts',
  'testing.containerCrashTest': 'container: test/src/container/api-misuse.test.ts',
  'testing.snapshotGraph': 'container graphs (containerCrashTest\'s helper): test/src/container/api-misuse.test.ts',
  'testing.graphDifference': 'container graphs (containerCrashTest\'s helper): test/src/container/api-misuse.test.ts',
  'testing.SimRegion': 'the same class as the main entry\'s SimRegion (asserted below)',
  'PersistentMemory': 'a class: its static and prototype methods have rows',
  'PmTx': 'a class: its prototype methods (and those of Tx) have rows',
  'Region': 'a class: its static and prototype methods have rows',
  'SimRegion': 'a class: its static and prototype methods have rows',
  't': 'an object of type constructors: each function has a row, each value is a type',
  'readerTiming': 'a settings object, no function: its bounds are exercised by test/txn/reader.property.test.ts',
  'pathTiming': 'a settings object, no function: its intervals are exercised by test/src/pool-path.test.ts',
  'postgres.PostgresStore': 'needs a PostgreSQL server: misuse rows in test/src/postgres/postgres.test.ts',
  'postgres.SCHEMA_VERSION': 'a constant (the table layout version)',
  'PostgresStore.connect': 'needs a PostgreSQL server: test/src/postgres/postgres.test.ts ("misuse: ...")',
  'PostgresStore#openStore': 'needs a PostgreSQL server: test/src/postgres/postgres.test.ts (through Container.openStore)',
  'PostgresStore#versions': 'needs a PostgreSQL server: test/src/postgres/postgres.test.ts ("misuse: ...")',
  'PostgresStore#delete': 'needs a PostgreSQL server: test/src/postgres/postgres.test.ts ("misuse: ...")',
  'PostgresStore#list': 'needs a PostgreSQL server: test/src/postgres/postgres.test.ts ("misuse: ...")',
  'PostgresStore#check': 'needs a PostgreSQL server: test/src/postgres/check.ts (a missing container, a bad name, a closed store)',
  'PostgresStore#close': 'needs a PostgreSQL server: test/src/postgres/postgres.test.ts ("misuse: ...")',
  'HashMap': 'a class: its prototype methods have rows', 'SortedMap': 'a class: its prototype methods have rows', 'Vector': 'a class: its prototype methods have rows',
  'PersistentMemory#collectionVar': 'internal: the named variable of pm.hashMap/sortedMap/vector (their rows)',
  'PersistentMemory#refuseVariableFree': 'internal: tx.free asks it whether an offset is a variable\'s block (vars inv. 6, test/src/stale-views.test.ts); any value that is not such an offset passes on to the heap\'s own checks',
  'PersistentMemory#hasVariable': 'internal: tx.view asks it whether a handle names a variable of this file (vars inv. 5, test/src/foreign-handles.test.ts); library code passes a name and an offset from a handle',
  'PersistentMemory#readReused': 'internal: the collections\' lookups outside a transaction (the get/has rows); a non-function is InvalidArgumentError as in read (test/txn/primitives.test.ts readReused)',
  'PmTx#whole': 'internal: typed writes of values holding strings run in it (view inv. V2, test/src/strings/struct-write-whole.test.ts); a non-function is InvalidArgumentError',
  'Tx#logRoom': 'internal: the redo-log room view.ts inv. V2 reads (test/src/strings/struct-write-whole.test.ts); no arguments, a number',
  'Tx#stagedPast': 'internal: the heap guard (guard inv. G1) walks the staged writes past top with it at commit (test/src/heap-guard.test.ts); library code passes its own numbers and function',
  'Tx#stagedHi': 'internal: the heap guard\'s quick test (guard inv. G1, test/src/heap-guard.test.ts); no arguments, a number',
  'Tx#reopen': 'internal: TxEngine.readReused reopens its own ended reader; a no-op on a Tx with a builder (test/txn/primitives.test.ts readReused)',
  'HashMap.open': 'internal: what pm.hashMap calls (its row)', 'SortedMap.open': 'internal: what pm.sortedMap calls (its row)', 'Vector.open': 'internal: what pm.vector calls (its row)',
}

// ---------------------------------------------------------------------------------------

function label(v: unknown): string {
  const w = WRONG.find(([, x]) => Object.is(x, v))
  if (w) return w[0]
  if (typeof v === 'function') return v.name ? `function ${v.name}` : 'a function'
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${v.byteLength})`
  try { return inspect(v, { depth: 2, breakLength: Infinity }).slice(0, 80) } catch { return typeof v }
}

/** Closes what a wrongly accepted call opened (a pool, a region, a stream), so later calls are not masked. */
function dispose(r: unknown): void {
  if (r instanceof PersistentMemory || r instanceof Region) r.close()
  else if (r !== null && typeof r === 'object' && typeof (r as { discard?: unknown }).discard === 'function') (r as { discard(): void }).discard()
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function'
}

/** Runs one call that must be refused; returns a problem, or null when it got a PmemError. */
async function refused(s: Subject, args: unknown[], before: Buffer): Promise<string | null> {
  const problem = await attempt(s, args, before)
  if (problem !== null && problem.includes('was accepted')) throw new Accepted(problem)
  return problem
}

/** A wrong call was accepted: the subject may have changed, so the row goes on with a fresh one. */
class Accepted extends Error {}

async function attempt(s: Subject, args: unknown[], before: Buffer): Promise<string | null> {
  const what = `(${args.map(label).join(', ')})`
  let outcome: string | null
  try {
    let r = s.call(args)
    if (isThenable(r)) r = await r
    dispose(r)
    outcome = `${what} was accepted (returned ${label(r)})`
  } catch (err) {
    outcome = err instanceof PmemError ? null : `${what} threw ${(err as Error)?.constructor?.name ?? typeof err}: ${(err as Error)?.message}`
  }
  if (outcome === null && !before.equals(s.state())) outcome = `${what} was refused but changed the ${s.state.name === 'filesState' ? 'files' : 'state'}`
  return outcome
}

/** Every call a row must see refused: a wrong value at each position, missing arguments, the extras. */
function badCalls(r: Row): Array<{ args: unknown[]; what: string }> {
  const out: Array<{ args: unknown[]; what: string }> = []
  const n = r.valid.length
  const required = n - (r.optional ?? 0)
  for (let i = 0; i < n; i++) {
    for (const [name, value] of WRONG) {
      if (r.ok?.[i]?.includes(name) || (name === 'undefined' && i >= required)) continue
      const args = r.valid.slice(); args[i] = value
      out.push({ args, what: '' })
    }
  }
  for (let k = 0; k < required; k++) out.push({ args: r.valid.slice(0, k), what: `missing argument ${k + 1}: ` })
  for (const args of r.extra ?? []) out.push({ args, what: '' })
  return out
}

for (const r of rows) {
  test(`misuse: ${r.name}`, async () => {
    let s = r.subject()
    let before = s.state()
    const problems: string[] = []
    for (const { args, what } of badCalls(r)) {
      try {
        const p = await refused(s, args, before)
        if (p !== null) problems.push(what + p)
      } catch (err) {
        if (!(err instanceof Accepted)) throw err
        problems.push(what + err.message)
        s = r.subject(); before = s.state()
      }
    }
    assert.deepEqual(problems, [], `${r.name} misuse`)
    // the valid call works: the row exercises the real function
    let res = s.call(r.valid)
    if (isThenable(res)) res = await res
    await s.cleanup?.(res)
  })
}

// ---------------------------------------------------------------------------------------
// Coverage: every export and every method has a row or a reason.

function methods(obj: object): string[] {
  return Object.getOwnPropertyNames(obj).filter(n => {
    const d = Object.getOwnPropertyDescriptor(obj, n)!
    return n !== 'constructor' && typeof d.value === 'function'
  })
}

test('misuse table covers every export of both entries and every method of their classes', () => {
  const names = new Set(rows.map(r => r.name))
  const missing: string[] = []
  const need = (name: string) => { if (!names.has(name) && !(name in SKIP)) missing.push(name) }
  for (const key of Object.keys(main)) {
    const v = (main as Record<string, unknown>)[key]
    if (typeof v === 'function' && v.prototype instanceof Error) continue // error classes: the errors test
    need(key)
  }
  for (const key of Object.keys(testing)) {
    const v = (testing as Record<string, unknown>)[key]
    if (typeof v === 'function' && v.prototype instanceof Error) continue // error classes: the errors test
    need(`testing.${key}`)
  }
  for (const key of Object.keys(postgres)) {
    const v = (postgres as Record<string, unknown>)[key]
    if (typeof v === 'function' && v.prototype instanceof Error) { assert.equal(v, (main as Record<string, unknown>)[key], `postgres.${key} is the main entry's class`); continue }
    need(`postgres.${key}`)
  }
  assert.equal(testing.SimRegion, main.SimRegion)
  const classes: Array<[string, Function]> = [['PersistentMemory', PersistentMemory], ['Region', Region], ['SimRegion', SimRegion], ['PostgresStore', postgres.PostgresStore], ['HashMap', main.HashMap], ['SortedMap', main.SortedMap], ['Vector', main.Vector]]
  for (const [name, C] of classes) {
    for (const m of methods(C)) need(`${name}.${m}`)
    for (const m of methods(C.prototype)) need(`${name}#${m}`)
  }
  for (let proto = PmTx.prototype as object; proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const name = proto === PmTx.prototype ? 'PmTx' : 'Tx'
    for (const m of methods(proto)) need(`${name}#${m}`)
  }
  for (const [k, v] of Object.entries(t)) {
    if (typeof v === 'function') need(`t.${k}`)
    else assert.ok(v !== null && typeof v === 'object' && typeof (v as { sig?: unknown }).sig === 'string', `t.${k} is a type`)
  }
  assert.deepEqual(missing, [], 'exports or methods without a misuse row (add one, or a reason in SKIP)')
})

test('every getter of the exported classes gives a value or a PmemError, open or closed', () => {
  const problems: string[] = []
  const probe = (what: string, obj: object, proto: object) => {
    for (const n of Object.getOwnPropertyNames(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, n)!
      if (d.get === undefined) continue
      try { d.get.call(obj) } catch (err) { if (!(err instanceof PmemError)) problems.push(`${what}.${n}: ${String(err)}`) }
    }
  }
  const { sim, pm } = simPool()
  const r = Region.open(tmp('getters'), { size: 8192 })
  let kept: PmTxType | undefined
  pm.transaction(tx => { kept = tx; probe('tx', tx, Object.getPrototypeOf(PmTx.prototype)) })
  const colls: Array<[string, object]> = [['hashMap', pm.hashMap('h', t.string, t.u8)], ['sortedMap', pm.sortedMap('s', t.u32, t.string)], ['vector', pm.vector('v2', t.f64)]]
  for (const closed of [false, true]) {
    probe('pm', pm, PersistentMemory.prototype); probe('region', r, Region.prototype); probe('sim', sim, SimRegion.prototype)
    for (const [n, c] of colls) { probe(n, c, Object.getPrototypeOf(c)); probe(n, c, Object.getPrototypeOf(Object.getPrototypeOf(c))) }
    probe('ended tx', kept!, Object.getPrototypeOf(PmTx.prototype))
    if (!closed) { pm.close(); r.close(); sim.close() }
  }
  assert.deepEqual(problems, [])
})

test('every error class is a PmemError with a distinct stable code', () => {
  const classes = [...Object.entries(main), ...Object.entries(testing)]
    .filter(([, v]) => typeof v === 'function' && (v as Function).prototype instanceof Error) as Array<[string, new (...a: never[]) => PmemError]>
  const codes = new Map<string, string>()
  for (const [name, C] of classes) {
    if (C === PmemError) continue
    assert.ok(C.prototype instanceof PmemError, `${name} extends PmemError`)
    const err = new (C as unknown as new (m: string, x?: unknown) => PmemError)('message', undefined)
    assert.equal(err.name, name)
    assert.match(err.code, /^ERR_PMEM_[A-Z_]+$/)
    if (codes.has(err.code) && codes.get(err.code) !== name) assert.fail(`${name} and ${codes.get(err.code)} share ${err.code}`)
    codes.set(err.code, name)
  }
  assert.ok(codes.size >= 19)
})

test('the README\'s Errors section lists every exported error class with its code', () => {
  const readme = fs.readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('## Errors'), readme.indexOf('\n## ', readme.indexOf('## Errors') + 3))
  const classes = [...Object.entries(main), ...Object.entries(testing)]
    .filter(([, v]) => typeof v === 'function' && (v as Function).prototype instanceof PmemError) as Array<[string, new (m: string, x?: unknown) => PmemError]>
  const missing = classes.filter(([name, C]) => !new RegExp(`\\| \`${name}\` \\| \`${new C('m', undefined).code}\` \\|`).test(section)).map(([n]) => n)
  assert.deepEqual(missing, [], 'error classes missing from the README table (class and code on one row)')
})
