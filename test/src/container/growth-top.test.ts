/**
 * backing.ts inv. B4: the store's growth near the largest region (MAX_USER_SIZE, 2 GiB -
 * 4 KiB). Before session 15 a growth step that would pass it failed, and the fall-back grew
 * the region by the one chunk needed: every chunk of the last stretch was a growth (a
 * header write, an fsync and a remap on a file), so a point that took a container's log
 * toward 2 GiB wrote at about 40 KB/s (probe: 300 MB buffers added point by point; strace
 * showed the header's size rising 4 KiB per write). A region stand-in that refuses to pass
 * the limit, as Region does, counts the growths.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_USER_SIZE, OutOfSpaceError, type RegionLike } from '../../../regions/index.js'
import { geometricGrowth } from '../../../src/container/backing.js'

function region(size: number): { r: RegionLike; grows: number[] } {
  const grows: number[] = []
  const r = {
    size,
    grow(n: number) {
      if (n > MAX_USER_SIZE) throw new OutOfSpaceError(`grow to ${n}: the maximum user-area size is ${MAX_USER_SIZE}`)
      grows.push(n - this.size)
      this.size = n
    },
  }
  return { r: r as unknown as RegionLike, grows }
}

test('inv. B4: chunks allocated one by one within 64 MiB of the largest region take one growth, to the limit', () => {
  const { r, grows } = region(MAX_USER_SIZE - 64 * 2 ** 20)
  const growBy = geometricGrowth(r, () => 0)
  let used = r.size
  for (let i = 0; i < 2000; i++) {        // what growForChunks asks, one 4 KiB chunk at a time
    if (used + 4096 > r.size) growBy(used + 4096 - r.size)
    used += 4096
  }
  assert.deepEqual(grows, [64 * 2 ** 20], 'one growth, to the largest region')
  assert.equal(r.size, MAX_USER_SIZE)
  assert.throws(() => growBy(4096), OutOfSpaceError)      // past it: still a typed error
})

test('inv. B4: far from the limit, growth is geometric as before (256 MiB steps at 1 GiB)', () => {
  const { r, grows } = region(2 ** 30)
  geometricGrowth(r, () => 0)(4096)
  assert.deepEqual(grows, [256 * 2 ** 20])
})
