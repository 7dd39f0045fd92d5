// modes: work FILE | verify FILE REPORTED
import { open, check, t } from '../../dist/src/index.js'
const [mode, file, repArg] = process.argv.slice(2)
const MAX = 2 ** 31 - 4096
const El = t.struct({ off: t.u64, size: t.u32, seed: t.u32 })
const t0 = performance.now(); const ms = () => Math.round(performance.now() - t0)
function pat(seed, n) { const u = new Uint32Array(n / 4); for (let i = 0; i < u.length; i += 1) u[i] = (seed + Math.imul(i, 0x9e3779b1)) >>> 0; return new Uint8Array(u.buffer) }
function sizeOf(seed) { return 4096 * (1 + (Math.imul(seed, 2654435761) >>> 0) % 1024) } // 4 KiB .. 4 MiB
const pm = open(file, { size: 20 << 20, logSize: 16 << 20, maxSize: MAX })
process.stdout.write(`opened ${ms()} size ${pm.region.size}\n`)
const v = pm.vector('blocks', El)
if (mode === 'work') {
  process.stdout.write('ready\n')
  let n = v.length
  for (;;) {
    const seed = n + 1
    try {
      pm.transaction(tx => { const sz = sizeOf(seed); const off = tx.alloc(sz); tx.writeBytes(off, pat(seed, sz)); v.push({ off: BigInt(off), size: sz, seed }) })
    } catch (e) {
      console.log(`full at ${n} blocks, region ${pm.region.size}: ${e.constructor.name} ${e.code} ${e.message.slice(0, 300)}`)
      // still usable? a small transaction, then free some and allocate again
      try { pm.transaction(tx => { const off = tx.alloc(64); tx.writeU32(off, 1); tx.free(off) }); console.log('small tx ok') } catch (e2) { console.log('small tx failed', e2.constructor.name, e2.message.slice(0, 200)) }
      try {
        pm.transaction(tx => { for (let k = 0; k < 5; k++) { const e = v.pop(); tx.free(Number(e.off)) } })
        n = v.length
        pm.transaction(tx => { const sz = sizeOf(n + 1); const off = tx.alloc(sz); tx.writeBytes(off, pat(n + 1, sz)); v.push({ off: BigInt(off), size: sz, seed: n + 1 }) })
        console.log(`after freeing 5 and one alloc: ${v.length} blocks`)
      } catch (e3) { console.log('refill failed', e3.constructor.name, e3.message.slice(0, 300)) }
      console.log(`FULL ${v.length}`)
      pm.close(); process.exit(0)
    }
    n++
    process.stdout.write(`${n}\n`)
  }
} else {
  const rep = check(file)
  let bad = 0
  const len = v.length
  for (let i = 0; i < len; i++) {
    const e = v.get(i)
    if (e.seed !== i + 1 || e.size !== sizeOf(e.seed)) { bad++; continue }
    const got = pm.read(tx => tx.readBytes(Number(e.off), e.size))
    if (Buffer.compare(Buffer.from(got), Buffer.from(pat(e.seed, e.size))) !== 0) bad++
  }
  const c2 = pm.check()
  const r = +repArg
  const ok = bad === 0 && rep.ok && c2.ok && (len === r || len === r + 1)
  console.log(`verify len=${len} reported=${r} bad=${bad} check=${rep.ok} pmCheck=${c2.ok} region=${pm.region.size} ${ms()}ms ${JSON.stringify(rep.problems).slice(0, 300)} ${ok ? 'OK' : 'FAIL'}`)
  pm.close(); process.exit(ok ? 0 : 3)
}
