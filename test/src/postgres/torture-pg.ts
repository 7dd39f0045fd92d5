/**
 * `npm run torture -- <seconds> pg`: rounds of readers refreshing beside a writer that is
 * SIGKILLed (readers-kit.ts), each round a new container, on one private cluster.
 */
import { PostgresStore } from '../../../src/postgres/index.js'
import { startCluster, unavailable } from './cluster.js'
import { readersBesideWriter } from './readers-kit.js'

export async function tortureReaders(seconds: number): Promise<void> {
  const why = unavailable()
  if (why !== null) throw new Error(why)
  const cluster = await startCluster()
  const stores: PostgresStore[] = []
  const connect = async () => { const s = await PostgresStore.connect(cluster.url); stores.push(s); return s }
  try {
    const end = Date.now() + seconds * 1000
    let rounds = 0, refreshes = 0, moved = 0
    while (Date.now() < end) {
      const r = await readersBesideWriter(connect, cluster.url, `torture-${rounds}`, 2000, 3)
      rounds++; refreshes += 2000 * 3; moved += r.moved
      console.log(`pg readers: ${rounds} rounds passed (${refreshes} refreshes, ${moved} moved to a newer version; last round reached version ${r.versions})`)
    }
  } finally {
    for (const s of stores) await s.close().catch(() => {})
    await cluster.destroy()
  }
}
