// pmem serve's batching in this process (src/serve/server.ts): a turn's requests that fail
// together as one transaction are run again one by one, so only the request that cannot be done
// gets SERVER_ERROR and the others are stored (serve inv. 4); nothing of the failed attempt stays.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PersistentMemory, SimRegion } from '../../../src/index.js'
import { PmItemStore, startServer, type Item } from '../../../src/serve/index.js'
import { Raw } from './serve-kit.js'

test('pmem serve: a failed batch is retried one request per transaction; only the failing request gets SERVER_ERROR (serve inv. 4)', async () => {
  const pm = PersistentMemory.fromRegion(SimRegion.create({ size: 2 << 20 }), { logSize: 256 << 10 })
  const store = new PmItemStore(pm, 'sync')
  const put = store.put.bind(store)
  let batches = 0
  const batch = store.batch.bind(store)
  store.batch = <T>(fn: () => T): T | Promise<T> => { batches++; return batch(fn) }
  store.put = (key: string, item: Item): void => {
    put(key, item)                                          // written, then the transaction fails
    if (key === 'poison') throw new Error('disk on fire')
  }
  const server = await startServer({ store, port: 0 })
  const c = await Raw.connect(server.port)
  try {
    // one write, so one turn and one batch: set a, set poison, incr n, set b, then reads
    const replies = await c.ask('set n 0 0 1\r\n5\r\n', 1)
    assert.deepEqual(replies, ['STORED'])
    batches = 0
    assert.deepEqual(await c.ask('set a 0 0 1\r\nA\r\nset poison 0 0 1\r\nP\r\nincr n 2\r\nset b 0 0 1\r\nB\r\nget a poison b n\r\n', 5), [
      'STORED', 'SERVER_ERROR disk on fire', '7', 'STORED', 'VALUE a 0 1\r\nA\r\nVALUE b 0 1\r\nB\r\nVALUE n 0 1\r\n7\r\nEND'])
    assert.equal(batches, 1 + 5, 'one failed batch, then one transaction per request')
    assert.equal(store.get('poison'), undefined)
    const r = pm.check()
    assert.equal(r.ok, true, JSON.stringify(r.problems))
  } finally {
    c.end()
    await server.close()
  }
})
