/**
 * Child process of kill.test.ts and the containers torture (not a test): opens (or creates)
 * a container, mutates it and takes points in a loop until it is killed. It prints
 * `opening` just before the open (so a kill can be aimed at the restore and its recovery),
 * `open <version> <sha1 of the graph>` once open, before each point `snap <version the point
 * will commit> <sha1 of the graph>`, and when a point is durable `done <version>`.
 * 'dict': the graph is a plain object of 10,000 keys (dict-kit.ts) changed in place, with
 * `track: 'barriers'` in lives whose seed is 1 mod 3 (changes through proxies) and the default
 * in others (after the first life, changes through its proxy too: PATCH parts from its change
 * log, patch-record.ts inv. PR6; two such lives in a row restore parts and add to them).
 * Usage: node kill-child.js FILE SEED small|large|dict [COMPACT_FACTOR]
 */
import './setup.js'
import { canonicalHash } from './graph-kit.js'
import { Container } from '../../../src/container/index.js'
import { fillDict, mutateDict, type Dict } from './dict-kit.js'

const file = process.argv[2]
if (file === undefined) { console.log('usage: node kill-child.js FILE SEED small|large [COMPACT_FACTOR] (run by kill.test.js)'); process.exit(0) }
let seed = Number(process.argv[3])
/** 'large': the graph holds about 7 MB of records and every point is full, so every point is streamed (stream.ts). */
const large = process.argv[4] === 'large'
const dict = process.argv[4] === 'dict'
const DICT_KEYS = 10_000
const compactFactor = process.argv[5] === undefined ? undefined : Number(process.argv[5])
const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
interface User { name: string; n: number; tags: string[]; created: Date }
interface Row { i: number; text: string; at: Date }
const out = (s: string): void => { process.stdout.write(s + '\n') }
const rows = (): Row[] => Array.from({ length: large ? 25_000 : 0 }, (_, i) => ({ i, text: String(i).padEnd(250, '.'), at: new Date(i) }))
out('opening')
const init = (): { users: Map<number, User>; log: number[]; rows: Row[]; dict?: Dict } => {
  const g: { users: Map<number, User>; log: number[]; rows: Row[]; dict?: Dict } = { users: new Map(), log: [], rows: rows() }
  if (dict) fillDict(g.dict = {}, DICT_KEYS)
  return g
}
const c = Container.open(file, { init, chunkSize: 4096, compactFactor, track: dict && seed % 3 === 1 ? 'barriers' : 'all' })     // 'dict': two default lives in a row, so that one restores the other's PATCH record and patches on
// 'dict': the dictionary is read through its proxy (unwrapping it would expose it: then it is
// compared at each point and re-encoded by segments, never patched from its change log,
// patch-record.ts inv. PR6); the rest raw, in the root's key order, as the parent hashes it.
const hash = (): string => {
  if (!dict) return canonicalHash(c.unwrap(c.root))
  const r = c.root
  return canonicalHash({ users: c.unwrap(r.users), log: c.unwrap(r.log), rows: c.unwrap(r.rows), dict: r.dict })
}
const opened = c.version
out(`open ${opened} ${hash()}`)
let n = 0

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
    if (dict) mutateDict(r.dict!, null, DICT_KEYS, 100, rnd, n)     // the model is the graph itself: its hash is printed
    if (r.rows.length > 0) for (let i = 0; i < 20; i++) { const row = r.rows[rnd(r.rows.length)]; row.text = String(n).padEnd(200 + rnd(100), '#'); row.at.setTime(rnd(1e9)) }
    out(`snap ${opened + ++n} ${hash()}`)
    const p = c.persist({ full: large || rnd(20) === 0 })
    p.then(s => out(`done ${s.version}`), e => { out(`error ${(e as Error).message}`); process.exit(1) })
    if (rnd(2) === 0) await p
    else await new Promise(res => setImmediate(res))
  }
}
void main()
