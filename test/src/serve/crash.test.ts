// pmem serve SIGKILLed under load, several lives deep (serve inv. 2, store inv. 1-2): clients on
// several connections pipeline sets, appends, incrs and deletes over their own keys, with a Map
// as the model of acknowledged state; the server is killed at a random moment (sometimes again
// while it recovers), restarted on the same file, and must hold every acknowledged change (or
// the result of a change in flight), pass `check`, and answer incr with the model's numbers.
// With PMEM_SERVE_LIVES set (more lives: PMEM_SERVE_LIVES=20 node --test dist/test/src/serve/crash.test.js),
// `none` is in the rounds too: a process crash keeps its changes (only power loss does not).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { check } from '../../../src/index.js'
import { Raw, checkModel, kill, killDuringRecovery, serve, type KeyState, type Served, mulberry } from './serve-kit.js'

const LIVES = Number(process.env.PMEM_SERVE_LIVES ?? 3)
const WORKERS = 4
const KEYS_PER_WORKER = 12
const MAX_U64 = (1n << 64n) - 1n


/** One change: its request, the reply the model expects, and the value after it. */
function nextOp(key: string, st: KeyState, rnd: () => number, n: number): { line: string; reply: string; after: string | null } {
  const counter = key.startsWith('c')
  const r = rnd()
  if (counter) {
    if (st.acked === null || r < 0.1) { const v = String(Math.floor(rnd() * 1e6)); return { line: `set ${key} 0 0 ${v.length}\r\n${v}\r\n`, reply: 'STORED', after: v } }
    if (r < 0.15) return { line: `delete ${key}\r\n`, reply: 'DELETED', after: null }
    const d = r < 0.2 ? MAX_U64 - 3n : BigInt(Math.floor(rnd() * 1000))   // sometimes wraps
    const incr = r < 0.8
    const cur = BigInt(st.acked)
    const v = String(incr ? (cur + d) & MAX_U64 : (cur < d ? 0n : cur - d))
    return { line: `${incr ? 'incr' : 'decr'} ${key} ${d}\r\n`, reply: v, after: v }
  }
  if (st.acked !== null && r < 0.2) return { line: `delete ${key}\r\n`, reply: 'DELETED', after: null }
  if (st.acked !== null && r < 0.4) return { line: `append ${key} 0 0 1\r\n${n % 10}\r\n`, reply: 'STORED', after: st.acked + String(n % 10) }
  const v = `v${n}-`.padEnd(1 + Math.floor(rnd() * 300), 'x')
  return { line: `set ${key} 1 0 ${v.length}\r\n${v}\r\n`, reply: 'STORED', after: v }
}

/** One worker: pipelines one change per key of its own, waits for the replies, repeats until killed. */
async function worker(port: number, keys: string[], model: Map<string, KeyState>, rnd: () => number, stop: { now: boolean; acked: number }): Promise<number> {
  const c = await Raw.connect(port)
  let acked = 0
  try {
    for (let n = 0; !stop.now; n++) {
      const batch = keys.filter(() => rnd() < 0.6)
      const ops = batch.map(k => ({ key: k, ...nextOp(k, model.get(k) as KeyState, rnd, n) }))
      for (const o of ops) (model.get(o.key) as KeyState).inflight.push(o.after)
      c.send(ops.map(o => o.line).join(''))
      let replies: string[]
      try {
        replies = await c.replies(ops.length)
      } catch (err) {
        if (!stop.now) throw err
        replies = c.available()   // the server died: the replies it sent are acknowledgements all the same
      }
      replies.forEach((r, i) => {
        const o = ops[i] as (typeof ops)[number]
        assert.equal(r, o.reply, `${o.line.trim()} on ${JSON.stringify(model.get(o.key)?.acked)}`)
        model.set(o.key, { acked: o.after, inflight: [] })
        acked++
        stop.acked++
      })
      if (replies.length < ops.length) break   // the rest stays in flight
    }
  } finally { c.end() }
  return acked
}

/** Reads every key and checks it against the model; then the model takes what was read. */
async function verify(port: number, model: Map<string, KeyState>, label: string): Promise<void> {
  const c = await Raw.connect(port)
  try {
    await checkModel(c, model, label)     // seed: PMEM_SERVE_SEED
    // one change before the load, so that its window is not spent starting the group flush thread
    assert.deepEqual(await c.ask('set warm 0 0 1\r\nx\r\n'), ['STORED'])
  } finally { c.end() }
}

async function lives(durability: 'sync' | 'group' | 'none', seed: number): Promise<{ acked: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pm-serve-kill-${durability}-`))
  const file = path.join(dir, 'mc.pm')
  const rnd = mulberry(seed)
  const model = new Map<string, KeyState>()
  const workerKeys = Array.from({ length: WORKERS }, (_, w) => Array.from({ length: KEYS_PER_WORKER }, (_, i) => `${i % 3 === 0 ? 'c' : 'k'}${w}_${i}`))
  for (const k of workerKeys.flat()) model.set(k, { acked: null, inflight: [] })
  let total = 0
  try {
    for (let life = 0; life < LIVES; life++) {
      let s: Served | undefined
      try {
        s = await serve(file, ['--durability', durability, '--size', String(8 << 20)])
        await verify(s.port, model, `${durability} life ${life}`)
        const stop = { now: false, acked: 0 }
        const work = workerKeys.map((keys, w) => worker((s as Served).port, keys, model, mulberry(seed * 100 + life * 10 + w), stop))
        await new Promise(r => setTimeout(r, 100 + rnd() * 300))
        // and until this life acknowledged a change (a loaded machine can hold the server back
        // for the whole window), or 30 s (then the test fails: no change was acknowledged)
        for (const end = Date.now() + 30_000; stop.acked === 0 && Date.now() < end;) await new Promise(r => setTimeout(r, 10))
        stop.now = true
        await kill(s)
        s = undefined
        for (const n of await Promise.all(work)) total += n
      } finally { if (s !== undefined) await kill(s) }
      const r = check(file)
      assert.equal(r.ok, true, `${durability} life ${life}: ${JSON.stringify(r.problems)}`)
      if (life % 2 === 1) await killDuringRecovery(file, durability, rnd() * 150)
    }
    const s = await serve(file, ['--durability', durability, '--size', String(8 << 20)])
    try { await verify(s.port, model, `${durability} last life`) } finally { await kill(s) }
    assert.equal(check(file).ok, true)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return { acked: total }
}

const MODES = process.env.PMEM_SERVE_LIVES === undefined ? ['sync', 'group'] as const : ['sync', 'group', 'none'] as const

test(`pmem serve SIGKILLed under load, ${LIVES} lives, ${MODES.join(', ')} side by side: no acknowledged change lost`, async () => {
  const seed = Number(process.env.PMEM_SERVE_SEED ?? Date.now() % 100000)
  const results = await Promise.all(MODES.map((d, i) => lives(d, seed + i)))
  for (const r of results) assert.ok(r.acked > 0, `no change was acknowledged (seed ${seed}): ${JSON.stringify(results)}`)
})
