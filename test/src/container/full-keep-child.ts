/**
 * Child process of disk-full.test.ts (not a test), run inside a private mount namespace on a
 * 16 MiB tmpfs `D` (a real full disk: writes fail with ENOSPC) holding a 6 MiB filler the
 * test made. One life per run, `node full-keep-child.js LIFE D`:
 *   stream: creates D/k.pmc with a first point of about 12 MB of records, streamed to the
 *           file by the flush thread (streamThreshold 0), which meets ENOSPC: the point is
 *           lost, the container goes on (write.ts inv. 4a); the program drops most rows and
 *           the next point (full) fits; one more point, then a point in flight and SIGKILL.
 *   keep:   reopens it, fills the disk with D/fill-keep, adds rows and persists until a
 *           point is lost, loses two more (one queued behind the other), then frees 1 MiB:
 *           less than the graph's log, so a full point could not fit beside the last
 *           version, but the retry writes only the lost points' records and its own (inv.
 *           4c); one more point, then a point in flight and SIGKILL.
 *   read:   opens D/k.pmc and prints what it holds.
 * Prints one JSON line per event.
 */
import fs from 'node:fs'
import path from 'node:path'
import './setup.js'
import { Container } from '../../../src/container/index.js'

type Root = { rows: { s: string }[]; hot: { n: number }; tags: string[] }
const [life, dir] = [process.argv[2], process.argv[3]]
if (life === undefined || dir === undefined) { console.log('usage: node full-keep-child.js stream|keep|read DIR (run by disk-full.test.js)'); process.exit(0) }
const file = path.join(dir, 'k.pmc')
const say = (o: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(o) + '\n') }
const name = (e: unknown): string => (e as Error).constructor.name
const rows = (n: number, tag: string): { s: string }[] => Array.from({ length: n }, (_, i) => ({ s: `${tag} row ${i} `.padEnd(100, '.') }))
const durable = (c: Container<Root>): Record<string, unknown> => ({ rows: c.root.rows.length, n: c.root.hot.n, tags: c.unwrap(c.root.tags).slice(), last: c.root.rows.at(-1)?.s ?? null })
const killWithPointInFlight = (c: Container<Root>): void => {
  c.root.rows.push({ s: `${life} lost` })       // a point begun, never durable: the kill comes first
  void c.persist().catch(() => {})
  say({ kill: true })
  process.kill(process.pid, 'SIGKILL')
}

if (life === 'read') {
  const c = Container.open<Root>(file)
  say({ read: durable(c), check: c.check().ok, version: c.version })
  await c.close()
  process.exit(0)
}

if (life === 'stream') {
  const hot = { n: 0 }
  const c = Container.open<Root>(file, { init: () => ({ rows: rows(110_000, 'stream'), hot, tags: [] }), streamThreshold: 0 })
  let lost: unknown = null
  try { await c.persist() } catch (e) { lost = e }
  say({ streamFull: name(lost), message: String((lost as Error)?.message) })
  hot.n += 1                                    // a kept raw reference (the init graph)
  c.root.tags.push('stream')                    // through the proxies
  c.root.rows.length = 30_000                   // room again: the program drops most rows
  const stats = await c.persist()
  await c.sync()
  say({ freed: true, full: stats.full, rows: c.root.rows.length, n: c.root.hot.n })
  c.root.rows.push({ s: 'stream after' })
  await c.persist()
  await c.sync()
  say({ after: true, durable: durable(c) })
  killWithPointInFlight(c)
}

if (life === 'keep') {
  const c = Container.open<Root>(file)
  // the disk fills up (another program's file), to the last block
  const fd = fs.openSync(path.join(dir, 'fill-keep'), 'w')
  const block = Buffer.alloc(64 << 10, 1)
  try { for (;;) fs.writeSync(fd, block) } catch (e) { say({ filled: (e as NodeJS.ErrnoException).code }) }
  fs.fsyncSync(fd)
  let lost: unknown = null, rounds = 0
  for (; lost === null && rounds < 40; rounds++) {
    for (const r of rows(1_000, `keep ${rounds}`)) c.root.rows.push(r)
    try { await c.persist() } catch (e) { lost = e }
  }
  say({ lost: name(lost), rounds })
  c.root.hot.n += 1
  const a = c.persist()
  c.root.tags.push('keep')
  const b = c.persist()
  const queued = await Promise.allSettled([a, b])
  say({ queued: queued.map(q => q.status === 'rejected' ? name(q.reason) : 'committed') })
  // 1 MiB back: less than the graph's log (a full point would not fit beside the last version)
  fs.ftruncateSync(fd, fs.fstatSync(fd).size - (1 << 20))
  fs.closeSync(fd)
  c.root.hot.n += 1
  let retry: Record<string, unknown>
  try {
    const stats = await c.persist()
    await c.sync()
    retry = { full: stats.full, bytes: stats.bytes, rows: c.root.rows.length }
  } catch (e) { retry = { failed: name(e), message: (e as Error).message } }
  say({ retry, logBytes: fs.statSync(file).size })
  c.root.rows.push({ s: 'keep after' })
  await c.persist()
  await c.sync()
  say({ after: true, durable: durable(c) })
  killWithPointInFlight(c)
}
