// The data structures of SoftPM's Figure 5 (array, linked list, red-black tree, hash
// table) as plain JavaScript objects, with the paper's operations (query, modify,
// add, remove). The same code runs on raw objects (the serialization baselines) and
// on a container's write-barrier proxies (c.root), so both do identical work.
//
// Invariants:
//  1. Every structure is built and mutated from a seeded PRNG plus a pool of live keys
//     kept outside the structure, so two copies driven with the same seed stay equal
//     (digest() checks it).
//  2. plain(root) is what a serialization baseline writes: the structure itself,
//     except the linked list, whose nodes are written as an array of [key, value]
//     (v8.serialize and msgpackr recurse along `next` and overflow the stack on a long
//     list; a hand-written save walks the list, as SoftPM's TPL version did).

import { prng } from '../lib/graph-data.mjs'
export { prng }

const item = (key, rand) => ({ key, value: rand(), name: `item ${key}` })

/** Remove and return a random live key (swap-remove from the pool). */
function takeKey(pool, rand) {
  const i = (rand() * pool.length) | 0
  const k = pool[i]
  pool[i] = pool[pool.length - 1]
  pool.pop()
  return k
}
const pickKey = (pool, rand) => pool[(rand() * pool.length) | 0]

// ---------- array (fixed size: no add or remove, as in the paper) ----------
const array = {
  build(n, rand) {
    return { items: Array.from({ length: n }, (_, i) => item(i, rand)) }
  },
  query(root, k, rand) {
    let s = 0
    const items = root.items
    for (let i = 0; i < k; i++) s += items[(rand() * items.length) | 0].value
    return s
  },
  modify(root, k, rand) {
    const items = root.items
    for (let i = 0; i < k; i++) items[(rand() * items.length) | 0].value = rand()
  },
  plain: (root) => root,
  digest(root) {
    let s = 0
    for (const it of root.items) s += it.key + it.value
    return `${root.items.length}:${s}`
  },
}

// ---------- singly linked list ----------
/** Walk the list once and call visit(prev, node, index) at the sorted positions. */
function walkAt(root, positions, visit) {
  let prev = null
  let node = root.head
  let index = 0
  let p = 0
  while (node !== null && p < positions.length) {
    if (index === positions[p]) {
      const next = visit(prev, node) // returns the node to continue from
      while (p < positions.length && positions[p] === index) p++
      prev = next
      node = next === null ? root.head : next.next
    } else {
      prev = node
      node = node.next
    }
    index++
  }
}
/** k distinct random positions in [0, length), sorted. */
function positionsOf(length, k, rand) {
  const set = new Set()
  while (set.size < Math.min(k, length)) set.add((rand() * length) | 0)
  return [...set].sort((a, b) => a - b)
}

const list = {
  build(n, rand) {
    let head = null
    for (let i = n - 1; i >= 0; i--) head = { ...item(i, rand), next: head }
    return { head, length: n, nextKey: n }
  },
  query(root, k, rand) {
    let s = 0
    walkAt(root, positionsOf(root.length, k, rand), (prev, node) => ((s += node.value), node))
    return s
  },
  modify(root, k, rand) {
    walkAt(root, positionsOf(root.length, k, rand), (prev, node) => ((node.value = rand()), node))
  },
  add(root, k, rand) {
    walkAt(root, positionsOf(root.length, k, rand), (prev, node) => {
      const key = root.nextKey++
      const added = { ...item(key, rand), next: node.next }
      node.next = added
      root.length++
      return added
    })
  },
  remove(root, k, rand) {
    walkAt(root, positionsOf(root.length, k, rand), (prev, node) => {
      if (prev === null) root.head = node.next
      else prev.next = node.next
      root.length--
      return prev
    })
  },
  plain(root) {
    const out = []
    for (let n = root.head; n !== null; n = n.next) out.push([n.key, n.value])
    return { length: root.length, nextKey: root.nextKey, items: out }
  },
  digest(root) {
    let s = 0
    let c = 0
    for (let n = root.head; n !== null; n = n.next) (s += n.key + n.value), c++
    return `${c}/${root.length}:${s}`
  },
}

// ---------- left-leaning red-black tree (Sedgewick's algs4 RedBlackBST) ----------
const isRed = (h) => h !== null && h.red === true
function rotateLeft(h) {
  const x = h.right
  h.right = x.left
  x.left = h
  x.red = h.red
  h.red = true
  return x
}
function rotateRight(h) {
  const x = h.left
  h.left = x.right
  x.right = h
  x.red = h.red
  h.red = true
  return x
}
function flip(h) {
  h.red = !h.red
  h.left.red = !h.left.red
  h.right.red = !h.right.red
}
function balance(h) {
  if (isRed(h.right) && !isRed(h.left)) h = rotateLeft(h)
  if (isRed(h.left) && isRed(h.left.left)) h = rotateRight(h)
  if (isRed(h.left) && isRed(h.right)) flip(h)
  return h
}
function insert(h, key, value, name) {
  if (h === null) return { key, value, name, red: true, left: null, right: null }
  if (key < h.key) h.left = insert(h.left, key, value, name)
  else if (key > h.key) h.right = insert(h.right, key, value, name)
  else h.value = value
  return balance(h)
}
function moveRedLeft(h) {
  flip(h)
  if (isRed(h.right.left)) {
    h.right = rotateRight(h.right)
    h = rotateLeft(h)
    flip(h)
  }
  return h
}
function moveRedRight(h) {
  flip(h)
  if (isRed(h.left.left)) {
    h = rotateRight(h)
    flip(h)
  }
  return h
}
function deleteMin(h) {
  if (h.left === null) return null
  if (!isRed(h.left) && !isRed(h.left.left)) h = moveRedLeft(h)
  h.left = deleteMin(h.left)
  return balance(h)
}
function remove(h, key) {
  if (key < h.key) {
    if (!isRed(h.left) && !isRed(h.left.left)) h = moveRedLeft(h)
    h.left = remove(h.left, key)
  } else {
    if (isRed(h.left)) h = rotateRight(h)
    if (key === h.key && h.right === null) return null
    if (!isRed(h.right) && !isRed(h.right.left)) h = moveRedRight(h)
    if (key === h.key) {
      let m = h.right
      while (m.left !== null) m = m.left
      h.key = m.key
      h.value = m.value
      h.name = m.name
      h.right = deleteMin(h.right)
    } else h.right = remove(h.right, key)
  }
  return balance(h)
}
function find(h, key) {
  while (h !== null) {
    if (key < h.key) h = h.left
    else if (key > h.key) h = h.right
    else return h
  }
  return null
}
function put(root, key, value, name) {
  root.tree = insert(root.tree, key, value, name)
  root.tree.red = false
}

const rbtree = {
  build(n, rand) {
    const root = { tree: null, size: 0, nextKey: n }
    const keys = Array.from({ length: n }, (_, i) => i)
    for (let i = n - 1; i > 0; i--) {
      const j = (rand() * (i + 1)) | 0
      ;[keys[i], keys[j]] = [keys[j], keys[i]]
    }
    for (const k of keys) put(root, k, rand(), `item ${k}`)
    root.size = n
    return root
  },
  query(root, k, rand, pool) {
    let s = 0
    for (let i = 0; i < k; i++) s += find(root.tree, pickKey(pool, rand)).value
    return s
  },
  modify(root, k, rand, pool) {
    for (let i = 0; i < k; i++) find(root.tree, pickKey(pool, rand)).value = rand()
  },
  add(root, k, rand, pool) {
    for (let i = 0; i < k; i++) {
      const key = root.nextKey++
      put(root, key, rand(), `item ${key}`)
      pool.push(key)
      root.size++
    }
  },
  remove(root, k, rand, pool) {
    for (let i = 0; i < k; i++) {
      const key = takeKey(pool, rand)
      if (!isRed(root.tree.left) && !isRed(root.tree.right)) root.tree.red = true
      root.tree = remove(root.tree, key)
      if (root.tree !== null) root.tree.red = false
      root.size--
    }
  },
  plain: (root) => root,
  digest(root) {
    let s = 0
    let c = 0
    let last = -Infinity
    const stack = []
    let h = root.tree
    while (h !== null || stack.length > 0) {
      while (h !== null) (stack.push(h), (h = h.left))
      h = stack.pop()
      if (h.key <= last) throw new Error(`red-black tree out of order at key ${h.key}`)
      last = h.key
      s += h.key + h.value
      c++
      h = h.right
    }
    return `${c}/${root.size}:${s}`
  },
}

// ---------- hash table (a Map) ----------
const hash = {
  build(n, rand) {
    const map = new Map()
    for (let i = 0; i < n; i++) map.set(i, item(i, rand))
    return { map, nextKey: n }
  },
  query(root, k, rand, pool) {
    let s = 0
    for (let i = 0; i < k; i++) s += root.map.get(pickKey(pool, rand)).value
    return s
  },
  modify(root, k, rand, pool) {
    for (let i = 0; i < k; i++) root.map.get(pickKey(pool, rand)).value = rand()
  },
  add(root, k, rand, pool) {
    for (let i = 0; i < k; i++) {
      const key = root.nextKey++
      root.map.set(key, item(key, rand))
      pool.push(key)
    }
  },
  remove(root, k, rand, pool) {
    for (let i = 0; i < k; i++) root.map.delete(takeKey(pool, rand))
  },
  plain: (root) => root,
  digest(root) {
    let s = 0
    for (const [k, v] of root.map) s += k + v.key + v.value
    return `${root.map.size}:${s}`
  },
}

export const STRUCTURES = { array, 'linked list': list, 'red-black tree': rbtree, 'hash table': hash }

/** The live keys of a freshly built structure of n elements (0 .. n-1). */
export const initialPool = (n) => Array.from({ length: n }, (_, i) => i)
