/**
 * The delete side of the sorted map's B+tree (sorted-map.ts; nodes in btree-node.ts): a leaf or
 * internal node below half full borrows from a sibling or merges with it, up to the root
 * (btree inv. 3); and `clear` frees the whole tree.
 */
import type { PmTx } from '../pm.js'
import type { TypeDesc } from '../types.js'
import { freeValue } from '../varlen.js'
import { NodeLayout, rd, wr, type NodeImage } from './btree-node.js'
import { storedKey, writeKey, type KeyType } from './keys.js'

/** What these functions need of a sorted map. */
export interface Tree { readonly offset: number; readonly keyType: KeyType; readonly valueType: TypeDesc; readonly L: NodeLayout; readonly min: number }

/** A leaf below half full: borrow from a sibling, or merge with it (btree inv. 3). */
export function fixLeaf(t: Tree, tx: PmTx, leaf: number, img: NodeImage, path: Array<[number, number]>): void {
  const L = t.L, [p, i] = path[path.length - 1]!
  const leftOf = i > 0
  const sib = rd(tx, L.child(p, leftOf ? i - 1 : i + 1))
  const S = L.load(tx, sib)
  if (S.keys.length > t.min) {
    if (leftOf) { img.keys.unshift(S.keys.pop()!); img.vals.unshift(S.vals.pop()!) } else { img.keys.push(S.keys.shift()!); img.vals.push(S.vals.shift()!) }
    L.store(tx, sib, S)
    L.store(tx, leaf, img)
    const right = leftOf ? leaf : sib, sepIndex = leftOf ? i - 1 : i
    writeKey(tx, t.keyType, L.key(p, sepIndex), storedKey(tx, t.keyType, L.key(right, 0))) // frees the old copy
    return
  }
  const [left, A, right, B] = leftOf ? [sib, S, leaf, img] : [leaf, img, sib, S]
  A.keys.push(...B.keys)
  A.vals.push(...B.vals)
  A.next = B.next
  if (B.next !== 0) wr(tx, B.next + 16, left)
  else wr(tx, t.offset + 40, left)
  L.store(tx, left, A)
  tx.free(right)
  removeSeparator(t, tx, path, leftOf ? i - 1 : i, false)
}

/** Removes key `ki` and child `ki + 1` from the node on top of `path`, then fixes that node (btree inv. 3). */
function removeSeparator(t: Tree, tx: PmTx, path: Array<[number, number]>, ki: number, moved: boolean): void {
  const L = t.L, h = t.offset
  const [p] = path.pop()!
  if (!moved) freeValue(tx, t.keyType, L.key(p, ki))
  const img = L.load(tx, p)
  img.keys.splice(ki, 1)
  img.children.splice(ki + 1, 1)
  if (path.length === 0) {
    if (img.keys.length > 0) { L.store(tx, p, img); return }
    wr(tx, h + 16, img.children[0]!)
    tx.writeU32(h + 24, tx.readU32(h + 24) - 1)
    tx.free(p)
    return
  }
  if (img.keys.length >= t.min) { L.store(tx, p, img); return }
  const [g, j] = path[path.length - 1]!
  const leftOf = j > 0, sepIndex = leftOf ? j - 1 : j
  const sib = rd(tx, L.child(g, leftOf ? j - 1 : j + 1))
  const S = L.load(tx, sib)
  const sep = tx.readBytes(L.key(g, sepIndex), L.ks) // its ownership moves down
  if (S.keys.length > t.min) {
    let up: Uint8Array
    if (leftOf) { img.keys.unshift(sep); img.children.unshift(S.children.pop()!); up = S.keys.pop() as Uint8Array }
    else { img.keys.push(sep); img.children.push(S.children.shift()!); up = S.keys.shift() as Uint8Array }
    L.store(tx, sib, S)
    L.store(tx, p, img)
    tx.writeBytes(L.key(g, sepIndex), up) // and this one's up
    return
  }
  const [left, A, right, B] = leftOf ? [sib, S, p, img] : [p, img, sib, S]
  A.keys.push(sep, ...B.keys)
  A.children.push(...B.children)
  L.store(tx, left, A)
  tx.free(right)
  removeSeparator(t, tx, path, sepIndex, true)
}

/** Frees every node and every string of the tree, and empties the header. */
export function clearTree(t: Tree, tx: PmTx): void {
  const h = t.offset, L = t.L
  const stack: Array<[number, number]> = []
  if (rd(tx, h + 16) !== 0) stack.push([rd(tx, h + 16), tx.readU32(h + 24)])
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!
    const n = tx.readU32(node + 4)
    for (let i = 0; i < n; i++) {
      freeValue(tx, t.keyType, L.key(node, i))
      if (depth === 1) freeValue(tx, t.valueType, L.val(node, i))
    }
    if (depth > 1) for (let i = 0; i <= n; i++) stack.push([rd(tx, L.child(node, i)), depth - 1])
    tx.free(node)
  }
  for (const at of [8, 16, 32, 40]) wr(tx, h + at, 0)
  tx.writeU32(h + 24, 0)
}
