/**
 * B+tree nodes of the sorted map (sorted-map.ts): their byte layout, and loading a node into
 * JavaScript arrays of raw slots and storing it back as one write.
 *
 * Node (one heap block; C = the tree's capacity, KS = key size, VS = value size, B = the
 * values' or children's base: 24 + C * KS rounded up to 8):
 *
 * | offset      | size   | description                                                     |
 * | ----------: | -----: | --------------------------------------------------------------- |
 * |           0 |      4 | kind: 1 = leaf, 2 = internal                                    |
 * |           4 |      4 | n: keys in use (leaf: entries; internal: n + 1 children)        |
 * |           8 |      8 | leaf: next leaf in key order (0 = last); internal: 0            |
 * |          16 |      8 | leaf: previous leaf (0 = first); internal: 0                    |
 * |          24 | C * KS | keys 0 .. n-1 in increasing order, then zero slots              |
 * |           B | C * VS | leaf: values 0 .. n-1, then zero slots                          |
 * |           B | 8(C+1) | internal: children 0 .. n (node offsets), then zero             |
 *
 * Keys and values use their types' layouts; a string or blob slot (varlen.ts) owns its block,
 * so moving raw slot bytes from one node to another moves ownership, and a separator key in
 * an internal node is a copy of its own.
 */
import type { Tx } from '../../txn/index.js'
import type { TypeDesc } from '../types.js'

export const LEAF = 1
export const INTERNAL = 2
export const NODE_HEADER = 24

/** A key slot as raw bytes (owned), or a key to write once the node is stored (a new separator). */
export type Cell = Uint8Array | { readonly pending: unknown }

/** A node in JavaScript memory. */
export interface NodeImage {
  kind: number
  keys: Cell[]
  /** Leaf: raw value slots. */
  vals: Uint8Array[]
  /** Internal: child node offsets. */
  children: number[]
  next: number
  prev: number
}

/** The sizes of one tree's nodes. */
export class NodeLayout {
  readonly ks: number
  readonly vs: number
  readonly cap: number
  readonly base: number
  readonly leafSize: number
  readonly internalSize: number

  constructor(key: TypeDesc, value: TypeDesc, cap: number) {
    this.ks = key.size
    this.vs = Math.ceil(value.size / Math.max(1, value.align)) * Math.max(1, value.align)
    this.cap = cap
    this.base = Math.ceil((NODE_HEADER + cap * this.ks) / 8) * 8
    this.leafSize = Math.max(8, this.base + cap * this.vs)
    this.internalSize = this.base + 8 * (cap + 1)
  }

  /** Capacity a new tree gets: nodes of about 1 KiB, an even number from 4 to 128 keys. */
  static capacityFor(key: TypeDesc, value: TypeDesc): number {
    const per = key.size + Math.max(8, value.size)
    return Math.max(4, Math.min(128, Math.floor(1024 / per) & ~1))
  }

  key(node: number, i: number): number { return node + NODE_HEADER + i * this.ks }
  val(node: number, i: number): number { return node + this.base + i * this.vs }
  child(node: number, i: number): number { return node + this.base + 8 * i }

  /** Reads the node at `off` into arrays. */
  load(tx: Tx, off: number): NodeImage {
    const kind = tx.readU32(off), n = tx.readU32(off + 4)
    const keys: Cell[] = [], vals: Uint8Array[] = [], children: number[] = []
    const keyBytes = tx.readBytes(this.key(off, 0), n * this.ks)
    for (let i = 0; i < n; i++) keys.push(keyBytes.slice(i * this.ks, (i + 1) * this.ks))
    if (kind === LEAF) {
      const valBytes = tx.readBytes(this.val(off, 0), n * this.vs)
      for (let i = 0; i < n; i++) vals.push(valBytes.slice(i * this.vs, (i + 1) * this.vs))
    } else {
      for (let i = 0; i <= n; i++) children.push(rd(tx, this.child(off, i)))
    }
    return { kind, keys, vals, children, next: rd(tx, off + 8), prev: rd(tx, off + 16) }
  }

  /**
   * Writes `node` at `off` as one image (unused slots zero); returns the indexes of pending
   * keys, whose slots are left zero for the caller to write.
   */
  store(tx: Tx, off: number, node: NodeImage): number[] {
    const size = node.kind === LEAF ? this.leafSize : this.internalSize
    const img = new Uint8Array(size)
    const dv = new DataView(img.buffer)
    dv.setUint32(0, node.kind, true)
    dv.setUint32(4, node.keys.length, true)
    setU64(dv, 8, node.next)
    setU64(dv, 16, node.prev)
    const pending: number[] = []
    node.keys.forEach((k, i) => { if (k instanceof Uint8Array) img.set(k, NODE_HEADER + i * this.ks); else pending.push(i) })
    if (node.kind === LEAF) node.vals.forEach((v, i) => img.set(v, this.base + i * this.vs))
    else node.children.forEach((c, i) => setU64(dv, this.base + 8 * i, c))
    tx.writeBytes(off, img)
    return pending
  }
}

export const rd = (tx: Tx, off: number): number => tx.readU32(off) + tx.readU32(off + 4) * 4294967296
export const wr = (tx: Tx, off: number, v: number): void => tx.writeBigU64(off, BigInt(v))
function setU64(dv: DataView, at: number, v: number): void {
  dv.setUint32(at, v % 4294967296, true)
  dv.setUint32(at + 4, Math.floor(v / 4294967296), true)
}
