/**
 * The owner record of a region lock, and the judgement whether its holder may still run.
 *
 * `<file>.lock/owner` holds one JSON object and a newline:
 *
 * | FIELD | TYPE    | DESCRIPTION                                                                     |
 * | ----- | ------- | ------------------------------------------------------------------------------- |
 * | pid   | number  | the holder's pid, as its own PID namespace numbers it                           |
 * | host  | string  | `os.hostname()` of the holder                                                   |
 * | start | string? | the holder's start time, clock ticks since boot (/proc/self/stat field 22)      |
 * | pidns | string? | the holder's PID namespace, `readlink /proc/self/ns/pid`, e.g. "pid:[4026531836]" |
 * | boot  | string? | the holder's kernel boot id, /proc/sys/kernel/random/boot_id                    |
 * | token | string? | 16 random hex digits, new for every acquisition                                 |
 * | thread | number? | the holder's `threadId` (worker_threads): 0 for the main thread                |
 *
 * Records of earlier versions (pid, host and start only) are still read; `pidns`, `boot`
 * and `token` are written wherever /proc provides them (token always).
 *
 * Invariants (cited as "inv. O1".."inv. O4"; O4 is at `otherThreadOfOurs`):
 *  O1. A recorded pid is trusted (the holder is dead when that pid is gone, a zombie, or
 *      names a process started later) only when it names the same process here: the
 *      record's `pidns` and `boot` equal ours and our /proc shows our own PID namespace
 *      (`/proc/self` is our pid). Where neither side knows namespaces (no /proc: not
 *      Linux) equal host names suffice, as before. Otherwise (another PID namespace, a
 *      container, another boot, another host, or a record of an earlier version) a pid
 *      says nothing: kill(pid, 0) would ask about an unrelated process.
 *  O2. A holder whose pid is not trusted is alive while its lock directory's mtime, which
 *      the holder refreshes every `updateMs` (lock-keeper.ts), is younger than `staleMs`.
 *  O3. A holder recognises its own lock by the exact text of its record, which the token
 *      makes unique, never by pid: two processes in two PID namespaces can share a pid,
 *      a host name and even a start time.
 */
import fs from 'node:fs'
import os from 'node:os'
import { randomBytes } from 'node:crypto'
import { threadId } from 'node:worker_threads'

/** The holder recorded in a lock directory. */
export interface LockOwner {
  readonly pid: number
  readonly host: string
  /** Process start time (clock ticks since boot, from /proc/<pid>/stat), when known. */
  readonly start?: string
  /** PID namespace of the holder (`readlink /proc/self/ns/pid`), when known. */
  readonly pidns?: string
  /** Boot id of the holder's kernel, when known. */
  readonly boot?: string
  /** Random id of this acquisition (inv. O3). */
  readonly token?: string
  /** The holder's thread (`threadId`, 0 for the main thread), in records since session 10. */
  readonly thread?: number
}

/** How this process is seen from /proc; computed once. */
interface SelfIdentity {
  readonly start: string | undefined
  readonly pidns: string | undefined
  readonly boot: string | undefined
  /** True when /proc shows our own PID namespace, so /proc/<pid> means what a pid of ours means. */
  readonly procIsOurs: boolean
}

let self: SelfIdentity | undefined

function selfIdentity(): SelfIdentity {
  if (self !== undefined) return self
  const procIsOurs = tryRead(() => fs.readlinkSync('/proc/self')) === String(process.pid)
  self = {
    procIsOurs,
    start: procIsOurs ? readProcStat(process.pid)?.start : undefined,
    pidns: tryRead(() => fs.readlinkSync('/proc/self/ns/pid')),
    boot: tryRead(() => fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
  }
  return self
}

function tryRead(read: () => string): string | undefined {
  try { return read() } catch { return undefined }
}

/** A new owner record for this process (with a fresh token), as the JSON text to write. */
export function newOwnerText(): string {
  const me = selfIdentity()
  const owner: LockOwner = {
    pid: process.pid, host: os.hostname(), start: me.start, pidns: me.pidns, boot: me.boot,
    token: randomBytes(8).toString('hex'), thread: threadId,
  }
  return JSON.stringify(owner) + '\n'
}

/** Parses an owner record; undefined when missing or unreadable (then only the mtime counts). */
export function parseOwner(text: string | undefined): LockOwner | undefined {
  if (text === undefined) return undefined
  try {
    const o = JSON.parse(text) as Record<string, unknown>
    if (typeof o !== 'object' || o === null) return undefined
    if (!Number.isSafeInteger(o.pid) || (o.pid as number) <= 0 || typeof o.host !== 'string') return undefined
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
    const thread = Number.isSafeInteger(o.thread) && (o.thread as number) >= 0 ? o.thread as number : undefined
    return { pid: o.pid as number, host: o.host, start: str(o.start), pidns: str(o.pidns), boot: str(o.boot), token: str(o.token), thread }
  } catch {
    return undefined
  }
}

/**
 * Inv. O4: whether `owner` is another thread of this process (a worker holding the lock, or
 * one terminated with `worker.terminate()`, which releases nothing). Its pid is ours and
 * alive either way, so such a holder is judged by the lock's refresh time, as one of
 * another PID namespace is (lock.ts inv. L1): a live thread's lock keeper refreshes it.
 */
export function otherThreadOfOurs(owner: LockOwner): boolean {
  return owner.pid === process.pid && owner.thread !== undefined && owner.thread !== threadId
}

/** Inv. O1: whether `owner.pid` names the same process in this process's view of the system. */
export function pidIsMeaningful(owner: LockOwner): boolean {
  const me = selfIdentity()
  if (me.pidns !== undefined || me.boot !== undefined) {
    return me.procIsOurs && owner.pidns === me.pidns && owner.boot === me.boot
  }
  return owner.pidns === undefined && owner.boot === undefined && owner.host === os.hostname()
}

/** Whether the holder `owner`, whose pid is meaningful here (inv. O1), still runs. */
export function isProcessAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  const stat = readProcStat(owner.pid)
  if (stat === undefined) return true // no /proc: trust kill(pid, 0)
  if (stat.state === 'Z' || stat.state === 'X') return false // killed, not yet reaped
  return owner.start === undefined || stat.start === owner.start
}

/** A short description of the holder for error messages. */
export function describeOwner(owner: LockOwner): string {
  if (pidIsMeaningful(owner)) {
    if (owner.pid !== process.pid) return `process ${owner.pid}`
    if (owner.thread === undefined || owner.thread === threadId) return `process ${owner.pid} (this process)`
    return `${owner.thread === 0 ? 'the main thread' : `worker thread ${owner.thread}`} of this process (process ${owner.pid}; the lock of a thread that ended without releasing it, such as a terminated worker, is taken over once it has not been refreshed for 10 s)`
  }
  if (owner.host !== os.hostname()) return `process ${owner.pid} on host "${owner.host}"`
  return owner.pidns === undefined
    ? `process ${owner.pid} (a record without PID namespace, judged by its refresh time)`
    : `process ${owner.pid} of another PID namespace or boot (${owner.pidns})`
}

/** Start time of process `pid` in clock ticks since boot (Linux /proc), or undefined. */
export function processStart(pid: number): string | undefined {
  return readProcStat(pid)?.start
}

/** State letter and start time of `pid` from /proc/<pid>/stat, or undefined where unavailable. */
function readProcStat(pid: number): { state: string; start: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 2 (comm) may contain spaces and parentheses: fields 3.. follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const state = fields[0]
    const start = fields[19] // field 22, starttime
    return state !== undefined && start !== undefined ? { state, start } : undefined
  } catch {
    return undefined
  }
}
