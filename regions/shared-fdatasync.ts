/**
 * The fdatasync fallback of `Region.flushAsync` (where no flush thread can do a ranged msync,
 * flush-worker.ts W8, W10): fdatasync on the libuv thread pool, shared by every caller that
 * arrives while one runs (they share the next one), on a descriptor that outlives the
 * region's close() while an fdatasync still uses it.
 *
 * Invariants:
 *   S1. A `sync()` promise resolves only after an fdatasync that started after the call
 *       returned without error (so it covers every store made before the call).
 *   S2. The descriptor is closed exactly once: at `closeWhenIdle()` or, if an fdatasync is
 *       running then, when the last one ends.
 */
import fs from 'node:fs'

/** What the owner says when a queued fdatasync is about to start: go on, closed (its close made everything durable) or the error to throw. */
export type SyncGate = () => 'open' | 'closed' | Error

export class SharedFdatasync {
  #fd: number
  #running = 0
  #closing = false
  #inflight: Promise<void> | null = null
  #queued: Promise<void> | null = null
  readonly #gate: SyncGate
  readonly #failed: (err: Error) => Error

  /** `failed` turns an fdatasync error into the error to reject with (the region breaks, inv. R6). */
  constructor(fd: number, gate: SyncGate, failed: (err: Error) => Error) {
    this.#fd = fd
    this.#gate = gate
    this.#failed = failed
  }

  /** An fdatasync that starts after this call (S1): the running one's followers share one. */
  sync(): Promise<void> {
    if (this.#queued !== null) return this.#queued
    if (this.#inflight === null) return this.#start()
    const queued: Promise<void> = this.#inflight.catch(() => {}).then(() => {
      this.#queued = null
      const state = this.#gate()
      if (state instanceof Error) throw state
      if (state === 'closed') return undefined
      return this.#start()
    })
    this.#queued = queued
    return queued
  }

  /** Closes the descriptor now, or when the running fdatasync ends (S2). */
  closeWhenIdle(): void {
    this.#closing = true
    this.#closeIfIdle()
  }

  #start(): Promise<void> {
    this.#running++
    const p: Promise<void> = new Promise((resolve, reject) => {
      fs.fdatasync(this.#fd, err => {
        this.#running--
        if (this.#inflight === p) this.#inflight = null
        this.#closeIfIdle()
        if (err === null) resolve()
        else reject(this.#failed(err))
      })
    })
    this.#inflight = p
    return p
  }

  #closeIfIdle(): void {
    if (!this.#closing || this.#running > 0 || this.#fd < 0) return
    fs.closeSync(this.#fd)
    this.#fd = -1
  }
}
