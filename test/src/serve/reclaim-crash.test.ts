// Reclamation SIGKILLed, several lives deep (cmd inv. 5d, store inv. 1): a client pipelines
// changes to long-lived keys (a model of acknowledged values, as crash.test.ts) together with a
// stream of fresh session keys that expire in 1 s, so every batch sweeps and deletes dead items;
// the server is killed at a random moment (every other life also once during its recovery),
// restarted, and must hold every acknowledged long-lived value (or the one in flight), serve no
// session item after its expiry, pass `check`, and keep a file that stops growing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { check } from '../../../src/index.js'
import { Raw, checkModel, kill, killDuringRecovery, serve, stats, type KeyState, type Served, mulberry } from './serve-kit.js'

const LIVES = Number(process.env.PMEM_SERVE_LIVES ?? 3)
const MiB = 1 << 20
const LONG = 40
const sec = (): number => Math.floor(Date.now() / 1000)



async function lives(durability: 'sync' | 'group', seed: number): Promise<{ reclaimed: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pm-serve-reclaim-kill-${durability}-`))
  const file = path.join(dir, 'mc.pm')
  const args = ['--durability', durability, '--size', String(MiB), '--max-size', String(4 * MiB)]
  const rnd = mulberry(seed)
  const model = new Map<string, KeyState>()
  for (let i = 0; i < LONG; i++) model.set(`long${i}`, { acked: null, inflight: [] })
  let sessions: string[] = []   // session keys of the life before: all sent before its kill
  let killedAt = 0
  let reclaimed = 0
  let s: Served | undefined
  let n = 0
  try {
    for (let life = 0; life <= LIVES; life++) {
      s = await serve(file, args)
      const c = await Raw.connect(s.port)
      // every long-lived value acknowledged (or in flight); no session item past its expiry
      await checkModel(c, model, `${durability} life ${life} (seed ${seed})`)
      const keys = [...model.keys()]
      while (sec() < killedAt + 1) await new Promise(r => setTimeout(r, 50))   // every session sent before the kill is dead now
      for (let i = 0; i < sessions.length; i += 40) {
        assert.deepEqual(await c.ask(`get ${sessions.slice(i, i + 40).join(' ')}\r\n`), ['END'], `${durability} life ${life}: a session item outlived its expiry`)
      }
      if (life === LIVES) { c.end(); break }
      sessions = []
      // load until killed: each round changes a few long-lived keys and adds 20 sessions
      const stop = { now: false }
      const load = (async () => {
        for (let round = 0; !stop.now; round++) {
          const ops: Array<{ key: string; after: string | null; line: string; reply: string }> = []
          for (const k of keys) {
            if (rnd() > 0.2) continue
            const st = model.get(k) as KeyState
            if (st.acked !== null && rnd() < 0.2) ops.push({ key: k, after: null, line: `delete ${k}\r\n`, reply: 'DELETED' })
            else { const v = `${k}-${life}-${round}-`.padEnd(20 + Math.floor(rnd() * 400), 'x'); ops.push({ key: k, after: v, line: `set ${k} 0 0 ${v.length}\r\n${v}\r\n`, reply: 'STORED' }) }
          }
          let req = ops.map(o => o.line).join('')
          for (let i = 0; i < 20; i++, n++) { const k = `sess${n}`; sessions.push(k); req += `set ${k} 0 1 300\r\n${'s'.repeat(300)}\r\n` }
          for (const o of ops) (model.get(o.key) as KeyState).inflight.push(o.after)
          c.send(req)
          let replies: string[]
          try { replies = await c.replies(ops.length + 20) } catch (err) { if (!stop.now) throw err; replies = c.available() }
          replies.forEach((r, i) => {
            if (i < ops.length) {
              const o = ops[i] as (typeof ops)[number]
              assert.equal(r, o.reply, `${o.line.trim()}`)
              model.set(o.key, { acked: o.after, inflight: [] })
            } else assert.equal(r, 'STORED', 'a session set was refused')
          })
          if (replies.length < ops.length + 20) break
        }
      })()
      await new Promise(r => setTimeout(r, 1200 + rnd() * 1000))   // past the first sessions' expiry: the sweeps delete
      reclaimed += Number((await stats(await Raw.connect(s.port))).get('reclaimed'))
      await new Promise(r => setTimeout(r, rnd() * 300))
      stop.now = true
      await kill(s)
      killedAt = sec()
      await load
      c.end()
      assert.deepEqual(check(file).problems, [], `${durability} life ${life}`)
      if (life % 2 === 1) await killDuringRecovery(file, durability, rnd() * 150, MiB)
    }
    assert.deepEqual(check(file).problems, [])
    assert.ok(fs.statSync(file).size < 4 * MiB, `${durability}: the file grew to its cap (${fs.statSync(file).size} bytes)`)
  } finally {
    if (s !== undefined) await kill(s)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return { reclaimed }
}

test(`pmem serve SIGKILLed while it reclaims expired items, ${LIVES} lives, sync and group: acknowledged items kept, no expired item served`, async () => {
  const seed = Number(process.env.PMEM_SERVE_SEED ?? Date.now() % 100000)
  const results = await Promise.all([lives('sync', seed), lives('group', seed + 1)])
  for (const r of results) assert.ok(r.reclaimed > 0, `nothing was reclaimed before a kill (seed ${seed}): ${JSON.stringify(results)}`)
})
