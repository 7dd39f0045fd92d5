/**
 * Shared setup of the container tests: the shadow store class (until txn/index.js exports
 * it, the tests hand it to the container module directly) and a fresh SimRegion.
 */
import { ShadowStore } from '../../../txn/shadow.js'
import { useStoreClass } from '../../../src/container/backing.js'
import { SimRegion } from '../../../regions/index.js'

useStoreClass(ShadowStore as never)

export function simRegion(size = 1 << 20): SimRegion {
  return SimRegion.create({ size, path: 'sim.pmc' })
}
