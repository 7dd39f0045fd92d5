// Damage outside the crash model (DESIGN.md 2.4) to the formats of txn/: the pool superblock
// (pool.ts), the log control block, old and newest log records and their sector stamps
// (redo-log.ts log inv. 5, 6; record.ts rec. 1, 4). Each damage either gives a typed error with
// the image (or file) left byte for byte as it was, or a correct recovery. The one documented
// limit (log inv. 5): a sector of the newest durable record rewritten whole, stamp included,
// reads as never written, so that transaction alone may be dropped.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { SimRegion, PmemError, mulberry32 } from '../../regions/index.js'
import { TxEngine, hash32 } from '../../txn/index.js'
import { open, check, t } from '../../src/index.js'

const SIZE = 64 * 1024
const LOG = 16 * 1024
const LOG_BASE = 4096
const DATA = LOG_BASE + LOG

interface History { image: Uint8Array; states: Uint8Array[]; records: Array<[number, number]> }

/** Six durable (sync) transactions of mixed sizes, then a power loss: the log holds them all. */
function history(): History {
  const sim = SimRegion.create({ size: SIZE })
  const eng = TxEngine.create(sim, { logSize: LOG })
  const states = [sim.volatileImage().subarray(DATA)]
  const records: Array<[number, number]> = []
  const sizes = [8, 700, 8, 1100, 8, 300]
  sizes.forEach((n, i) => {
    const from = eng.log.tail
    eng.transaction(tx => tx.writeBytes(DATA + 64 * i, new Uint8Array(n).fill(i + 1)))
    records.push([LOG_BASE + from, LOG_BASE + eng.log.tail])
    states.push(sim.volatileImage().subarray(DATA))
  })
  return { image: sim.durableImage(), states, records }
}

const H = history()
const N = H.states.length - 1

type Outcome = { error: string } | { state: number }

/** Opens a damaged image: the typed error (image unchanged) or the index of the recovered state. */
function outcome(img: Uint8Array): Outcome {
  const r = SimRegion.fromImage(img)
  try {
    const e = TxEngine.open(r)
    const got = r.volatileImage().subarray(DATA)
    const i = H.states.findIndex(s => Buffer.compare(s, got) === 0)
    e.close()
    return { state: i }
  } catch (err) {
    assert.ok(err instanceof PmemError, `untyped error ${err}`)
    assert.match(err.message, /"sim"/)
    assert.equal(Buffer.compare(r.volatileImage(), img), 0, 'a failing open changed the image')
    assert.equal(Buffer.compare(r.durableImage(), img), 0, 'a failing open changed the simulated disk')
    return { error: err.code }
  }
}

const stampAt = (p: number) => p % 512 < 8
/** Damage kinds: each changes bytes of `[from, to)` of a copy of the image. */
const damages: Record<string, (img: Uint8Array, from: number, to: number, rnd: () => number) => void> = {
  'bit flip': (img, from, to, rnd) => {
    let p: number
    do p = from + Math.floor(rnd() * (to - from)); while (stampAt(p) && from >= LOG_BASE + 4096)
    img[p]! ^= 1 << Math.floor(rnd() * 8)
  },
  'zeroed sector': (img, from, to, rnd) => {
    const p = from + Math.floor(rnd() * (to - from))
    img.fill(0, p - p % 512, p - p % 512 + 512)
  },
  'foreign bytes': (img, from, to, rnd) => {
    for (let p = from; p < to; p++) if (!(stampAt(p) && from >= LOG_BASE + 4096)) img[p] = Math.floor(rnd() * 256)
  },
  'truncated': (img, from, to, rnd) => { // the structure's tail zeroed, as a short write would leave it
    const cut = from + 1 + Math.floor(rnd() * (to - from - 1))
    for (let p = cut; p < to; p++) if (!(stampAt(p) && from >= LOG_BASE + 4096)) img[p] = 0
  },
}

const structures: Record<string, [number, number]> = {
  'pool superblock': [0, 32],
  'log control block': [LOG_BASE, LOG_BASE + 36],
  'oldest log record': H.records[0]!,
  'a middle log record': H.records[3]!,
  'newest log record': H.records[N - 1]!,
}

test('damage to every structure: a typed error with nothing changed, or a correct recovery', () => {
  assert.deepEqual(outcome(H.image.slice()), { state: N }, 'the undamaged image recovers every durable transaction')
  for (const [what, [from, to]] of Object.entries(structures)) {
    for (const [kind, damage] of Object.entries(damages)) {
      for (let seed = 1; seed <= 12; seed++) {
        const img = H.image.slice()
        damage(img, from, to, mulberry32(seed * 7919 + from))
        if (Buffer.compare(img, H.image) === 0) continue
        const o = outcome(img)
        const where = `${kind} in the ${what} (seed ${seed}): ${JSON.stringify(o)}`
        if ('error' in o) { assert.equal(o.error, 'ERR_PMEM_CORRUPT', where); continue }
        // recovery succeeded: only allowed where the damage cannot be told from a torn write (log
        // inv. 5 limit): a whole sector of the newest records zeroed, stamp included. Exactly the
        // records with bytes in that sector are dropped; older ones are vouched for (log inv. 6).
        assert.ok(what === 'newest log record' && kind === 'zeroed sector', `undetected: ${where}`)
        const sector = zeroedSector(img)
        assert.equal(o.state, H.records.filter(([, end]) => end <= sector).length, `${where}: dropped more than the records in the zeroed sector`)
      }
    }
  }
})

test('log inv. 5: a damaged stamp alone loses nothing: a correct recovery, or CorruptionError where the log ends', () => {
  for (const [from] of H.records) {
    const stamp = from - from % 512
    for (const at of [stamp, stamp + 4]) {
      const img = H.image.slice()
      img[at]! ^= 0x81
      const o = outcome(img)
      // the stamp of the log's last sector, made to claim a later record, is reported as damage
      if ('error' in o && at === stamp && stamp === H.records[N - 1]![1] - H.records[N - 1]![1] % 512) assert.equal(o.error, 'ERR_PMEM_CORRUPT')
      else assert.deepEqual(o, { state: N }, `flip at ${at}`)
    }
  }
})

/** Start of the first all-zero sector of the record area where the original image had data. */
function zeroedSector(img: Uint8Array): number {
  for (let s = LOG_BASE + 4096; s < DATA; s += 512) {
    if (img.subarray(s, s + 512).every(b => b === 0) && !H.image.subarray(s, s + 512).every(b => b === 0)) return s
  }
  return -1
}

test('decoders never throw untyped errors or hang: random bytes over the log and the superblock', () => {
  fc.assert(fc.property(fc.nat({ max: DATA - 1 }), fc.uint8Array({ minLength: 1, maxLength: 1200 }), (at, bytes) => {
    const img = H.image.slice()
    img.set(bytes.subarray(0, DATA - at), at)
    const o = outcome(img)
    if ('state' in o) assert.ok(o.state >= 0, 'recovered a state that never existed')
  }), { numRuns: 150 })
  // a record area of pure noise under a valid control block
  fc.assert(fc.property(fc.nat(), seed => {
    const img = H.image.slice()
    const rnd = mulberry32(seed)
    for (let p = LOG_BASE + 4096; p < DATA; p++) img[p] = Math.floor(rnd() * 256)
    const o = outcome(img)
    if ('state' in o) assert.equal(o.state, 0)
  }), { numRuns: 20 })
})

test('log format versions: older (format 1) and newer are UnsupportedVersionError, not misread', () => {
  for (const version of [1, 3, 0xffff]) {
    const img = H.image.slice()
    const w = new Uint32Array(img.buffer, LOG_BASE, 9)
    w[6] = version
    // a correct checksum, as a real file of that version would have
    w[8] = hash32(w, 0, 8, 0x5245444f)
    assert.deepEqual(outcome(img), { error: 'ERR_PMEM_VERSION' }, `version ${version}`)
  }
})

test('damage on a real file: open() throws a typed error and leaves every byte as it was; check() reports it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-damage-'))
  try {
    const live = path.join(dir, 'live.pm')
    const pm = open(live, { size: 256 * 1024, logSize: 32 * 1024 })
    const v = pm.persistent('v', t.f64)
    for (let i = 1; i <= 4; i++) pm.transaction(tx => tx.writeF64(v.offset, i))
    const crashed = fs.readFileSync(live) // what a SIGKILL now leaves: records in the log
    pm.close()
    const recs: number[] = []
    for (let p = 4096 + LOG_BASE + 4096; p < 4096 + LOG_BASE + 32 * 1024; p += 8) if (crashed.readUInt32LE(p) === 0x4f444552) recs.push(p)
    const cases: Array<[string, (b: Buffer) => Buffer]> = [
      ['superblock bit flip', b => { b[4096 + 9]! ^= 2; return b }],
      ['superblock zeroed', b => { b.fill(0, 4096, 4096 + 32); return b }],
      ['log control block bit flip', b => { b[4096 + LOG_BASE + 30]! ^= 8; return b }],
      ['oldest record bit flip', b => { b[recs[0]! + 40]! ^= 1; return b }],
      ['newest record bit flip', b => { b[recs[recs.length - 1]! + 44]! ^= 1; return b }],
      ['file truncated', b => b.subarray(0, b.length - 8192)],
    ]
    for (const [what, damage] of cases) {
      const f = path.join(dir, `${what.replaceAll(' ', '-')}.pm`)
      const bytes = damage(Buffer.from(crashed))
      fs.writeFileSync(f, bytes)
      assert.throws(() => open(f), (e: unknown) => e instanceof PmemError && e.code === 'ERR_PMEM_CORRUPT' && e.message.includes(f), what)
      assert.equal(Buffer.compare(fs.readFileSync(f), bytes), 0, `${what}: the file changed`)
      const r = check(f)
      assert.equal(r.ok, false, what)
      assert.match(r.problems.join('\n'), /ERR_PMEM_CORRUPT/, what)
      assert.equal(Buffer.compare(fs.readFileSync(f), bytes), 0, `${what}: check() changed the file`)
    }
  } finally { fs.rmSync(dir, { recursive: true, force: true }) }
})
