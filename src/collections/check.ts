/**
 * Structural checks of the collections, run by `pm.check()` for every named variable whose
 * signature is a collection's: they validate hmap inv. 1-4 (hash-map.ts), btree inv. 1-5
 * (sorted-map.ts), vec inv. 1-2 (vector.ts) and varlen inv. 1-2 (varlen.ts) against the heap's
 * real blocks (a BlockTable), and report instead of throwing. Every block a collection uses
 * is claimed once: a block reached twice (a cycle, or two owners) is a problem.
 */
import type { Tx } from '../../txn/index.js'
import { BLOCK_HEADER, blockIndex, type BlockTable } from '../heap.js'
import type { CollectionSig } from '../type-sig.js'
import type { TypeDesc } from '../types.js'
import { checkSlot, hasVar } from '../varlen.js'
import { INTERNAL, LEAF, NodeLayout, rd } from './btree-node.js'
import { HMAP_MAGIC, N0, NSEG, entryLayout, segmentBuckets, segmentStart } from './hash-map.js'
import { GARBAGE_MAGIC, GARBAGE_SIZE, retiredBucket, retiredBuckets } from './hash-garbage.js'
import { compareKeys, encodeKey, keyBytes, readKey, storedKey, type Key, type KeyType } from './keys.js'
import { SMAP_MAGIC } from './sorted-map.js'
import { VEC_MAGIC, vecSegmentLength, vecSegmentStart } from './vector.js'

const MAX_PROBLEMS = 20

/** What the check of one collection found. */
export interface CollectionReport { name: string; kind: string; count: number; problems: string[] }

class Checker {
  readonly problems: string[] = []
  readonly #claimed: Set<number>
  constructor(readonly tx: Tx, readonly table: BlockTable, claimed: Set<number>, readonly where: string) { this.#claimed = claimed }

  problem(what: string): boolean {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(`${this.where}: ${what}`)
    return false
  }
  get full(): boolean { return this.problems.length >= MAX_PROBLEMS }

  /** Payload bytes of the allocated block whose payload starts at `ptr`, or null. */
  room(ptr: number): number | null {
    const t = this.table, i = blockIndex(t, ptr)
    return i >= 0 && t.allocated[i] === 1 && ptr === t.starts[i]! + BLOCK_HEADER ? t.ends[i]! - ptr : null
  }

  /** Claims the block at `ptr` (`size` bytes needed): false, with a problem, if it is no such block or claimed already. */
  claim(ptr: number, size: number, what: string): boolean {
    const room = this.room(ptr)
    if (room === null) return this.problem(`${what} at ${ptr} is not an allocated heap block`)
    if (room < size) return this.problem(`${what} at ${ptr} needs ${size} bytes, its block holds ${room}`)
    if (this.#claimed.has(ptr)) return this.problem(`${what} at ${ptr} is reached twice (a cycle, or two owners)`)
    this.#claimed.add(ptr)
    return true
  }

  /** Validates (and claims the blocks of) every string and blob slot in a value of `type` at `off`. */
  slots(type: TypeDesc, off: number, what: string): void {
    if (!hasVar(type)) return
    if (type.kind === 'string' || type.kind === 'blob') {
      const bad = checkSlot(this.tx, off, ptr => this.room(ptr))
      if (bad !== null) { this.problem(`${what}: its ${type.kind} slot at ${off} ${bad} (varlen inv. 1)`); return }
      const ptr = rd(this.tx, off)
      if (this.tx.readU32(off + 12) === 0 && ptr !== 0) this.claim(ptr, this.tx.readU32(off + 8), `${what}: the ${type.kind} block`)
    } else if (type.kind === 'struct') for (const f of type.fields) this.slots(f.type, off + f.offset, what)
    else if (type.kind === 'array') for (let i = 0; i < type.length; i++) this.slots(type.elem, off + i * type.elem.size, what)
  }

  zero(off: number, len: number, what: string): void {
    if (len > 0 && this.tx.readBytes(off, len).some(b => b !== 0)) this.problem(`${what} are not zero`)
  }
}

/** Checks the collection `sig` whose header is at `offset`. */
export function checkCollection(tx: Tx, table: BlockTable, claimed: Set<number>, name: string, sig: CollectionSig, offset: number): CollectionReport {
  const c = new Checker(tx, table, claimed, `${sig.kind} ${JSON.stringify(name)}`)
  let count = 0
  try {
    if (sig.kind === 'hashMap') count = checkHashMap(c, sig.key as KeyType, sig.value, offset)
    else if (sig.kind === 'sortedMap') count = checkSortedMap(c, sig.key as KeyType, sig.value, offset)
    else count = checkVector(c, sig.value, offset)
  } catch (err) {
    c.problem(`the check stopped: ${(err as Error).message}`)
  }
  return { name, kind: sig.kind, count, problems: c.problems }
}

/** A printable identity of a key, for duplicate detection. */
function keyId(k: Key): string { return k.bytes !== null || k.inline !== null ? Buffer.from(keyBytes(k)).toString('latin1') : String(k.num) }

function checkHashMap(c: Checker, kt: KeyType, vt: TypeDesc, h: number): number {
  const tx = c.tx
  if (tx.readU32(h) !== HMAP_MAGIC || tx.readU32(h + 4) !== 1) { c.problem('header: bad magic number or version'); return 0 }
  const level = tx.readU32(h + 16), split = tx.readU32(h + 20), count = rd(tx, h + 8)
  if (level > 26 || split >= N0 * 2 ** level) { c.problem(`header: impossible level ${level} / split ${split}`); return count }
  const buckets = N0 * 2 ** level + split
  const E = entryLayout(kt, vt)
  const keys = new Set<string>()
  let found = 0
  for (let k = 0; k < NSEG; k++) {
    const seg = rd(tx, h + 32 + 8 * k)
    if (segmentStart(k) >= buckets) { if (seg !== 0) c.problem(`segment ${k} is allocated past the last bucket (hmap inv. 1)`); continue }
    if (!c.claim(seg, 8 * segmentBuckets(k), `segment ${k}`)) return count
    for (let i = 0; i < segmentBuckets(k) && segmentStart(k) + i < buckets && !c.full; i++) {
      const b = segmentStart(k) + i
      for (let e = rd(tx, seg + 8 * i); e !== 0 && !c.full; e = rd(tx, e)) {
        if (!c.claim(e, E.size, `an entry of bucket ${b}`)) break
        found++
        const key = encodeKey(kt, readKey(tx, kt, e + 16), 'check')
        const m = N0 * 2 ** level
        const home = key.hash % m < split ? key.hash % (2 * m) : key.hash % m
        if (tx.readU32(e + 8) !== key.hash) c.problem(`entry ${e}: stored hash ${tx.readU32(e + 8)} is not its key's hash ${key.hash} (hmap inv. 2)`)
        if (home !== b) c.problem(`entry ${e}: in bucket ${b}, but its key belongs in bucket ${home} (hmap inv. 2)`)
        const id = keyId(key)
        if (keys.has(id)) c.problem(`entry ${e}: its key is held by another entry too (hmap inv. 4)`)
        keys.add(id)
        c.slots(kt, e + 16, `entry ${e} key`)
        c.slots(vt, e + E.valOff, `entry ${e} value`)
      }
    }
  }
  if (!c.full && found !== count) c.problem(`header: count ${count}, but the buckets hold ${found} entries (hmap inv. 3)`)
  checkRetired(c, kt, vt, E.size, E.valOff, rd(tx, h + 24))
  if (count > buckets) c.problem(`header: ${count} entries in ${buckets} buckets, the map did not split (hmap inv. 3)`)
  return count
}

/** Retired tables (hash-garbage.ts): every block they still name is allocated and theirs alone (hgarb inv. 1). */
function checkRetired(c: Checker, kt: KeyType, vt: TypeDesc, entrySize: number, valOff: number, first: number): void {
  const tx = c.tx
  for (let g = first, n = 0; g !== 0 && !c.full; g = rd(tx, g + 16), n++) {
    if (!c.claim(g, GARBAGE_SIZE, `retired table ${n}`)) return
    if (tx.readU32(g) !== GARBAGE_MAGIC || tx.readU32(g + 4) > 26) { c.problem(`retired table ${n} at ${g}: bad magic number or level (hgarb inv. 1)`); return }
    const buckets = retiredBuckets(tx, g), cursor = tx.readU32(g + 12)
    if (cursor > buckets) { c.problem(`retired table ${n} at ${g}: cursor ${cursor} past its ${buckets} buckets`); return }
    for (let k = 0; k < NSEG; k++) {
      const seg = rd(tx, g + 24 + 8 * k)
      if (segmentStart(k) >= buckets) { if (seg !== 0) c.problem(`retired table ${n}: segment ${k} past the last bucket`); continue }
      if (!c.claim(seg, 8 * segmentBuckets(k), `retired table ${n} segment ${k}`)) return
    }
    for (let b = cursor; b < buckets && !c.full; b++) {
      for (let e = rd(tx, retiredBucket(tx, g, b)); e !== 0 && !c.full; e = rd(tx, e)) {
        if (!c.claim(e, entrySize, `an entry of retired table ${n}`)) break
        c.slots(kt, e + 16, `retired entry ${e} key`)
        c.slots(vt, e + valOff, `retired entry ${e} value`)
      }
    }
  }
}

function checkSortedMap(c: Checker, kt: KeyType, vt: TypeDesc, h: number): number {
  const tx = c.tx
  const cap = tx.readU32(h + 28)
  if (tx.readU32(h) !== SMAP_MAGIC || tx.readU32(h + 4) !== 1 || cap < 4 || cap > 128 || cap % 2 !== 0) { c.problem('header: bad magic number, version or capacity'); return 0 }
  const L = new NodeLayout(kt, vt, cap), min = cap >>> 1
  const count = rd(tx, h + 8), root = rd(tx, h + 16), height = tx.readU32(h + 24), first = rd(tx, h + 32), last = rd(tx, h + 40)
  if (root === 0) {
    if (count !== 0 || height !== 0 || first !== 0 || last !== 0) c.problem('header: empty root, but count, height or leaf links are not zero (btree inv. 4)')
    return count
  }
  if (height < 1 || height > 64) { c.problem(`header: impossible height ${height}`); return count }
  const leaves: number[] = []
  let entries = 0
  const walk = (node: number, depth: number, lo: Key | null, hi: Key | null): void => {
    if (c.full) return
    const leaf = depth === height
    if (!c.claim(node, leaf ? L.leafSize : L.internalSize, `node at depth ${depth}`)) return
    const kind = tx.readU32(node), n = tx.readU32(node + 4)
    if (kind !== (leaf ? LEAF : INTERNAL)) { c.problem(`node ${node}: kind ${kind}, but at depth ${depth} of ${height} it must be ${leaf ? 'a leaf' : 'internal'} (btree inv. 1)`); return }
    if (n > cap || n < (node === root ? 1 : min)) { c.problem(`node ${node}: ${n} keys, outside [${node === root ? 1 : min}, ${cap}] (btree inv. 3)`); if (n > cap) return }
    let prev: Key | null = null
    for (let i = 0; i < n; i++) {
      const k = storedKey(tx, kt, L.key(node, i))
      if (prev !== null && compareKeys(prev, k) >= 0) c.problem(`node ${node}: key ${i} is not greater than key ${i - 1} (btree inv. 2)`)
      if ((lo !== null && compareKeys(k, lo) < 0) || (hi !== null && compareKeys(k, hi) >= 0)) c.problem(`node ${node}: key ${i} lies outside the range its parent gives it (btree inv. 2)`)
      prev = k
      c.slots(kt, L.key(node, i), `node ${node} key ${i}`)
      if (leaf) c.slots(vt, L.val(node, i), `node ${node} value ${i}`)
    }
    c.zero(L.key(node, n), (cap - n) * L.ks, `node ${node}: unused key slots`)
    if (leaf) {
      c.zero(L.val(node, n), (cap - n) * L.vs, `node ${node}: unused value slots`)
      leaves.push(node)
      entries += n
      return
    }
    c.zero(L.child(node, n + 1), (cap - n) * 8, `node ${node}: unused child slots`)
    if (rd(tx, node + 8) !== 0 || rd(tx, node + 16) !== 0) c.problem(`node ${node}: an internal node with leaf links`)
    for (let i = 0; i <= n; i++) {
      walk(rd(tx, L.child(node, i)), depth + 1, i === 0 ? lo : storedKey(tx, kt, L.key(node, i - 1)), i === n ? hi : storedKey(tx, kt, L.key(node, i)))
    }
  }
  walk(root, 1, null, null)
  if (c.full) return count
  if (entries !== count) c.problem(`header: count ${count}, but the leaves hold ${entries} entries (btree inv. 4)`)
  if (first !== leaves[0] || last !== leaves[leaves.length - 1]) c.problem('header: first or last leaf is not the first or last leaf in key order (btree inv. 4)')
  leaves.forEach((leaf, i) => {
    if (rd(tx, leaf + 8) !== (leaves[i + 1] ?? 0) || rd(tx, leaf + 16) !== (leaves[i - 1] ?? 0)) c.problem(`leaf ${leaf}: its next/previous links do not follow key order (btree inv. 4)`)
  })
  return count
}

function checkVector(c: Checker, vt: TypeDesc, h: number): number {
  const tx = c.tx
  if (tx.readU32(h) !== VEC_MAGIC || tx.readU32(h + 4) !== 1) { c.problem('header: bad magic number or version'); return 0 }
  const length = rd(tx, h + 8), stride = Math.max(1, vt.size)
  for (let k = 0; k < 32; k++) {
    const seg = rd(tx, h + 16 + 8 * k), start = vecSegmentStart(k)
    if (start >= length) { if (seg !== 0) c.problem(`segment ${k} is allocated past the end (vec inv. 1)`); continue }
    if (!c.claim(seg, stride * vecSegmentLength(k), `segment ${k}`)) return length
    const used = Math.min(vecSegmentLength(k), length - start)
    for (let i = 0; i < used && !c.full; i++) c.slots(vt, seg + i * stride, `element ${start + i}`)
    c.zero(seg + used * stride, (vecSegmentLength(k) - used) * stride, `segment ${k}: elements past the end`)
  }
  return length
}
