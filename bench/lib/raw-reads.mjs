// Reads through c.root after a restore, default mode, in a fresh process, for A/B runs of two
// builds interleaved (barrier.ts inv. 11: an object handed out raw that is exposed is handed
// out at once by later reads):
//   PM_BENCH_LIBRARY=<dist>/src/index.js node bench/lib/raw-reads.mjs [USERS] [ROUNDS]
// A container of USERS users { i, at: Date } is written, reopened, its restore's ids stamped
// (the event loop turns), every user's Date read once, then ROUNDS rounds of
// `c.root.users[i].at.getTime()` and of `c.root.users[i].i` are timed.
// Prints ns per read of each, and the load.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadLibrary } from './library.mjs'
import { makeScratchDir } from './tmpdir.mjs'

const [usersArg = '1000', roundsArg = '1000'] = process.argv.slice(2)
const USERS = Number(usersArg), ROUNDS = Number(roundsArg)
const loaded = await loadLibrary(['Container'])
if (loaded.missing) { console.log(loaded.missing); process.exit(0) }
const { Container } = loaded.lib
const file = path.join(makeScratchDir('raw-reads'), 'c.pmc')
let c = Container.open(file, { init: () => ({ users: Array.from({ length: USERS }, (_, i) => ({ i, at: new Date(i) })) }) })
await c.persist()
await c.close()
c = Container.open(file, {})
await new Promise(resolve => setTimeout(resolve, 200))
const u = c.root.users
let s = 0
for (let i = 0; i < USERS; i++) s += u[i].at.getTime()
let t0 = performance.now()
for (let k = 0; k < ROUNDS; k++) for (let i = 0; i < USERS; i++) s += u[i].at.getTime()
const dates = performance.now() - t0
t0 = performance.now()
for (let k = 0; k < ROUNDS; k++) for (let i = 0; i < USERS; i++) s += u[i].i
const numbers = performance.now() - t0
const reads = USERS * ROUNDS
console.log(`ns per read: c.root.users[i].at.getTime() ${(dates * 1e6 / reads).toFixed(0)}, c.root.users[i].i ${(numbers * 1e6 / reads).toFixed(0)} (load ${os.loadavg()[0].toFixed(1)}; checksum ${s % 7})`)
await c.close()
fs.rmSync(file, { force: true })
