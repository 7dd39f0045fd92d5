/**
 * (Imported by postgres.test.ts, to share its cluster.) The writer paused inside its commit:
 * a process SIGSTOPped while its commit's transaction holds the container row's lock (after
 * the fence, before COMMIT) and left there past its lease. The server ends that session
 * after a lease of idleness (pg inv. 6), so another writer takes the lease over and commits;
 * the paused one, SIGCONTed, is refused typed and never commits again (pg inv. 4); readers
 * see only whole versions. Without inv. 6 the takeover waits on the row lock for ever.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Container, ContainerLockedError } from '../../../src/index.js'
import { kit, skip, waitForLockWait } from './pg-kit.js'

const LEASE = 1000

test('a writer SIGSTOPped inside its commit past its lease: another takes over and commits, the resumed one is refused (pg inv. 4, 6)', { skip }, async () => {
  const child = fork(fileURLToPath(new URL('./writer-child.js', import.meta.url)), [kit.cluster.url, 'paused', String(LEASE)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const next = (): Promise<any> => new Promise((resolve, reject) => { child.once('message', resolve); child.once('exit', code => reject(new Error(`writer child exited with ${code}`))) })
  const store = await kit.connect({ leaseMs: 60_000 })
  try {
    await next()
    child.send({ op: 'persist', n: 1 })
    assert.deepEqual(await next(), { ok: true, version: 1 })
    // The child's commit of n = 2 is let through its fence and chunk rows, then paused: its
    // transaction holds the row lock, idle, while the process is stopped.
    const blocker = await kit.admin.connect()
    await blocker.query('BEGIN')
    await blocker.query('LOCK TABLE pmem_versions IN SHARE MODE')
    const answer = next()
    child.send({ op: 'persist', n: 2 })
    await waitForLockWait(kit.admin)
    process.kill(child.pid!, 'SIGSTOP')
    await blocker.query('ROLLBACK'); blocker.release()
    for (let i = 0; ; i++) {      // its backend finishes the INSERT, then waits on the stopped client
      const idle = await kit.admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'idle in transaction' AND query LIKE 'INSERT INTO%pmem_versions%'`)
      if (idle.rows[0].n === 1) break
      assert.ok(i < 500, 'the paused commit sits idle in its transaction')
      await new Promise(r => setTimeout(r, 10))
    }

    // Another writer takes over: each try either waits on the paused commit's row lock or
    // finds the lease still live; the server ends the paused session after a lease idle.
    const start = Date.now()
    let b: Container<{ n: number }> | null = null
    while (b === null) {
      const left = 20_000 - (Date.now() - start)
      assert.ok(left > 0, 'the takeover waited 20 s on the paused writer (its transaction holds the row lock for ever: pg inv. 6)')
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<'timeout'>(resolve => { timer = setTimeout(() => resolve('timeout'), left) })
      const got = await Promise.race([Container.openStore<{ n: number }>(store, 'paused', {}).catch((e: unknown) => e), timeout])
      clearTimeout(timer)
      if (got === 'timeout') continue
      if (got instanceof ContainerLockedError) { await new Promise(r => setTimeout(r, 100)); continue }
      if (got instanceof Error) throw got
      b = got as Container<{ n: number }>
    }
    assert.equal(b.root.n, 1, 'the paused commit never committed')
    b.root.n = 3
    assert.equal((await b.persist()).version, 2)

    process.kill(child.pid!, 'SIGCONT')
    const first = await answer
    assert.equal(first.ok, false, 'the resumed commit does not commit')
    assert.ok(['ERR_PMEM_STORE_UNAVAILABLE', 'ERR_PMEM_LEASE_LOST'].includes(first.code), first.message)
    child.send({ op: 'persist', n: 4 })
    const second = await next()
    assert.equal(second.code, 'ERR_PMEM_LEASE_LOST', `the resumed writer is fenced: ${second.message}`)
    assert.deepEqual((await store.versions('paused')).map(v => v.version), [1, 2])
    b.root.n = 5
    assert.equal((await b.persist()).version, 3, 'the new holder goes on')
    await b.close()
    const r = await Container.openStore<{ n: number }>(store, 'paused', { readOnly: true })
    assert.equal(r.root.n, 5)
    await r.close()
  } finally {
    if (child.exitCode === null) { child.kill('SIGCONT'); child.kill('SIGKILL') }
  }
})
