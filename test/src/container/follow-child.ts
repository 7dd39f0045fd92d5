/**
 * Child process of readers.test.ts (not a test): a container writer that takes points in a
 * loop until it is killed (or for `ms` milliseconds). Point n sets `root.n = n` and makes
 * every element of `root.list`, every value of `root.map` and every byte of `root.blob`
 * agree with n, so a reader that restores a mix of two versions sees a disagreement. Prints
 * `ready` after the first point, then `v <version>` after each durable point.
 * Arguments: file, ms (0: until killed), 'full' (every 5th point full), keepVersions.
 */
import { Container } from '../../../src/container/index.js'

const [file, msArg, fullArg, keepArg] = process.argv.slice(2)
const ms = Number(msArg ?? 0)
const end = ms > 0 ? Date.now() + ms : Infinity
type Root = { n: number; list: number[]; map: Map<string, number>; blob: Uint8Array; nested: Array<{ n: number }> }
const c = Container.open<Root>(file!, { init: () => ({ n: 0, list: [], map: new Map(), blob: new Uint8Array(48 << 10), nested: [] }), chunkSize: 4096, keepVersions: Number(keepArg ?? 3) })

async function main(): Promise<void> {
  let first = true
  while (Date.now() < end) {
    const r = c.root, n = r.n + 1
    r.n = n
    for (let i = 0; i < 200; i++) r.list[i] = n
    for (let i = 0; i < 20; i++) r.map.set(`k${i}`, n)
    r.blob.fill(n & 0xff)
    r.nested = Array.from({ length: 30 }, () => ({ n }))
    const s = await c.persist({ full: fullArg === 'full' && n % 5 === 0 })
    if (first) { process.stdout.write('ready\n'); first = false }
    process.stdout.write(`v ${s.version}\n`)
  }
  await c.close()
  process.stdout.write('done\n')
}
void main()
