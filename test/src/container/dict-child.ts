/**
 * Child process of dict.test.ts (not a test): builds a container whose root holds a plain
 * object of N keys (dict-kit.ts), takes points over rounds of changes to it (raw in this
 * first life, or through proxies with `track: 'barriers'`), and prints the model's hash, its
 * key count and the last version as JSON.
 * Usage: node dict-child.js FILE N all|barriers
 */
import './setup.js'
import { Container } from '../../../src/container/index.js'
import { dictHash, fillDict, mutateDict, type Dict } from './dict-kit.js'

const file = process.argv[2]
if (file === undefined) { console.log('usage: node dict-child.js FILE N all|barriers (run by dict.test.js)'); process.exit(0) }
const n = Number(process.argv[3])
const track = process.argv[4] as 'all' | 'barriers'
let seed = n
const rnd = (k: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % k }
const c = Container.open<{ dict: Dict }>(file, { init: () => ({ dict: {} }), track })
const m: Dict = {}
const d = c.root.dict      // raw with track 'all' (the init graph), a proxy with 'barriers'
fillDict(d, n); fillDict(m, n)
await c.persist()
let version = 0
for (let round = 1; round <= 2; round++) {
  mutateDict(c.root.dict, m, n, 200, rnd, round)
  version = (await c.persist()).version
}
process.stdout.write(JSON.stringify({ hash: dictHash(m), keys: Object.keys(m).length, version }) + '\n')
await c.close()
