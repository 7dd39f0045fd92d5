/**
 * Child process of disk-full.test.ts (not a test), run inside a private mount namespace on a
 * small tmpfs `D` (a real full disk: writes fail with ENOSPC) holding filler files the test
 * made. One life per run, `node full-child.js LIFE D`:
 *   fill:  opens D/c.pmc (or creates it), adds rows and persists until a point fails; checks
 *          that the container goes on (root read, a raw kept reference and a proxy mutated, a
 *          point that still fails), deletes the filler D/fill-LIFE, takes the point that now
 *          fits (full) and one more, then starts another point and SIGKILLs itself before
 *          it can be durable (`kill` as the last word of the life).
 *   read:  opens D/c.pmc and prints what it holds.
 * Prints one JSON line per event.
 */
import fs from 'node:fs'
import path from 'node:path'
import './setup.js'
import { Container } from '../../../src/container/index.js'

type Root = { lives: number[]; rows: string[]; small: { n: number; tags: string[] } }
const [life, dir] = [process.argv[2], process.argv[3]]
if (life === undefined || dir === undefined) { console.log('usage: node full-child.js LIFE|read DIR (run by disk-full.test.js)'); process.exit(0) }
const file = path.join(dir, 'c.pmc')
const say = (o: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(o) + '\n') }
const name = (e: unknown): string => (e as Error).constructor.name

const small = { n: 0, tags: [] as string[] }
const c = Container.open<Root>(file, { init: () => ({ lives: [], rows: [], small }) })
if (life === 'read') {
  const r = c.unwrap(c.root)
  say({ read: { lives: r.lives, rows: r.rows.length, small: r.small, lastRow: r.rows.at(-1) ?? null }, check: c.check().ok, version: c.version })
  await c.close()
  process.exit(0)
}
const kept = c.version === 0 ? small : c.unwrap(c.root.small)     // raw: the init graph, or an unwrapped restored object
c.root.lives.push(Number(life))
let failure: unknown = null, rounds = 0
for (; failure === null && rounds < 200; rounds++) {
  for (let i = 0; i < 1000; i++) c.root.rows.push(`life ${life} row ${rounds}.${i} `.padEnd(120, '.'))
  try { await c.persist(); await c.sync() } catch (e) { failure = e }
}
say({ full: name(failure), message: String((failure as Error)?.message), rounds })
kept.n += 1                                   // through a kept raw reference
c.root.small.tags.push(`life ${life}`)        // through the proxies
let again = 'committed'
try { await c.persist() } catch (e) { again = name(e) }
say({ again, rootRows: c.root.rows.length })
fs.rmSync(path.join(dir, `fill-${life}`))
c.root.rows.length = Math.floor(c.root.rows.length / 2)   // the full point rewrites the graph beside the last version: room for half of it
const stats = await c.persist()
await c.sync()
say({ freed: true, full: stats.full, version: stats.version, rows: c.root.rows.length, n: kept.n, tags: c.root.small.tags.length })
c.root.rows.push(`life ${life} after`)
const after = await c.persist()
await c.sync()
say({ after: after.version, durable: { lives: c.unwrap(c.root.lives).slice(), rows: c.root.rows.length, n: kept.n, lastRow: c.root.rows.at(-1) } })
c.root.rows.push(`life ${life} lost`)          // a point begun, never durable: the kill comes first
void c.persist().catch(() => {})
say({ kill: true })
process.kill(process.pid, 'SIGKILL')
