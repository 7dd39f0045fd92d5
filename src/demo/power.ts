/**
 * The demo's power cuts. A SIGKILL ends the process but not the kernel: every store already in
 * the mapping survives it, flushed or not, so it cannot show what `sync` buys. A power failure
 * can lose any sector not yet flushed. Here the bank runs on a SimRegion (regions/sim-region.ts),
 * whose crash images drop or keep each unflushed sector at random, and the power is cut at a
 * random flush: during recovery, inside a transfer's commit, anywhere. Each life recovers the
 * previous life's image; the image must hold every transfer whose `transfer` call had returned.
 */
import { performance } from 'node:perf_hooks'
import { PersistentMemory, SimRegion } from '../index.js'
import { bank, lastTransfer, openAccounts, transfer } from './bank.js'
import { verifyPool, type Verdict } from './verify.js'

/** One life ended by a power cut. */
export interface Cut {
  /** The last transfer when this life's recovery ended, and the last one that returned before the cut. */
  first: number
  acked: number
  /** The life's flush (counted from 1, recovery's included) the power was cut at, and what was running. */
  flush: number
  during: 'recovery' | 'a transfer'
  /** The cut image reopened (its recovery timed as `openMs`) and verified. */
  verdict: Verdict
}

/**
 * Runs `lives` lives of the bank on a simulated disk, each ended by a power cut at a random
 * flush among its first `maxFlush` (life 2 at its first flush, which its recovery makes; life 1
 * past its first FIRST_LIFE_MIN flushes, so that some transfer has returned before its cut: the
 * opening and the first commit take three).
 */
const FIRST_LIFE_MIN = 6

export function powerCuts(lives: number, maxFlush = 400): Cut[] {
  let image = SimRegion.create({ size: 4 << 20, path: 'simulated-disk' })
  openAccounts(PersistentMemory.fromRegion(image))
  const cuts: Cut[] = []
  for (let i = 0; i < lives; i++) {
    const at = i === 1 ? 1
      : i === 0 ? FIRST_LIFE_MIN + Math.floor(Math.random() * Math.max(1, maxFlush - FIRST_LIFE_MIN))
      : 1 + Math.floor(Math.random() * maxFlush)
    const disk = image
    let cut: SimRegion | null = null, flushes = 0, during: Cut['during'] = 'recovery'
    disk.onFlush = () => { if (++flushes === at) cut = disk.crash((Math.random() * 2 ** 31) | 0) }
    const pm = PersistentMemory.fromRegion(disk) // recovers the previous cut
    const b = bank(pm), names = [...b.accounts.keys()]
    const first = lastTransfer(b)
    let acked = first
    if (cut === null) during = 'a transfer'
    while (cut === null) {
      transfer(pm, b, names, acked + 1)
      if (cut === null) acked++ // returned before the power went: acknowledged
    }
    pm.close()
    image = cut as SimRegion
    cuts.push({ first, acked, flush: at, during, verdict: verifyCopy(image, acked) })
  }
  return cuts
}

/** Recovers a copy of the cut image (the image itself is the next life's disk) and verifies it. */
function verifyCopy(image: SimRegion, acked: number): Verdict {
  const t0 = performance.now()
  const pm = PersistentMemory.fromRegion(image.processCrash())
  try { return verifyPool(pm, acked, performance.now() - t0) } finally { pm.close() }
}
