// The workloads of corpus.mjs: each builds the same graph in every process (fixed seeds,
// files read in sorted order) and knows how to change about 1% of it through a
// container's write-barrier proxies.
//
//   { name, what, build(size) -> root, classes?, mutate(root, round, raw) }
//
// `size` is 'quick' (a smoke check) or 'full'. `mutate` receives the proxied root
// (c.root) and the raw graph it was built from (to pick targets without creating a proxy
// per object); every change goes through the proxies, so the write barriers see it.
//
// Invariant 1: build() is deterministic: two processes that build the same workload get
// graphs that v8.serialize to the same bytes (the load children compare against it).

import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const benchRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const repoRoot = path.dirname(benchRoot)
const require = createRequire(path.join(repoRoot, 'package.json'))

import { prng } from './graph-data.mjs'
export { prng }

// ---------------------------------------------------------------- JSON files on disk

/** Every *.json file under the node_modules of the repository and of bench/, sorted, without duplicates by content. */
function jsonFiles() {
  const out = []
  const walk = (dir) => {
    let entries
    try { entries = fs.readdirSync(dir, { withFileTypes: true }) } catch { return }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const e of entries) {
      const p = path.join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile() && e.name.endsWith('.json')) out.push(p)
    }
  }
  walk(path.join(repoRoot, 'node_modules'))
  walk(path.join(benchRoot, 'node_modules'))
  const seen = new Set()
  const docs = []
  for (const p of out) {
    const text = fs.readFileSync(p, 'utf8')
    if (seen.has(text)) continue
    seen.add(text)
    try { docs.push({ file: path.relative(repoRoot, p), doc: JSON.parse(text) }) } catch { /* not JSON (a template) */ }
  }
  return docs
}

// ---------------------------------------------------------------- generic 1% change

/**
 * Paths from the root to every 100th object of the graph in breadth-first order (arrays
 * and plain objects only), computed on the raw graph once per process.
 */
function targetPaths(raw, every = 100) {
  const paths = []
  const parent = new Map([[raw, null]])
  const queue = [raw]
  let n = 0
  for (let h = 0; h < queue.length; h++) {
    const o = queue[h]
    if (n++ % every === 0 && h > 0) {
      const p = []
      for (let x = o; parent.get(x) !== null; x = parent.get(x)[0]) p.push(parent.get(x)[1])
      paths.push(p.reverse())
    }
    for (const k of Object.keys(o)) {
      const v = o[k]
      if (v !== null && typeof v === 'object' && !parent.has(v) && (Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null || v.constructor?.corpusClass)) {
        parent.set(v, [o, k])
        queue.push(v)
      }
    }
  }
  return paths
}

/** Changes one primitive of `o` (an existing one when it has any), through the proxy. */
function touch(o, round) {
  if (Array.isArray(o)) {
    for (let i = 0; i < o.length; i++) {
      const v = o[i]
      if (v === null || typeof v !== 'object') { o[i] = typeof v === 'number' ? v + 1 : `${v}:${round}`; return }
    }
    o.push(round)
    return
  }
  for (const k of Object.keys(o)) {
    const v = o[k]
    if (v === null || typeof v !== 'object') { o[k] = typeof v === 'number' ? v + 1 : typeof v === 'boolean' ? !v : `${v}:${round}`; return }
  }
  o.touched = round
}

const pathCache = new WeakMap()
function mutateGeneric(root, round, raw) {
  let paths = pathCache.get(raw)
  if (paths === undefined) pathCache.set(raw, (paths = targetPaths(raw)))
  for (const p of paths) {
    let o = root
    for (const k of p) o = o[k]
    touch(o, round)
  }
  return paths.length
}

// ---------------------------------------------------------------- class instances

class Customer { constructor(id, name, email) { this.id = id; this.name = name; this.email = email; this.orders = []; this.since = new Date(1_600_000_000_000 + id * 3_600_000) } }
class Order { constructor(id, customer) { this.id = id; this.customer = customer; this.items = []; this.status = 'open'; this.total = 0 } }
class LineItem { constructor(product, qty) { this.product = product; this.qty = qty; this.price = product.price } }
class Product { constructor(id, name, price) { this.id = id; this.name = name; this.price = price; this.tags = ['p' + (id % 17), 'q' + (id % 29)] } }
for (const C of [Customer, Order, LineItem, Product]) C.corpusClass = true
export const CLASSES = [Customer, Order, LineItem, Product]

function buildShop(customers) {
  const rand = prng(7)
  const int = (n) => (rand() * n) | 0
  const products = Array.from({ length: 2000 }, (_, i) => new Product(i, `product ${i} ${int(1e6).toString(36)}`, Math.round(rand() * 10000) / 100))
  const all = []
  let orderId = 0
  for (let i = 0; i < customers; i++) {
    const c = new Customer(i, `customer ${int(1e9).toString(36)}`, `c${i}@shop.example`)
    const orders = 1 + int(4)
    for (let k = 0; k < orders; k++) {
      const o = new Order(orderId++, c)
      const items = 1 + int(4)
      for (let j = 0; j < items; j++) { const li = new LineItem(products[int(products.length)], 1 + int(5)); o.items.push(li); o.total += li.price * li.qty }
      c.orders.push(o)
    }
    all.push(c)
  }
  return { customers: all, products }
}

// ---------------------------------------------------------------- Maps and Sets of small strings

function buildStrings(n) {
  const rand = prng(11)
  const word = () => (rand() * 36 ** 6 | 0).toString(36)
  const index = new Map()
  for (let i = 0; i < n; i++) index.set(`k${i}`, word())
  const words = new Set()
  while (words.size < n) words.add(word())
  const groups = Array.from({ length: n / 50 }, () => new Set(Array.from({ length: 8 }, word)))
  return { index, words, groups }
}

function mutateStrings(root, round) {
  const { index, words, groups } = root
  const n = index.size, changes = Math.max(1, n / 100)
  for (let i = 0; i < changes; i++) index.set(`k${(i * 7919 + round * 104729) % n}`, `v${round}.${i}`)
  for (let i = 0; i < changes; i++) words.add(`new${round}.${i}`)
  for (let i = 0; i < groups.length; i += 100) groups[i].add(`g${round}`)
  return 2 * changes
}

// ---------------------------------------------------------------- large numeric arrays

function buildNumbers(n) {
  const rand = prng(13)
  const doubles = Array.from({ length: n }, () => rand() * 1000)
  const ints = Array.from({ length: n }, () => (rand() * 100000) | 0)
  const matrix = Array.from({ length: 100 }, () => Array.from({ length: n / 100 }, () => rand()))
  const samples = new Float64Array(n)
  for (let i = 0; i < n; i++) samples[i] = rand()
  return { doubles, ints, matrix, samples }
}

function mutateNumbers(root, round) {
  const { doubles, ints, matrix, samples } = root
  const n = doubles.length, changes = Math.max(1, n / 100)
  for (let i = 0; i < changes; i++) {
    const k = (i * 7919 + round * 104729) % n
    doubles[k] = round + i / n
    ints[k] = round + i
    samples[k] = round
  }
  matrix[round % 100][0] = round
  return 3 * changes
}

// ---------------------------------------------------------------- deep linked structure

function buildLinked(n) {
  let head = null
  for (let i = n; i > 0; i--) head = { value: i, label: 'node ' + i, next: head }
  return { head, length: n }
}

function mutateLinked(root, round) {
  let k = 0, changed = 0
  for (let node = root.head; node !== null; node = node.next) {
    if (k++ % 100 === round % 100) { node.value = -node.value; changed++ }
  }
  return changed
}

// ---------------------------------------------------------------- the list

const SIZES = {
  json: { quick: 1, full: 2 },
  generated: { quick: 600, full: 12000 },
  classes: { quick: 2000, full: 60000 },
  strings: { quick: 5000, full: 200000 },
  numbers: { quick: 20000, full: 1000000 },
  users: { quick: 5000, full: 200000 },
  linked: { quick: 5000, full: 200000 },
}

export const WORKLOADS = [
  {
    name: 'json-files',
    what: (s) => `every *.json in node_modules and bench/node_modules, parsed${SIZES.json[s] > 1 ? `, ${SIZES.json[s]} copies` : ''} (manifests, JSON schemas, code tables)`,
    build(s) {
      const copies = SIZES.json[s]
      const docs = []
      for (let c = 0; c < copies; c++) docs.push(...jsonFiles())
      return s === 'quick' ? { docs: docs.filter((_, i) => i % 8 === 0) } : { docs }
    },
    mutate: mutateGeneric,
  },
  {
    name: 'json-generated',
    what: (s) => `fast-check jsonValue and object arbitraries, seed 42, ${SIZES.generated[s]} values each`,
    build(s) {
      const fc = require('fast-check')
      const n = SIZES.generated[s]
      return {
        json: fc.sample(fc.jsonValue({ maxDepth: 6 }), { seed: 42, numRuns: n }),
        objects: fc.sample(fc.object({ maxDepth: 4 }), { seed: 43, numRuns: n }),
      }
    },
    mutate: mutateGeneric,
  },
  {
    name: 'classes',
    what: (s) => `${SIZES.classes[s]} registered Customer instances with Orders, LineItems, shared Products`,
    build: (s) => buildShop(SIZES.classes[s]),
    classes: CLASSES,
    mutate: mutateGeneric,
  },
  {
    name: 'maps-sets',
    what: (s) => `Map and Set of ${SIZES.strings[s]} short strings each, ${SIZES.strings[s] / 50} Sets of 8`,
    build: (s) => buildStrings(SIZES.strings[s]),
    mutate: mutateStrings,
  },
  {
    name: 'numeric',
    what: (s) => `arrays of ${SIZES.numbers[s]} doubles and ${SIZES.numbers[s]} ints, 100 x ${SIZES.numbers[s] / 100} doubles, a Float64Array of ${SIZES.numbers[s]}`,
    build: (s) => buildNumbers(SIZES.numbers[s]),
    mutate: mutateNumbers,
  },
  {
    name: 'users',
    what: (s) => `perf-users.ts: ${SIZES.users[s]} users (strings, arrays, Dates, shared cities)`,
    async build(s) {
      const { makeUsers } = await import(path.join(repoRoot, 'dist/test/src/container/perf-users.js'))
      return makeUsers(SIZES.users[s])
    },
    mutate(root, round) {
      const list = root.users
      const n = list.length
      let s = 7 + round
      for (let i = 0; i < n / 100; i++) {
        s = (s * 1103515245 + 12345) & 0x7fffffff
        const u = list[s % n]
        u.score = u.score + 1
        if (i % 4 === 0) u.tags.push('x')
      }
      return n / 100
    },
  },
  {
    name: 'linked',
    what: (s) => `a linked list ${SIZES.linked[s]} nodes deep`,
    build: (s) => buildLinked(SIZES.linked[s]),
    mutate: mutateLinked,
  },
]
