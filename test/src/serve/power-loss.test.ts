// pmem serve against power loss (serve inv. 2, store inv. 2): the server runs in this process
// on a pool over a SimRegion; at the moment it writes replies to a socket, the image that a
// power loss would leave (only flushed sectors: the all-old crash image, and a random one) is
// recovered and must hold every change acknowledged so far. With `none` the same check must
// find a loss (the check has teeth, and `none` is rightly documented as not durable per op).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PersistentMemory, SimRegion } from '../../../src/index.js'
import { PmItemStore, startServer } from '../../../src/serve/index.js'
import { Raw } from './serve-kit.js'

type Op = { line: string; key: string; value: string | null }   // value null: a delete

/** Recovers `image` and returns the acknowledged ops it lacks. */
function missing(image: SimRegion, acked: Op[]): string[] {
  const pm = PersistentMemory.fromRegion(image, {})
  try {
    const store = new PmItemStore(pm, 'none')
    const model = new Map<string, string | null>()
    for (const op of acked) model.set(op.key, op.value)
    const lost: string[] = []
    for (const [k, v] of model) {
      const got = store.get(k)
      const have = got === undefined ? null : Buffer.from(got.data).toString('latin1')
      if (have !== v) lost.push(`${k}: ${JSON.stringify(have)} instead of ${JSON.stringify(v)}`)
    }
    const r = pm.check()
    assert.equal(r.ok, true, JSON.stringify(r.problems))
    return lost
  } finally { pm.close() }
}

async function run(durability: 'sync' | 'group' | 'none'): Promise<{ checks: number; lost: string[] }> {
  const sim = SimRegion.create({ size: 4 << 20 })
  const pm = PersistentMemory.fromRegion(sim, { logSize: 512 << 10 })
  const store = new PmItemStore(pm, durability)
  const ops: Op[] = []
  let replies = 0
  let checks = 0
  const lost: string[] = []
  let seed = 1
  const server = await startServer({
    store, port: 0,
    onWrite: bytes => {
      replies += bytes.toString('latin1').split('\r\n').length - 1   // one line per reply here
      const acked = ops.slice(0, replies)
      const images = [sim.crashImages({ max: 1 }).next().value as SimRegion, sim.crash(seed++)]
      for (const img of images) lost.push(...missing(img, acked))
      checks++
    },
  })
  const c = await Raw.connect(server.port)
  try {
    // bursts of pipelined sets, overwrites, appends, incrs and deletes; each burst one write
    let n = 0
    for (let burst = 0; burst < 8; burst++) {
      const lines: string[] = []
      for (let i = 0; i < 12; i++, n++) {
        const key = `k${n % 40}`
        const prev = [...ops].reverse().find(o => o.key === key)?.value ?? null
        let op: Op
        if (n % 9 === 4 && prev !== null) op = { line: `delete ${key}\r\n`, key, value: null }
        else if (n % 7 === 3 && prev !== null) op = { line: `append ${key} 0 0 2\r\n+${n % 10}\r\n`, key, value: `${prev}+${n % 10}` }
        else op = { line: `set ${key} 0 0 ${String(n * 31).length}\r\n${n * 31}\r\n`, key, value: String(n * 31) }
        ops.push(op)
        lines.push(op.line)
      }
      c.send(lines.join(''))
      const got = await c.replies(lines.length)
      assert.ok(got.every(r => r === 'STORED' || r === 'DELETED'), JSON.stringify(got))
    }
  } finally {
    c.end()
    await server.close()
  }
  return { checks, lost }
}

for (const d of ['sync', 'group'] as const) {
  test(`pmem serve ${d}: every acknowledged change is in the power-loss image taken as its reply leaves (serve inv. 2)`, async () => {
    const r = await run(d)
    assert.ok(r.checks >= 8, `only ${r.checks} checks`)
    assert.deepEqual(r.lost, [])
  })
}

test('pmem serve none: the same check finds acknowledged changes missing after a power loss (not durable per op)', async () => {
  const r = await run('none')
  assert.ok(r.lost.length > 0, 'none lost nothing: the check cannot tell durable from not')
})
