// Scale probe (session 15, scale25): see bench/scale-probe.mjs. buffers of MB MiB added point by point until the 2 GiB file limit: the error, the container after it, a reopen. Usage: node --max-old-space-size=8000 bench/scale-limit.mjs FILE grow|full|lazy MB KEEPVERSIONS
import { Container } from '../dist/src/index.js'
import fs from 'node:fs'
const [file, mode, mb, keep] = process.argv.slice(2)
const t0 = performance.now(); const ms = () => Math.round(performance.now() - t0)
const size = +mb * 2 ** 20
function fill(b, seed) { const u = new Uint32Array(b); let x = seed | 1; for (let i = 0; i < u.length; i += 64) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; u[i] = x } return b }
if (mode === 'grow') {
  const c = Container.open(file, { keepVersions: +keep, init: () => ({ bufs: [] }) })
  for (let p = 0; p < 12; p++) {
    c.root.bufs.push(fill(new ArrayBuffer(size), p + 1))
    try { const st = await c.persist(); console.log(ms(), 'point', st.version, 'bytes', st.bytes, 'compacted', st.compacted, 'full', st.full, 'file', fs.statSync(file).size) }
    catch (e) { console.log(ms(), 'point failed:', e.constructor.name, e.code, e.message.slice(0, 300)); 
      try { console.log('root readable, bufs', c.root.bufs.length, 'version', c.version) } catch (e2) { console.log('root unreadable', e2.constructor.name, e2.message.slice(0, 200)) }
      try { c.root.bufs.splice(0, 3); const st = await c.persist(); console.log(ms(), 'after dropping 3: point', st.version, 'full', st.full, 'compacted', st.compacted, 'bytes', st.bytes) } catch (e3) { console.log(ms(), 'recovery point failed:', e3.constructor.name, e3.message.slice(0, 300)) }
      try { const st = await c.persist({ full: true }); console.log(ms(), 'full point', st.version, 'bytes', st.bytes) } catch (e3) { console.log(ms(), 'full point failed:', e3.constructor.name, e3.message.slice(0, 300)) }
      break }
  }
  await c.close().catch(e => console.log('close failed', e.constructor.name, e.message))
} else {
  const c = Container.open(file, { lazy: mode === 'lazy' }); console.log(ms(), 'reopened version', c.version, 'bufs', c.root.bufs.length, Container.versions(file).map(v => v.version))
  await c.close()
}
