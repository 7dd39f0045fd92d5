/**
 * The code of a flush thread: a worker thread started by flush-worker.ts with
 * `new Worker(new URL('./flush-thread.js', import.meta.url))`, one per lane (inv. W9). It
 * runs the requests of flush-protocol.ts on the region files the main thread names:
 *
 * - `msync`: msync(MS_SYNC) of a range through the thread's own shared mapping of the file
 *   (the page cache is shared: msync of a range writes back the file's dirty pages in it,
 *   whichever mapping dirtied them), mapped in windows below 2^31 bytes (inv. W1, W2);
 * - `reserve`: zeroed 4 KiB pages appended to the file, then fsync (inv. W4);
 * - `stream-*`: an append stream, the caller's bytes written past the end with one CRC-32C
 *   per block (inv. W5).
 *
 * It uses each region's own descriptor, and only inside that file's gate (inv. W6), so once
 * the region's close() has closed the gate the thread never touches the file again. Each
 * request succeeds or fails on its own (inv. W7): there is no chain between requests, and an
 * exception is the failure of the request that raised it. Its exit hook marks its life word
 * so that a main thread blocked in a wait notices the death (inv. W8).
 */
import fs from 'node:fs'
import os from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import { mmap } from './mmap.js'
import { crc32c } from './checksum.js'
import { PAGE_SIZE } from './bounds.js'
import { windowsOf, type WindowPart } from './flush-windows.js'
import {
  GATE_CLOSED, GATE_CLOSING, GATE_OPEN, JOB_DONE, JOB_END, JOB_FAILED, JOB_PENDING, JOB_RUNNING, LANE_SLOT, LIFE_STATE, LIFE_TID,
  THREAD_EXITED, THREAD_RUNNING,
  type Failure, type Fault, type FileRef, type Reply, type Request, type ThreadData,
} from './flush-protocol.js'

/** A stream's bytes are written in pieces of at most this size, each inside the gate, so close waits for one piece at most. */
const WRITE_PIECE = 8 << 20
/** A stream fdatasyncs every this many bytes, so the disk writes while the caller still produces. */
const SYNC_EVERY = 4 << 20
const ZERO = new Uint8Array(PAGE_SIZE)

/** Thrown inside a job when the file's gate is closed: its region was closed (inv. W6). */
class GateClosed extends Error {}

/** A region file as this thread knows it: the region's descriptor, its gate, this thread's windows of it. */
interface OpenFile {
  readonly fd: number
  readonly gate: Int32Array
  readonly windows: Map<number, Buffer>
}

/** An append stream under way (inv. W5). */
interface Stream {
  readonly file: OpenFile | null
  readonly from: number
  readonly block: number
  readonly carry: Uint8Array
  readonly crcs: number[]
  readonly status: Int32Array
  /** False when the main thread cancelled it before it began (its status is then JOB_LOST). */
  readonly taken: boolean
  pos: number
  carried: number
  unsynced: number
  ok: boolean
  /** The file was extended by this stream: trim it back to `from` if it fails. */
  began: boolean
  /** The errno of the failure that turned `ok` false, when it had one (ENOSPC, EFBIG, EIO...): sent with the stream's end. */
  failed?: string
}

const data = workerData as ThreadData | null
const port = parentPort
if (port !== null && data !== null && typeof data === 'object' && data.life instanceof SharedArrayBuffer) run(port, data)

function run(port: NonNullable<typeof parentPort>, data: ThreadData): void {
  const slot = LANE_SLOT[data.lane]
  const generation = data.generation
  const life = new Int32Array(data.life)
  const files = new Map<number, OpenFile>()
  const streams = new Map<number, Stream>()
  const faults: Fault[] = []

  process.on('exit', () => { Atomics.store(life, LIFE_STATE, THREAD_EXITED); Atomics.notify(life, LIFE_STATE) }) // W8
  Atomics.store(life, LIFE_TID, linuxThreadId())
  Atomics.store(life, LIFE_STATE, THREAD_RUNNING)
  Atomics.notify(life, LIFE_STATE)

  port.on('message', (m: Request) => {
    try {
      dispatch(m)
    } catch (e) {                                                 // W7: the failure of this request only
      if ('id' in m) send({ id: m.id, ok: false, failure: failureOf(e) })
    }
  })

  function send(reply: Reply, transfer: ArrayBuffer[] = []): void { port.postMessage(reply, transfer) }

  function dispatch(m: Request): void {
    switch (m.kind) {
      case 'msync': msync(m.file, m.fileSize, m.offset, m.length); send({ id: m.id, ok: true }); return
      case 'reserve': reserve(m.id, m.file, m.from, m.to, m.status); return
      case 'stream-begin': streamBegin(m.sid, m.file, m.from, m.at, m.block, m.status); return
      case 'stream-write': streamWrite(m.sid, m.bytes); return
      case 'stream-end': streamEnd(m.id, m.sid); return
      case 'forget': files.delete(m.fileId); return
      case 'fault': faults.push(m.fault); return
      case 'clear-faults': faults.length = 0; return
    }
  }

  function fileOf(ref: FileRef): OpenFile {
    let f = files.get(ref.id)
    if (f === undefined) {
      f = { fd: ref.fd, gate: new Int32Array(ref.gate), windows: new Map() }
      files.set(ref.id, f)
    }
    return f
  }

  /** Runs `step` inside the file's gate (inv. W6); `op` names it for injected faults. */
  function gated<T>(f: OpenFile, op: Fault['op'] | null, step: () => T): T {
    for (;;) {
      if (Atomics.load(f.gate, GATE_CLOSING) !== 0) throw new GateClosed('the region is closing')
      const seen = Atomics.compareExchange(f.gate, slot, GATE_OPEN, generation)
      if (seen === GATE_OPEN) break
      if (seen === GATE_CLOSED) throw new GateClosed('the region was closed')
      // An earlier thread of this lane died inside the gate (W8): no one else can be in it.
      if (Atomics.compareExchange(f.gate, slot, seen, generation) === seen) break
    }
    try {
      if (op !== null) injected(op)
      return step()
    } finally {
      Atomics.compareExchange(f.gate, slot, generation, GATE_OPEN)
      Atomics.notify(f.gate, slot)
    }
  }

  /** Test-only: performs the first fault queued for `op`, if any. */
  function injected(op: Fault['op']): void {
    const i = faults.findIndex(f => f.op === op)
    if (i < 0) return
    const fault = faults[i]!
    const left = (fault.times ?? 1) - 1
    if (left > 0) faults[i] = { ...fault, times: left }
    else faults.splice(i, 1)
    switch (fault.action) {
      case 'throw': throw new Error(`injected failure of ${op}`)
      case 'errno': throw Object.assign(new Error(`${fault.code ?? 'EIO'}: injected failure of ${op}`), { code: fault.code ?? 'EIO' })
      case 'hold': {
        const word = new Int32Array(fault.hold ?? new SharedArrayBuffer(12))
        Atomics.add(word, 1, 1)                                    // "holding", for the test to see
        Atomics.wait(word, 0, 0, fault.holdMs ?? Infinity)
        Atomics.add(word, 2, 1)                                    // "held": the operation goes on
        return
      }
      case 'exit': process.exit(70)
    }
  }

  // W1, W2: msync of each window the range falls in.
  function msync(ref: FileRef, fileSize: number, offset: number, length: number): void {
    const f = fileOf(ref)
    for (const part of windowsOf(offset, length, fileSize, data.windowBytes)) {
      gated(f, 'msync', () => {
        let window: Buffer
        try {
          window = windowOf(f, part)
        } catch (e) {
          throw Object.assign(withErrno(e) as Error, { mapFailed: true })
        }
        try {
          mmap.sync(window, part.from, part.length, true, false)
        } catch (e) {
          throw withErrno(e)
        }
      })
    }
  }

  function windowOf(f: OpenFile, part: WindowPart): Buffer {
    let buf = f.windows.get(part.index)
    if (buf === undefined || buf.length < part.from + part.length) {
      injected('map')
      buf = mmap.map(part.size, 3 /* PROT_READ | PROT_WRITE */, mmap.MAP_SHARED, f.fd, part.start)
      f.windows.set(part.index, buf)
    }
    return buf
  }

  // W4: zeroed pages from `from` (the file's size) to `to`, then fsync; trimmed back on failure.
  function reserve(id: number, ref: FileRef, from: number, to: number, statusBuffer: SharedArrayBuffer): void {
    const status = new Int32Array(statusBuffer)
    if (Atomics.compareExchange(status, 0, JOB_PENDING, JOB_RUNNING) !== JOB_PENDING) { send({ id, ok: true }); return } // cancelled
    let result = JOB_FAILED
    try {
      const f = fileOf(ref)
      if (startsAtEnd(f, from)) {
        try {
          zeros(f, from, to)
          gated(f, null, () => fs.fsyncSync(f.fd))
          result = JOB_DONE
        } catch (e) {
          trimBack(f, from, e)
        }
      }
    } catch { /* the job failed; its status says so */ }
    finish(status, result)
    send({ id, ok: true })
  }

  /** W4, W5: a job only ever starts at the end of the file, so it never makes a hole. */
  function startsAtEnd(f: OpenFile, from: number): boolean {
    return gated(f, 'begin', () => fs.fstatSync(f.fd).size) === from
  }

  function zeros(f: OpenFile, from: number, to: number): void {
    for (let pos = from; pos < to; pos += PAGE_SIZE) {
      const page = to - pos >= PAGE_SIZE ? ZERO : ZERO.subarray(0, to - pos)
      gated(f, 'write', () => writeAll(f.fd, page, pos))
    }
  }

  function writeBytes(f: OpenFile, bytes: Uint8Array, pos: number): void {
    for (let at = 0; at < bytes.length; at += WRITE_PIECE) {
      const piece = bytes.subarray(at, Math.min(bytes.length, at + WRITE_PIECE))
      gated(f, 'write', () => writeAll(f.fd, piece, pos + at))
    }
  }

  /** After a failure, the file goes back to `from` (unless the region closed: its close trims, W6). */
  function trimBack(f: OpenFile, from: number, cause: unknown): void {
    if (cause instanceof GateClosed) return
    try { gated(f, null, () => fs.ftruncateSync(f.fd, from)) } catch { /* a longer file is still valid (inv. H3) */ }
  }

  function finish(status: Int32Array, result: number): void {
    Atomics.compareExchange(status, 0, JOB_RUNNING, result)
    Atomics.notify(status, 0)
  }

  // W5: an append stream.
  function streamBegin(sid: number, ref: FileRef, from: number, at: number, block: number, statusBuffer: SharedArrayBuffer): void {
    const status = new Int32Array(statusBuffer)
    const taken = Atomics.compareExchange(status, 0, JOB_PENDING, JOB_RUNNING) === JOB_PENDING
    const s: Stream = {
      file: taken ? fileOf(ref) : null, from, block, carry: new Uint8Array(block), crcs: [], status, taken,
      pos: at, carried: 0, unsynced: 0, ok: false, began: false,
    }
    streams.set(sid, s)
    if (s.file === null) return
    try {
      if (startsAtEnd(s.file, from)) {
        s.began = true
        zeros(s.file, from, at)
        s.ok = true
      }
    } catch (e) { streamFailed(s, e) }
  }

  function streamWrite(sid: number, bytes: Uint8Array): void {
    const s = streams.get(sid)
    if (s === undefined || !s.ok || s.file === null) return
    try {
      writeBytes(s.file, bytes, s.pos)
      s.pos += bytes.length
      addCrcs(s, bytes)
      s.unsynced += bytes.length
      if (s.unsynced >= SYNC_EVERY) {
        gated(s.file, null, () => fs.fdatasyncSync(s.file!.fd))
        s.unsynced = 0
      }
    } catch (e) { streamFailed(s, e) }
  }

  function addCrcs(s: Stream, b: Uint8Array): void {
    let i = 0
    if (s.carried > 0) {
      i = Math.min(b.length, s.block - s.carried)
      s.carry.set(b.subarray(0, i), s.carried)
      s.carried += i
      if (s.carried === s.block) { s.crcs.push(crc32c(s.carry)); s.carried = 0 }
    }
    for (; i + s.block <= b.length; i += s.block) s.crcs.push(crc32c(b, i, i + s.block))
    if (i < b.length) { s.carry.set(b.subarray(i), 0); s.carried = b.length - i }
  }

  function streamEnd(id: number, sid: number): void {
    const s = streams.get(sid)
    streams.delete(sid)
    if (s === undefined || s.file === null) { send({ id, ok: true, crcs: null }); return }
    let end = s.pos
    if (s.ok) {
      try {
        if (s.carried > 0) { s.carry.fill(0, s.carried); s.crcs.push(crc32c(s.carry)); end += s.block - s.carried }
        end = Math.ceil(end / PAGE_SIZE) * PAGE_SIZE
        zeros(s.file, s.pos, end)
        gated(s.file, null, () => fs.fsyncSync(s.file!.fd))
      } catch (e) { streamFailed(s, e) }
    }
    if (!s.ok && s.began) trimBack(s.file, s.from, null)
    const crcs = s.ok ? Uint32Array.from(s.crcs) : null
    Atomics.store(s.status, JOB_END, end)
    finish(s.status, s.ok ? JOB_DONE : JOB_FAILED)
    send({ id, ok: true, crcs, ...(crcs === null && s.failed !== undefined ? { failed: s.failed } : {}) }, crcs !== null ? [crcs.buffer] : [])
  }

  /** A write of stream `s` failed with `e`: the stream is failed, with its errno (sent at its end). */
  function streamFailed(s: Stream, e: unknown): void {
    s.ok = false
    if (e instanceof GateClosed) s.began = false
    const code = (withErrno(e) as NodeJS.ErrnoException | null)?.code
    if (typeof code === 'string') s.failed ??= code
  }
}

function writeAll(fd: number, bytes: Uint8Array, pos: number): void {
  let done = 0
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, pos + done)
}

/** The binding reports "msync() failed, 5": give the error its errno name (EIO). */
function withErrno(e: unknown): unknown {
  if (!(e instanceof Error) || typeof (e as NodeJS.ErrnoException).code === 'string') return e
  const n = /failed, (\d+)/.exec(e.message)?.[1]
  const name = n === undefined ? undefined : Object.entries(os.constants.errno).find(([, v]) => v === Number(n))?.[0]
  return name === undefined ? e : Object.assign(e, { code: name })
}

function failureOf(e: unknown): Failure {
  const code = (e as NodeJS.ErrnoException | null)?.code
  return {
    message: e instanceof Error ? e.message : String(e),
    ...(typeof code === 'string' ? { code } : {}),
    ...(e instanceof GateClosed ? { closed: true } : {}),
    ...((e as { mapFailed?: boolean } | null)?.mapFailed === true ? { mapFailed: true } : {}),
  }
}

/** This thread's Linux thread id (so that a blocked main thread can see it vanish, inv. W8); 0 elsewhere. */
function linuxThreadId(): number {
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop())
    return Number.isSafeInteger(tid) && tid > 0 ? tid : 0
  } catch {
    return 0
  }
}
