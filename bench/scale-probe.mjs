// Scale probe (session 15, scale25): containers at sizes tests do not reach. Each scenario
// builds a graph in a fresh process, changes it over several points, closes; then a fresh
// process restores it full and another lazily and compares a digest of the graph.
//
// Usage: node bench/scale-probe.mjs <scenario> [dir]   (map, set, nums, objs, str, ab, big)
// Digests read through c.root (proxies): at 10^6-10^7 elements that read dominates (an element
// of a restored array through its proxy took about 7 us here). See also scale-many.mjs (past
// 2^24 plain objects) and scale-limit.mjs (the 2 GiB file limit).
import { Container } from '../dist/src/index.js'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const self = fileURLToPath(import.meta.url)
const [scenario, dirArg, phase] = process.argv.slice(2)
const dir = dirArg ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-scale-'))
const file = path.join(dir, `${scenario}.pmc`)
const log = (...a) => console.log(`[${scenario}${phase ? ' ' + phase : ''}] ${new Date().toISOString().slice(11, 19)}`, ...a)

function h(acc, x) { return (Math.imul(acc ^ x, 0x01000193) >>> 0) }
function digestValue(v, acc) {
  if (typeof v === 'number') return h(acc, (v * 1000) | 0)
  if (typeof v === 'string') return h(h(acc, v.length), v.length ? v.charCodeAt(v.length >> 1) : 0)
  if (typeof v === 'bigint') return h(acc, Number(v % 1000003n))
  if (v && typeof v === 'object' && 'n' in v) return h(acc, v.n | 0)
  return h(acc, v == null ? 7 : 9)
}
const S = {
  map: { keep: 3,
    init() { const m = new Map(); for (let i = 0; i < 1e6; i++) m.set({ k: i }, { n: i }); return { m } },
    change(r, p) { let i = 0; for (const [k, v] of r.m) { if (i++ % 100003 === p) v.n = -v.n - p; if (i > 1e6) break }; r.m.set({ k: -p }, { n: p * 7 }) },
    shrink(r) { let i = 0; for (const k of [...r.m.keys()]) if (i++ % 10 !== 0) r.m.delete(k) },
    grow(r) { for (let i = 0; i < 9e5; i++) r.m.set({ k: 2e6 + i }, { n: i }) },
    digest(r) { let a = r.m.size; for (const [k, v] of r.m) { a = h(a, k.k | 0); a = digestValue(v, a) } return a } },
  set: { keep: 3,
    init() { const s = new Set(); for (let i = 0; i < 1e6; i++) s.add({ n: i }); return { s } },
    change(r, p) { let i = 0; for (const v of r.s) { if (i++ % 99991 === p) v.n += 1 } r.s.add({ n: -p }) },
    shrink(r) { let i = 0; for (const v of [...r.s]) if (i++ % 10 !== 0) r.s.delete(v) },
    grow(r) { for (let i = 0; i < 9e5; i++) r.s.add({ n: 3e6 + i }) },
    digest(r) { let a = r.s.size; for (const v of r.s) a = digestValue(v, a); return a } },
  nums: { keep: 3,
    init() { const a = new Array(1e7); for (let i = 0; i < 1e7; i++) a[i] = i * 0.5; return { a } },
    change(r, p) { for (let j = 0; j < 5; j++) r.a[(p * 1234567 + j * 999) % r.a.length] = -p - j },
    shrink(r) { r.a.length = 1e6 },
    grow(r) { for (let i = 1e6; i < 1e7; i++) r.a.push(i) },
    digest(r) { let x = r.a.length; for (let i = 0; i < r.a.length; i++) x = digestValue(r.a[i], x); return x } },
  objs: { keep: 3,
    init() { const a = []; for (let i = 0; i < 1e6; i++) a.push({ n: i, s: 'x' + i }); return { a } },
    change(r, p) { for (let j = 0; j < 5; j++) r.a[(p * 12345 + j * 999) % r.a.length].n = -p; r.a.push({ n: p }) },
    shrink(r) { r.a.splice(1000) },
    grow(r) { for (let i = 0; i < 1e6; i++) r.a.push({ n: i }) },
    digest(r) { let x = r.a.length; for (const o of r.a) x = digestValue(o, x); return x } },
  str: { keep: 2,
    init() { return { s: 'a'.repeat(400e6), t: 'é'.repeat(100e6) + '\u2603'.repeat(50e6) } },
    change(r, p) { r.s = String.fromCharCode(97 + p) + r.s.slice(1) },
    shrink(r) { r.t = 'x' },
    grow(r) { r.t = '\u2603'.repeat(200e6) },
    digest(r) { return digestValue(r.t, digestValue(r.s, h(0, r.s.charCodeAt(0)))) } },
  ab: { keep: 2,
    init() { const b = new ArrayBuffer(2 ** 30); new Uint8Array(b).fill(3, 0, 1e6); return { b } },
    change(r, p) { const u = new Uint8Array(r.b); for (let j = 0; j < 4; j++) u[(p * 3e8 + j * 77777) % u.length] = p + j },
    shrink(r) { r.b = r.b.slice(0, 1e5) },
    grow(r) { const b = new ArrayBuffer(2 ** 30); new Uint8Array(b).set(new Uint8Array(r.b)); r.b = b },
    digest(r) { const u = new Uint8Array(r.b); let x = u.length; for (let i = 0; i < u.length; i += 1 + (i % 7)) x = h(x, u[i]); return x } },
  big: { keep: 3,
    init() { return { b: 7n ** 1_183_000n } },
    change(r, p) { r.b = r.b + BigInt(p) },
    shrink(r) { r.b = 5n },
    grow(r) { r.b = 3n ** 2_000_000n },
    digest(r) { return h(Number(r.b % 1000003n), r.b.toString(16).length) } },
}

async function main() {
  const sc = S[scenario]
  if (!sc) throw new Error('unknown scenario ' + scenario)
  if (phase === undefined) {
    log('dir', dir)
    const phases = ['create', 'restore-full', 'restore-lazy', 'change', 'restore-full', 'restore-lazy', 'shrink', 'restore-lazy', 'grow', 'restore-full']
    for (const ph of phases) {
      try { execFileSync(process.execPath, ['--max-old-space-size=16000', self, scenario, dir, ph], { stdio: 'inherit' }) }
      catch (e) { log(`phase ${ph} FAILED (status ${e.status})`); break }
    }
    log('file size', fs.existsSync(file) ? fs.statSync(file).size : 'none')
    fs.rmSync(dir, { recursive: true, force: true })
    return
  }
  const t0 = performance.now()
  const ms = () => Math.round(performance.now() - t0)
  const dFile = path.join(dir, 'digest.json')
  if (phase === 'create') {
    const c = Container.open(file, { init: sc.init, keepVersions: sc.keep })
    log('init', ms())
    const st = await c.persist(); await c.sync(); log('first point', ms(), 'ms', JSON.stringify({ v: st.version, objects: st.objects, bytes: st.bytes }))
    const d = sc.digest(c.root); fs.writeFileSync(dFile, JSON.stringify(d)); await c.close(); log('closed, digest', d)
    return
  }
  if (phase.startsWith('restore')) {
    const c = Container.open(file, { lazy: phase === 'restore-lazy' })
    const d = sc.digest(c.root); const want = JSON.parse(fs.readFileSync(dFile, 'utf8'))
    log(`restored v${c.version} in ${ms()} ms, digest ${d === want ? 'OK' : `MISMATCH ${d} != ${want}`}`)
    if (d !== want) process.exitCode = 3
    await c.close(); return
  }
  const c = Container.open(file, {})
  log('open', ms())
  if (phase === 'change') {
    for (let p = 1; p <= 8; p++) { sc.change(c.root, p); const st = await c.persist(); log(`point ${st.version}: ${JSON.stringify({ objects: st.objects, bytes: st.bytes, stored: st.stored, blockedMs: Math.round(st.blockedMs), compacted: st.compacted })}`) }
  } else {
    sc[phase](c.root); const st = await c.persist(); log(`${phase} point ${st.version}: ${JSON.stringify({ objects: st.objects, bytes: st.bytes, blockedMs: Math.round(st.blockedMs), compacted: st.compacted })}`)
    sc.change(c.root, 1); const st2 = await c.persist(); log(`after-${phase} change point ${st2.version}: ${JSON.stringify({ objects: st2.objects, bytes: st2.bytes, compacted: st2.compacted })}`)
  }
  await c.sync()
  const d = sc.digest(c.root); fs.writeFileSync(dFile, JSON.stringify(d)); await c.close(); log('closed', ms(), 'digest', d)
}
main().catch((e) => { log('ERROR', e?.constructor?.name, e?.message?.slice(0, 500)); console.log(e?.stack?.split('\n').slice(0, 12).join('\n')); process.exitCode = 2 })
