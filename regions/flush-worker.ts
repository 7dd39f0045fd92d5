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
 *   W4. A reservation (`reserveInWorker`) extends a file with zeroed 4 KiB pages from
 *       `from`, which must be the file's size when it starts (else it fails, writing
 *       nothing, so no hole is ever made), then fsyncs it; on any error it trims the file
 *       back to `from`. Its status word goes from PENDING to DONE or FAILED only after all
 *       of that, so a thread that waits on it never races the worker's writes.
 *   W5. An append stream is a reservation whose pages hold the caller's bytes: the same
 *       start check, writes in order from `at`, zeros from `from` to `at` and after the
 *       last byte up to the end of its last block and page, one fsync at its end, trimmed
 *       back to `from` on any error; its status word (and its end offset) are set last.
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
const ZERO = new Uint8Array(4096)
function reserve(m) {
  const st = new Int32Array(m.status)
  let fd = -1, ok = false
  try {
    fd = fs.openSync(m.reserve, 'r+')
    if (fs.fstatSync(fd).size === m.from) {
      try {
        for (let pos = m.from; pos < m.to; pos += 4096) {
          let done = 0
          while (done < 4096) done += fs.writeSync(fd, ZERO, done, 4096 - done, pos + done)
        }
        fs.fsyncSync(fd)
        ok = true
      } catch (e) {
        try { fs.ftruncateSync(fd, m.from) } catch {}
      }
    }
  } catch {}
  if (fd >= 0) try { fs.closeSync(fd) } catch {}
  Atomics.store(st, 0, ok ? 1 : 2)
  Atomics.notify(st, 0)
  parentPort.postMessage({ id: m.id })
}
function writeAll(fd, bytes, pos) {
  let done = 0
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, pos + done)
}
function zeros(fd, from, to) {
  for (let pos = from; pos < to; pos += 4096) writeAll(fd, to - pos >= 4096 ? ZERO : ZERO.subarray(0, to - pos), pos)
}
const streams = new Map()
const SYNC_EVERY = 4 << 20
function stream(m) {
  if (m.stream === 'begin') {
    const s = { from: m.from, pos: m.at, block: m.block, carry: new Uint8Array(m.block), carried: 0, crcs: [], fd: -1, ok: false, began: false, unsynced: 0, status: new Int32Array(m.status) }
    streams.set(m.sid, s)
    try {
      s.fd = fs.openSync(m.path, 'r+')
      if (fs.fstatSync(s.fd).size === m.from) { s.began = true; zeros(s.fd, m.from, m.at); s.ok = true }
    } catch {}
    return
  }
  const s = streams.get(m.sid)
  if (m.stream === 'write') {
    if (!s.ok) return
    try {
      const b = m.bytes
      writeAll(s.fd, b, s.pos)
      s.pos += b.length
      let i = 0
      if (s.carried > 0) {
        i = Math.min(b.length, s.block - s.carried)
        s.carry.set(b.subarray(0, i), s.carried)
        s.carried += i
        if (s.carried === s.block) { s.crcs.push(crc32c(s.carry)); s.carried = 0 }
      }
      for (; i + s.block <= b.length; i += s.block) s.crcs.push(crc32c(b, i, i + s.block))
      if (i < b.length) { s.carry.set(b.subarray(i), 0); s.carried = b.length - i }
      s.unsynced += b.length
      if (s.unsynced >= SYNC_EVERY) { fs.fdatasyncSync(s.fd); s.unsynced = 0 }   // the disk writes while the caller still produces
    } catch { s.ok = false }
    return
  }
  streams.delete(m.sid)
  let end = s.pos
  if (s.ok) {
    try {
      if (s.carried > 0) { s.carry.fill(0, s.carried); s.crcs.push(crc32c(s.carry)); end += s.block - s.carried }
      end = Math.ceil(end / 4096) * 4096
      zeros(s.fd, s.pos, end)
      fs.fsyncSync(s.fd)
    } catch { s.ok = false }
  }
  if (!s.ok && s.began) { try { fs.ftruncateSync(s.fd, s.from) } catch {} }
  if (s.fd >= 0) try { fs.closeSync(s.fd) } catch {}
  const crcs = Uint32Array.from(s.crcs)
  Atomics.store(s.status, 1, end)
  Atomics.store(s.status, 0, s.ok ? 1 : 2)
  Atomics.notify(s.status, 0)
  parentPort.postMessage({ id: m.id, crcs: s.ok ? crcs : null }, s.ok ? [crcs.buffer] : [])
}
// The library's CRC-32C (checksum.js, slice-by-16); if that module cannot be loaded here
// (a bundled copy, say), the same function computed a byte at a time: slower, same results.
let crc32c = (bytes, start = 0, end = bytes.length) => {
  let c = ~0
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8)
  return ~c >>> 0
}
const CRC_TABLE = new Int32Array(256)
for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1; CRC_TABLE[n] = c }
let chain = import(workerData.checksum).then(mod => { crc32c = mod.crc32c }, () => {})
parentPort.on('message', (m) => { chain = chain.then(() => handle(m)) })
function handle(m) {
  if (m.stream !== undefined) { stream(m); return }
  if (m.reserve !== undefined) { reserve(m); return }
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
}
`

interface Pending { resolve: (v?: unknown) => void; reject: (e: Error) => void }

let worker: Worker | null | undefined
const pending = new Map<number, Pending>()
let nextId = 1

function getWorker(): Worker | null {
  if (worker !== undefined) return worker
  try {
    const binding = createRequire(import.meta.url).resolve('@riaskov/mmap-io')
    const checksum = new URL('./checksum.js', import.meta.url).href
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { binding, checksum } })
    w.unref()
    w.on('message', (m: { id: number; error?: string; crcs?: Uint32Array | null }) => {
      const p = pending.get(m.id)
      if (p === undefined) return
      pending.delete(m.id)
      if (pending.size === 0) w.unref()
      if (m.error === undefined) p.resolve(m.crcs)
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
    pending.set(id, { resolve: () => resolve(), reject })
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

/** A reservation under way in the worker (W4): `status[0]` is 0 while it runs, 1 done, 2 failed. */
export interface Reservation {
  readonly from: number
  readonly to: number
  readonly status: Int32Array
  /** Resolves when the worker is done with it (whether it succeeded or not). */
  readonly done: Promise<void>
}

/** Status values of a reservation. */
export const RESERVE_PENDING = 0
export const RESERVE_DONE = 1

/**
 * Asks the worker to extend the file at `absPath` from `from` (its current size) to `to`
 * bytes with zeroed, allocated, fsynced pages (W4); null when no worker can run.
 */
export function reserveInWorker(absPath: string, from: number, to: number): Reservation | null {
  const w = getWorker()
  if (w === null) return null
  const id = nextId++
  const status = new Int32Array(new SharedArrayBuffer(4))
  const done = new Promise<void>(resolve => {
    pending.set(id, { resolve: () => resolve(), reject: () => resolve() })
    if (pending.size === 1) w.ref() // W3
    w.postMessage({ id, reserve: absPath, from, to, status: status.buffer })
  })
  return { from, to, status, done }
}

/**
 * Blocks until the worker is done with `r` (or `timeoutMs` passed): 'done', 'failed' (the
 * worker wrote nothing or trimmed what it wrote), or 'timeout' (the worker may still write).
 */
export function waitReservation(r: { readonly status: Int32Array }, timeoutMs = 60_000): 'done' | 'failed' | 'timeout' {
  const until = Date.now() + timeoutMs
  while (Atomics.load(r.status, 0) === RESERVE_PENDING) {
    const left = until - Date.now()
    if (left <= 0) return 'timeout'
    Atomics.wait(r.status, 0, RESERVE_PENDING, Math.min(left, 1000))
  }
  return Atomics.load(r.status, 0) === RESERVE_DONE ? 'done' : 'failed'
}

/**
 * An append stream (W5): bytes written past the end of a file by the flush thread, with
 * the CRC-32C of every `block` bytes, as a reservation whose pages hold data instead of zeros.
 */
export interface WorkerStream {
  /** File offset where the reserved space started (the file's size when the stream began). */
  readonly from: number
  /** File offset of the first data byte (`from` up to it is zero-filled). */
  readonly at: number
  /** `[0]`: 0 while open or running, 1 done, 2 failed; `[1]`: the file offset where the stream ended. */
  readonly status: Int32Array
  /** Bytes handed to `write` so far. */
  readonly written: number
  /** Queues `bytes` to be written next: copied, or with `transfer` its whole ArrayBuffer is handed over (detached here). */
  write(bytes: Uint8Array, transfer?: boolean): void
  /**
   * Ends the stream: pads the last block with zeros (and then to a 4 KiB page), fsyncs.
   * Resolves with one CRC-32C per block, or null if anything failed (then the file was
   * trimmed back to `from`). Calling it again returns the same promise.
   */
  end(): Promise<Uint32Array | null>
}

/** Opens an append stream on the file at `absPath`, whose size must be `from`; data starts at `at`; null when no worker can run. */
export function streamInWorker(absPath: string, from: number, at: number, block: number): WorkerStream | null {
  const w = getWorker()
  if (w === null) return null
  const sid = nextId++
  const status = new Int32Array(new SharedArrayBuffer(8))
  w.postMessage({ stream: 'begin', sid, path: absPath, from, at, block, status: status.buffer })
  let ended: Promise<Uint32Array | null> | null = null
  let written = 0
  return {
    from, at, status,
    get written() { return written },
    write(bytes, transfer = false) {
      if (ended !== null) throw new Error('write after end of an append stream')
      written += bytes.length
      w.postMessage({ stream: 'write', sid, bytes }, transfer ? [bytes.buffer as ArrayBuffer] : [])
    },
    end() {
      if (ended !== null) return ended
      const id = nextId++
      ended = new Promise<Uint32Array | null>(resolve => {
        pending.set(id, { resolve: v => resolve((v as Uint32Array | null | undefined) ?? null), reject: () => resolve(null) })
        if (pending.size === 1) w.ref() // W3
        w.postMessage({ stream: 'end', sid, id })
      })
      return ended
    },
  }
}

/** Drops the worker's mapping of a file (after its region closed). */
export function forgetInWorker(absPath: string): void {
  worker?.postMessage({ forget: absPath })
}
