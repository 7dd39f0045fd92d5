// Helpers for the pmem serve tests: the server as a real child process (`pmem serve`), a raw
// socket client that reads replies by the protocol, and a promise wrapper of the `memcached`
// client library from npm.
import { spawn, type ChildProcess } from 'node:child_process'
import assert from 'node:assert/strict'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Memcached from 'memcached'

export const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'cli', 'pmem.js')

/** A `pmem serve` child process listening on a free loopback port. */
export interface Served { port: number; child: ChildProcess; stderr: () => string; stdout: () => string; exited: Promise<number | null> }

/** Starts `pmem serve file --port 0 ...args` and resolves once it listens. */
export function serve(file: string, args: string[] = []): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', file, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  child.stderr.on('data', d => { err += String(d) })
  return new Promise((resolve, reject) => {
    child.stdout.on('data', d => {
      out += String(d)
      const m = /listening on [^:]+:(\d+)/.exec(out)
      if (m) resolve({ port: Number(m[1]), child, stderr: () => err, stdout: () => out, exited })
    })
    void exited.then(code => reject(new Error(`pmem serve exited with ${code} before listening: ${err}`)))
  })
}

/** SIGKILLs the server and waits until it is gone. */
export async function kill(s: Served): Promise<void> {
  s.child.kill('SIGKILL')
  await s.exited
}

/** Starts the server on `file` and SIGKILLs it `ms` later, maybe in the middle of its recovery. */
export async function killDuringRecovery(file: string, durability: string, ms: number, size = 8 << 20): Promise<void> {
  const child = spawn(process.execPath, [CLI, 'serve', file, '--port', '0', '--durability', durability, '--size', String(size)], { stdio: 'ignore' })
  await new Promise(r => setTimeout(r, ms))
  child.kill('SIGKILL')
  await new Promise(r => child.once('exit', r))
}

/** SIGTERMs the server (a clean stop) and returns its exit code. */
export async function stop(s: Served): Promise<number | null> {
  s.child.kill('SIGTERM')
  return s.exited
}

/** A raw connection that reads whole replies: lines, and VALUE blocks up to END. */
export class Raw {
  readonly socket: net.Socket
  #buf = Buffer.alloc(0)
  #waiters: Array<() => void> = []
  closed = false

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('data', d => { this.#buf = Buffer.concat([this.#buf, d]); this.#wake() })
    socket.on('close', () => { this.closed = true; this.#wake() })
    socket.on('error', () => {})
  }

  static connect(port: number): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new Raw(s)))
      s.once('error', reject)
    })
  }

  #wake(): void { for (const w of this.#waiters.splice(0)) w() }

  send(bytes: string | Buffer): void { this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes) }

  /** Waits until `n` whole replies arrived and returns them (a retrieval reply is its VALUE blocks and END). */
  async replies(n: number, timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const got = splitReplies(this.#buf)
      if (got.replies.length >= n) {
        const used = got.ends[n - 1] as number
        this.#buf = this.#buf.subarray(used)
        return got.replies.slice(0, n)
      }
      if (this.closed) throw new Error(`connection closed after ${got.replies.length} of ${n} replies: ${JSON.stringify(got.replies)}`)
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} replies, got ${JSON.stringify(got.replies)}`)
      await new Promise<void>(resolve => { this.#waiters.push(resolve); setTimeout(resolve, 200) })
    }
  }

  /** Sends and waits for `n` replies. */
  async ask(bytes: string | Buffer, n = 1): Promise<string[]> { this.send(bytes); return this.replies(n) }

  /** The whole replies received so far, consumed (after the server died, what it did send). */
  available(): string[] {
    const got = splitReplies(this.#buf)
    if (got.replies.length > 0) this.#buf = this.#buf.subarray(got.ends[got.replies.length - 1])
    return got.replies
  }

  /** Bytes received and not consumed as replies. */
  get pending(): Buffer { return this.#buf }

  /** Resolves once the server closed the connection. */
  async closedByServer(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the server did not close the connection')
      await new Promise<void>(resolve => { this.#waiters.push(resolve); setTimeout(resolve, 200) })
    }
  }

  end(): void { this.socket.destroy() }
}

/** `stats` as a map. */
export async function stats(c: Raw): Promise<Map<string, string>> {
  const [r] = await c.ask('stats\r\n')
  return new Map([...(r as string).matchAll(/STAT (\S+) (\S+)\r\n/g)].map(m => [m[1] as string, m[2] as string]))
}

/** Splits a byte stream into whole replies (latin1), and the byte offset after each. */
export function splitReplies(buf: Buffer): { replies: string[]; ends: number[] } {
  const replies: string[] = []
  const ends: number[] = []
  let at = 0
  let cur = ''
  for (;;) {
    const nl = buf.indexOf('\r\n', at)
    if (nl < 0) break
    const line = buf.toString('latin1', at, nl)
    const m = /^VALUE \S+ \d+ (\d+)/.exec(line)
    if (m) {
      const end = nl + 2 + Number(m[1]) + 2
      if (end > buf.length) break
      cur += buf.toString('latin1', at, end)
      at = end
      continue
    }
    if (line.startsWith('STAT ')) { cur += line + '\r\n'; at = nl + 2; continue }
    cur += line
    at = nl + 2
    replies.push(cur)
    ends.push(at)
    cur = ''
  }
  return { replies, ends }
}

/** The `memcached` npm client, promisified for the calls the tests use. */
export class Client {
  readonly mc: Memcached
  constructor(port: number, opts: Memcached.options = {}) {
    this.mc = new Memcached(`127.0.0.1:${port}`, { retries: 0, timeout: 5000, poolSize: 8, ...opts })
  }
  #call<T>(fn: (cb: (err: unknown, r: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => fn((err, r) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(r))))
  }
  get(key: string): Promise<unknown> { return this.#call(cb => this.mc.get(key, cb)) }
  getMulti(keys: string[]): Promise<Record<string, unknown>> { return this.#call(cb => this.mc.getMulti(keys, cb)) }
  gets(key: string): Promise<{ cas: string; [k: string]: unknown } | undefined> { return this.#call(cb => this.mc.gets(key, cb as never)) }
  set(key: string, v: unknown, ttl = 0): Promise<boolean> { return this.#call(cb => this.mc.set(key, v, ttl, cb)) }
  // the library reports NOT_STORED as the error "Item is not stored": false here
  add(key: string, v: unknown, ttl = 0): Promise<boolean> { return notStored(this.#call(cb => this.mc.add(key, v, ttl, cb))) }
  replace(key: string, v: unknown, ttl = 0): Promise<boolean> { return notStored(this.#call(cb => this.mc.replace(key, v, ttl, cb))) }
  append(key: string, v: unknown): Promise<boolean> { return notStored(this.#call(cb => this.mc.append(key, v, cb))) }
  prepend(key: string, v: unknown): Promise<boolean> { return notStored(this.#call(cb => this.mc.prepend(key, v, cb))) }
  cas(key: string, v: unknown, cas: string, ttl = 0): Promise<boolean> { return this.#call(cb => this.mc.cas(key, v, cas, ttl, cb)) }
  incr(key: string, by: number): Promise<number | boolean> { return this.#call(cb => this.mc.incr(key, by, cb)) }
  decr(key: string, by: number): Promise<number | boolean> { return this.#call(cb => this.mc.decr(key, by, cb)) }
  del(key: string): Promise<boolean> { return this.#call(cb => this.mc.del(key, cb)) }
  touch(key: string, ttl: number): Promise<void> { return this.#call(cb => this.mc.touch(key, ttl, cb)) }
  flush(): Promise<unknown> { return this.#call(cb => this.mc.flush(cb)) }
  version(): Promise<unknown> { return this.#call(cb => this.mc.version(cb)) }
  stats(): Promise<unknown> { return this.#call(cb => this.mc.stats(cb)) }
  end(): void { this.mc.end() }
}

function notStored(p: Promise<boolean>): Promise<boolean> {
  return p.catch((err: Error) => { if (err.message === 'Item is not stored') return false; throw err })
}

/** What a crash test knows of a key: its last acknowledged value (null: absent) and the values of changes sent but not acknowledged. */
export interface KeyState { acked: string | null; inflight: Array<string | null> }

/**
 * Reads every key of `model` with one `get` and checks that each holds its acknowledged value
 * or one in flight (`label` says where, in the failure); the model then takes what was read.
 */
export async function checkModel(c: Raw, model: Map<string, KeyState>, label: string): Promise<void> {
  const keys = [...model.keys()]
  const [reply] = await c.ask(`get ${keys.join(' ')}\r\n`)
  const found = new Map<string, string>()
  for (const m of (reply as string).matchAll(/VALUE (\S+) \d+ (\d+)\r\n/g)) {
    const at = (m.index as number) + m[0].length
    found.set(m[1] as string, (reply as string).slice(at, at + Number(m[2])))
  }
  for (const [k, st] of model) {
    const got = found.get(k) ?? null
    assert.ok(got === st.acked || st.inflight.includes(got), `${label}: key ${k} holds ${JSON.stringify(got)}, acknowledged ${JSON.stringify(st.acked)}, in flight ${JSON.stringify(st.inflight)}`)
    model.set(k, { acked: got, inflight: [] })
  }
}

/** A seeded pseudo-random generator (mulberry32): the same seed, the same sequence. */
export function mulberry(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
