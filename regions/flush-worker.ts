/**
 * The main-thread side of the flush threads (their code is flush-thread.ts, their messages
 * flush-protocol.ts): ranged msync for `Region.flushAsync`, space reserved ahead for
 * `reserveAsync`, append streams for `appendStream`.
 *
 * Why a thread: fdatasync makes the whole file durable, so an asynchronous flush of one log
 * page would also write every data page dirtied since the last flush (measured: 1.2-2.2 ms
 * with 64 dirty pages instead of 0.2 ms). msync(MS_SYNC) of a range writes only that range,
 * but the binding's msync blocks; so a worker thread runs it.
 *
 * Two lanes, each with at most one thread at a time. A lane's states:
 *
 * | state    | meaning                                         | next                                            |
 * | -------- | ----------------------------------------------- | ----------------------------------------------- |
 * | idle     | no thread started yet                           | a request or `startFlushThreads` -> starting    |
 * | starting | Worker created, its code not running yet;       | 'online' -> running; 'error'/'exit' -> dead     |
 * |          | requests queue in its port                      | (a start failure: no new start for `retryMs`)   |
 * | running  | serving requests                                | 'exit' event, its life word says exited, or its |
 * |          |                                                 | OS thread vanished -> dead                      |
 * | dead     | its pending requests failed (typed, W8)         | the next request (after `retryMs` following a   |
 * |          |                                                 | start failure) -> starting, a new generation    |
 *
 * Invariants (cited as "W1".."W10"):
 *   W1. An msync request resolves 'done' only after msync(MS_SYNC) of the whole range
 *       returned in the thread; an msync error rejects it (the region then turns broken).
 *   W2. The thread maps a file through the region's descriptor in windows of at most
 *       2^30 bytes (flush-windows.ts), never the whole file: a file reaches 2^31 bytes at the
 *       largest user area, beyond the binding's C `int`. A window is remapped when the file
 *       has grown past it.
 *   W3. A thread keeps the process alive only while one of its requests is pending.
 *   W4. A reservation extends the file with zeroed 4 KiB pages from `from`, which must be the
 *       file's size when it starts (else it fails, writing nothing, so no hole is ever made),
 *       then fsyncs; on any error it trims the file back to `from`. Its status word reaches
 *       DONE or FAILED only after all of that, so a thread that waits on it never races it.
 *   W5. An append stream is a reservation whose pages hold the caller's bytes: the same start
 *       check, writes in order from `at`, zeros from `from` to `at` and after the last byte up
 *       to the end of its last block and page, one fsync at its end, trimmed back to `from` on
 *       any error; its status word (and its end offset) are set last.
 *   W6. Gate: a flush thread uses a region's descriptor (map, write, fsync, ftruncate, msync)
 *       only inside that file's gate, one system call at a time (a stream's bytes in pieces of
 *       8 MiB). `closeGate` (Region.close) first bars new entries, then closes it, waiting
 *       (bounded) for the one call under way;
 *       after that no flush thread touches the file or the descriptor again, so close may trim
 *       the file, release the lock and close the descriptor. A job that meets a closed gate
 *       fails, writing and trimming nothing.
 *   W7. Each request succeeds or fails on its own: no chain links them, and an exception in
 *       one (a bug, an injected fault) is that request's failure only.
 *   W8. Death is noticed at once, also by a main thread blocked in a wait: a thread that exits
 *       or crashes marks its life word from its exit hook; one that is terminated (or runs out
 *       of memory) has its OS thread vanish from /proc/self/task (Linux); the 'exit' event
 *       tells the rest. Then its pending requests reject with FlushThreadError, its jobs read
 *       LOST (written by this side only once the thread is dead), the gates it held count as
 *       free, and the next request starts a new thread. A job still PENDING (not taken by the
 *       thread) can always be cancelled (PENDING -> LOST): the thread then skips it.
 *   W9. Small latency-critical msyncs run on the 'sync' lane, reservations and streams on the
 *       'bulk' lane: an msync never queues behind a bulk write.
 *   W10. Environment errors are typed as what they are: a thread that cannot start for lack
 *       of a descriptor is FileSystemError with errno EMFILE (then `flushAsync` falls back to
 *       fdatasync, with a warning), never a damaged or broken region. "Cannot start" is judged
 *       by its life word (its code never ran), not by the 'online' event: with a few
 *       descriptors free the thread goes online and then cannot open its modules.
 */
import fs from 'node:fs'
import { Worker } from 'node:worker_threads'
import { FileSystemError, FlushThreadError, type PmemError } from './errors.js'
import {
  GATE_CLOSED, GATE_CLOSING, GATE_OPEN, JOB_DONE, JOB_FAILED, JOB_LOST, JOB_PENDING, LANE_SLOT, LIFE_STATE, LIFE_TID, MAX_WINDOW,
  THREAD_EXITED, THREAD_STARTING,
  type Fault, type FileRef, type LaneName, type Reply, type Request, type ThreadData,
} from './flush-protocol.js'

export { JOB_DONE, JOB_END, JOB_FAILED, JOB_LOST, JOB_PENDING, JOB_RUNNING, type FileRef } from './flush-protocol.js'

/** Bounds of the waits (tests shorten them). */
export const flushTiming = {
  /** Longest blocking wait for a job a flush thread is running (grow) or for its use of a descriptor (close). */
  waitMs: 60_000,
  /** A blocking wait checks whether the thread died this often (W8). */
  sliceMs: 20,
  /** After a thread failed to start, no new start is tried for this long; requests fall back meanwhile. */
  retryMs: 1_000,
}

/** A request waiting for its reply. */
interface Pending { settle(reply: Reply | PmemError): void }

let generations = 0
let nextId = 1
let nextFileId = 1

/** One started thread of a lane. */
class FlushThread {
  readonly generation = ++generations
  readonly life = new Int32Array(new SharedArrayBuffer(8))
  readonly pending = new Map<number, Pending>()
  readonly worker: Worker
  online = false
  dead = false
  /** Set by the test hook: its death is expected (no warning). */
  terminated = false
  #error: Error | null = null

  constructor(readonly lane: Lane) {
    const data: ThreadData = { lane: lane.name, generation: this.generation, life: this.life.buffer as SharedArrayBuffer, windowBytes: flushThreadTesting.windowBytes }
    this.worker = new Worker(new URL('./flush-thread.js', import.meta.url), { workerData: data, execArgv: [] })
    this.worker.on('online', () => { this.online = true })
    this.worker.on('message', (reply: Reply) => this.#onReply(reply))
    this.worker.on('error', (e: Error) => { this.#error ??= e })
    this.worker.on('exit', (code: number) => this.markDead(this.#deathError(code)))
    this.worker.unref()                                     // W3 (after the listeners: a 'message' listener refs the port)
  }

  /** Posts a request that has a reply; resolves with it, or rejects with a typed error if the thread dies first (W8). */
  request(m: Request & { readonly id: number }, transfer: ArrayBuffer[] = []): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      if (this.dead) { reject(this.#deathError(null)); return }
      this.pending.set(m.id, { settle: r => ('ok' in r ? resolve(r) : reject(r)) })
      if (this.pending.size === 1) this.worker.ref() // W3
      this.worker.postMessage(m, transfer)
    })
  }

  /** Posts a request without a reply. */
  post(m: Request, transfer: ArrayBuffer[] = []): void {
    if (!this.dead) this.worker.postMessage(m, transfer)
  }

  /** True once the thread's code runs (it may take jobs). */
  started(): boolean { return this.dead || this.#ran() }

  /** True once the thread is known dead; checks its life word and its OS thread (W8), so it works while this thread blocks. */
  deadNow(): boolean {
    if (this.dead) return true
    if (Atomics.load(this.life, LIFE_STATE) === THREAD_EXITED) { this.markDead(new FlushThreadError('The flush thread exited; a new one starts with the next request')); return true }
    const tid = Atomics.load(this.life, LIFE_TID)
    if (tid > 0 && !fs.existsSync(`/proc/self/task/${tid}`)) { this.markDead(new FlushThreadError('The flush thread was terminated; a new one starts with the next request')); return true }
    return false
  }

  /** W8: fails every pending request; the lane starts a new thread for the next one. */
  markDead(error: PmemError): void {
    if (this.dead) return
    this.dead = true
    if (!this.#ran() && !this.terminated) this.lane.failedAt = Date.now()
    if (!this.terminated) process.emitWarning(error)
    for (const p of this.pending.values()) p.settle(error)
    this.pending.clear()
    this.worker.unref()
  }

  #onReply(reply: Reply): void {
    const p = this.pending.get(reply.id)
    if (p === undefined) return
    this.pending.delete(reply.id)
    if (this.pending.size === 0) this.worker.unref() // W3
    p.settle(reply)
  }

  /**
   * True once the thread's own code ran (its life word left STARTING). 'online' is not enough:
   * a thread goes online before it loads its modules, and with few descriptors free
   * (measured: 4 or more at `ulimit -n 256`) it goes online and then fails to open them.
   */
  #ran(): boolean { return Atomics.load(this.life, LIFE_STATE) !== THREAD_STARTING }

  /** W10: why it died, typed: an OS refusal at start (EMFILE...) is FileSystemError with its errno. */
  #deathError(code: number | null): PmemError {
    const e = this.#error
    const errno = e === null ? undefined : /\b(E[A-Z0-9]{2,})\b/.exec(e.message)?.[1]
    if (!this.#ran() && errno !== undefined) {
      const why = errno === 'EMFILE' || errno === 'ENFILE' ? 'no file descriptor is free' : 'the system refused it'
      return new FileSystemError(`The flush thread could not start: ${why} (${errno}); flushAsync falls back to fdatasync meanwhile. Raise the limit (ulimit -n) or close files`, errno, { cause: e })
    }
    const what = !this.#ran() ? 'could not start' : e !== null ? 'crashed' : `exited (code ${code ?? 'unknown'})`
    return new FlushThreadError(`The flush thread ${what}${e !== null ? `: ${e.message}` : ''}; a new one starts with the next request`, { cause: e ?? undefined })
  }
}

/** A lane (W9): at most one live thread at a time, started on demand (see the state table). */
class Lane {
  current: FlushThread | null = null
  /** When a thread of this lane last failed to start (no new start for `flushTiming.retryMs` after it). */
  failedAt = -Infinity
  constructor(readonly name: LaneName) {}

  /** The live (or starting) thread, started if needed; null when none can run now (W10: the caller falls back). */
  thread(): FlushThread | null {
    if (this.current !== null && !this.current.dead) return this.current
    if (Date.now() < this.failedAt + flushTiming.retryMs) return null
    try {
      this.current = new FlushThread(this)
    } catch (e) {
      this.failedAt = Date.now()
      process.emitWarning(new FlushThreadError(`The flush thread could not start (${String(e)}); flushAsync falls back to fdatasync`, { cause: e }))
      return null
    }
    return this.current
  }

  /** True when no thread of generation `g` of this lane can be alive (W8). */
  deadGeneration(g: number): boolean {
    const t = this.current
    return t === null || t.generation !== g || t.deadNow()
  }

  get state(): 'idle' | 'starting' | 'running' | 'dead' {
    const t = this.current
    if (t === null) return 'idle'
    if (t.dead) return 'dead'
    return t.online ? 'running' : 'starting'
  }
}

const lanes: Readonly<Record<LaneName, Lane>> = { sync: new Lane('sync'), bulk: new Lane('bulk') }

/** A region file for the flush threads: its descriptor and a fresh, open gate (W6). */
export function newFileRef(fd: number): FileRef {
  return { id: nextFileId++, fd, gate: new SharedArrayBuffer(12) }
}

/**
 * Closes the file's gate (W6): afterwards no flush thread uses its descriptor. Waits for a
 * use under way, at most `timeoutMs`; returns false if one is still under way then.
 */
export function closeGate(file: FileRef, timeoutMs = flushTiming.waitMs): boolean {
  const gate = new Int32Array(file.gate)
  const until = Date.now() + timeoutMs
  Atomics.store(gate, GATE_CLOSING, 1)                    // no new entry: a long job cannot keep re-entering
  for (const lane of Object.values(lanes)) {
    const slot = LANE_SLOT[lane.name]
    for (;;) {
      const seen = Atomics.compareExchange(gate, slot, GATE_OPEN, GATE_CLOSED)
      if (seen === GATE_OPEN || seen === GATE_CLOSED) break
      if (lane.deadGeneration(seen)) { Atomics.compareExchange(gate, slot, seen, GATE_CLOSED); continue }
      const left = until - Date.now()
      if (left <= 0) return false
      Atomics.wait(gate, slot, seen, Math.min(left, flushTiming.sliceMs))
    }
  }
  return true
}

/** Drops the threads' mappings of a file (after its region closed). */
export function forgetInWorker(file: FileRef): void {
  for (const lane of Object.values(lanes)) lane.current?.post({ kind: 'forget', fileId: file.id })
}

/**
 * Starts the threads now if they are not running: one takes 100-170 ms to start on these
 * machines, which the first request would otherwise wait for. They start on their own
 * threads, so a caller about to compute for a while (a container's first point) loses nothing.
 */
export function startFlushThreads(which: readonly LaneName[] = ['sync', 'bulk']): void {
  for (const name of which) lanes[name].thread()
}

/**
 * How an msync request ended when it did not fail: 'done' (W1), 'closed' (the region closed
 * first, W6: its close made everything durable), or the typed reason no thread could do it
 * (W8, W10: it died, could not start or could not map the file; the caller falls back to
 * fdatasync).
 */
export type MsyncResult = 'done' | 'closed' | PmemError

/**
 * Makes file bytes `[offset, offset + length)` of `file` (whose size is `fileSize`) durable
 * in the sync lane's thread, without blocking this one. Rejects (with the system error) only
 * when msync itself failed. Null when no thread can run now (the caller falls back).
 */
export function msyncInWorker(file: FileRef, fileSize: number, offset: number, length: number): Promise<MsyncResult> | null {
  const t = lanes.sync.thread()
  if (t === null) return null
  return t.request({ kind: 'msync', id: nextId++, file, fileSize, offset, length }).then((reply): MsyncResult => {
    if (reply.ok) return 'done'
    if (reply.failure.closed === true) return 'closed'
    if (reply.failure.mapFailed === true) {
      return new FileSystemError(`The flush thread could not map the file (${reply.failure.message}); flushAsync falls back to fdatasync`, reply.failure.code)
    }
    throw Object.assign(new Error(reply.failure.message), { code: reply.failure.code })
  }, (e: PmemError) => e)
}

/** A job of the bulk lane (a reservation or a stream), with its status word (flush-protocol.ts). */
export interface Job {
  /** File offset where the job starts writing: the file's size when it was asked. */
  readonly from: number
  readonly status: Int32Array
  /** The thread it was given to (W8: waits check whether it died, or has not started yet). */
  readonly thread: { deadNow(): boolean; started(): boolean }
}

/** A reservation (W4): zeroed pages from `from` to `to`. */
export interface Reservation extends Job {
  readonly to: number
  /** Resolves when the thread is done with it (whether it succeeded or not) or died. */
  readonly done: Promise<void>
}

/**
 * Asks the bulk lane's thread to extend `file` from `from` (its current size) to `to` bytes
 * with zeroed, allocated, fsynced pages (W4); null when no thread can run now.
 */
export function reserveInWorker(file: FileRef, from: number, to: number): Reservation | null {
  const t = lanes.bulk.thread()
  if (t === null) return null
  const status = new Int32Array(new SharedArrayBuffer(8))
  const done = t.request({ kind: 'reserve', id: nextId++, file, from, to, status: status.buffer as SharedArrayBuffer }).then(() => {}, () => {})
  return { from, to, status, thread: t, done }
}

/** How a job ended, as a blocking wait saw it. */
export type JobResult = 'done' | 'failed' | 'lost' | 'timeout'

/**
 * Blocks until the thread is done with `job`, or it died (W8: 'lost'), or `timeoutMs` passed
 * ('timeout': the thread may still write). 'failed': it wrote nothing or trimmed what it wrote.
 * A job whose thread has not started yet is cancelled ('lost'): a thread that never starts
 * cannot be seen dying, and doing the work here costs the caller no more than waiting.
 */
export function waitJob(job: Job, timeoutMs = flushTiming.waitMs): JobResult {
  const until = Date.now() + timeoutMs
  for (;;) {
    const s = Atomics.load(job.status, 0)
    if (s === JOB_DONE) return 'done'
    if (s === JOB_FAILED) return 'failed'
    if (s === JOB_LOST) return 'lost'
    if (s === JOB_PENDING && !job.thread.started()) { cancelJob(job); continue }
    if (job.thread.deadNow()) { Atomics.compareExchange(job.status, 0, s, JOB_LOST); continue }
    const left = until - Date.now()
    if (left <= 0) return 'timeout'
    Atomics.wait(job.status, 0, s, Math.min(left, flushTiming.sliceMs))
  }
}

/** Cancels `job` if the thread has not taken it yet (W8); true if it will never run. */
export function cancelJob(job: Job): boolean {
  const s = Atomics.compareExchange(job.status, 0, JOB_PENDING, JOB_LOST)
  return s === JOB_PENDING || s === JOB_LOST
}

/**
 * An append stream (W5): bytes written past the end of a file by the bulk lane's thread,
 * with the CRC-32C of every `block` bytes, as a reservation whose pages hold data.
 */
export interface WorkerStream extends Job {
  /** File offset of the first data byte (`from` up to it is zero-filled). */
  readonly at: number
  /** Bytes handed to `write` so far. */
  readonly written: number
  /** Queues `bytes` to be written next: copied, or with `transfer` its whole ArrayBuffer is handed over (detached here). */
  write(bytes: Uint8Array, transfer?: boolean): void
  /**
   * Ends the stream: pads the last block with zeros (and then to a 4 KiB page), fsyncs.
   * Resolves with one CRC-32C per block, or null if anything failed (then the file was
   * trimmed back to `from`, or the region closed). Calling it again returns the same promise.
   */
  end(): Promise<Uint32Array | null>
  /** Once `end()` resolved with null: the errno of the write that failed (ENOSPC, EFBIG, EIO...), when there was one. */
  readonly failure: string | undefined
}

/** Opens an append stream on `file`, whose size must be `from`; data starts at `at`; null when no thread can run now. */
export function streamInWorker(file: FileRef, from: number, at: number, block: number): WorkerStream | null {
  const t = lanes.bulk.thread()
  if (t === null) return null
  const sid = nextId++
  const status = new Int32Array(new SharedArrayBuffer(8))
  t.post({ kind: 'stream-begin', sid, file, from, at, block, status: status.buffer as SharedArrayBuffer })
  let ended: Promise<Uint32Array | null> | null = null
  let written = 0
  let failure: string | undefined
  return {
    from, at, status, thread: t,
    get written() { return written },
    get failure() { return failure },
    write(bytes, transfer = false) {
      if (ended !== null) throw new Error('write after end of an append stream')
      written += bytes.length
      t.post({ kind: 'stream-write', sid, bytes }, transfer ? [bytes.buffer as ArrayBuffer] : [])
    },
    end() {
      ended ??= t.request({ kind: 'stream-end', id: nextId++, sid }).then(r => {
        if (!r.ok) return null
        failure = r.failed
        return r.crcs ?? null
      }, () => null)
      return ended
    },
  }
}

/**
 * Test-only hooks (not exported from regions/index.ts): the window size of threads started
 * later, the state of each lane, faults injected into a lane's thread, and killing it.
 */
export const flushThreadTesting = {
  /** Size of the mapping windows of the threads started from now on (W2). */
  windowBytes: MAX_WINDOW,
  state(lane: LaneName): { state: 'idle' | 'starting' | 'running' | 'dead'; generation: number; pending: number } {
    const t = lanes[lane].current
    return { state: lanes[lane].state, generation: t?.generation ?? 0, pending: t?.pending.size ?? 0 }
  },
  /** Queues `fault` in the lane's thread (started if needed); its next matching operation misbehaves. */
  inject(lane: LaneName, fault: Fault): void {
    const t = lanes[lane].thread()
    if (t === null) throw new Error(`no ${lane} flush thread can run`)
    t.post({ kind: 'fault', fault })
  },
  /** Drops the faults still queued in both lanes' threads. */
  clearFaults(): void {
    for (const lane of Object.values(lanes)) lane.current?.post({ kind: 'clear-faults' })
  },
  /** Terminates the lane's thread (as a crash would), without a warning; resolves when it is gone. */
  async terminate(lane: LaneName): Promise<void> {
    const t = lanes[lane].current
    if (t === null || t.dead) return
    t.terminated = true
    await t.worker.terminate()
  },
  /** Resolves once the lane's thread runs its code (started if needed). */
  async online(lane: LaneName): Promise<void> {
    const t = lanes[lane].thread()
    if (t === null) throw new Error(`no ${lane} flush thread can run`)
    if (!t.online) await new Promise(resolve => t.worker.once('online', resolve))
  },
}
