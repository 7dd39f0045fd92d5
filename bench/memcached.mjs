// The memcached experiment (SoftPM's memcachedb): memaslap (Debian's libmemcached-tools, where
// it is called memcaslap) drives, over loopback only and for a bounded time, in turn:
//   memcached          stock memcached: volatile, the ceiling
//   pmem serve sync    replies after each batch's commit is durable (durable per operation)
//   pmem serve group   replies after the group flush covering them (durable per operation)
//   pmem serve none    replies once committed to the mapping (survives a process crash, not power loss)
//   lmdb-js            pmem serve's server code over lmdb-js, transactionSync (durable per operation)
//   better-sqlite3     pmem serve's server code over better-sqlite3, WAL + synchronous=FULL (durable per operation)
// Each workload and row runs once per round, rows interleaved; the median ops/s is reported with
// ratios to stock memcached and to `pmem serve sync`.
//
// Usage (after npm run build at the root; apt-get install -y memcached libmemcached-tools):
//   node bench/memcached.mjs [--seconds 10] [--rounds 3] [--concurrency 16] [--only TEXT] [--binary]
// --binary: memaslap speaks the binary protocol (-B) instead of text.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({ options: {
  seconds: { type: 'string' }, rounds: { type: 'string' }, concurrency: { type: 'string' }, only: { type: 'string', multiple: true },
  binary: { type: 'boolean' },
} })
const SECONDS = Number(args.seconds ?? 10)
const ROUNDS = Number(args.rounds ?? 3)
const CONC = Number(args.concurrency ?? 16)
const here = path.dirname(new URL(import.meta.url).pathname)
const CLI = path.join(here, '..', 'dist', 'src', 'cli', 'pmem.js')

const which = name => spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim()
const SLAP = which('memcaslap') || which('memaslap')
const MEMCACHED = which('memcached')
if (!SLAP || !MEMCACHED) {
  console.error('needs memcached and memaslap: apt-get update && apt-get install -y memcached libmemcached-tools')
  process.exit(2)
}
if (!fs.existsSync(CLI)) { console.error(`build first (npm run build at the root): ${CLI} is missing`); process.exit(2) }

const WORKLOADS = [
  { name: 'get 90% / set 10%', set: 0.1 },
  { name: 'set 50% / get 50%', set: 0.5 },
]
const ROWS = [
  { name: 'memcached', durable: 'no (volatile)', start: startMemcached },
  { name: 'pmem serve sync', durable: 'yes', start: dir => startNode([CLI, 'serve', path.join(dir, 'mc.pm'), '--port', '0', '--durability', 'sync', '--size', String(64 << 20)]) },
  { name: 'pmem serve group', durable: 'yes', start: dir => startNode([CLI, 'serve', path.join(dir, 'mc.pm'), '--port', '0', '--durability', 'group', '--size', String(64 << 20)]) },
  { name: 'pmem serve none', durable: 'no (process crash only)', start: dir => startNode([CLI, 'serve', path.join(dir, 'mc.pm'), '--port', '0', '--durability', 'none', '--size', String(64 << 20)]) },
  { name: 'lmdb-js', durable: 'yes', start: dir => startNode([path.join(here, 'lib', 'serve-store.mjs'), 'lmdb', dir]) },
  { name: 'better-sqlite3', durable: 'yes', start: dir => startNode([path.join(here, 'lib', 'serve-store.mjs'), 'sqlite', dir]) },
].filter(r => !args.only || args.only.some(o => r.name.includes(o)))

/** A free loopback port (for stock memcached, which has no "pick one" option that prints it). */
function freePort() {
  return new Promise(resolve => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) }) })
}

async function startMemcached() {
  const port = await freePort()
  const child = spawn(MEMCACHED, ['-p', String(port), '-U', '0', '-l', '127.0.0.1', '-m', '1024', '-t', '2', '-u', 'nobody'], { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {   // wait until it accepts
    const ok = await new Promise(resolve => { const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true) }); s.on('error', () => resolve(false)) })
    if (ok) return { port, child }
    await new Promise(r => setTimeout(r, 50))
  }
  child.kill('SIGKILL')
  throw new Error('memcached did not start')
}

function startNode(argv) {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', d => { out += d; const m = /listening on [^:]+:(\d+)/.exec(out); if (m) resolve({ port: Number(m[1]), child }) })
    child.once('exit', code => reject(new Error(`${argv.join(' ')} exited with ${code}`)))
  })
}

async function stopServer({ child }) {
  const exited = new Promise(r => child.once('exit', r))
  child.kill('SIGTERM')
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(t)
}

/** One bounded memaslap run; returns ops/s from its closing "Run time: ... TPS: N" line. */
function slap(port, workload, dir) {
  const cfg = path.join(dir, 'slap.cfg')
  fs.writeFileSync(cfg, `key\n32 32 1\nvalue\n128 128 1\ncmd\n0 ${workload.set}\n1 ${1 - workload.set}\n`)
  return new Promise((resolve, reject) => {
    const child = spawn(SLAP, ['-s', `127.0.0.1:${port}`, '-F', cfg, '-t', `${SECONDS}s`, '-T', '1', '-c', String(CONC), '-w', '2k', ...(args.binary ? ['-B'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { out += d })
    const guard = setTimeout(() => child.kill('SIGKILL'), (SECONDS + 30) * 1000)
    child.once('exit', () => {
      clearTimeout(guard)
      const m = [...out.matchAll(/Run time: [\d.]+s Ops: (\d+) TPS: (\d+)/g)].pop()
      if (m) resolve(Number(m[2])); else reject(new Error(`memaslap printed no result:\n${out.slice(-2000)}`))
    })
  })
}

const load = () => os.loadavg().map(x => x.toFixed(1)).join(' ')
const median = a => [...a].sort((x, y) => x - y)[a.length >> 1]
console.log(`memaslap ${SLAP}: ${SECONDS} s per run, ${CONC} connections (-T 1 -c ${CONC} -w 2k${args.binary ? ' -B' : ''}), 32-byte keys, 128-byte values, ${ROUNDS} rounds`)
console.log(`load average before: ${load()}`)
const results = new Map()   // workload -> row -> [ops/s]
for (let round = 0; round < ROUNDS; round++) {
  for (const w of WORKLOADS) {
    for (const row of ROWS) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmem-mc-bench-'))
      try {
        const server = await row.start(dir)
        try {
          const ops = await slap(server.port, w, dir)
          const byRow = results.get(w.name) ?? new Map()
          byRow.set(row.name, [...(byRow.get(row.name) ?? []), ops])
          results.set(w.name, byRow)
          console.log(`  round ${round + 1}  ${w.name.padEnd(18)}  ${row.name.padEnd(17)}  ${String(ops).padStart(7)} ops/s   (load ${load()})`)
        } finally { await stopServer(server) }
      } finally { fs.rmSync(dir, { recursive: true, force: true }) }
    }
  }
}
console.log(`load average after: ${load()}\n`)
for (const w of WORKLOADS) {
  const byRow = results.get(w.name)
  const mc = median(byRow.get('memcached') ?? [NaN])
  const sync = median(byRow.get('pmem serve sync') ?? [NaN])
  console.log(`${w.name}\n| row | durable per op | ops/s (median) | vs memcached | vs pmem sync |\n| --- | --- | ---: | ---: | ---: |`)
  for (const row of ROWS) {
    const v = median(byRow.get(row.name) ?? [NaN])
    console.log(`| ${row.name} | ${row.durable} | ${v.toLocaleString('en-US')} | ${(v / mc).toFixed(2)}x | ${(v / sync).toFixed(2)}x |`)
  }
  console.log('')
}
