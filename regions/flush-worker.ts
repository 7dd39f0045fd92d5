/**
 * Ranged msync off the main thread, for `Region.flushAsync`.
 *
 * fdatasync makes the whole file durable, so an asynchronous flush of one log page would
 * also write every data page dirtied since the last flush (measured: 1.2-2.2 ms with 64
 * dirty pages instead of 0.2 ms). msync(MS_SYNC) of a range writes only that range, but the
 * binding's msync blocks. So one shared worker thread maps each file itself (a second shared
 * mapping of the same file: the page cache is shared, and msync of a range writes back the
 * file's dirty pages in that range whichever mapping dirtied them) and runs the msync there.
 *
 * Invariants:
 *   W1. A request resolves only after msync(MS_SYNC) of the whole range returned in the
 *       worker; any error rejects it (the region then turns broken).
 *   W2. The worker maps a file at its current size, opened read-write (msync through a
 *       read-only mapping writes nothing back), and remaps when the file has grown.
 *   W3. The worker keeps the process alive only while a request is pending.
 */
import { Worker } from 'node:worker_threads'
import { createRequire } from 'node:module'

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const fs = require('node:fs')
const mmap = require(workerData.binding)
const files = new Map()
function mapped(path, size) {
  let f = files.get(path)
  if (f !== undefined && f.size >= size) return f
  if (f !== undefined) fs.closeSync(f.fd)
  const fd = fs.openSync(path, 'r+')
  f = { fd, size, buf: mmap.map(size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd, 0) }
  files.set(path, f)
  return f
}
parentPort.on('message', (m) => {
  if (m.forget !== undefined) {
    const f = files.get(m.forget)
    if (f !== undefined) { fs.closeSync(f.fd); files.delete(m.forget) }
    return
  }
  try {
    mmap.sync(mapped(m.path, m.size).buf, m.offset, m.length, true)
    parentPort.postMessage({ id: m.id })
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e && e.message || e) })
  }
})
`

interface Pending { resolve: () => void; reject: (e: Error) => void }

let worker: Worker | null | undefined
const pending = new Map<number, Pending>()
let nextId = 1

function getWorker(): Worker | null {
  if (worker !== undefined) return worker
  try {
    const binding = createRequire(import.meta.url).resolve('@riaskov/mmap-io')
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { binding } })
    w.unref()
    w.on('message', (m: { id: number; error?: string }) => {
      const p = pending.get(m.id)
      if (p === undefined) return
      pending.delete(m.id)
      if (pending.size === 0) w.unref()
      if (m.error === undefined) p.resolve()
      else p.reject(new Error(`msync failed: ${m.error}`))
    })
    w.on('error', (e) => failAll(e))
    w.on('exit', () => { worker = undefined; failAll(new Error('the flush worker exited')) })
    worker = w
  } catch {
    worker = null
  }
  return worker
}

function failAll(e: Error): void {
  for (const p of pending.values()) p.reject(e)
  pending.clear()
}

/**
 * Makes `[offset, offset + length)` of the file at `absPath` (whose size is `fileSize`)
 * durable without blocking the event loop; null when no worker can run (the caller falls
 * back to fdatasync).
 */
export function msyncInWorker(absPath: string, fileSize: number, offset: number, length: number): Promise<void> | null {
  const w = getWorker()
  if (w === null) return null
  const id = nextId++
  return new Promise<void>((resolve, reject) => {
    pending.set(id, { resolve, reject })
    if (pending.size === 1) w.ref() // W3
    w.postMessage({ id, path: absPath, size: fileSize, offset, length })
  })
}

/**
 * Starts the worker now if it is not running: it takes 100-170 ms to start on these
 * machines, which the first `msyncInWorker` would otherwise wait for. It starts on its own
 * thread, so a caller about to compute for a while (a container's first point) loses nothing.
 */
export function startFlushWorker(): void { getWorker() }

/** Drops the worker's mapping of a file (after its region closed). */
export function forgetInWorker(absPath: string): void {
  worker?.postMessage({ forget: absPath })
}
