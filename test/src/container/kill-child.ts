/**
 * Child process of kill.test.ts (not a test): mutates a container and takes points in a
 * loop until it is killed. Before each point it prints `snap <n> <sha1 of the graph>`, and
 * when the point is durable `done <version>`.
 */
import './setup.js'
import { canonicalHash } from './graph-kit.js'
import { Container } from '../../../src/container/index.js'

const file = process.argv[2]
if (file === undefined) { console.log('usage: node kill-child.js FILE SEED (run by kill.test.js)'); process.exit(0) }
let seed = Number(process.argv[3])
/** 'large': the graph holds about 7 MB of records and every point is full, so every point is streamed (stream.ts). */
const large = process.argv[4] === 'large'
const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
interface User { name: string; n: number; tags: string[]; created: Date }
interface Row { i: number; text: string; at: Date }
const rows = (): Row[] => Array.from({ length: large ? 25_000 : 0 }, (_, i) => ({ i, text: String(i).padEnd(250, '.'), at: new Date(i) }))
const c = Container.open<{ users: Map<number, User>; log: number[]; rows: Row[] }>(file, { init: () => ({ users: new Map(), log: [], rows: rows() }), chunkSize: 4096 })
const hash = (): string => canonicalHash(c.unwrap(c.root))
let n = 0
const out = (s: string): void => { process.stdout.write(s + '\n') }

async function main(): Promise<void> {
  for (;;) {
    const r = c.root
    for (let i = 0; i < 50; i++) {
      const id = rnd(300)
      const u = r.users.get(id)
      switch (rnd(5)) {
        case 0: r.users.set(id, { name: 'u' + id, n: 0, tags: [], created: new Date(id) }); break
        case 1: if (u) u.n++; break
        case 2: if (u) u.tags.push('t' + rnd(9)); break
        case 3: if (u) u.created.setTime(rnd(1e9)); else r.users.delete(id); break
        default: r.log.push(rnd(1000)); if (r.log.length > 500) r.log.splice(0, 100)
      }
    }
    if (large) for (let i = 0; i < 20; i++) { const row = r.rows[rnd(25_000)]; row.text = String(n).padEnd(200 + rnd(100), '#'); row.at.setTime(rnd(1e9)) }
    out(`snap ${n++} ${hash()}`)
    const p = c.persist({ full: large || rnd(20) === 0 })
    p.then(s => out(`done ${s.version}`), e => { out(`error ${(e as Error).message}`); process.exit(1) })
    if (rnd(2) === 0) await p
    else await new Promise(res => setImmediate(res))
  }
}
void main()
