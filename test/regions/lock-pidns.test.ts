/**
 * The writer lock across PID namespaces, with real processes (regions/lock-owner.ts
 * inv. O1, O2; lock.ts inv. L1): a holder started with `unshare --pid --fork --mount-proc`
 * is pid 1 in its namespace, a pid that names another live process (init, or the
 * contender itself) everywhere else. Contenders in the host namespace and in a second new
 * namespace must see the lock held while the holder lives, and take it over only once the
 * holder is gone and its lock is stale.
 *
 * Needs permission to create PID namespaces (root, or unprivileged user namespaces with
 * `unshare --user`); skipped with that reason where it is not granted.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { Region } from '../../regions/region.js'
import { lockDirOf, readLockOwner } from '../../regions/lock.js'
import { RegionLockedError } from '../../regions/errors.js'
import { fileDigest, startWrappedChild, useTempDirs } from './fixtures/helpers.js'

const UNSHARE = ['unshare', '--pid', '--fork', '--mount-proc']

function unshareWorks(): boolean {
  try {
    execFileSync(UNSHARE[0]!, [...UNSHARE.slice(1), 'true'], { stdio: 'ignore', timeout: 20_000 })
    return true
  } catch {
    return false
  }
}

const skip = unshareWorks() ? false : 'cannot create PID namespaces here (`unshare --pid --fork --mount-proc` is not permitted: needs root or CAP_SYS_ADMIN)'
const tempDir = useTempDirs('pmem-lock-pidns-')

/** Runs `try-open` in a fresh PID namespace; its JSON answer. */
async function tryOpenInNewNamespace(path: string): Promise<Record<string, unknown>> {
  const child = startWrappedChild(UNSHARE, {}, 'try-open', path)
  const line = await child.nextLine()
  const r = await child.exited
  assert.equal(r.code, 0, r.stderr)
  return line
}

/** The host pid of the only child of process `pid` (the process unshare forked). */
function onlyChildOf(pid: number): number {
  const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)
  assert.equal(children.length, 1, `unshare ${pid} has children ${children.join(',')}`)
  return Number(children[0])
}

describe('writer lock across PID namespaces (inv. O1, O2, L1)', { skip }, () => {
  it('a holder in one PID namespace keeps its lock against contenders in others until it is gone and stale', async () => {
    const path = join(tempDir(), 'r.pm')
    Region.open(path, { size: 4 * 4096 }).close()
    const before = fileDigest(path)
    // The holder refreshes its lock every 200 ms; contenders keep the default 10 s stale time.
    const holder = startWrappedChild([...UNSHARE, '--kill-child'], { PMEM_TEST_LOCK_TIMING: '10000,200' }, 'hold', path)
    try {
      const ready = await holder.nextLine()
      assert.equal(ready.pid, 1, 'the holder is pid 1 of its namespace')
      const owner = readLockOwner(path)
      assert.ok(owner?.pidns !== undefined && owner.pidns !== fs.readlinkSync('/proc/self/ns/pid'), `recorded namespace ${owner?.pidns}`)

      // Host namespace: pid 1 is init here, alive but started earlier.
      assert.throws(() => Region.open(path), (e: unknown) => {
        assert.ok(e instanceof RegionLockedError, String(e))
        assert.match(e.message, /locked by process 1 of another PID namespace or boot/)
        return true
      })
      // A second new namespace: pid 1 is the contender itself.
      assert.deepEqual(Object.keys(await tryOpenInNewNamespace(path)), ['locked', 'message', 'pidns'])

      // The holder keeps its lock fresh: a back-dated mtime comes back (inv. O2, K1).
      const old = new Date(Date.now() - 60_000)
      fs.utimesSync(lockDirOf(path), old, old)
      while (fs.statSync(lockDirOf(path)).mtimeMs < Date.now() - 30_000) await new Promise(r => setTimeout(r, 50))
      assert.throws(() => Region.open(path), RegionLockedError)

      // The holder dies (SIGKILL: nothing released). Its lock is still fresh, so still held.
      process.kill(onlyChildOf(holder.proc.pid!), 'SIGKILL')
      await holder.exited
      assert.throws(() => Region.open(path), RegionLockedError)
      // A contender in a new namespace sees it held too, unless the kernel gave that namespace
      // the dead holder's namespace id (ids of dead namespaces are reused, most often under
      // load): then the record's pid 1 is the contender itself with another start time, which
      // proves the holder dead, and taking the lock over is right (inv. O1).
      const after = await tryOpenInNewNamespace(path)
      if (after.pidns === owner?.pidns) assert.equal(after.opened, true, JSON.stringify(after))
      else assert.equal(after.locked, true, JSON.stringify(after))

      // Once stale (here: back-dated past the stale time), a contender takes it over.
      if (after.locked === true) {
        fs.utimesSync(lockDirOf(path), old, old)
        assert.equal((await tryOpenInNewNamespace(path)).opened, true)
      }
      assert.equal(fs.existsSync(lockDirOf(path)), false, 'the new holder released it at close')
      Region.open(path).close()
      assert.deepEqual(fileDigest(path), before)
    } finally {
      holder.proc.kill('SIGKILL')
    }
  })
})
