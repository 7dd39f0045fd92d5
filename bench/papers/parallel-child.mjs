// One process of softpm-parallel.mjs: builds its own linked list, then on each "go"
// from the parent takes one persistence point (container) or one whole save (v8) of
// it and answers with the milliseconds it took.
//
// argv: <system: container|v8|msgpackr> <nodes> <file>
// messages: parent -> child { prepare: 'full' | 'update' } | { go: 'full' | 'update' } | { exit: true }
//           child -> parent { ready: true } (after start-up and after each prepare) | { ms, bytes }
// Preparing an update point (a volatile array of one proxy per node, so the timed part
// does not walk the list) is not timed: the parent sends `go` once every child is ready.

import { STRUCTURES, prng } from './structures.mjs'
import { loadContainer, serializers, timeMs } from '../lib/experiment.mjs'

const [system, nodesText, file] = process.argv.slice(2)
const nodes = Number(nodesText)
const list = STRUCTURES['linked list']
const built = list.build(nodes, prng(process.pid))
let c = null
let handles = null
if (system === 'container') {
  const Container = await loadContainer()
  c = Container.open(file, { init: () => built })
}
const rand = prng(17)

/** The nodes to update: through the container's proxies, or raw. */
function nodeArray() {
  const out = []
  for (let n = (c ? c.root : built).head; n !== null; n = n.next) out.push(n)
  return out
}

process.on('message', async (m) => {
  if (m.exit) {
    await c?.close()
    process.disconnect()
    return
  }
  if (m.prepare) {
    if (m.prepare === 'update' && handles === null) handles = nodeArray()
    process.send({ ready: true })
    return
  }
  let bytes = 0
  const ms = await timeMs(async () => {
    if (m.go === 'update') for (let i = 0; i < nodes / 100; i++) handles[(rand() * nodes) | 0].value = rand()
    if (c) {
      const stats = await c.persist()
      await c.sync()
      bytes = stats.stored
    } else bytes = serializers[system](file, list.plain(built))
  })
  process.send({ ms, bytes })
})
process.send({ ready: true })
