/**
 * The life of the region locks a process holds: their refresh, and their release when
 * the process ends.
 *
 * Invariants (cited as "inv. K1".."inv. K4"):
 *  K1. Every held lock's directory mtime is refreshed every `updateMs` by a worker thread
 *      (lock-keeper-thread.ts), so a blocked event loop neither stops the refresh nor loses
 *      the lock (lock.ts inv. L6). Where no worker thread can run, an unref'd main-thread
 *      timer does it (then a blocked event loop can make the lock look stale to contenders
 *      that judge by mtime; lock-owner.ts inv. O2).
 *  K2. Nothing here keeps the process alive: the worker and the fallback timers are unref'd.
 *  K3. Locks still held at a normal exit are released by an 'exit' handler, and at an exit
 *      caused by SIGINT, SIGTERM or SIGHUP by a handler on those signals, installed only
 *      while a lock is held (main thread only) and acting only when it is the signal's
 *      sole listener: it releases, removes itself and raises the signal again, so the
 *      process still dies of it. When the program has its own listener, the signal is the
 *      program's business; if it then exits, the 'exit' handler releases.
 *  K4. No other signal is touched. In particular SIGXFSZ keeps Node's disposition
 *      (ignored), so a write past `ulimit -f` fails with EFBIG (an OutOfSpaceError)
 *      instead of killing the process. (proper-lockfile's signal-exit listened to SIGXFSZ
 *      and re-raised it, which killed the process.)
 */
import { Worker, isMainThread } from 'node:worker_threads'
import { refreshLock } from './lock-refresh.js'
import type { KeeperMessage } from './lock-keeper-thread.js'

/** A held lock as the keeper sees it. */
export interface KeptLock {
  /** The lock directory. */
  readonly dir: string
  /** The exact owner record this process wrote (lock-owner.ts inv. O3). */
  readonly ownerText: string
  /** Called once, from a timer or a message, when the lock turns out lost. Must not throw. */
  lost(): void
  /** Releases the lock (calls `forget`). Must not throw. */
  release(): void
}

const held = new Map<string, KeptLock>()
const periods = new Map<string, number>()
const fallbackTimers = new Map<string, NodeJS.Timeout>()
let thread: Worker | null | undefined // undefined: not started yet; null: cannot run (inv. K1)

/** Starts refreshing `lock` every `everyMs` and releasing it at exit (inv. K1, K3). */
export function keep(lock: KeptLock, everyMs: number): void {
  held.set(lock.dir, lock)
  periods.set(lock.dir, everyMs)
  installExitHooks()
  const w = refreshThread()
  if (w !== null) post(w, { op: 'keep', dir: lock.dir, text: lock.ownerText, everyMs })
  else startFallback(lock, everyMs)
}

/** Stops refreshing `lock` (released or lost). */
export function forget(lock: KeptLock): void {
  if (held.get(lock.dir) !== lock) return
  held.delete(lock.dir)
  periods.delete(lock.dir)
  stopFallback(lock.dir)
  if (thread) post(thread, { op: 'forget', dir: lock.dir, text: lock.ownerText })
  if (held.size === 0) removeSignalHooks()
}

function post(w: Worker, m: KeeperMessage): void { w.postMessage(m) }

function refreshThread(): Worker | null {
  if (thread !== undefined) return thread
  try {
    // stdout/stderr: true: the thread prints nothing, and piping its streams into this
    // process's made `new Worker` create process.stdout and process.stderr on the main
    // thread (25 -> 60 ms of an open's wall time, median of 8, loaded machine)
    const w = new Worker(new URL('./lock-keeper-thread.js', import.meta.url), { stdout: true, stderr: true })
    w.on('message', (m: { lost: string; text: string }) => onLost(m.lost, m.text))
    w.on('error', () => switchToFallback())
    w.on('exit', () => switchToFallback())
    w.unref() // inv. K2 (after the listeners: adding a 'message' listener refs the worker again)
    thread = w
  } catch {
    thread = null
  }
  return thread
}

function onLost(dir: string, text: string): void {
  const lock = held.get(dir)
  if (lock === undefined || lock.ownerText !== text) return
  forget(lock)
  try { lock.lost() } catch { /* never throw from a timer */ }
}

/** The thread died (it should not): refresh every held lock from this thread instead. */
function switchToFallback(): void {
  if (thread === null) return
  thread = null
  for (const lock of held.values()) startFallback(lock, periods.get(lock.dir) ?? 5_000)
}

function startFallback(lock: KeptLock, everyMs: number): void {
  stopFallback(lock.dir)
  const timer = setInterval(() => {
    if (refreshLock(lock.dir, lock.ownerText) === 'lost') onLost(lock.dir, lock.ownerText)
  }, everyMs)
  timer.unref() // inv. K2
  fallbackTimers.set(lock.dir, timer)
}

function stopFallback(dir: string): void {
  const timer = fallbackTimers.get(dir)
  if (timer === undefined) return
  clearInterval(timer)
  fallbackTimers.delete(dir)
}

function releaseAll(): void {
  for (const lock of [...held.values()]) lock.release()
}

let exitHookInstalled = false
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
let signalHooksInstalled = false

function installExitHooks(): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.on('exit', releaseAll)
  }
  if (signalHooksInstalled || !isMainThread) return
  signalHooksInstalled = true
  for (const sig of SIGNALS) process.on(sig, onSignal)
}

function removeSignalHooks(): void {
  if (!signalHooksInstalled) return
  signalHooksInstalled = false
  for (const sig of SIGNALS) process.removeListener(sig, onSignal)
}

/** Inv. K3: the default action of `sig` (terminate), with the locks released first. */
function onSignal(sig: NodeJS.Signals): void {
  if (process.listenerCount(sig) > 1) return // the program handles it
  releaseAll()
  removeSignalHooks()
  process.kill(process.pid, sig)
}
