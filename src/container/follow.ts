/**
 * A read-only container beside a live writer: restoring the newest committed version while
 * the writer goes on persisting, and checking a file in use, without ever reporting the
 * writer's work in progress as damage.
 *
 * The shadow store never writes a chunk a retained version references, and frees a chunk
 * only after a metadata slot that no longer retains its version was written (ShadowStore
 * inv. 1, 3). So a restore of version v that finds v still retained when it is done read v
 * exactly, even though nothing kept the writer from going on meanwhile.
 *
 * Invariants (cited as "follow N"):
 *   1. A restore is returned only if, after it, the newest valid slot still retains its
 *      version, or no writer is alive (the file did not change). Otherwise (the version left
 *      the retention window: chunks may have been reused, and the restore may have read
 *      another version's bytes, which can pass their checksums) it is retried on the newest.
 *   2. An error met while restoring (a checksum, a decoder) counts as damage only under the
 *      same condition; otherwise the restore is retried.
 *   3. A fall-back to the older slot (the newest one does not validate) is taken as damage
 *      only once no writer is alive, or it lasted `followTiming.slotMs`: a live writer's
 *      slot is invalid only while it copies it (microseconds).
 *   4. The reader grows its mapping before opening the store (Region inv. R8), and the
 *      writer grows the file before a slot names the new chunks, so a version's chunks are
 *      always mapped; a slot read before a later growth makes the restore fail, and retry.
 *   5. Nothing here writes: the region is read-only.
 *   6. Opening the store of a read-only region (`openFollowing`) meets the same race: its
 *      slots may name chunks the writer reuses before they are read. A CorruptionError while
 *      a writer holds the lock is retried (growing the mapping first, inv. 4) until
 *      `followTiming.retryMs`; without a live writer it is damage at once.
 * Bound: a version stays retained for `keepVersions - 1` more persistence points, so a
 * restore succeeds when it takes less time than that many points; after
 * `followTiming.retryMs` of failed tries it throws SnapshotConflictError.
 */
import { CorruptionError, PmemError, type RegionLike } from '../../regions/index.js'
import { SnapshotConflictError } from '../../txn/index.js'
import { restoreFrom, type Restored } from './restore.js'
import type { Backing } from './backing.js'
import type { ClassRegistry } from './classes.js'
import type { ChunkStore } from './store.js'
import type { ContainerCheck } from './check.js'

/** Timing of follow.ts in milliseconds (tests may lower them). */
export const followTiming = { retryMs: 10_000, slotMs: 200 }

const sleepCell = new Int32Array(new SharedArrayBuffer(4))
function sleep(ms: number): void { Atomics.wait(sleepCell, 0, 0, ms) }

/** Opens the store of a read-only region beside a possibly live writer (follow 6). */
export function openFollowing(region: RegionLike, open: () => ChunkStore): ChunkStore {
  const start = performance.now()
  for (;;) {
    try { return open() } catch (e) {
      let live: boolean
      try { live = (region.liveWriter?.() ?? null) !== null } catch { live = true }
      if (!(e instanceof CorruptionError) || !live || performance.now() - start > followTiming.retryMs) throw e
      sleep(1)
      region.followGrowth?.()
    }
  }
}

/** The newest version, restored (follow 1-4); `restored` is null for a store with no persisted version. */
export interface Followed { store: ChunkStore | null; restored: Restored | null }

/**
 * Restores the newest committed version of a read-only container (follow 1-5). A damaged
 * newest version is thrown as the CorruptionError it gave (the caller falls back to an
 * older one, as a writable open does).
 */
export function followNewest(backing: Backing, path: string, classes: ClassRegistry, lazy = false): Followed {
  const start = performance.now()
  for (let attempt = 1; ; attempt++) {
    const live = backing.writerAlive()
    backing.followGrowth()
    let store: ChunkStore | null = null, restored: Restored | null = null, error: unknown = null
    try {
      store = backing.reopen()
      if (store !== null && store.fellBack !== null && live && performance.now() - start < followTiming.slotMs) { sleep(1); continue } // follow 3
      if (store !== null && store.getMeta().length > 0) restored = restoreFrom(store, path, classes, lazy)
    } catch (e) { error = e }
    const version = store?.version
    if (!live || (error === null && version === undefined) || (version !== undefined && backing.retained().includes(version))) {
      if (error !== null) throw error
      return { store, restored }
    }
    if (error !== null && !(error instanceof PmemError)) throw error
    if (performance.now() - start > followTiming.retryMs) {
      throw new SnapshotConflictError(`Cannot restore container "${path}": its writer kept replacing the newest version before a restore of it was done (${attempt} tries in ${Math.round(performance.now() - start)} ms); open it with a larger keepVersions, or persist less often`)
    }
    sleep(attempt > 3 ? 1 : 0)
  }
}

/**
 * Runs a check of a container file (`once`, on the store as it is now) until its report can
 * be trusted: ok, or no writer alive, or the retained versions did not change while it ran
 * (so no chunk it read was freed or rewritten, follow 1). Bounded by `followTiming.retryMs`.
 */
export function checkStable(backing: Backing, once: () => ContainerCheck): ContainerCheck {
  const start = performance.now()
  for (;;) {
    const before = backing.retained().join()
    backing.followGrowth()
    let report: ContainerCheck
    try { report = once() } catch (e) {
      if (!(e instanceof CorruptionError) || !backing.writerAlive() || backing.retained().join() === before) throw e
      if (performance.now() - start > followTiming.retryMs) throw e
      continue
    }
    if (report.ok || !backing.writerAlive() || backing.retained().join() === before || performance.now() - start > followTiming.retryMs) return report
    sleep(1)
  }
}
