/**
 * atomicWrite64 and readWord64 access the word with single 8-byte operations (txn/word.ts
 * inv. A1): a worker thread with its own shared mapping of the file reads the word in a
 * tight loop while this thread alternates values whose 32-bit halves (and bytes) differ;
 * no read may ever see a mix of two values. (The DataView stores used before were
 * executed byte by byte: this test saw tens of thousands of torn words per million writes.)
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { Region } from '../../regions/index.js'
import { atomicWrite64, readWord64 } from '../../txn/index.js'

const VALUES = [0n, 0xffff_ffff_ffff_ffffn, 0x0000_0000_ffff_ffffn, 0xffff_ffff_0000_0000n, 0x0123_4567_89ab_cdefn]
const OFFSET = 4096 + 64
const BATCH = 100_000
const MIN_WRITES = 1_000_000
const MIN_READS = 500_000
const MAX_WRITES = 20_000_000

test('inv. A1: a concurrent reader never sees a torn word (Atomics.store / Atomics.load)', async () => {
  assert.equal(Atomics.isLockFree(8), true, '8-byte Atomics are lock-free here (one instruction), so atomic across processes too')
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'pmem-word-atomic-'))
  try {
    const path = join(dir, 'w.pm')
    const region = Region.open(path, { size: 4 * 4096 })
    atomicWrite64(region, OFFSET, VALUES[0]!)
    const control = new SharedArrayBuffer(12)
    const ctl = new Int32Array(control)
    const worker = new Worker(new URL('./fixtures/word-reader.js', import.meta.url), { workerData: { path, offset: OFFSET, values: VALUES, control } })
    const result = new Promise<{ torn: number; reads: number; distinct: number; samples: string[] }>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    while (Atomics.load(ctl, 1) === 0) await new Promise(r => setTimeout(r, 5))
    // Write until the reader has had a fair chance, counted in operations, not time.
    let writes = 0
    while (writes < MAX_WRITES && (writes < MIN_WRITES || Atomics.load(ctl, 2) * 1024 < MIN_READS)) {
      for (let i = 0; i < BATCH; i++, writes++) atomicWrite64(region, OFFSET, VALUES[writes % VALUES.length]!, { flush: false })
    }
    Atomics.store(ctl, 0, 1)
    const r = await result
    await worker.terminate()
    assert.equal(r.torn, 0, `${r.torn} torn words in ${r.reads} reads during ${writes} writes, e.g. ${r.samples.join(', ')}`)
    assert.ok(r.reads >= MIN_READS, `the reader ran concurrently (${r.reads} reads)`)
    assert.ok(r.distinct >= 2, `the reader saw the word change (${r.distinct} distinct values)`)
    assert.equal(readWord64(region, OFFSET), VALUES[(writes - 1) % VALUES.length])
    region.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('inv. A2: the word is little-endian in the file', () => {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'pmem-word-atomic-'))
  try {
    const path = join(dir, 'w.pm')
    const region = Region.open(path, { size: 4096 })
    atomicWrite64(region, 8, 0x0102_0304_0506_0708n)
    assert.deepEqual([...region.bytes.subarray(8, 16)], [8, 7, 6, 5, 4, 3, 2, 1])
    region.bytes.set([0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01], 16)
    assert.equal(readWord64(region, 16), 0x0123_4567_89ab_cdefn)
    region.close()
    const bytes = fs.readFileSync(path)
    assert.deepEqual([...bytes.subarray(4096 + 8, 4096 + 16)], [8, 7, 6, 5, 4, 3, 2, 1], 'durable, little-endian on disk')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
