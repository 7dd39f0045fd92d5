// Region inv. R8 (a read-only region follows a writer's growth when asked) and the writer
// probe readers use (Region.liveWriter, lock.ts liveHolderToken).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Region, RegionClosedError, SimRegion } from '../../regions/index.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-follow-'))

test('inv. R8: followGrowth maps what the writer grew, invalidates the old views, and changes nothing', () => {
  const file = path.join(dir, 'g.rg')
  const w = Region.open(file, { size: 16384 })
  const r = Region.open(file, { readOnly: true })
  const old = r.view(Uint8Array, 0, 16)
  assert.equal(r.followGrowth(), 16384, 'nothing grew: same size, same views')
  assert.equal(old[0], 0)
  w.grow(65536)
  w.unsafeBytes()[60000] = 42
  assert.equal(r.size, 16384, 'a reader does not remap by itself')
  const raw = r.unsafeBytes()
  assert.equal(r.followGrowth(), 65536)
  assert.equal(r.unsafeBytes()[60000], 42)
  assert.throws(() => old[0], RegionClosedError, 'views taken before the remap are invalid')
  w.unsafeBytes()[100] = 7
  assert.equal(raw[100], 7, 'a raw array of the old mapping still reads the file below its size')
  assert.equal(w.followGrowth(), 65536, 'a writer knows its size')
  w.close()
  r.close()
  assert.throws(() => r.followGrowth(), RegionClosedError)
})

test('liveWriter: the token of the live writer holding the lock, null once it closed', () => {
  const file = path.join(dir, 'w.rg')
  const w = Region.open(file, { size: 8192 })
  const r = Region.open(file, { readOnly: true })
  assert.match(w.writerToken, /^[0-9a-f]{16}$/)
  assert.equal(r.writerToken, '')
  assert.equal(r.liveWriter(), w.writerToken)
  assert.equal(w.liveWriter(), w.writerToken)
  w.close()
  assert.equal(r.liveWriter(), null)
  r.close()
  const sim = SimRegion.create({ size: 8192 })
  assert.equal(sim.liveWriter(), sim.writerToken)
  assert.equal(SimRegion.fromImage(sim.volatileImage(), { readOnly: true }).liveWriter(), null)
  sim.close()
  assert.equal(sim.liveWriter(), null)
})
