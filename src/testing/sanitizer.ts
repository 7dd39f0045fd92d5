/**
 * The sanitizer (the idea of PMDK's pmemcheck, for this library): finds stores into a pool's
 * data area that no transaction logged and no flush covered. Such a store is what a power
 * loss can tear or lose, so code that makes one is not crash safe.
 *
 * How: the mapping must hold exactly the durable data plus the effects of the transactions
 * known durable (eng. 1; later commits wait in overlays). So take the durable data area with
 * the current log area, replay it up to the engine's durable seq, and compare with the
 * mapping. Stores made through transactions reappear from the log; flushed stores are in the
 * durable image; any byte that differs is an unlogged, unflushed store. Works on pools over
 * a SimRegion.
 */
import { InvalidArgumentError, SimRegion, describe } from '../../regions/index.js'
import { TxEngine } from '../../txn/index.js'
import { PersistentMemory } from '../pm.js'

/** One run of adjacent bytes stored without a transaction and not flushed. */
export interface UnloggedStore {
  /** Offset of the first such byte in the region's user area. */
  readonly offset: number
  readonly length: number
}

/** Returns the unlogged, unflushed stores in `pm`'s data area (empty when there are none). */
export function findUnloggedStores(pm: PersistentMemory): UnloggedStore[] {
  if (!(pm instanceof PersistentMemory)) throw new InvalidArgumentError(`Cannot sanitize: expected a pool (PersistentMemory), got ${describe(pm)}`)
  const sim = pm.region
  if (!(sim instanceof SimRegion)) {
    throw new InvalidArgumentError('Cannot sanitize: the pool must be opened on a SimRegion (PersistentMemory.fromRegion(SimRegion.create(...)))')
  }
  const { logOffset, dataOffset } = pm.engine.layout
  const img = sim.durableImage()
  img.set(sim.volatileImage().subarray(logOffset, dataOffset), logOffset)
  const recovered = TxEngine.open(SimRegion.fromImage(img, { path: sim.path }), { upToSeq: pm.engine.durableSeq })
  const got = recovered.region.unsafeBytes()
  const mapped = sim.volatileImage().subarray(dataOffset)
  recovered.close()
  return diffRuns(got, mapped, dataOffset)
}

/** Coalesced runs of differing bytes between `a` (offset `base`) and `b`. */
function diffRuns(a: Uint8Array, b: Uint8Array, base: number): UnloggedStore[] {
  const out: UnloggedStore[] = []
  for (let i = 0; i < b.length; i++) {
    if (a[base + i] === b[i]) continue
    let j = i
    while (j < b.length && a[base + j] !== b[j]) j++
    out.push({ offset: base + i, length: j - i })
    i = j
  }
  return out
}
