/**
 * The space a writable Region has the flush thread prepare past its user area (region-growth.ts
 * inv. R7): reservations (`reserveAsync`: zeroed pages) and append streams (`appendStream`:
 * pages holding the caller's bytes), in the order they were asked, and how far such space is
 * known to be ready (`reservedTo`), so that `grow` only writes what is not.
 *
 * All offsets here are file offsets. `userEnd` is where the user area ends in the file
 * (HEADER_SIZE + size), passed in by the region at each call.
 *
 * Invariants (besides flush-worker.ts W4, W5, W8):
 *   A1. `reservedTo` only ever covers jobs that ended DONE, each starting exactly where the
 *       ready space ended (a job after a failed, lost or cancelled one fails its start check
 *       in the thread, W4, and does not count here either).
 *   A2. `settle` returns only when no job of this file is running in the flush thread: each
 *       ended (done, failed), was cancelled before it started, or its thread died (W8). A job
 *       still running after the bound throws FlushThreadError and stays listed (nothing
 *       changed; a later call waits for it again).
 */
import { FlushThreadError } from './errors.js'
import {
  JOB_END, JOB_PENDING, JOB_RUNNING, reserveInWorker, streamInWorker, waitJob, type FileRef, type Job, type WorkerStream,
} from './flush-worker.js'

/** A job sent to the flush thread and not yet folded into `reservedTo`. */
interface Ahead {
  readonly job: Job
  /** Where a reservation ends; a stream's end is in its status word once it is done. */
  readonly to: number
  readonly done?: Promise<void>
  readonly stream?: WorkerStream
}

/** The reservations and streams of one writable region (inv. A1, A2). */
export class SpaceAhead {
  readonly #file: FileRef
  readonly #name: string
  /** File size up to which zeroed (or streamed) fsynced pages lie past the user area (A1); 0 if none. */
  #reservedTo = 0
  #jobs: Ahead[] = []

  constructor(file: FileRef, name: string) {
    this.#file = file
    this.#name = name
  }

  /** File offset where ready or requested space ends (at least `userEnd`); -1 while a stream is open (its end is not known). */
  end(userEnd: number): number {
    this.#fold(userEnd, false)
    const last = this.#jobs.at(-1)
    if (last?.stream !== undefined) return -1
    return Math.max(userEnd, this.#reservedTo, last?.to ?? 0)
  }

  /** File offset up to which space is ready now (call `settle` first to count every job). */
  readyTo(userEnd: number): number { return Math.max(userEnd, this.#reservedTo) }

  /** Asks for zeroed space up to file offset `to`; resolves when the thread is done (or at once if it cannot run). */
  reserve(userEnd: number, to: number): Promise<void> {
    const from = this.end(userEnd)
    const last = this.#jobs.at(-1)
    if (from < 0) return Promise.resolve()                       // a stream is open: its end is not known yet, nothing can follow it
    if (to <= from) return last?.done ?? Promise.resolve()
    const r = reserveInWorker(this.#file, from, to)
    if (r === null) return Promise.resolve()
    this.#jobs.push({ job: r, to: r.to, done: r.done })
    return r.done
  }

  /** Opens a stream whose data starts at file offset `at` (>= the end of requested space); null if one is open or no thread can run. */
  stream(userEnd: number, at: number, block: number): WorkerStream | null {
    const from = this.end(userEnd)
    if (from < 0) return null
    const ws = streamInWorker(this.#file, from, at, block)
    if (ws === null) return null
    this.#jobs.push({ job: ws, to: 0, stream: ws })
    return ws
  }

  /** A2: ends open streams, waits for every job (bounded) and folds them into `reservedTo`. */
  settle(userEnd: number, action: string): void { this.#fold(userEnd, true, action) }

  /**
   * Ends `ws`, waits for it, and returns the file range its bytes took (to be zero-filled
   * by the caller, so that a later grow reads zeros there), or null if nothing of it is kept.
   */
  discard(ws: WorkerStream, action: string): [number, number] | null {
    void ws.end()
    const result = waitJob(ws)
    if (result === 'timeout') throw this.#timeout(action, 'an append stream')
    if (result !== 'done') return null
    return [ws.at, Atomics.load(ws.status, JOB_END)]
  }

  #fold(userEnd: number, wait: boolean, action = ''): void {
    while (this.#jobs.length > 0) {
      const a = this.#jobs[0]!
      const s = Atomics.load(a.job.status, 0)
      if (!wait && (s === JOB_PENDING || s === JOB_RUNNING)) return
      if (a.stream !== undefined) void a.stream.end()
      const result = waitJob(a.job)
      if (result === 'timeout') throw this.#timeout(action, a.stream !== undefined ? 'an append stream' : 'a reservation')
      this.#jobs.shift()
      const to = a.stream !== undefined ? Atomics.load(a.job.status, JOB_END) : a.to
      if (result === 'done' && a.job.from === this.readyTo(userEnd)) this.#reservedTo = to
    }
  }

  #timeout(action: string, what: string): FlushThreadError {
    return new FlushThreadError(`${action} region "${this.#name}": the flush thread did not finish ${what} in time; the region is unchanged: try again later`)
  }
}
