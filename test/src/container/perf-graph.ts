/**
 * Performance measurement of containers on a graph of users (not a test; run by hand):
 *
 *   node dist/test/src/container/perf-graph.js [users=200000] [chunkSizes=65536]
 *
 * Measures, on the same graph in one run: v8.serialize and msgpackr (structuredClone: true,
 * when bench/node_modules has it) each doing serialize + write + fsync + rename and
 * read + deserialize; the container's first full point, a point after changing 1% of the
 * users through the proxies (total and blocking time), and restore. Prints ratios.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import v8 from 'node:v8'
import { createRequire } from 'node:module'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import './setup.js'
import { Container } from '../../../src/container/index.js'
import { makeUsers } from './perf-users.js'

const now = (): number => performance.now()
const restorer = path.join(path.dirname(fileURLToPath(import.meta.url)), 'perf-restore.js')

/** Median of `runs` restores, each in a fresh process (same conditions for every format). */
function restoreMs(kind: string, file: string, runs = 3): number {
  const times: number[] = []
  for (let i = 0; i < runs; i++) times.push(Number(execFileSync(process.execPath, [restorer, kind, file]).toString()))
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]
}
function saveFile(file: string, data: Uint8Array): void {
  const fd = fs.openSync(file + '.tmp', 'w')
  fs.writeSync(fd, data)
  fs.fsyncSync(fd)
  fs.closeSync(fd)
  fs.renameSync(file + '.tmp', file)
}

function msgpackr(): { pack(v: unknown): Uint8Array; unpack(b: Uint8Array): unknown } | null {
  try {
    const req = createRequire(path.resolve('bench/package.json'))
    const { Packr } = req('msgpackr') as { Packr: new (o: object) => { pack(v: unknown): Uint8Array; unpack(b: Uint8Array): unknown } }
    return new Packr({ structuredClone: true })
  } catch { return null }
}

async function measure(n: number, chunkSize: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-perf-'))
  const graph = makeUsers(n)
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
  gc()
  let t = now()
  saveFile(path.join(dir, 'v8.bin'), v8.serialize(graph))
  const v8Save = now() - t
  const v8Load = restoreMs('v8', path.join(dir, 'v8.bin'))
  let mpSave = NaN, mpLoad = NaN
  const mp = msgpackr()
  if (mp !== null) {
    gc(); t = now()
    saveFile(path.join(dir, 'mp.bin'), mp.pack(graph))
    mpSave = now() - t
    mpLoad = restoreMs('msgpackr', path.join(dir, 'mp.bin'))
  }
  gc()
  const file = path.join(dir, 'c.pmc')
  t = now()
  const c = Container.open(file, { init: () => graph, chunkSize })
  const first = await c.persist()
  const firstMs = now() - t
  const points: { total: number; blocked: number; bytes: number; stored: number }[] = []
  let s = 7
  for (let round = 0; round < 5; round++) {
    const users = c.root.users
    for (let i = 0; i < n / 100; i++) {
      s = (s * 1103515245 + 12345) & 0x7fffffff
      const u = users[s % n]
      u.score = u.score + 1
      if (i % 4 === 0) u.tags.push('x')
    }
    t = now()
    const st = await c.persist()
    points.push({ total: now() - t, blocked: st.blockedMs, bytes: st.bytes, stored: st.stored })
  }
  await c.close()
  const restore = restoreMs('container', file)
  const fastest = Math.min(v8Save, Number.isNaN(mpSave) ? Infinity : mpSave)
  const med = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const incr = med(points.map(p => p.total)), blocked = med(points.map(p => p.blocked)), bytes = med(points.map(p => p.bytes)), stored = med(points.map(p => p.stored))
  const f = (x: number): string => x.toFixed(1)
  console.log(JSON.stringify({ users: n, chunkSize, fileMB: +(fs.statSync(file).size / 2 ** 20).toFixed(1) }))
  console.log(`  v8 save ${f(v8Save)} ms, load ${f(v8Load)} ms; msgpackr save ${f(mpSave)} ms, load ${f(mpLoad)} ms`)
  console.log(`  first point ${f(firstMs)} ms (blocked ${f(first.blockedMs)}, ${(first.bytes / 2 ** 20).toFixed(1)} MiB) = ${(firstMs / v8Save).toFixed(2)}x v8 save (target <= 1.5)`)
  console.log(`  1% point ${f(incr)} ms, blocked ${f(blocked)} ms, ${(bytes / 1024).toFixed(0)} KiB of records, ${(stored / 1024).toFixed(0)} KiB stored: ${(fastest / incr).toFixed(1)}x faster than fastest full save (target >= 20), blocked ${(100 * blocked / fastest).toFixed(1)}% of it (target < 10%)`)
  console.log(`  restore ${f(restore)} ms = ${(restore / v8Load).toFixed(2)}x v8.deserialize load (target <= 1), each in a fresh process`)
  fs.rmSync(dir, { recursive: true, force: true })
}

const n = Number(process.argv[2] ?? 200000)
for (const cs of (process.argv[3] ?? '4096').split(',').map(Number)) await measure(n, cs)
