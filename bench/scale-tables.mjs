// Scale probe (session 16, tables26): the container's tables other than the loose ids past
// V8's 2^24 entries of one Map or Set. Each scenario builds a graph of N objects (default
// 2^24 + 8) in a fresh process, persists, changes one object, persists, reads `dropped`,
// closes; then restores it full and lazily and persists again.
// Usage: node --max-old-space-size=12000 bench/scale-tables.mjs <scenario> FILE [N] [phase]
//   scenarios: dropped (one function in an array of N objects), methods (N objects each
//   holding a function), frozen (N frozen objects), hooks (N instances of a class with hooks)
import { Container } from '../dist/src/index.js'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'

const [scenario, file, nArg, phase] = process.argv.slice(2)
const N = nArg ? +nArg : 2 ** 24 + 8
const t0 = performance.now()
const log = (...a) => console.log(`[${scenario} ${phase ?? 'create'}] ${Math.round(performance.now() - t0)} ms`, ...a)
const fn = () => 1
class Acct {
  #b = 0
  constructor(b) { this.#b = b }
  get b() { return this.#b }
  static [Container.save](a) { return a.#b }
  static [Container.revive](a, s) { a.#b = s }
  static [Container.create]() { return new Acct(0) }
}
const opts = { classes: [Acct] }
function make() {
  const a = new Array(N)
  for (let i = 0; i < N; i++) {
    if (scenario === 'dropped') a[i] = { n: i }
    else if (scenario === 'methods') a[i] = { n: i, f: fn }
    else if (scenario === 'frozen') a[i] = Object.freeze({ n: i })
    else if (scenario === 'hooks') a[i] = new Acct(i)
    else throw new Error('scenario ' + scenario)
  }
  if (scenario === 'dropped') a[5].f = fn
  return { a }
}
async function step(name, f) {
  try { const r = await f(); log(name, r ?? 'ok') } catch (e) { log(name, 'FAILED', e.constructor.name, e.message, e.stack.split('\n').slice(1, 7).join(' | ')) }
}
if (phase === undefined) {
  fs.rmSync(file, { force: true })
  const c = Container.open(file, { ...opts, init: make })
  log('init')
  await step('persist 1', async () => { const s = await c.persist(); return `${s.objects} objects ${s.bytes} bytes` })
  await step('change + persist 2', async () => { c.root.a.push({ n: -1 }); const s = await c.persist(); return `${s.objects} objects full=${s.full}` })
  await step('dropped', () => { const d = c.dropped; return `${d.length} entries, first ${JSON.stringify(d[0])}` })
  await step('persist 3 (exposed verified)', async () => { const s = await c.persist(); return `${s.objects} objects full=${s.full}` })
  await step('close', () => c.close())
  const self = fileURLToPath(import.meta.url)
  for (const p of ['full', 'lazy']) {
    try { process.stdout.write(execFileSync(process.execPath, [...process.execArgv, self, scenario, file, String(N), p], { encoding: 'utf8', maxBuffer: 1 << 24 })) } catch (e) { log(p, 'child failed', e.stdout, e.stderr) }
  }
} else {
  let c
  await step('open', () => { c = Container.open(file, { ...opts, lazy: phase === 'lazy' }); return `version ${c.version}` })
  if (c === undefined) process.exit(1)
  await step('read', () => { const a = c.root.a; return `length ${a.length}, a[7] ${JSON.stringify(a[7])}` })
  await step('dropped', () => `${c.dropped.length} entries`)
  await step('change + persist', async () => { c.root.a[3] = { n: -3 }; const s = await c.persist(); return `${s.objects} objects full=${s.full}` })
  await step('full persist', async () => { const s = await c.persist({ full: true }); return `${s.objects} objects` })
  await step('close', () => c.close())
}
