// What a memcached user relies on across a restart, each checked across real SIGKILLs of the
// `pmem serve` process, several lives, with a kill during the restart's recovery between lives:
//   - a cas from `gets` before a kill never matches an item written after the restart, and every
//     cas handed out after a restart is above every one handed out before (cmd inv. 2);
//   - a delayed `flush_all` issued before a kill takes effect at its time after the restart
//     (cmd inv. 3), and stays in effect in later lives;
//   - an item set with a relative exptime expires at the same wall-clock second after a restart
//     (cmd inv. 4: the store keeps absolute times);
//   - `incr` on 2^64-1 wraps to 0, from a value stored in an earlier life;
//   - `append`/`prepend` to an item of `--item-size-max` bytes answers NOT_STORED, as memcached
//     1.6.18 does, and changes nothing (data and cas), in every life.
// No timed assertion: what is asserted about expiry depends only on the clock readings taken
// around each request (the server's second lies between them), never on how fast it answers.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { check } from '../../../src/index.js'
import { Raw, kill, killDuringRecovery, serve, type Served } from './serve-kit.js'

const MiB = 1 << 20
const MAX_U64 = '18446744073709551615'
const EXP = 6     // relative exptime of item e, seconds
const DELAY = 6   // delay of the flush_all, seconds
const sec = (): number => Math.floor(Date.now() / 1000)
const sleepUntil = async (s: number): Promise<void> => { while (sec() < s) await new Promise(r => setTimeout(r, 100)) }

/** `gets key`: the value and cas, or undefined. */
async function gets(c: Raw, key: string): Promise<{ data: string; cas: bigint } | undefined> {
  const [r] = await c.ask(`gets ${key}\r\n`)
  const m = /^VALUE \S+ \d+ (\d+) (\d+)\r\n/.exec(r as string)
  if (m === null) { assert.equal(r, 'END'); return undefined }
  return { data: (r as string).slice(m[0].length, m[0].length + Number(m[1])), cas: BigInt(m[2] as string) }
}

async function lives(durability: 'sync' | 'group'): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pm-serve-restart-${durability}-`))
  const file = path.join(dir, 'mc.pm')
  const args = ['--durability', durability, '--size', String(16 * MiB)]
  const big = 'b'.repeat(MiB - 10) + '0123456789'
  let maxCas = 0n          // highest cas seen in earlier lives
  let lifeMax = 0n
  const seen = (cas: bigint): void => { if (cas > lifeMax) lifeMax = cas }
  /** A cas handed out in this life is above every one handed out in earlier lives (cmd inv. 2). */
  const fresh = async (c: Raw, key: string, label: string): Promise<bigint> => {
    assert.deepEqual(await c.ask(`set ${key} 0 0 2\r\nhi\r\n`), ['STORED'])
    const g = await gets(c, key)
    assert.ok(g !== undefined && g.cas > maxCas, `${label}: cas ${g?.cas} of a fresh write not above ${maxCas} from earlier lives`)
    seen(g.cas)
    return g.cas
  }
  /** append and prepend to the item of the largest size are refused and change nothing. */
  const bigRefused = async (c: Raw, cas: bigint, label: string): Promise<void> => {
    assert.deepEqual(await c.ask('append big 0 0 1\r\nx\r\nprepend big 0 0 1\r\nx\r\n', 2),
      ['NOT_STORED', 'NOT_STORED'], label)
    const g = await gets(c, 'big')
    assert.ok(g !== undefined, `${label}: big is gone`)
    assert.equal(g.data.length, MiB, `${label}: big changed size`)
    assert.ok(g.data === big, `${label}: big changed`)
    assert.equal(g.cas, cas, `${label}: big's cas changed`)
  }
  const restart = async (ms: number): Promise<void> => {
    maxCas = lifeMax
    await killDuringRecovery(file, durability, ms, 16 * MiB)
    assert.equal(check(file).ok, true)
  }
  let s: Served | undefined
  try {
    // life 0: the items; the kill comes right after their acknowledgements
    s = await serve(file, args)
    let c = await Raw.connect(s.port)
    assert.deepEqual(await c.ask(`set big 0 0 ${MiB}\r\n${big}\r\n`), ['STORED'])
    const bigCas = (await gets(c, 'big'))?.cas as bigint
    seen(bigCas)
    await bigRefused(c, bigCas, 'life 0')
    assert.deepEqual(await c.ask(`set n 0 0 20\r\n${MAX_U64}\r\n`), ['STORED'])
    const k0 = await fresh(c, 'k', 'life 0')
    const e0 = sec()
    assert.deepEqual(await c.ask(`set e 0 ${EXP} 1\r\ne\r\n`), ['STORED'])
    const e1 = sec()   // e expires at a second in [e0 + EXP, e1 + EXP]
    c.end()
    await kill(s)
    await restart(30)

    // life 1: the cas of k from life 0 fails once k is written again; incr wraps; flush_all DELAY
    s = await serve(file, args)
    c = await Raw.connect(s.port)
    assert.equal((await gets(c, 'k'))?.cas, k0, 'life 1: k (not written since) keeps its cas')
    const k1 = await fresh(c, 'k', 'life 1')
    assert.deepEqual(await c.ask(`cas k 0 0 1 ${k0}\r\nx\r\n`), ['EXISTS'], 'life 1: a cas from before the kill matched')
    await bigRefused(c, bigCas, 'life 1')
    assert.deepEqual(await c.ask('incr n 1\r\n'), ['0'], 'life 1: incr on 2^64-1 did not wrap')
    assert.deepEqual(await c.ask(`incr n ${MAX_U64}\r\n`), [MAX_U64])
    if (sec() < e0 + EXP) assert.match((await c.ask('get e\r\n'))[0] as string, /^VALUE e /, 'life 1: e expired early')
    const f0 = sec()
    assert.deepEqual(await c.ask(`flush_all ${DELAY}\r\n`), ['OK'])
    const f1 = sec()   // items updated until then read as missing from a second in [f0 + DELAY - 1, f1 + DELAY - 1]
    c.end()
    await kill(s)
    await restart(80)

    // life 2: before the flush is due everything is there; after, nothing written before it is
    s = await serve(file, args)
    c = await Raw.connect(s.port)
    if (sec() < f0 + DELAY - 1) {
      try {
        assert.equal((await gets(c, 'k'))?.cas, k1, 'life 2: k flushed early')
        assert.deepEqual(await c.ask('get n\r\n'), [`VALUE n 0 20\r\n${MAX_U64}\r\nEND`])
        await bigRefused(c, bigCas, 'life 2')
      } catch (e) {
        // Under load these requests can run into the flush's second: a miss then proves
        // nothing. One that came before the flush could take effect stands.
        if (sec() < f0 + DELAY - 1) throw e
      }
    }
    await sleepUntil(e1 + EXP)
    assert.deepEqual(await c.ask('get e\r\n'), ['END'], 'life 2: e did not expire at its time')
    await sleepUntil(f1 + DELAY - 1)
    assert.deepEqual(await c.ask('get k n big e\r\n'), ['END'], 'life 2: the flush_all from life 1 did not take effect')
    assert.deepEqual(await c.ask(`cas k 0 0 1 ${k1}\r\nx\r\n`), ['NOT_FOUND'])
    await sleepUntil(f1 + DELAY)   // a write after the flush's second is not covered by it
    const k2 = await fresh(c, 'k', 'life 2')
    assert.deepEqual(await c.ask(`set n 0 0 20\r\n${MAX_U64}\r\n`), ['STORED'])
    c.end()
    await kill(s)
    await restart(0)

    // life 3: the flush stays done, what was written after it stays, the cas mark still rises
    s = await serve(file, args)
    c = await Raw.connect(s.port)
    assert.deepEqual(await c.ask('get big e\r\n'), ['END'], 'life 3: a flushed item came back')
    assert.equal((await gets(c, 'k'))?.cas, k2, 'life 3: k written after the flush is gone')
    for (const old of [k0, k1]) assert.deepEqual(await c.ask(`cas k 0 0 1 ${old}\r\nx\r\n`), ['EXISTS'])
    await fresh(c, 'k3', 'life 3')
    assert.deepEqual(await c.ask('incr n 2\r\n'), ['1'], 'life 3: incr on 2^64-1 did not wrap')
    c.end()
    await kill(s)
    assert.equal(check(file).ok, true)
  } finally {
    if (s !== undefined) await kill(s)   // a failed assertion leaves no server behind
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

test('pmem serve across SIGKILLs and restarts (killed in recovery too): cas keeps rising, delayed flush_all and relative exptime keep their wall-clock time, incr wraps, a too large append changes nothing', async () => {
  await Promise.all([lives('sync'), lives('group')])
})
