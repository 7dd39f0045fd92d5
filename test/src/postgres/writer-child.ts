/**
 * A writer in another process (faults.test.ts): opens container `name` in the database at
 * `url` for writing with a lease of `leaseMs`, reports its lease holder, then persists on
 * command and reports the outcome (or the error's code).
 * argv: url name leaseMs
 */
import { Container } from '../../../src/index.js'
import { PostgresStore } from '../../../src/postgres/index.js'

const [url, name, leaseMs] = process.argv.slice(2)
const store = await PostgresStore.connect(url, { leaseMs: Number(leaseMs) })
const c = await Container.openStore(store, name, { init: () => ({ n: 0 }) })
process.send!({ ready: true, holder: store.holder })
process.on('message', async (m: { op: 'persist'; n: number } | { op: 'close' }) => {
  if (m.op === 'close') {
    await c.close().catch(() => {})
    await store.close()
    process.exit(0)
  }
  try {
    c.root.n = m.n
    const s = await c.persist()
    process.send!({ ok: true, version: s.version })
  } catch (e) {
    process.send!({ ok: false, code: (e as { code?: string }).code, message: (e as Error).message })
  }
})
