/**
 * Shadow paging, writes of the staged batch: the work of `ShadowStore.write` and `resize`
 * with their argument checks (shadow.ts keeps their documentation and the state checks), and
 * `reserve`, which makes room for what a change will take before it stages anything (growing
 * the region: shadow-open.ts `growForChunks`), for them and for adopting and sealing too.
 *
 * Invariants kept (numbers shared with shadow.ts):
 *   inv. 1  The first write to a logical chunk in a batch takes a free physical chunk
 *           (shadow-map.ts `stageData`) and copies the old content into it unless the write
 *           covers the chunk whole; later writes of the batch go to that same chunk. A
 *           committed chunk is never written.
 *   inv. 4  The old content is verified before it is copied: damage is never carried into
 *           a new version.
 *   inv. 7  Growing adds holes; shrinking releases the dropped chunks (shadow-map.ts).
 * Space first: a write or resize reserves the chunks it may take (data and map nodes) before
 * it stages anything, so OutOfSpaceError leaves the batch as it was.
 */
import { InvalidArgumentError, OutOfRangeError, describe } from '../regions/index.js'
import { MAX_CHUNKS, NONE } from './shadow-format.js'
import type { ChunkIO } from './shadow-io.js'
import type { FreeSpace } from './shadow-space.js'
import type { StagedMap } from './shadow-map.js'
import type { ChunkReads } from './shadow-read.js'
import { growForChunks } from './shadow-open.js'

/** Writes and resizes of one store's staged batch, through the staged map passed to each call. */
export class ChunkWrites {
  readonly #io: ChunkIO
  readonly #space: FreeSpace
  readonly #reads: ChunkReads
  readonly #growBy: ((neededBytes: number) => void) | undefined

  /** `reads`: the store's verified reads (argument checks, inv. 4); `growBy`: the store's growth hook, if any. */
  constructor(io: ChunkIO, space: FreeSpace, reads: ChunkReads, growBy: ((neededBytes: number) => void) | undefined) {
    this.#io = io
    this.#space = space
    this.#reads = reads
    this.#growBy = growBy
  }

  /** `data` at byte `offset` of logical chunk `logical`, in the batch (inv. 1). */
  write(map: StagedMap, logical: number, data: Uint8Array, offset: number): void {
    const cs = this.#io.chunkSize
    const action = `Cannot write logical chunk ${describe(logical)} of shadow store on region "${this.#io.region.path}"`
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentError(`${action}: data must be a Uint8Array, got ${describe(data)}`)
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError(`${action}: offset must be a non-negative integer, got ${describe(offset)}`)
    this.#reads.checkLogical(map, logical, 'write')
    if (offset + data.length > cs) {
      throw new OutOfRangeError(`${action}: bytes [${offset}, ${offset + data.length}) do not fit a chunk of ${cs} bytes`)
    }
    if (data.length === 0) return
    let phys = map.dirty.get(logical)
    if (phys === undefined) {
      const old = map.lookup(logical)
      const whole = offset === 0 && data.length === cs
      if (!whole && old.phys !== NONE) this.#reads.verify(logical, old) // inv. 4: never copy damage into a new version
      this.reserve(map.writeCost(logical), 'write')
      phys = map.stageData(logical, old, !whole)
    }
    else map.knownCrc.delete(logical)
    this.#io.write(phys, offset, data)
  }

  /** The batch's logical chunk count set to `chunkCount` (inv. 7). */
  resize(map: StagedMap, chunkCount: number): void {
    if (!Number.isSafeInteger(chunkCount) || chunkCount < 0 || chunkCount > MAX_CHUNKS) {
      throw new InvalidArgumentError(`Cannot resize shadow store on region "${this.#io.region.path}": chunkCount must be an integer from 0 to ${MAX_CHUNKS}, got ${describe(chunkCount)}`)
    }
    if (chunkCount === map.count) return
    this.reserve(map.resizeCost(chunkCount), 'resize')
    map.resize(chunkCount)
  }

  /** Makes sure `n` chunks are free, growing the region if needed (shadow-open.ts; OutOfSpaceError otherwise, nothing changed). */
  reserve(n: number, action: string): void {
    if (this.#space.freeCount < n) growForChunks(this.#io.region, this.#growBy, this.#io, this.#space, n, action)
  }
}
