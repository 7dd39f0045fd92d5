/**
 * The lock refresh thread (started by lock-keeper.ts): refreshes the mtime of every lock
 * directory this process holds every `everyMs`, so a main thread blocked for longer than
 * the stale time (a long loop of synchronous commits) keeps its lock even against
 * contenders that judge it by mtime (lock-owner.ts inv. O2). Reports a lock whose owner
 * record is gone or foreign as `{ lost: dir, text }` and stops refreshing it.
 *
 * Messages in: `{ op: 'keep', dir, text, everyMs }`, `{ op: 'forget', dir, text }`.
 */
import { parentPort } from 'node:worker_threads'
import { refreshLock } from './lock-refresh.js'

/** A message from lock-keeper.ts. */
export interface KeeperMessage {
  readonly op: 'keep' | 'forget'
  readonly dir: string
  readonly text: string
  readonly everyMs?: number
}

const held = new Map<string, { text: string; timer: NodeJS.Timeout }>()

function refresh(dir: string): void {
  const h = held.get(dir)
  if (h === undefined || refreshLock(dir, h.text) !== 'lost') return
  clearInterval(h.timer)
  held.delete(dir)
  parentPort!.postMessage({ lost: dir, text: h.text })
}

parentPort!.on('message', (m: KeeperMessage) => {
  const h = held.get(m.dir)
  if (m.op === 'forget') {
    if (h !== undefined && h.text === m.text) { clearInterval(h.timer); held.delete(m.dir) }
    return
  }
  if (h !== undefined) clearInterval(h.timer)
  held.set(m.dir, { text: m.text, timer: setInterval(refresh, m.everyMs ?? 5_000, m.dir) })
})
