/**
 * Shadow paging, the staged chunk map: the logical-to-physical radix tree of one batch
 * (the writes between two commits), copy-on-write over the committed tree it starts from.
 *
 * Addressing: a node at level l >= 1 with index i covers logical chunks
 * [i * F^l, (i + 1) * F^l); its child j is the node (l - 1, i * F + j), and level 0 is data
 * (logical chunk i). The root is (depth, 0).
 *
 * Invariants (numbers shared with shadow.ts):
 *   inv. 1  A committed chunk is never written: the first change to a node or data chunk in
 *           a batch takes a fresh chunk from the free set and points the (staged) parent at
 *           it; the old chunk goes to `released`, to be freed only when every retained
 *           version that references it has left the window (shadow-versions.ts).
 *   inv. 7  Entries for logical chunks >= count are NONE in every node, so growing the
 *           logical space reads zeros (holes), never stale data.
 *   inv. 8  Chunks taken by this batch are referenced by no durable version: dropping one
 *           in the same batch (abort, shrink) frees it at once.
 *   A node is staged only if its parent is staged (or it is the root), so below a committed
 *   node everything is committed.
 */
import type { ChunkIO } from './shadow-io.js'
import type { FreeSpace } from './shadow-space.js'
import { NONE, depthFor } from './shadow-format.js'
import { StagedChunks } from './shadow-staged.js'

/** A map entry: a physical chunk and the CRC-32C of its content. */
export interface Entry { phys: number; crc: number }

/** The tree a batch starts from (a committed version's root). */
export interface MapBase { chunkCount: number; depth: number; root: number; rootCrc: number }

interface StagedNode { level: number; index: number; phys: number; entries: Uint32Array }

/** What sealing a batch produced: the new root and the chunks written and released. */
export interface SealedMap extends MapBase {
  /** Chunks this batch wrote (data and nodes), to be flushed before the slot (inv. 2). */
  written: number[]
  /** Committed chunks the new version no longer references. */
  released: number[]
}

/** The staged map of one batch. */
export class StagedMap {
  count: number
  depth: number
  #root: Entry
  readonly #io: ChunkIO
  readonly #space: FreeSpace
  readonly #F: number
  readonly #pow: number[] = []
  readonly #nodes = new Map<number, StagedNode>()
  /** Logical chunk -> fresh physical chunk written in this batch (single chunks, and runs of adopted ones: shadow-staged.ts). */
  readonly dirty = new StagedChunks()
  /** Logical chunk -> checksum of its staged chunk, when its writer supplied it (adopted chunks); dropped on any write to it. */
  readonly knownCrc = this.dirty.knownCrc
  readonly released: number[] = []

  constructor(io: ChunkIO, space: FreeSpace, base: MapBase) {
    this.#io = io
    this.#space = space
    this.#F = io.fanout
    this.count = base.chunkCount
    this.depth = base.depth
    this.#root = { phys: base.root, crc: base.rootCrc }
  }

  /** Physical chunks taken by this batch (nodes and data). */
  stagedChunks(): number[] {
    return [...this.dirty.values(), ...[...this.#nodes.values()].map(n => n.phys)]
  }

  /** The entry of logical chunk `L` in the staged view (NONE for a hole). */
  lookup(L: number): Entry { return this.#descend(L, 1) }

  /**
   * The entry on the path to logical chunk `L` that a node of level `stop` holds, in the
   * staged view: `stop` 1 gives the chunk's own entry, 2 the entry of its leaf node (NONE
   * below a hole).
   */
  #descend(L: number, stop: number): Entry {
    let phys = this.#root.phys, crc = this.#root.crc
    for (let l = this.depth; l >= stop && phys !== NONE; l--) {
      const j = Math.floor(L / this.#p(l - 1)) % this.#F
      const node = this.#nodes.get(key(l, Math.floor(L / this.#p(l))))
      if (node) { phys = node.entries[2 * j]!; crc = node.entries[2 * j + 1]! }
      else { crc = this.#io.entryCrc(phys, j); phys = this.#io.entryPhys(phys, j) }
    }
    return { phys, crc }
  }

  /**
   * The entries of logical chunks `[0, n)` (n <= count) as [phys0, crc0, phys1, crc1, ...]
   * (NONE for a hole), as `lookup` gives them, reading each leaf node once: `lookup` walks
   * the tree for every chunk (31 MB of 4 KiB chunks: 20-70 ms of a cold restore).
   */
  prefixEntries(n: number): Uint32Array {
    const out = new Uint32Array(2 * n)
    if (this.depth === 0) {
      for (let k = 0; k < n; k++) { const e = this.lookup(k); out[2 * k] = e.phys; out[2 * k + 1] = e.crc }
      return out
    }
    const F = this.#F
    for (let i = 0; i * F < n; i++) {
      const m = Math.min(F, n - i * F)
      const leaf = this.#leafEntries(i)
      if (leaf === null) out.fill(NONE, 2 * i * F, 2 * (i * F + m))
      else out.set(leaf.subarray(0, 2 * m), 2 * i * F)
    }
    return out
  }

  /** The entries of leaf node `i` (level 1: logical chunks [i * F, (i + 1) * F)), or null below a hole; a committed node's is a view of the region. */
  #leafEntries(i: number): Uint32Array | null {
    const staged = this.#nodes.get(key(1, i))
    if (staged) return staged.entries
    const phys = this.#descend(i * this.#F, 2).phys
    return phys === NONE ? null : this.#io.entries(phys)
  }

  /** Fresh chunks a first write to `L` needs: unstaged nodes on its path plus the data chunk. */
  writeCost(L: number): number {
    if (this.dirty.has(L)) return 0
    let n = 1
    for (let l = 1; l <= this.depth; l++) if (!this.#nodes.has(key(l, Math.floor(L / this.#p(l))))) n++
    return n
  }

  /**
   * Gives logical chunk `L` a fresh physical chunk (first write in the batch, inv. 1) and
   * returns it. `old` is its current entry; `copyOld`: start from the old content (a
   * partial write) rather than leave the chunk to be overwritten whole by the caller.
   */
  stageData(L: number, old: Entry, copyOld: boolean): number {
    const have = this.dirty.get(L)
    if (have !== undefined) return have
    const phys = this.#space.alloc()
    if (copyOld && old.phys === NONE) this.#io.zero(phys)
    else if (copyOld) this.#io.copy(old.phys, phys)
    if (old.phys !== NONE) this.released.push(old.phys)
    this.#setEntry(0, L, phys, 0)
    this.dirty.set(L, phys)
    return phys
  }

  /** Upper bound of the fresh chunks `stageAdopted` takes for `n` chunks from `L0` (map nodes). */
  adoptCost(L0: number, n: number): number {
    let cost = 0
    for (let l = 1; l <= this.depth; l++) cost += Math.floor((L0 + n - 1) / this.#p(l)) - Math.floor(L0 / this.#p(l)) + 1
    return cost
  }

  /**
   * Stages logical chunks `[L0, L0 + n)` on physical chunks `[phys0, ...)`, which the caller
   * took and filled (adoption), with checksums `crcs`: as a whole write of each, staging
   * each leaf node once for the entries it holds. None may be staged yet in this batch
   * (ShadowStore.adopt checks that, with a typed error, before it changes anything); the
   * caller reserved `adoptCost` free chunks. `crcs` is kept, not copied (one run of
   * `dirty`, no Map entry per chunk: shadow-staged.ts).
   */
  stageAdopted(L0: number, phys0: number, crcs: Uint32Array): void {
    const n = crcs.length
    const F = this.#F
    let leaf: StagedNode | null = null
    for (let i = 0; i < n; i++) {
      const L = L0 + i, phys = phys0 + i
      if (this.depth === 0) {
        if (this.#root.phys !== NONE) this.released.push(this.#root.phys)
        this.#root = { phys, crc: 0 }
      } else {
        if (leaf === null || leaf.index !== Math.floor(L / F)) leaf = this.#stage(1, Math.floor(L / F))
        const j = L % F
        const old = leaf.entries[2 * j]!
        if (old !== NONE) this.released.push(old)
        leaf.entries[2 * j] = phys
        leaf.entries[2 * j + 1] = 0
      }
    }
    this.dirty.addRun(L0, phys0, crcs)
  }

  /** Upper bound of the fresh chunks `resize(n)` takes. */
  resizeCost(n: number): number {
    return n > this.count ? depthFor(n, this.#F) : this.depth
  }

  /** Grows or shrinks the logical space to `n` chunks (reserve resizeCost(n) first). */
  resize(n: number): void {
    if (n > this.count) this.#grow(n)
    else if (n < this.count) this.#shrink(n)
  }

  #grow(n: number): void {
    const target = depthFor(n, this.#F)
    if (this.#root.phys === NONE) this.depth = target
    while (this.depth < target) {
      const entries = noneEntries(this.#F)
      entries[0] = this.#root.phys
      entries[1] = this.#root.crc
      this.depth++
      const node: StagedNode = { level: this.depth, index: 0, phys: this.#space.alloc(), entries }
      this.#nodes.set(key(this.depth, 0), node)
      this.#root = { phys: node.phys, crc: 0 }
    }
    this.count = n
  }

  #shrink(n: number): void {
    if (this.depth >= 1 && this.#root.phys !== NONE && this.#holdsFrom(this.depth, 0, n)) this.#truncate(this.depth, 0, n)
    const target = depthFor(n, this.#F)
    while (this.depth > target) this.#dropRootLevel()
    if (n === 0 && this.#root.phys !== NONE) {
      this.#release(0, 0, this.#root.phys)
      this.#root = { phys: NONE, crc: 0 }
    }
    this.count = n
  }

  /** Does the subtree of node (l, i) reference anything at logical chunk >= n? (read only) */
  #holdsFrom(l: number, i: number, n: number): boolean {
    const { cut, straddle } = this.#split(l, i, n)
    for (let j = cut; j < this.#F; j++) if (this.#child(l, i, j) !== NONE) return true
    return straddle >= 0 && l >= 2 && this.#child(l, i, straddle) !== NONE && this.#holdsFrom(l - 1, i * this.#F + straddle, n)
  }

  /** Sets every entry of node (l, i)'s subtree at logical >= n to NONE (inv. 7). */
  #truncate(l: number, i: number, n: number): void {
    const node = this.#stage(l, i)
    const { cut, straddle } = this.#split(l, i, n)
    for (let j = cut; j < this.#F; j++) {
      const child = node.entries[2 * j]!
      if (child === NONE) continue
      this.#release(l - 1, i * this.#F + j, child)
      node.entries[2 * j] = NONE
      node.entries[2 * j + 1] = 0
    }
    const c = i * this.#F + straddle
    if (straddle >= 0 && l >= 2 && node.entries[2 * straddle] !== NONE && this.#holdsFrom(l - 1, c, n)) this.#truncate(l - 1, c, n)
  }

  /** First child starting at or after n, and the child containing n strictly inside (-1 if none). */
  #split(l: number, i: number, n: number): { cut: number; straddle: number } {
    const rel = n - i * this.#p(l), sub = this.#p(l - 1)
    const cut = Math.max(0, Math.min(this.#F, Math.ceil(rel / sub)))
    const straddle = rel > 0 && rel % sub !== 0 && cut - 1 < this.#F ? cut - 1 : -1
    return { cut, straddle }
  }

  /** Replaces the root node by its child 0 (its other entries are NONE after truncation). */
  #dropRootLevel(): void {
    const rootKey = key(this.depth, 0)
    if (this.#root.phys !== NONE) {
      const staged = this.#nodes.get(rootKey)
      const next: Entry = staged
        ? { phys: staged.entries[0]!, crc: staged.entries[1]! }
        : { phys: this.#io.entryPhys(this.#root.phys, 0), crc: this.#io.entryCrc(this.#root.phys, 0) }
      if (staged) { this.#nodes.delete(rootKey); this.#space.free(staged.phys) } // inv. 8
      else this.released.push(this.#root.phys)
      this.#root = next
    }
    this.depth--
  }

  /** Drops the subtree (l, i) whose chunk is `phys`: fresh chunks freed (inv. 8), committed ones released. */
  #release(l: number, i: number, phys: number): void {
    if (phys === NONE) return
    if (l === 0) {
      if (this.dirty.get(i) === phys) { this.dirty.delete(i); this.knownCrc.delete(i); this.#space.free(phys) } else this.released.push(phys)
      return
    }
    const staged = this.#nodes.get(key(l, i))
    for (let j = 0; j < this.#F; j++) {
      this.#release(l - 1, i * this.#F + j, staged ? staged.entries[2 * j]! : this.#io.entryPhys(phys, j))
    }
    if (staged) { this.#nodes.delete(key(l, i)); this.#space.free(staged.phys) } else this.released.push(phys)
  }

  /** The child chunk j of node (l, i) in the staged view. */
  #child(l: number, i: number, j: number): number {
    const staged = this.#nodes.get(key(l, i))
    if (staged) return staged.entries[2 * j]!
    const phys = this.#nodePhys(l, i)
    return phys === NONE ? NONE : this.#io.entryPhys(phys, j)
  }

  /** The chunk of node (l, i) in the staged view (NONE inside a hole). */
  #nodePhys(l: number, i: number): number {
    if (l === this.depth) return this.#root.phys
    return this.#child(l + 1, Math.floor(i / this.#F), i % this.#F)
  }

  /** Makes node (l, i) staged (copy-on-write, inv. 1), staging its parents first. */
  #stage(l: number, i: number): StagedNode {
    const k = key(l, i)
    const have = this.#nodes.get(k)
    if (have) return have
    const old = l === this.depth ? this.#root.phys : this.#stage(l + 1, Math.floor(i / this.#F)).entries[2 * (i % this.#F)]!
    const entries = old === NONE ? noneEntries(this.#F) : this.#io.readEntries(old)
    if (old !== NONE) this.released.push(old)
    const node: StagedNode = { level: l, index: i, phys: this.#space.alloc(), entries }
    this.#nodes.set(k, node)
    this.#setEntry(l, i, node.phys, 0)
    return node
  }

  /** Points the (staged) parent entry of (l, i) at `phys` with `crc`. */
  #setEntry(l: number, i: number, phys: number, crc: number): void {
    if (l === this.depth) { this.#root = { phys, crc }; return }
    const parent = this.#stage(l + 1, Math.floor(i / this.#F))
    const j = i % this.#F
    parent.entries[2 * j] = phys
    parent.entries[2 * j + 1] = crc
  }

  /**
   * Writes the staged nodes (children before parents, so each parent entry carries its
   * child's checksum, inv. 4) and returns the new root. The map must not be used afterwards.
   */
  seal(): SealedMap {
    const written: number[] = []
    this.dirty.forEach((L, phys) => {
      this.#setEntry(0, L, phys, this.knownCrc.get(L) ?? this.#io.crc(phys))
      written.push(phys)
    })
    const nodes = [...this.#nodes.values()].sort((a, b) => a.level - b.level)
    for (const node of nodes) {
      this.#io.writeEntries(node.phys, node.entries)
      this.#setEntry(node.level, node.index, node.phys, this.#io.crc(node.phys))
      written.push(node.phys)
    }
    return { chunkCount: this.count, depth: this.depth, root: this.#root.phys, rootCrc: this.#root.crc, written, released: this.released }
  }

  /** Frees every chunk this batch took (abort, inv. 8). */
  discard(): void {
    for (const p of this.stagedChunks()) this.#space.free(p)
    this.dirty.clear()
    this.knownCrc.clear()
    this.#nodes.clear()
  }

  /** Staged nodes whose entries beyond `count` are not NONE (for check(), inv. 7). */
  stagedProblems(): string[] {
    const out: string[] = []
    for (const n of this.#nodes.values()) {
      for (let j = 0; j < this.#F; j++) {
        if ((n.index * this.#F + j) * this.#p(n.level - 1) >= this.count && n.entries[2 * j] !== NONE) {
          out.push(`staged map node (level ${n.level}, index ${n.index}) references child ${j} beyond chunk count ${this.count} (inv. 7)`)
        }
      }
    }
    return out
  }

  /** F^l, cached. */
  #p(l: number): number {
    while (this.#pow.length <= l) this.#pow.push(this.#F ** this.#pow.length)
    return this.#pow[l]!
  }
}

/** Key of node (level, index) in the staged-node map. */
function key(level: number, index: number): number {
  return level * 2 ** 33 + index
}

function noneEntries(fanout: number): Uint32Array {
  const e = new Uint32Array(2 * fanout)
  for (let j = 0; j < fanout; j++) e[2 * j] = NONE
  return e
}
