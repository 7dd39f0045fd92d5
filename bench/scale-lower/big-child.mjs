// modes: work FILE AREA_MB | recover FILE | verify FILE AREA_MB REPORTED
import { open, check, t } from '../../dist/src/index.js'
const [mode, file, areaMbArg, reportedArg] = process.argv.slice(2)
const AREA = +(areaMbArg ?? 0) * 2 ** 20
const PG = 4096, NP = AREA / PG
const t0 = performance.now(); const ms = () => Math.round(performance.now() - t0)
function rng(seed) { let x = (seed * 0x9e3779b1 + 0x7f4a7c15) | 0 || 1; return () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) / 2 ** 32 } }
// pages written by generation g: a contiguous (wrapping) range; 1 in 4 big (up to all), else small
function rangeOf(g) { const r = rng(g); const big = r() < 0.25; const n = 1 + Math.floor(r() * (big ? NP : Math.min(NP, 64))); const s = Math.floor(r() * NP); return [s, n] }
function pageData(p, g) { const u = new Uint32Array(PG / 4); let x = (Math.imul(p + 1, 0x85ebca6b) ^ Math.imul(g, 0xc2b2ae35)) >>> 0; u[0] = g; for (let i = 1; i < u.length; i++) u[i] = x + i; return new Uint8Array(u.buffer) }
const opts = { size: 3 * AREA + (8 << 20), logSize: AREA + (4 << 20) }
if (mode === 'work') {
  const pm = open(file, opts)
  process.stdout.write(`opened ${ms()} recovered=${pm.engine.recovered}\n`)
  const gen = pm.persistent('gen', t.u64)
  const ptr = pm.persistent('area', t.u64)
  if (pm.read(tx => tx.readBigU64(ptr.offset)) === 0n) pm.transaction(tx => { tx.writeBigU64(ptr.offset, BigInt(tx.alloc(AREA))) })
  const area = Number(pm.read(tx => tx.readBigU64(ptr.offset)))
  process.stdout.write('ready\n')
  for (;;) {
    const g = pm.transaction(tx => {
      const g = Number(tx.readBigU64(gen.offset)) + 1
      const [s, n] = rangeOf(g)
      // pages contiguous up to the wrap are written in one writeBytes (a write larger than a page)
      const first = Math.min(n, NP - s)
      const buf = new Uint8Array(first * PG)
      for (let i = 0; i < first; i++) buf.set(pageData(s + i, g), i * PG)
      tx.writeBytes(area + s * PG, buf)
      for (let i = first; i < n; i++) tx.writeBytes(area + (i - first) * PG, pageData(i - first, g))
      tx.writeBigU64(gen.offset, BigInt(g))
      return g
    })
    process.stdout.write(`${g}\n`)
  }
} else if (mode === 'recover') {
  process.stdout.write('ready\n')
  const pm = open(file)
  process.stdout.write(`opened ${ms()} recovered=${pm.engine.recovered}\n`)
  pm.close()
} else if (mode === 'verify') {
  const rep = check(file)
  const pm = open(file)
  const opened = ms()
  const gen = pm.persistent('gen', t.u64)
  const ptr = pm.persistent('area', t.u64)
  const g = Number(pm.read(tx => tx.readBigU64(gen.offset)))
  const area = Number(pm.read(tx => tx.readBigU64(ptr.offset)))
  const stamp = new Int32Array(NP)
  for (let h = 1; h <= g; h++) { const [s, n] = rangeOf(h); for (let i = 0; i < n; i++) stamp[(s + i) % NP] = h }
  let bad = 0
  if (area !== 0) {
    const got = pm.read(tx => tx.readBytes(area, AREA))
    for (let p = 0; p < NP; p++) {
      const want = stamp[p] ? pageData(p, stamp[p]) : new Uint8Array(PG)
      if (Buffer.compare(Buffer.from(got.subarray(p * PG, p * PG + PG)), Buffer.from(want)) !== 0) { if (bad++ < 3) console.log(`page ${p} stamp ${new Uint32Array(got.buffer, got.byteOffset + p * PG, 1)[0]} want ${stamp[p]}`) }
    }
  }
  const c2 = pm.check()
  const ok = bad === 0 && rep.ok && c2.ok
  console.log(`verify gen=${g} bad=${bad} checkOk=${rep.ok} pmCheck=${c2.ok} open=${opened}ms total=${ms()}ms problems=${JSON.stringify(rep.problems ?? []).slice(0, 300)}`)
  pm.close()
  process.exit(ok ? 0 : 3)
}
