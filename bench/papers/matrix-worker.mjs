// One worker thread of softpm-matrix.mjs: computes its share of the blocks of
// C = A x B and checkpoints after each block, in one of four modes:
//   none       no checkpoint (the blocks stay in memory)
//   serialize  v8.serialize of the worker's state ({ done, blocks }) + durable save
//   sync       a container holds the state; after each block: persist(), await sync()
//   async      the same, but the point is not awaited: the next block is computed
//              while the point is written; the worker awaits sync() once at the end
// workerData: { mode, n, b, blocks: [block index], file, seed }
// Setup (inputs, library import, container open and its first point of the empty
// state) happens before it posts { ready }; the timed part starts at the parent's
// 'go' and ends when it posts { ms, checksum, points }: its blocks computed and durable.

import { parentPort, workerData } from 'node:worker_threads'
import { prng } from './structures.mjs'
import { loadContainer, serializers, timeMs } from '../lib/experiment.mjs'

const { mode, n, b, blocks, file, seed } = workerData
const nb = n / b

/** A and B, the same in every worker (the inputs are recomputed, not checkpointed). */
function matrix(s) {
  const rand = prng(s)
  const m = new Float64Array(n * n)
  for (let i = 0; i < m.length; i++) m[i] = rand() - 0.5
  return m
}
const A = matrix(seed)
const B = matrix(seed + 1)

/** Block (bi, bj) of C as a b x b Float64Array (i-k-j loop order). */
function computeBlock(index) {
  const bi = Math.floor(index / nb)
  const bj = index % nb
  const out = new Float64Array(b * b)
  for (let i = 0; i < b; i++) {
    const row = (bi * b + i) * n
    for (let k = 0; k < n; k++) {
      const a = A[row + k]
      const brow = k * n + bj * b
      const o = i * b
      for (let j = 0; j < b; j++) out[o + j] += a * B[brow + j]
    }
  }
  return out
}

const Container = mode === 'sync' || mode === 'async' ? await loadContainer() : null
const state = { done: [], blocks: [] }
const c = Container ? Container.open(file, { init: () => state }) : null
if (c) {
  await c.persist()
  await c.sync()
}
parentPort.postMessage({ ready: true })
await new Promise((resolve) => {
  // on(), not once(): a 'message' listener added with on() keeps the worker alive
  const go = () => {
    parentPort.off('message', go)
    resolve()
  }
  parentPort.on('message', go)
})
let checksum = 0
let points = 0
const ms = await timeMs(async () => {
  const root = c ? c.root : state
  let failed = null
  for (const index of blocks) {
    const block = computeBlock(index)
    for (let i = 0; i < block.length; i++) checksum += block[i]
    root.blocks.push(block)
    root.done.push(index)
    if (mode === 'serialize') serializers.v8(file, state)
    else if (mode === 'sync') {
      await c.persist()
      await c.sync()
    } else if (mode === 'async') c.persist().catch((err) => (failed = err))
    if (mode !== 'none') points++
  }
  if (c) {
    await c.sync()
    if (failed) throw failed
  }
})
parentPort.postMessage({ ms, checksum, points })
await c?.close()
