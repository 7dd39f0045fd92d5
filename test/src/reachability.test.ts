// pm.check({ reachability: true }) and check(path, { reachability: true }): the walk of the
// typed pointer graph from the named variables (src/reachability.ts) finds pointers into free
// blocks, block headers, outside the heap, misaligned or running past their block, and blocks
// nothing reaches; it passes correct graphs of every shape (typed, untyped, recursive through
// a function, arrays, interior pointers, cycles), and signatures read back from a file give
// the same types (src/type-sig.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PersistentMemory, SimRegion, check, open, t, type PmTx, type StructType, type TypeDesc } from '../../src/index.js'
import { typeFromSig } from '../../src/type-sig.js'

type N = { value: number; next: number }
const Node: StructType = t.struct({ value: t.f64, next: t.ptr(() => Node) })
const Loose = t.struct({ value: t.f64, next: t.ptr() })

function pool(): PersistentMemory {
  return PersistentMemory.fromRegion(SimRegion.create({ size: 256 * 1024 }), { logSize: 16 * 1024 })
}
/** Pushes `values` onto a list of `type` nodes headed by `head` (a ptr variable). */
function pushAll(pm: PersistentMemory, head: { offset: number }, type: StructType, values: number[]): number[] {
  return values.map(value => pm.transaction(tx => {
    const n = tx.alloc(type.size)
    Object.assign(tx.at(type, n) as unknown as N, { value, next: Number(tx.readBigU64(head.offset)) })
    tx.writeBigU64(head.offset, BigInt(n))
    return n
  }))
}
const walk = (pm: PersistentMemory, leaks = true) => pm.check({ reachability: true, leaks })

test('correct graphs pass: typed, untyped, recursive, arrays, interior pointers, cycles', () => {
  const pm = pool()
  pushAll(pm, pm.persistent('typed', t.ptr(Node)), Node, [1, 2, 3])
  pushAll(pm, pm.persistent('loose', t.ptr(Loose)), Loose, [4, 5, 6, 7]) // only the first node is typed
  const table = pm.persistent('table', t.struct({ n: t.u32, slots: t.array(t.ptr(t.array(t.u64, 4)), 3) }))
  pm.transaction(tx => {
    const a = tx.alloc(32), b = tx.alloc(64, 64)
    tx.writeBigU64(table.offset + 8, BigInt(a))
    tx.writeBigU64(table.offset + 16, BigInt(b))
    tx.writeBigU64(table.offset + 24, BigInt(a)) // the same block twice
  })
  const inner = pm.persistent('inner', t.ptr(t.f64))
  pm.transaction(tx => tx.writeBigU64(inner.offset, BigInt(Number(tx.readBigU64(table.offset + 8)) + 16))) // into the middle of a block
  const ring = pm.persistent('ring', t.ptr(Node))
  const [r1, , r3] = pushAll(pm, ring, Node, [1, 2, 3])
  pm.transaction(tx => tx.writeBigU64(r1! + 8, BigInt(r3!))) // close the cycle
  const r = walk(pm)
  assert.deepEqual(r.problems, [])
  assert.ok(r.ok)
  assert.deepEqual(r.dangling, [])
  assert.deepEqual(r.unreachable, [])
})

test('a pointer into a freed block is dangling, whatever kind of field holds it', () => {
  const pm = pool()
  const head = pm.persistent('head', t.ptr(Node))
  const [a, b] = pushAll(pm, head, Node, [1, 2, 3]) // head -> c -> b -> a
  pm.transaction(tx => tx.free(b!)) // freed but still linked from c.next
  const r = walk(pm)
  assert.equal(r.ok, false)
  assert.equal(r.dangling!.length, 1)
  const d = r.dangling![0]!
  assert.equal(d.value, b)
  assert.match(d.reason, /points into a free block/)
  assert.equal(d.path, '"head" -> *.next')
  assert.ok(r.problems.some(p => p.startsWith('dangling pointer "head" -> *.next')))
  assert.deepEqual(r.unreachable!.map(u => u.payload), [a], 'what only the freed block reached is a leak')
  const loose = pool()
  const h2 = loose.persistent('head', t.ptr(Loose))
  const [, y] = pushAll(loose, h2, Loose, [1, 2, 3])
  loose.transaction(tx => tx.free(y!))
  assert.match(walk(loose).dangling![0]!.reason, /points into a free block/, 'an untyped t.ptr() field is checked too')
})

test('outside the heap, into a header, misaligned, past the end of its block: each named', () => {
  const pm = pool()
  const Big = t.struct({ a: t.array(t.f64, 8) })
  const v = pm.persistent('v', t.struct({ out: t.ptr(Node), hdr: t.ptr(), mis: t.ptr(Node), past: t.ptr(Big), ok: t.ptr() }))
  const blk = pm.transaction(tx => tx.alloc(16))
  pm.transaction(tx => {
    tx.writeBigU64(v.offset, 8n)
    tx.writeBigU64(v.offset + 8, BigInt(blk - 8))
    tx.writeBigU64(v.offset + 16, BigInt(blk + 4))
    tx.writeBigU64(v.offset + 24, BigInt(blk))
    tx.writeBigU64(v.offset + 32, BigInt(blk))
  })
  const r = walk(pm)
  assert.deepEqual(new Map(r.dangling!.map(d => [d.path, d.reason.replace(/\b\d+\b/g, 'N')])), new Map([
    ['"v".out', 'points outside the heap (its blocks span N..N)'],
    ['"v".hdr', 'points into the header of block N'],
    ['"v".mis', 'is misaligned for {value:f64,next:ptr(*)} (alignment N)'],
    ['"v".past', 'has a target ({a:f64[N]}, N bytes) that runs past the end of its block at N'],
  ]))
  assert.equal(r.dangling!.length, 4)
})

test('leaks: an allocated block nothing reaches is reported, unless leaks: false', () => {
  const pm = pool()
  const head = pm.persistent('head', t.ptr(Node))
  pushAll(pm, head, Node, [1])
  const lost = pm.transaction(tx => tx.alloc(100))
  const r = walk(pm)
  assert.equal(r.ok, false)
  assert.deepEqual(r.unreachable, [{ block: lost - 16, payload: lost, size: 112 }])
  assert.match(r.problems[0]!, new RegExp(`^leak: the allocated block at ${lost - 16} \\(112 bytes at ${lost}\\) is reachable from no variable$`))
  const quiet = walk(pm, false)
  assert.ok(quiet.ok)
  assert.deepEqual(quiet.unreachable, [])
  assert.ok(pm.check().ok, 'without reachability nothing changes')
})

test('untyped pointers: blocks reached only through them are scanned conservatively, not leaks', () => {
  const pm = pool()
  const head = pm.persistent('head', t.ptr()) // untyped root
  const blocks = pushAll(pm, head, Loose, [1, 2, 3, 4, 5])
  assert.ok(walk(pm).ok)
  // Garbage in an untyped block is not reported (nothing says it is a pointer) ...
  pm.transaction(tx => tx.writeF64(blocks[2]!, 1e300))
  assert.ok(walk(pm).ok)
  // ... and cutting the chain there leaks the rest.
  pm.transaction(tx => tx.writeBigU64(blocks[2]! + 8, 0n))
  assert.deepEqual(walk(pm).unreachable!.map(u => u.payload).sort(), blocks.slice(0, 2).sort())
})

test('a variable whose stored type cannot be parsed is scanned conservatively', () => {
  const pm = pool()
  const odd = pm.persistent('odd', t.struct({ 'a:u8,b': t.ptr() })) // a field name with ':' makes the signature ambiguous
  const blk = pm.transaction(tx => { const b = tx.alloc(8); tx.writeBigU64(odd.offset, BigInt(b)); return b })
  assert.notEqual(typeFromSig(odd.type.sig)?.size, odd.size, 'the signature reads back as another struct, of another size')
  const pm2 = PersistentMemory.fromRegion(SimRegion.fromImage((pm.region as SimRegion).volatileImage()))
  const r = walk(pm2)
  assert.ok(r.ok, r.problems.join('; '))
  pm2.transaction(tx => tx.free(blk))
  assert.ok(walk(pm2).ok, 'a conservative scan never calls a word dangling')
})

test('check(path, { reachability }) reads types from the file; types gives ptr(*) targets', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-reach-'))
  const file = path.join(dir, 'a.pm')
  try {
    const pm = open(file, { size: 256 * 1024 })
    const head = pm.persistent('head', t.ptr(Node))
    const [, b] = pushAll(pm, head, Node, [1, 2, 3])
    pm.close()
    assert.ok(check(file, { reachability: true }).ok)
    const pm2 = open(file)
    pm2.transaction(tx => tx.free(b!))
    pm2.close()
    const before = fs.readFileSync(file)
    const r = check(file, { reachability: true })
    assert.equal(r.dangling![0]!.reason, `points into a free block (block ${b! - 16})`, 'the stored signature names the head\'s type')
    assert.equal(r.dangling![0]!.path, '"head" -> *.next')
    const typed = check(file, { reachability: true, types: { head: t.ptr(Node) } })
    assert.equal(typed.dangling!.length, 1)
    assert.throws(() => check(file, { reachability: true, types: { head: t.ptr(Loose) } }), { code: 'ERR_PMEM_TYPE_MISMATCH' })
    for (const bad of [5, { reachability: 'yes' }, { leaks: 1 }, { types: 3 }, { types: { head: 'x' } }]) {
      assert.throws(() => check(file, bad as object), { code: 'ERR_PMEM_INVALID_ARGUMENT' })
    }
    assert.deepEqual(fs.readFileSync(file), before, 'check changes nothing')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('signatures parse back to the same types', () => {
  const types: TypeDesc[] = [
    t.u8, t.u32, t.i32, t.f64, t.u64, t.bytes(0), t.bytes(17), t.ptr(), t.ptr(t.u32), t.ptr(() => t.u8),
    t.array(t.u8, 3), t.array(t.array(t.f64, 2), 5), t.struct({}), Node, Loose,
    t.struct({ a: t.u8, b: t.struct({ c: t.array(t.ptr(t.struct({ d: t.u64 })), 2) }), e: t.bytes(3) }),
  ]
  for (const ty of types) {
    const back = typeFromSig(ty.sig)
    assert.ok(back !== null, ty.sig)
    assert.equal(back.sig, ty.sig.replaceAll('ptr(*)', 'ptr'))
    assert.equal(back.size, ty.size)
    assert.equal(back.align, ty.align)
  }
  for (const bad of ['', 'u9', 'u8[', 'u8[x]', 'u8[01]', '{a:u8', '{a:u8,a:u8}', 'ptr(', 'bytes(-1)', 'u8 ', '{:}', 'ptr(u8']) {
    assert.equal(typeFromSig(bad), null, bad)
  }
})

test('the walk is bounded: a long list and a self-loop end', () => {
  const pm = pool()
  const head = pm.persistent('head', t.ptr(Node))
  for (let k = 0; k < 40; k++) {
    pm.transaction((tx: PmTx) => {
      let prev = Number(tx.readBigU64(head.offset))
      for (let i = 0; i < 50; i++) { const n = tx.alloc(Node.size); tx.writeBigU64(n + 8, BigInt(prev)); prev = n }
      tx.writeBigU64(head.offset, BigInt(prev))
    })
  }
  assert.ok(walk(pm).ok)
  pm.transaction(tx => { const h = Number(tx.readBigU64(head.offset)); tx.writeBigU64(h + 8, BigInt(h)) })
  assert.equal(walk(pm).unreachable!.length, 1999)
})
