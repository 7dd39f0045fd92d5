// Native anchors: builds the C drivers in bench/native/ with the system C compiler and
// talks to them over a line protocol (described in native/driver.h).
//
// Invariants:
//  1. A driver is (re)built into native/build/ when its binary is missing or older than
//     its source or driver.h; a failed build (compiler or library missing) never stops
//     a run: the caller gets { missing: reason } and skips its row with that reason.
//  2. The workload runs in the driver process; node only says how many operations to
//     do and waits for the answer, once per batch (a batch lasts 50-100 ms, so the
//     pipe round trip, about 50 us, is below 0.1% of it). The runner times the call in
//     node as for every other row, round trip included.
//  3. A driver that exits or writes to stderr fails its row with what it said.

import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { skip } from './runner.mjs'

const nativeDir = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'native')
const buildDir = path.join(nativeDir, 'build')

/** The drivers: C source, linker flags, and the Debian package that provides the library. */
export const DRIVERS = {
  pmemobj_txn: { libs: ['-lpmemobj'], pkg: 'libpmemobj-dev', what: 'PMDK libpmemobj' },
  bdb_txn: { libs: ['-ldb'], pkg: 'libdb5.3-dev', what: 'Berkeley DB' },
  kc_kv: { libs: ['-lkyotocabinet'], pkg: 'libkyotocabinet-dev', what: 'Kyoto Cabinet' },
}

const built = new Map()

/** Build one driver (inv. 1): { bin } or { missing: reason }. Cached per process. */
export function buildDriver(name) {
  if (built.has(name)) return built.get(name)
  const d = DRIVERS[name]
  const src = path.join(nativeDir, `${name}.c`)
  const bin = path.join(buildDir, name)
  const mtime = (f) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : -1)
  let result
  if (mtime(bin) > Math.max(mtime(src), mtime(path.join(nativeDir, 'driver.h')))) {
    result = { bin }
  } else {
    fs.mkdirSync(buildDir, { recursive: true })
    const cc = process.env.CC ?? 'cc'
    const r = spawnSync(cc, ['-O2', '-Wall', '-o', bin, src, ...d.libs], { encoding: 'utf8' })
    if (r.error) result = { missing: `no C compiler (${cc}: ${r.error.code ?? r.error.message})` }
    else if (r.status !== 0) {
      const first = (r.stderr.split('\n').find((l) => /error/.test(l)) ?? r.stderr.split('\n')[0]).trim()
      result = { missing: `${d.what} driver did not build (${first.replace(/^.*?error: /, '')}); install ${d.pkg}` }
    } else result = { bin }
  }
  built.set(name, result)
  return result
}

/** A running driver process: start(), run(n) -> ns, stop(). */
export class Driver {
  constructor(name, args, env = {}) {
    this.name = name
    this.args = args
    this.env = env
    this.waiting = []
    this.stderr = ''
  }

  /** Spawn the driver and wait for its "ready" (setup done). */
  async start() {
    const b = buildDriver(this.name)
    if (b.missing) throw new Error(b.missing)
    this.child = spawn(b.bin, this.args, { env: { ...process.env, ...this.env }, stdio: ['pipe', 'pipe', 'pipe'] })
    this.child.stderr.on('data', (d) => (this.stderr += d))
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })))
    this.exited.then(({ code, signal }) => {
      const err = new Error(`${this.name} exited (${signal ?? code}): ${this.stderr.trim() || 'no message'}`)
      for (const w of this.waiting.splice(0)) w.reject(err)
    })
    const lines = readline.createInterface({ input: this.child.stdout })
    lines.on('line', (line) => this.waiting.shift()?.resolve(line))
    const ready = await this.#next()
    if (ready !== 'ready') throw new Error(`${this.name}: expected "ready", got "${ready}"`)
  }

  #next() {
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }))
  }

  /** Perform n operations; resolves with the driver's own time for them in ns. */
  async run(n) {
    const answer = this.#next()
    this.child.stdin.write(`${n}\n`)
    const [done, ns] = (await answer).split(' ').map(Number)
    if (done !== n) throw new Error(`${this.name}: asked for ${n} operations, did ${done}`)
    return ns
  }

  /** Ask the driver to clean up and exit; resolves when it has. */
  async stop() {
    if (!this.child) return
    this.child.stdin.end('q\n')
    const { code, signal } = await this.exited
    if (code !== 0) throw new Error(`${this.name} exited (${signal ?? code}): ${this.stderr.trim()}`)
  }
}

/**
 * A runner scenario (lib/runner.mjs) backed by a native driver. `args` is a function
 * called at setup (so it can make files in the scratch directory).
 */
export function nativeScenario({ name, note, driver, args, env, vs }) {
  let d
  return {
    name,
    note,
    vs,
    async setup() {
      const b = buildDriver(driver)
      if (b.missing) skip(b.missing)
      d = new Driver(driver, args(), env)
      await d.start()
    },
    async run(n) {
      await d.run(n)
      return n
    },
    teardown: () => d?.stop(),
  }
}
