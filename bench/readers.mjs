// Concurrent readers (issue 12's performance section): read-only pools in other processes
// beside one writer, and lmdb-js beside them on the same data.
//
//   point reads    a random element of a 1M-element f64 array (pm: r.read(tx => tx.readF64(..)),
//                  and through a view: tx.view(arr).get(i)), and a 4-field struct read as a plain
//                  object (pm: tx.view(acct) fields; lmdb: get of a msgpack record), by one and by
//                  two reader processes at once (ops/s per process). The pm writer process keeps
//                  the pool open (readers follow it: live mode); lmdb's readers open its env
//                  read-only. Target: pm >= 5x lmdb-js per process.
//   writer rates   the writer's sync commits (each durable on return) and group commits (64 in
//                  flight) of one small transaction (a random array element and the struct), with
//                  0, 1 and 2 reader processes doing point reads flat out. Target: >= 0.8x alone.
//   freshness      a writer commits (sync, then none) one value every ~2 ms; a reader process
//                  polls it with read(fn) flat out: time from the commit returning (writer's clock)
//                  to the reader seeing it (reader's clock; both are performance.timeOrigin +
//                  performance.now(), the same wall clock). Median and p99. A negative time means
//                  the reader saw the commit before transaction() returned (it is published
//                  before the writer's last steps).
//
// Every round measures every scenario once, in an order that rotates per round; the table
// reports the median over rounds and the median of the per-round ratios. The load average
// (os.loadavg) is printed before and after. Processes are child_process.fork of this file.
//
// Usage: node readers.mjs [--rounds 5] [--duration 1000] [--quick]
//   --quick  3 rounds of 400 ms, 200 freshness samples (validates the harness)

import os from 'node:os'
import path from 'node:path'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { open as openLmdb } from 'lmdb'
import { loadLibrary } from './lib/library.mjs'
import { makeScratchDir } from './lib/tmpdir.mjs'

const SELF = fileURLToPath(import.meta.url)
const PUBLISH_JS = new URL('../dist/txn/publish.js', import.meta.url).href
const N = 1_000_000
const now = () => performance.timeOrigin + performance.now()
const rnd = (n) => (Math.random() * n) | 0
const sleepCell = new Int32Array(new SharedArrayBuffer(4))
const sleep = (ms) => Atomics.wait(sleepCell, 0, 0, ms)

const { lib, missing } = await loadLibrary(['open', 't.array', 't.struct'])
if (missing) { console.error(missing); process.exit(1) }
const { open, t } = lib
const Acct = t.struct({ id: t.u32, flags: t.u32, balance: t.f64, limit: t.f64 })

function declare(pm) {
  return { arr: pm.persistent('arr', t.array(t.f64, N)), acct: pm.persistent('acct', Acct), fresh: pm.persistent('fresh', t.f64) }
}

// ---- children ------------------------------------------------------------------------

/** A reader child: waits for { go, ms, what }, runs it, sends the result; 'exit' ends it. */
async function readerChild(kind, file) {
  let read
  if (kind === 'pm') {
    const r = open(file, { readOnly: true })
    const v = declare(r)
    const arr = v.arr.offset, acct = v.acct
    read = {
      f64: () => r.read(tx => tx.readF64(arr + 8 * rnd(N))),
      view: () => r.read(tx => tx.view(v.arr).get(rnd(N))),
      struct: () => r.read(tx => { const a = tx.view(acct); return { id: a.id, flags: a.flags, balance: a.balance, limit: a.limit } }),
      fresh: () => r.read(tx => tx.readF64(v.fresh.offset)),
      close: () => r.close(),
    }
  } else if (kind === 'spin') {
    // The control: a process as busy as a reader that never touches the pool (CPU sharing alone).
    let x = 1
    read = { f64: () => { for (let i = 0; i < 20; i++) x = (x * 1103515245 + 12345) % 2147483648; return x }, close: () => {} }
  } else {
    const db = openLmdb({ path: file, readOnly: true, compression: false, cache: false })
    read = {
      f64: () => db.get(rnd(N)),
      view: () => db.get(rnd(N)),
      struct: () => db.get('acct'),
      close: () => db.close(),
    }
  }
  process.on('message', (m) => {
    if (m.exit) { read.close(); process.exit(0) }
    if (m.what === 'fresh') { freshLoop(read.fresh, m.ms); return }
    const fn = read[m.what]
    const until = (end) => { let n = 0, sink = 0; while (now() < end) { for (let i = 0; i < 256; i++) { const x = fn(); sink += typeof x === 'number' ? x : 1 } n += 256 } return { n, sink } }
    until(now() + Math.min(200, m.ms / 2)) // warm-up (JIT, page faults)
    const start = now()
    const { n, sink } = until(start + m.ms)
    process.send({ ops: n / ((now() - start) / 1000), sink })
  })
  process.send({ ready: true })
}

/** Freshness: polls the value flat out for `ms`, recording when each new value was first seen. */
function freshLoop(readFresh, ms) {
  const seen = []
  let last = readFresh()
  const end = now() + ms
  while (now() < end) {
    const v = readFresh()
    if (v !== last) { const at = now(); for (let x = last + 1; x <= v; x++) seen.push([x, at]); last = v }
  }
  process.send({ seen })
}


// ---- coordinator ---------------------------------------------------------------------

function spawnReader(kind, file) {
  const c = fork(SELF, ['--child', kind, file], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const queue = []
  const waiters = []
  let exited = null
  c.on('message', (m) => { const w = waiters.shift(); if (w) w.resolve(m); else queue.push(m) })
  c.on('exit', (code) => { exited = new Error(`reader child ${kind} exited (${code})`); for (const w of waiters.splice(0)) w.reject(exited) })
  const next = () => new Promise((resolve, reject) => {
    if (queue.length > 0) return resolve(queue.shift())
    if (exited !== null) return reject(exited)
    waiters.push({ resolve, reject })
  })
  return { c, next, ready: next() }
}

async function readers(kind, file, k) {
  const rs = Array.from({ length: k }, () => spawnReader(kind, file))
  await Promise.all(rs.map(r => r.ready))
  return {
    run: async (what, ms) => { for (const r of rs) r.c.send({ what, ms }); return Promise.all(rs.map(r => r.next())) },
    start: (what, ms) => { for (const r of rs) r.c.send({ what, ms }); return Promise.all(rs.map(r => r.next())) },
    close: async () => { await Promise.all(rs.map(r => new Promise(resolve => { if (r.c.exitCode !== null) return resolve(); r.c.once('exit', resolve); r.c.send({ exit: true }) }))) },
  }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] }
const fmt = (x) => x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(0)
function rotate(xs, r) { return xs.map((_, i) => xs[(i + r) % xs.length]) }

/** The writer's transaction: a random array element and the struct's balance. */
function writeOne(tx, v, i) {
  tx.writeF64(v.arr.offset + 8 * rnd(N), i)
  tx.writeF64(v.acct.offset + 8, i)
}

async function commitRate(pm, v, durability, ms) {
  let i = 0
  const start = now(), end = start + ms
  if (durability === 'sync') {
    while (now() < end) pm.transaction(tx => writeOne(tx, v, ++i), { durability: 'sync' })
  } else {
    const inflight = []
    while (now() < end) {
      for (let k = 0; k < 64; k++) inflight.push(pm.transaction(tx => writeOne(tx, v, ++i), { durability: 'group' }))
      await Promise.all(inflight.splice(0))
    }
  }
  return i / ((now() - start) / 1000)
}

async function main() {
  const { values: flags } = parseArgs({ options: { rounds: { type: 'string' }, duration: { type: 'string' }, quick: { type: 'boolean' } }, strict: false })
  const quick = flags.quick === true
  const rounds = Number(flags.rounds ?? (quick ? 3 : 5))
  const ms = Number(flags.duration ?? (quick ? 400 : 1000))
  const freshSamples = quick ? 200 : 1000
  const load0 = os.loadavg()
  console.log(`readers.mjs: ${rounds} rounds of ${ms} ms, ${os.cpus().length} cores, load average ${load0.map(x => x.toFixed(2)).join(' ')}`)

  const dir = makeScratchDir('readers')
  const pmFile = path.join(dir, 'bench.pm'), lmdbFile = path.join(dir, 'lmdb.mdb')

  // The same data in both: 1M f64 (element i = i + 0.5) and one 4-field struct.
  const pm = open(pmFile, { size: 32 << 20, maxSize: 1 << 30 })
  const v = declare(pm)
  const CH = 1 << 16
  for (let i = 0; i < N; i += CH) {
    const part = Float64Array.from({ length: Math.min(CH, N - i) }, (_, k) => i + k + 0.5)
    pm.transaction(tx => tx.writeBytes(v.arr.offset + 8 * i, new Uint8Array(part.buffer)), { durability: 'none' })
  }
  pm.transaction(tx => { const s = tx.view(v.acct); s.id = 7; s.flags = 3; s.balance = 100.25; s.limit = 1000 })
  const db = openLmdb({ path: lmdbFile, compression: false, cache: false })
  for (let i = 0; i < N; i += 50_000) await db.transaction(() => { for (let k = i; k < Math.min(N, i + 50_000); k++) db.put(k, k + 0.5) })
  await db.put('acct', { id: 7, flags: 3, balance: 100.25, limit: 1000 })
  await db.close()

  // ---- point reads -------------------------------------------------------------------
  const rows = new Map()
  const add = (name, x) => { if (!rows.has(name)) rows.set(name, []); rows.get(name).push(x) }
  const pools = { pm1: await readers('pm', pmFile, 1), pm2: await readers('pm', pmFile, 2), lm1: await readers('lmdb', lmdbFile, 1), lm2: await readers('lmdb', lmdbFile, 2) }
  const scen = []
  for (const what of ['f64', 'view', 'struct']) for (const k of [1, 2]) for (const kind of ['pm', 'lmdb']) scen.push({ what, k, kind })
  for (let r = 0; r < rounds; r++) {
    const got = {}
    for (const s of rotate(scen, r)) {
      const res = await pools[`${s.kind === 'pm' ? 'pm' : 'lm'}${s.k}`].run(s.what, ms)
      got[`${s.what} ${s.k} ${s.kind}`] = res.reduce((a, x) => a + x.ops, 0) / s.k // per process
    }
    for (const what of ['f64', 'view', 'struct']) for (const k of [1, 2]) {
      add(`${what} x${k} pm`, got[`${what} ${k} pm`])
      add(`${what} x${k} lmdb`, got[`${what} ${k} lmdb`])
      add(`${what} x${k} ratio`, got[`${what} ${k} pm`] / got[`${what} ${k} lmdb`])
    }
  }
  for (const p of Object.values(pools)) await p.close()
  console.log('\nPoint reads per reader process (median of rounds; ratio: median of per-round pm/lmdb)')
  console.log('| read | procs | pm ops/s | lmdb get ops/s | pm / lmdb | target >= 5x |')
  console.log('| --- | ---: | ---: | ---: | ---: | --- |')
  const label = { f64: 'f64 element, tx.readF64', view: 'f64 element, view.get (lmdb: get)', struct: '4-field struct as an object' }
  for (const what of ['f64', 'view', 'struct']) for (const k of [1, 2]) {
    const ratio = median(rows.get(`${what} x${k} ratio`))
    console.log(`| ${label[what]} | ${k} | ${fmt(median(rows.get(`${what} x${k} pm`)))} | ${fmt(median(rows.get(`${what} x${k} lmdb`)))} | ${ratio.toFixed(2)}x | ${ratio >= 5 ? 'holds' : 'missed'} |`)
  }

  // ---- the writer's commit rates beside busy readers ---------------------------------
  const rates = new Map()
  const addRate = (name, x) => { if (!rates.has(name)) rates.set(name, []); rates.get(name).push(x) }
  const busy = { 0: null, 1: await readers('pm', pmFile, 1), 2: await readers('pm', pmFile, 2), s1: await readers('spin', '', 1), s2: await readers('spin', '', 2) }
  const wscen = [], kinds = [0, 1, 2, 's1', 's2']
  for (const d of ['sync', 'group']) for (const k of kinds) wscen.push({ d, k })
  for (let r = 0; r < rounds; r++) {
    const got = {}
    for (const s of rotate(wscen, r)) {
      const rs = busy[s.k]
      const reading = rs === null ? null : rs.start('f64', ms + 400) // readers busy before and after the writer's window
      if (rs !== null) sleep(200)
      got[`${s.d} ${s.k}`] = await commitRate(pm, v, s.d, ms)
      if (reading !== null) await reading
    }
    for (const d of ['sync', 'group']) for (const k of kinds) {
      addRate(`${d} ${k}`, got[`${d} ${k}`])
      addRate(`${d} ${k} ratio`, got[`${d} ${k}`] / got[`${d} 0`])
      if (k === 1 || k === 2) addRate(`${d} ${k} vs spin`, got[`${d} ${k}`] / got[`${d} s${k}`])
    }
  }
  for (const k of [1, 2, 's1', 's2']) await busy[k].close()

  // How long readers can be made to wait: the writer's odd windows (publish.ts inv. 2), timed
  // through the test hook publishHooks.inWindow, for each durability and a checkpoint.
  let windows = null
  try { windows = (await import(PUBLISH_JS)).publishHooks } catch { /* another build: no hook */ }
  const windowRows = []
  if (windows) {
    for (const d of ['sync', 'group', 'none']) {
      const lens = []
      let opened = 0
      windows.inWindow = (phase) => { if (phase === 'begin') opened = performance.now(); else lens.push((performance.now() - opened) * 1000) }
      if (d === 'none') for (let i = 0; i < 20_000; i++) pm.transaction(tx => writeOne(tx, v, i), { durability: 'none' })
      else await commitRate(pm, v, d, ms)
      if (d === 'none') pm.flush()
      windows.inWindow = null
      windowRows.push({ d, n: lens.length, med: median(lens), p99: pct(lens, 0.99), max: Math.max(...lens) })
    }
  }
  console.log('\nWriter commits/s beside busy reader processes (median of rounds; ratio: median of per-round rate / rate alone)')
  console.log('(control: the same number of processes spinning without touching the pool, to tell CPU sharing from the protocol)')
  console.log('| durability | beside | commits/s | vs alone | vs as many spinners | target >= 0.8x alone |')
  console.log('| --- | --- | ---: | ---: | ---: | --- |')
  for (const d of ['sync', 'group']) for (const k of kinds) {
    const ratio = median(rates.get(`${d} ${k} ratio`))
    const what = k === 0 ? 'nothing' : typeof k === 'number' ? `${k} busy reader${k > 1 ? 's' : ''}` : `${k.slice(1)} spinner${k === 's2' ? 's' : ''}`
    const vsSpin = typeof k === 'number' && k > 0 ? `${median(rates.get(`${d} ${k} vs spin`)).toFixed(2)}x` : ''
    console.log(`| ${d} | ${what} | ${fmt(median(rates.get(`${d} ${k}`)))} | ${ratio.toFixed(2)}x | ${vsSpin} | ${typeof k === 'number' && k > 0 ? (ratio >= 0.8 ? 'holds' : 'missed') : ''} |`)
  }

  if (windowRows.length > 0) {
    console.log('\nThe writer\'s odd windows (readers that need the data area wait, or rerun, while one is open)')
    console.log('| commits | windows | median | p99 | max |')
    console.log('| --- | ---: | ---: | ---: | ---: |')
    const us = (x) => `${x.toFixed(0)} us`
    for (const w of windowRows) console.log(`| ${w.d === 'none' ? 'none (20,000, then flush)' : w.d} | ${w.n} | ${us(w.med)} | ${us(w.p99)} | ${us(w.max)} |`)
  }

  // ---- freshness ---------------------------------------------------------------------
  console.log('\nFreshness: commit returned (writer) -> first seen by a reader process polling read(fn)')
  console.log('| durability | samples | median | p99 | max |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  for (const d of ['sync', 'none']) {
    const rs = await readers('pm', pmFile, 1)
    let value = pm.read(tx => tx.readF64(v.fresh.offset))
    const returned = new Map()
    const spacing = 2
    const polling = rs.start('fresh', freshSamples * (spacing + (d === 'sync' ? 3 : 0.2)) + 1500)
    sleep(300)
    for (let i = 0; i < freshSamples; i++) {
      const x = ++value
      pm.transaction(tx => tx.writeF64(v.fresh.offset, x), { durability: d })
      returned.set(x, now())
      sleep(spacing)
      if (i % 50 === 0) await new Promise(resolve => setImmediate(resolve)) // the engine's timers and flush thread
    }
    const [{ seen }] = await polling
    await rs.close()
    const lat = seen.filter(([x]) => returned.has(x)).map(([x, at]) => at - returned.get(x))
    const us = (x) => `${(x * 1000).toFixed(0)} us`
    console.log(`| ${d} | ${lat.length} | ${us(median(lat))} | ${us(pct(lat, 0.99))} | ${us(Math.max(...lat))} |`)
  }
  pm.close()
  const load1 = os.loadavg()
  console.log(`\nload average after: ${load1.map(x => x.toFixed(2)).join(' ')}`)
}

if (process.argv[2] === '--child') await readerChild(process.argv[3], process.argv[4])
else await main()
