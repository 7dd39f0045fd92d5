// Writer child of readers.test.ts in this folder: runs the workload (readers-kit.ts) on `file`
// with every durability in turn (a group commit awaited every 16th), forever; prints "ready\n"
// once the map exists, then "<v>\n" after every 32nd commit returned.
import { open } from '../../../src/index.js'
import { commitValue, mapOf } from './readers-kit.js'

const [file] = process.argv.slice(2)
const pm = open(file!, { size: 1 << 20, maxSize: 256 << 20 })
const m = mapOf(pm)
const kinds = ['sync', 'none', 'group'] as const
let v = m.get('k0')?.a ?? 0

async function main(): Promise<void> {
  process.stdout.write('ready\n')
  const pending: Promise<unknown>[] = []
  for (;;) {
    const x = ++v, d = kinds[x % 3]!
    const p: unknown = pm.transaction(tx => commitValue(tx, m, x), { durability: d })
    if (p instanceof Promise) pending.push(p)
    if (pending.length >= 16) await Promise.all(pending.splice(0))
    if (x % 32 === 0) process.stdout.write(`${x}\n`)
  }
}
void main()
