/**
 * Shared setup of the container tests: a fresh SimRegion.
 */
import { SimRegion } from '../../../regions/index.js'

export function simRegion(size = 1 << 20): SimRegion {
  return SimRegion.create({ size, path: 'sim.pmc' })
}
