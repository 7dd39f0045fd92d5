// The space workload of the collections issue: random puts and deletes of blob values of 8 B to
// 4 KiB in a hash map on a real file that starts small and grows; reports the file size and
// the heap's top against the live data (keys and values of the live entries).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PersistentMemory, SimRegion, open, t } from '../../../src/index.js'

export interface SpaceResult { ops: number; live: number; fileBytes: number; heapBytes: number; problems: string[] }

/** On a real file, or (`file` false, for npm test) on a SimRegion, whose size stands for the file's. */
export function spaceRun(ops: number, keys: number, file: boolean, seed = 1): SpaceResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-space-'))
  try {
    // a small log keeps the simulated region small; the file runs use 1 MiB (a
    // log that fills every few puts of 4 KiB values would checkpoint, and flush, all the time)
    const o = { logSize: file ? 1 << 20 : 64 * 1024, maxSize: 2 ** 31 - 4096 }
    const pm = file ? open(path.join(dir, 'space.pm'), { size: 8 << 20, ...o }) : PersistentMemory.fromRegion(SimRegion.create({ size: 1 << 20, maxSize: o.maxSize }), o)
    const m = pm.hashMap('m', t.string, t.blob, { durability: 'none' })
    const sizes = new Map<string, number>()
    let k = seed, live = 0
    const rand = () => (k = (Math.imul(k, 1103515245) + 12345) >>> 0) / 2 ** 32
    for (let i = 0; i < ops; i++) {
      const key = `key-${Math.floor(rand() * keys)}`
      if (rand() < 0.5) {
        const size = 8 + Math.floor(rand() * 4089)
        m.put(key, new Uint8Array(size).fill(i & 0xff))
        live += size - (sizes.get(key) ?? 0) + (sizes.has(key) ? 0 : key.length)
        sizes.set(key, size)
      } else if (m.delete(key)) {
        live -= sizes.get(key)! + key.length
        sizes.delete(key)
      }
    }
    pm.flush()
    const r = pm.check()
    const heapBytes = r.heap!.top - pm.heap.base
    const fileBytes = file ? fs.statSync(path.join(dir, 'space.pm')).size : pm.region.size
    pm.close()
    return { ops, live, fileBytes, heapBytes, problems: r.problems }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
