// Damage to the heap's on-disk structures (src/heap.ts, src/vars.ts): bit flips, zeroed fields,
// zeroed 512-byte sectors and foreign bytes in the heap header (magic, top, varsHead, live,
// free-list heads), block headers (live and free), an alignment (forward) header, and every
// field of the named-variable entries. Each outcome is checked:
//   - open refuses with a typed PmemError and the image is byte for byte unchanged, or
//   - open succeeds and check({ reachability: true }) reports problems (never throws), or
//   - the damage is harmless: check is clean and every variable and every byte of live data
//     reads back as before.
// In every case that opens, allocations and a free of the aligned block either throw a typed
// error or succeed without touching live data (heap inv. 4, 5): afterwards every live byte is
// still what it was. Fields whose damage can never be harmless must be detected. The last
// test does the same on a real file through open() and check(path).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { HEADER_SIZE, PmemError, SimRegion, mulberry32 } from '../../regions/index.js'
import { PersistentMemory, check, open, t, type StructType } from '../../src/index.js'
import { heapBlocks } from '../../src/heap.js'
import { H_BINS, NB } from '../../src/heap-layout.js'

const Node: StructType = t.struct({ value: t.f64, next: t.ptr(() => Node) })
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))
const u64 = (img: Uint8Array, off: number) => Number(new DataView(img.buffer, img.byteOffset).getBigUint64(off, true))

/** A field of an on-disk structure: where, how long, and whether every change to it must be detected. */
interface Field { name: string; at: number; len: number; mustDetect: boolean }

interface Fixture { image: Uint8Array; fields: Field[]; live: Array<[number, number]>; expected: unknown }

/** A closed pool with a typed list, counters, an aligned block and non-empty free lists, and a map of its structures. */
function fixture(): Fixture {
  const sim = SimRegion.create({ size: 128 * 1024 })
  const pm = PersistentMemory.fromRegion(sim, { logSize: 16 * 1024 })
  const head = pm.persistent('head', t.ptr(Node))
  const count = pm.persistent('count of the nodes in the list', t.u64)
  const blob = pm.persistent('blob', t.ptr())
  const keep = pm.persistent('keep', t.array(t.ptr(), 2))
  for (let i = 0; i < 4; i++) {
    pm.transaction(tx => {
      const n = tx.alloc(Node.size)
      Object.assign(tx.at(Node, n), { value: i + 0.25, next: tx.view(head).value })
      tx.view(head).value = n
      tx.writeBigU64(count.offset, tx.readBigU64(count.offset) + 1n)
    })
  }
  const aligned = pm.transaction(tx => { const p = tx.alloc(100, 256); tx.writeBytes(p, Uint8Array.from({ length: 100 }, (_, i) => i)); tx.view(blob).value = p; return p })
  assert.equal(pm.read(tx => tx.readU32(aligned - 16)), 0x4e4c4150, 'the aligned allocation has a forward header')
  const spare = pm.transaction(tx => [tx.alloc(20), tx.alloc(20), tx.alloc(60), tx.alloc(500)])
  // free the first and third: two free blocks in two bins, each between live blocks (heap inv. 2)
  pm.transaction(tx => { tx.view(keep).set(0, spare[1]!); tx.view(keep).set(1, spare[3]!); tx.free(spare[0]!); tx.free(spare[2]!) })
  const H = pm.heap.base
  const expected = readAll(pm)
  const blocks = pm.read(tx => heapBlocks(tx, H, sim.size))!
  pm.close()
  const image = sim.volatileImage()
  const fields: Field[] = [
    { name: 'heap magic', at: H, len: 8, mustDetect: true },
    { name: 'heap top', at: H + 8, len: 8, mustDetect: true },
    { name: 'heap varsHead', at: H + 16, len: 8, mustDetect: true },
    { name: 'heap live bytes', at: H + 24, len: 8, mustDetect: true },
  ]
  fields.push({ name: 'heap last block', at: H + 32, len: 8, mustDetect: true }, { name: 'heap bin map', at: H + 40, len: 16, mustDetect: true })
  for (let c = 0; c < NB; c++) {
    const nonEmpty = u64(image, H + H_BINS + 8 * c) !== 0
    if (nonEmpty || c === 11) fields.push({ name: `free-list head ${c}${nonEmpty ? '' : ' (empty)'}`, at: H + H_BINS + 8 * c, len: 8, mustDetect: true })
  }
  const block = (payload: number) => payload - 16
  const node = u64(image, head.offset)
  fields.push(
    { name: 'live block magic', at: block(node), len: 4, mustDetect: true },
    { name: 'live block size', at: block(node) + 4, len: 4, mustDetect: true },
    { name: 'live block size before', at: block(node) + 8, len: 4, mustDetect: true },
    { name: 'live block flags', at: block(node) + 12, len: 4, mustDetect: true },
    { name: 'free block magic', at: block(spare[0]!), len: 4, mustDetect: true },
    { name: 'free block size', at: block(spare[0]!) + 4, len: 4, mustDetect: true },
    { name: 'free block flags', at: block(spare[0]!) + 12, len: 4, mustDetect: true },
    { name: 'free block next link', at: block(spare[0]!) + 16, len: 8, mustDetect: true },
    { name: 'free block previous link', at: block(spare[0]!) + 24, len: 8, mustDetect: true },
    { name: 'forward header magic', at: aligned - 16, len: 4, mustDetect: false },
    { name: 'forward header reserved', at: aligned - 12, len: 4, mustDetect: false },
    { name: 'forward header block', at: aligned - 8, len: 8, mustDetect: false },
  )
  for (let at = u64(image, H + 16), k = 0; at !== 0; at = u64(image, at), k++) {
    const nameLen = image[at + 24]!, sigLen = image[at + 26]! | (image[at + 27]! << 8)
    for (const [f, off, len] of [['next', 0, 8], ['data', 8, 8], ['size', 16, 8], ['name length', 24, 2], ['signature length', 26, 2],
      ['checksum', 28, 4], ['name', 32, nameLen], ['signature', 32 + nameLen, sigLen], ['block header', -16, 8]] as const) {
      fields.push({ name: `variable entry ${k} ${f}`, at: at + off, len, mustDetect: true })
    }
  }
  const live: Array<[number, number]> = []
  for (let i = 0; i < blocks.starts.length; i++) if (blocks.allocated[i]) live.push([blocks.starts[i]!, blocks.ends[i]!])
  return { image, fields, live, expected }
}

/** Everything a program could read from the pool: variables, the list, the counter, the aligned bytes. */
function readAll(pm: PersistentMemory): unknown {
  const vars = pm.variables().sort((a, b) => a.name.localeCompare(b.name))
  const get = (name: string) => vars.find(v => v.name === name)
  return pm.read(tx => {
    const items: number[] = []
    const head = get('head'), count = get('count of the nodes in the list'), blob = get('blob')
    if (head === undefined || count === undefined || blob === undefined) return { vars }
    for (let p = Number(tx.readBigU64(head.offset)); p !== 0 && items.length < 10; p = Number(tx.readBigU64(p + 8))) items.push(tx.readF64(p))
    const b = Number(tx.readBigU64(blob.offset))
    return { vars, items, count: tx.readBigU64(count.offset), blob: [...tx.readBytes(b, 100)] }
  })
}

type Damage = { kind: string; apply: (img: Uint8Array, f: Field) => void }
/** PMEM_DAMAGE_ALL=1 flips every bit of every field (about 15 s); by default a sample of bit positions. */
const ALL = process.env.PMEM_DAMAGE_ALL === '1'
const damages = (seed: number, f: Field): Damage[] => {
  const rand = mulberry32(seed)
  const flips = ALL ? Array.from({ length: 8 * f.len }, (_, i) => i) : [0, 4, 9, 17, 31, 63].map(b => b % (8 * f.len))
  return [
    ...[...new Set(flips)].map(b => ({ kind: `flip bit ${b}`, apply: (img: Uint8Array) => { img[f.at + (b >> 3)]! ^= 1 << (b & 7) } })),
    { kind: 'zeroed', apply: (img, f) => img.fill(0, f.at, f.at + f.len) },
    { kind: '0xff bytes', apply: (img, f) => img.fill(0xff, f.at, f.at + f.len) },
    ...(ALL ? [1, 2, 3] : [1]).map(k => ({ kind: `foreign bytes #${k}`, apply: (img: Uint8Array, f: Field) => { for (let i = 0; i < f.len; i++) img[f.at + i] = (rand() * 256) | 0 } })),
    { kind: 'zeroed sector', apply: (img, f) => { const s = f.at & ~511; img.fill(0, s, s + 512) } },
  ]
}

type Outcome = 'refused' | 'reported' | 'harmless'

/** Opens a damaged image and checks the outcome as the file comment says. */
function judge(fx: Fixture, img: Uint8Array, what: string): Outcome {
  const sim = SimRegion.fromImage(img)
  let pm: PersistentMemory
  try {
    pm = PersistentMemory.fromRegion(sim)
  } catch (err) {
    assert.ok(err instanceof PmemError, `${what}: open threw an untyped ${(err as Error)?.stack ?? err}`)
    assert.ok(/"sim"/.test(err.message), `${what}: the error names the file: ${err.message}`)
    assert.ok(same(sim.volatileImage(), img) && same(sim.durableImage(), img), `${what}: a failing open changed the image`)
    return 'refused'
  }
  try {
    const report = pm.check({ reachability: true })
    const outcome: Outcome = report.ok ? 'harmless' : 'reported'
    if (report.ok) assert.deepEqual(readAll(pm), fx.expected, `${what}: check is clean, so the data must be intact`)
    else assert.ok(report.problems.every(p => typeof p === 'string' && p.length > 10), `${what}: problems name what is wrong`)
    probe(pm, fx, what, report.ok)
    return outcome
  } finally {
    pm.close()
  }
}

/**
 * Frees (the aligned block, the list's first node) and allocations on the damaged pool: typed
 * errors or clean success, never live data touched. A block the probe freed may be handed out
 * again, but only within its own bounds.
 */
function probe(pm: PersistentMemory, fx: Fixture, what: string, clean: boolean): void {
  const before = pm.read(tx => fx.live.map(([s, e]) => [...tx.readBytes(s + 16, e - s - 16)]))
  const typed = (f: () => unknown): unknown => {
    try { return f() } catch (err) {
      assert.ok(err instanceof PmemError, `${what}: an untyped ${(err as Error)?.stack ?? err}`)
      return null
    }
  }
  const within = (x: number) => fx.live.findIndex(([s, e]) => x >= s && x < e)
  const touched = new Set<number>() // live blocks the probe itself changes or frees
  const freed = new Set<number>()
  for (const name of ['blob', 'head']) {
    const v = pm.variables().find(x => x.name === name)
    if (v === undefined) continue
    touched.add(within(v.offset))
    const target = pm.read(tx => Number(tx.readBigU64(v.offset)))
    const ok = typed(() => pm.transaction(tx => {
      const next = name === 'head' && target !== 0 ? tx.readBigU64(target + 8) : 0n
      tx.free(target)
      tx.writeBigU64(v.offset, next)
      return true
    }))
    if (ok === true) { touched.add(within(target)); freed.add(within(target)) }
  }
  for (const size of [16, 20, 60, 100, 500, 3000]) { // every class that has (or got) free blocks, and a carve at top
    const p = typed(() => pm.transaction(tx => tx.alloc(size))) as number | null
    if (p === null) continue
    fx.live.forEach(([s, e], i) => {
      if (p + size <= s || p >= e) return
      // (a block the probe freed may have merged with a free neighbour: only freed blocks may be reused)
      assert.ok(freed.has(i), `${what}: alloc(${size}) returned ${p}, overlapping the live block [${s}, ${e})`)
    })
  }
  const after = pm.read(tx => fx.live.map(([s, e]) => [...tx.readBytes(s + 16, e - s - 16)]))
  fx.live.forEach(([s, e], i) => {
    if (!touched.has(i)) assert.deepEqual(after[i], before[i], `${what}: live block [${s}, ${e}) changed under allocations`)
  })
  if (clean) assert.deepEqual(pm.check({ reachability: true }).problems.filter(p => !p.startsWith('leak')), [], `${what}: clean before, clean after`)
}

test('heap and variable damage: a typed refusal with the image unchanged, a reported problem, or nothing wrong; never wrong data', t => {
  const fx = fixture()
  const tally = new Map<string, Record<Outcome, number>>()
  for (const f of fx.fields) {
    const counts = { refused: 0, reported: 0, harmless: 0 }
    tally.set(f.name, counts)
    for (const d of damages(f.at, f)) {
      const img = fx.image.slice()
      d.apply(img, f)
      if (same(img, fx.image)) continue // this damage changes nothing here
      const outcome = judge(fx, img, `${f.name} (offset ${f.at}), ${d.kind}`)
      counts[outcome]++
      // (A zeroed sector may hit only fields that are zero anyway; a zero checksum marks an entry
      // written before entries had one, and is accepted when the entry is otherwise intact.)
      const exempt = d.kind === 'zeroed sector' || (f.name.endsWith('checksum') && d.kind === 'zeroed')
      if (f.mustDetect && !exempt) assert.notEqual(outcome, 'harmless', `${f.name}, ${d.kind}: went unnoticed`)
    }
  }
  t.diagnostic(`outcomes (refused / reported / harmless): ${[...tally].map(([n, c]) => `${n} ${c.refused}/${c.reported}/${c.harmless}`).join('; ')}`)
})

test('vars inv. 3: entries without a checksum (written before entries had one) are still validated: cycles, data that is no allocation', () => {
  const fx = fixture()
  const spareBlock = fx.fields.find(f => f.name === 'free block magic')!.at
  const entries = fx.fields.filter(f => /^variable entry \d+ next$/.test(f.name)).map(f => f.at)
  for (const at of entries) {
    for (const [what, field, value, says] of [['a cycle', 0, at, /closes a cycle/], ['next into a free block', 0, spareBlock + 16, /is not an allocated heap block/],
      ['data in a free block', 8, spareBlock + 16, /names data at/], ['data off its block', 8, -8, /names data at/], ['data beyond top', 8, 1 << 20, /names data at/],
      ['size beyond its block', 16, 4096, /names data at/]] as const) {
      const img = fx.image.slice()
      const dv = new DataView(img.buffer)
      dv.setUint32(at + 28, 0, true) // no checksum: only the structural checks stand
      const v = value < 0 ? u64(img, at + field) + value : value
      dv.setBigUint64(at + field, BigInt(v), true)
      const sim = SimRegion.fromImage(img)
      assert.throws(() => PersistentMemory.fromRegion(sim), (e: PmemError) => e.code === 'ERR_PMEM_CORRUPT' && /directory entry at \d+/.test(e.message) && says.test(e.message), `${what} at entry ${at}`)
      assert.ok(same(sim.volatileImage(), img))
    }
    const img = fx.image.slice()
    new DataView(img.buffer).setUint32(at + 28, 0, true)
    const pm = PersistentMemory.fromRegion(SimRegion.fromImage(img))
    assert.deepEqual(readAll(pm), fx.expected, 'an intact entry without a checksum still opens')
    pm.close()
  }
})

test('a zeroed heap header is refused, not reformatted (every variable would be gone)', () => {
  const fx = fixture()
  const H = fx.fields[0]!.at
  const img = fx.image.slice()
  img.fill(0, H, H + 1024)
  const sim = SimRegion.fromImage(img)
  assert.throws(() => PersistentMemory.fromRegion(sim), (e: PmemError) => e.code === 'ERR_PMEM_CORRUPT' && /heap header's magic number is damaged/.test(e.message))
  assert.ok(same(sim.volatileImage(), img))
})

test('alloc never hands out a live block from a damaged free list or top (heap inv. 4)', () => {
  const fx = fixture()
  const H = fx.fields[0]!.at
  const nodeBlock = fx.fields.find(f => f.name === 'live block magic')!.at
  for (const [field, value] of [[H + H_BINS, nodeBlock], [H + H_BINS, nodeBlock + 16], [H + 8, nodeBlock]] as const) {
    const img = fx.image.slice()
    // (top moved back: the free lists are emptied too, or open refuses them as lying beyond top)
    // and the last block is the one before the node, so the header is consistent and only alloc's check of top can tell
    const dv = new DataView(img.buffer)
    if (field === H + 8) { img.fill(0, H + 40, H + 1024); dv.setBigUint64(H + 32, BigInt(nodeBlock - dv.getUint32(nodeBlock + 8, true) * 16), true) }
    dv.setBigUint64(field, BigInt(value), true)
    const pm = PersistentMemory.fromRegion(SimRegion.fromImage(img))
    const before = readAll(pm)
    assert.throws(() => pm.transaction(tx => tx.alloc(16)), (e: PmemError) => e.code === 'ERR_PMEM_CORRUPT' && /nothing was allocated/.test(e.message))
    assert.deepEqual(readAll(pm), before)
    pm.close()
  }
})

test('a damaged alignment header never frees another block (heap inv. 5)', () => {
  const fx = fixture()
  const fwd = fx.fields.find(f => f.name === 'forward header block')!.at
  const other = fx.fields.find(f => f.name === 'live block magic')!.at
  const img = fx.image.slice()
  new DataView(img.buffer).setBigUint64(fwd, BigInt(other), true)
  const pm = PersistentMemory.fromRegion(SimRegion.fromImage(img))
  const before = readAll(pm)
  assert.throws(() => pm.transaction(tx => tx.free(fwd + 8)), (e: PmemError) => e.code === 'ERR_PMEM_CORRUPT' && /alignment header is damaged/.test(e.message))
  assert.deepEqual(readAll(pm), before)
  assert.ok(pm.check({ reachability: true }).ok)
  pm.close()
})

test('on a real file: a failing open leaves every byte as it was, and check(path) names the damage', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-damage-'))
  try {
    const fx = fixture()
    const file = path.join(dir, 'a.pm')
    const pm = open(file, { size: 128 * 1024, logSize: 16 * 1024 })
    pm.close()
    const raw = fs.readFileSync(file)
    raw.set(fx.image, HEADER_SIZE) // the same pool, in a real region file
    fs.writeFileSync(file, raw)
    assert.ok(check(file, { reachability: true }).ok)
    for (const name of ['heap magic', 'heap varsHead', 'variable entry 0 data', 'variable entry 1 checksum']) {
      const f = fx.fields.find(x => x.name === name)!
      const bad = Buffer.from(raw)
      bad[HEADER_SIZE + f.at]! ^= 0x10
      fs.writeFileSync(file, bad)
      assert.throws(() => open(file), (e: PmemError) => e.code === 'ERR_PMEM_CORRUPT' && e.message.includes(file), name)
      assert.deepEqual(fs.readFileSync(file), bad, `${name}: a failing open changed the file`)
      const r = check(file, { reachability: true })
      assert.equal(r.ok, false)
      assert.match(r.problems[0]!, /ERR_PMEM_CORRUPT: .*(heap header|directory entry)/, name)
      assert.deepEqual(fs.readFileSync(file), bad, `${name}: check changed the file`)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
