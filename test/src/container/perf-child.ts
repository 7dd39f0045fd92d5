/**
 * One measurement of perf-graph.ts in a fresh process (not a test). Prints one JSON line.
 *
 *   node perf-child.js save-v8|save-msgpackr|load-v8|load-msgpackr|container|load-container USERS FILE [CHUNK]
 */
import fs from 'node:fs'
import path from 'node:path'
import v8 from 'node:v8'
import { createRequire } from 'node:module'
import { Container } from '../../../src/container/index.js'
import { makeUsers } from './perf-users.js'

type Packr = { pack(v: unknown): Uint8Array; unpack(b: Uint8Array): unknown }

function packr(): Packr | null {
  try {
    const req = createRequire(path.resolve('bench/package.json'))
    const { Packr } = req('msgpackr') as { Packr: new (o: object) => Packr }
    return new Packr({ structuredClone: true })
  } catch { return null }
}

function saveFile(file: string, data: Uint8Array): void {
  const fd = fs.openSync(file + '.tmp', 'w')
  fs.writeSync(fd, data)
  fs.fsyncSync(fd)
  fs.closeSync(fd)
  fs.renameSync(file + '.tmp', file)
}

const [mode, users, file, chunk] = process.argv.slice(2)
if (file === undefined) { console.log('usage: node perf-child.js MODE USERS FILE [CHUNK]'); process.exit(0) }
const n = Number(users)
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => {})
const now = (): number => performance.now()
const out = (o: object): void => { process.stdout.write(JSON.stringify(o) + '\n') }

async function main(): Promise<void> {
  if (mode.startsWith('load-')) {
    const mp = packr()
    const t = now()
    if (mode === 'load-v8') v8.deserialize(fs.readFileSync(file))
    else if (mode === 'load-msgpackr') mp!.unpack(fs.readFileSync(file))
    else void Container.open(file).root
    out({ ms: now() - t })
    return
  }
  const graph = makeUsers(n)
  gc()
  if (mode === 'save-v8' || mode === 'save-msgpackr') {
    const mp = packr()
    if (mode === 'save-msgpackr' && mp === null) { out({ ms: -1 }); return }
    const t = now()
    saveFile(file, mode === 'save-v8' ? v8.serialize(graph) : mp!.pack(graph))
    out({ ms: now() - t })
    return
  }
  let t = now()
  const properties = process.env.PMC_PROPERTIES === 'enumerable' ? 'enumerable' as const : undefined    // A/B of the inspection (props.ts)
  const track = process.env.PMC_TRACK === 'barriers' ? 'barriers' as const : undefined    // A/B of verification (verify.ts)
  const c = Container.open(file, { init: () => graph, chunkSize: Number(chunk ?? 4096), ...(properties ? { properties } : {}), ...(track ? { track } : {}) })
  const first = await c.persist()
  const firstMs = now() - t
  // Each measurement starts on a collected heap (as the first point does, above). The
  // collection of the first point's garbage is timed and reported rather than left to
  // fall into the 1% points that follow.
  t = now()
  gc()
  const gcAfterFirst = now() - t
  const points: number[][] = []
  let s = 7
  for (let round = 0; round < 5; round++) {
    const list = c.root.users
    for (let i = 0; i < n / 100; i++) {
      s = (s * 1103515245 + 12345) & 0x7fffffff
      const u = list[s % n]
      u.score = u.score + 1
      if (i % 4 === 0) u.tags.push('x')
    }
    t = now()
    const st = await c.persist()
    points.push([now() - t, st.blockedMs, st.bytes / 1024, st.stored / 1024])
  }
  await c.close()
  const med = (i: number): number => points.map(p => p[i]).sort((a, b) => a - b)[2]
  out({
    first: firstMs, firstBlocked: first.blockedMs, gcAfterFirst, point: med(0), pointBlocked: med(1), pointKiB: med(2), storedKiB: med(3),
    fileMiB: fs.statSync(file).size / 2 ** 20,
  })
}
await main()
process.exit(0)
