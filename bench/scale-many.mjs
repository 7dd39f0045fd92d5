// Scale probe (session 15, scale25): see bench/scale-probe.mjs. n plain objects { n: i } in one array (past 2^24: loose ids, identity.ts inv. 3). Usage: node --max-old-space-size=18000 bench/scale-many.mjs FILE create|full|lazy N
import { Container } from '../dist/src/index.js'
const [file, mode, n, track] = process.argv.slice(2)
const t0 = performance.now(); const ms = () => Math.round(performance.now() - t0)
const opts = track ? { track } : {}
try {
if (mode === 'create') {
  const c = Container.open(file, { ...opts, init: () => { const a = new Array(+n); for (let i = 0; i < +n; i++) a[i] = { n: i }; return { a } } })
  console.log('init', ms())
  try { const st = await c.persist(); console.log('persist', ms(), st.objects, st.bytes) } catch (e) { console.log('persist failed', e.constructor.name, e.message, e.stack.split('\n').slice(1, 6).join('\n')) }
  try { c.root.a.push({ n: -1 }); const st = await c.persist(); console.log('persist2', ms(), st.objects, st.bytes) } catch (e) { console.log('persist2 failed', e.constructor.name, e.message) }
  await c.close().catch(e => console.log('close failed', e.constructor.name, e.message))
} else {
  const c = Container.open(file, { ...opts, lazy: mode === 'lazy' }); console.log('open', ms(), c.version)
  const a = c.unwrap(c.root.a); let x = 0; for (let i = 0; i < a.length; i += 1000) x += a[i].n; console.log('len', a.length, x, ms())
  a.push({ n: -2 }); const st = await c.persist(); console.log('persist', ms(), st.objects)
  await c.close()
}
} catch (e) { console.log('FAILED', e.constructor.name, e.message, e.stack.split('\n').slice(1, 8).join('\n')) }
