/**
 * What the main thread and a flush thread (flush-thread.ts) say to each other, and the
 * shared words they both read and write. The invariants these serve (W1-W10) are listed
 * at the top of flush-worker.ts, the side that starts the threads.
 *
 * Shared words (Int32Array over a SharedArrayBuffer):
 *
 * | word              | index | values                                                                 |
 * | ----------------- | ----- | ---------------------------------------------------------------------- |
 * | life of a thread  |     0 | THREAD_STARTING, THREAD_RUNNING, THREAD_EXITED (set by its exit hook)  |
 * |                   |     1 | the thread's Linux thread id once running (0 where unknown)            |
 * | gate of a file    |  lane | GATE_OPEN, GATE_CLOSED, or the generation (> 0) of the thread of that  |
 * |                   |       | lane using the file's descriptor right now (inv. W6)                   |
 * |                   |     2 | 1 once close() asked for the gate: no thread enters it any more        |
 * | status of a job   |     0 | JOB_PENDING, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_LOST (inv. W4, W8) |
 * |                   |     1 | streams: the file offset where the stream ended                        |
 *
 * A job's status moves PENDING -> RUNNING -> DONE | FAILED in the thread, or PENDING -> LOST
 * (cancelled by the main thread: the thread then skips it) or RUNNING -> LOST (written by the
 * main thread only once that thread is known dead). Both sides move it with compareExchange.
 */

/** The two flush threads (inv. W9): small latency-critical msyncs, and bulk writes. */
export type LaneName = 'sync' | 'bulk'

/** Index of a lane's word in a file's gate. */
export const LANE_SLOT: Readonly<Record<LaneName, number>> = { sync: 0, bulk: 1 }

/** `workerData` of a flush thread. */
export interface ThreadData {
  readonly lane: LaneName
  /** Unique among the threads this process started (> 0); written into gates while inside. */
  readonly generation: number
  /** The thread's life word (see the table above). */
  readonly life: SharedArrayBuffer
  /** Size of the mapping windows (inv. W2): a multiple of 4096, at most 2^30. */
  readonly windowBytes: number
}

export const LIFE_STATE = 0
export const LIFE_TID = 1
export const THREAD_STARTING = 0
export const THREAD_RUNNING = 1
export const THREAD_EXITED = 2

export const GATE_OPEN = 0
export const GATE_CLOSED = -1
/** Index of the gate's "closing" word: set first by close, so a thread busy with a long job cannot keep re-entering. */
export const GATE_CLOSING = 2

export const JOB_PENDING = 0
export const JOB_RUNNING = 1
export const JOB_DONE = 2
export const JOB_FAILED = 3
export const JOB_LOST = 4
/** Index of a stream's end offset in its status word. */
export const JOB_END = 1

/** Largest mapping window: below 2^31, the binding's C `int` (inv. W2). */
export const MAX_WINDOW = 2 ** 30

/** A region file as the flush threads know it: the region's own descriptor, used only inside its gate (inv. W6). */
export interface FileRef {
  /** Unique per open region in this process. */
  readonly id: number
  readonly fd: number
  /** Int32Array(3): one word per lane (LANE_SLOT), then the closing word (GATE_CLOSING). */
  readonly gate: SharedArrayBuffer
}

/** Test-only faults (flush-worker.ts `flushThreadTesting`): the next matching operation misbehaves. */
export interface Fault {
  /** `msync`: an msync request; `map`: the mapping of a window; `write`: a write of a reservation or stream; `begin`: the start of a job. */
  readonly op: 'msync' | 'map' | 'write' | 'begin'
  /**
   * `throw`: a plain exception (a bug); `errno`: a system error with `code`; `hold`: adds 1
   * to `hold[1]`, waits inside the gate until `hold[0]` is non-zero or `holdMs` passed, then
   * adds 1 to `hold[2]` (an Int32Array(3) over `hold`); `exit`: the thread exits there and then.
   */
  readonly action: 'throw' | 'errno' | 'hold' | 'exit'
  readonly code?: string
  readonly hold?: SharedArrayBuffer
  readonly holdMs?: number
  /** How many matching operations it applies to (default 1). */
  readonly times?: number
}

export type Request =
  | { readonly kind: 'msync'; readonly id: number; readonly file: FileRef; readonly fileSize: number; readonly offset: number; readonly length: number }
  | { readonly kind: 'reserve'; readonly id: number; readonly file: FileRef; readonly from: number; readonly to: number; readonly status: SharedArrayBuffer }
  | { readonly kind: 'stream-begin'; readonly sid: number; readonly file: FileRef; readonly from: number; readonly at: number; readonly block: number; readonly status: SharedArrayBuffer }
  | { readonly kind: 'stream-write'; readonly sid: number; readonly bytes: Uint8Array }
  | { readonly kind: 'stream-end'; readonly id: number; readonly sid: number }
  | { readonly kind: 'forget'; readonly fileId: number }
  | { readonly kind: 'fault'; readonly fault: Fault }
  | { readonly kind: 'clear-faults' }

/** Why a request failed in the thread. */
export interface Failure {
  readonly message: string
  /** The system error code (`EIO`, ...) when there is one. */
  readonly code?: string
  /** The file's gate was closed (its region closed): nothing was done (inv. W6). */
  readonly closed?: boolean
  /** The thread could not map the file (no address space...): no msync was done, nothing is known to have failed. */
  readonly mapFailed?: boolean
}

/** The answer to a request that has an `id`; streams answer with their block CRCs (or null: failed). */
export type Reply =
  | { readonly id: number; readonly ok: true; readonly crcs?: Uint32Array | null; readonly failed?: string }
  | { readonly id: number; readonly ok: false; readonly failure: Failure }
