/**
 * The memcached text protocol's request side: an incremental parser that takes the bytes of
 * one connection in whatever pieces TCP delivers them and returns whole requests, as
 * memcached's `doc/protocol.txt` and `proto_text.c` / `proto_parser.c` define them.
 *
 * Invariants (cited as "proto inv. N"):
 *   1. A request is returned only once all its bytes arrived: its line and, for a storage
 *      command, its data block and the `\r\n` after it. Bytes split at any point across
 *      `push` calls parse exactly as if they had come in one piece.
 *   2. Requests come out in the order their bytes came in; bytes after a request stay
 *      buffered for the next one (pipelining).
 *   3. A malformed request becomes one `error` request carrying memcached's reply; it never
 *      throws and never reaches a store. A storage command whose data is too large is
 *      answered `SERVER_ERROR object too large for cache` and its data block is skipped
 *      (memcached's "swallow"), so the bytes after it parse as the next request.
 *   4. A line without `\n` longer than 2048 bytes (or 1 MiB for a multi-key get) closes the
 *      connection, as memcached does with junk input.
 *   5. Where memcached versions differ, this follows memcached's current `proto_parser.c`:
 *      a storage command refused after its length was read (bad key, flags, exptime or cas)
 *      swallows its data block; extra tokens after the required ones are ignored.
 *
 * Parser states:
 *
 * | state   | waiting for                                  | next                         |
 * | ------- | -------------------------------------------- | ---------------------------- |
 * | line    | a `\n`                                       | line, or data / swallow      |
 * | data    | `bytes + 2` bytes of a storage command       | line                         |
 * | swallow | the data block of a refused storage command  | line                         |
 * | closed  | nothing (a line too long, or after `quit`)   | -                            |
 */

export type StoreCmd = 'set' | 'add' | 'replace' | 'append' | 'prepend' | 'cas'
export type GetCmd = 'get' | 'gets' | 'gat' | 'gats'

/** One parsed request. Keys are latin1 strings: one character per byte of the key. */
export type Request =
  | { kind: 'store'; cmd: StoreCmd; key: string; flags: number; exptime: number; cas: bigint; data: Buffer; noreply: boolean }
  | { kind: 'get'; cmd: GetCmd; keys: string[]; exptime: number; noreply: false }
  | { kind: 'delete'; key: string; noreply: boolean }
  | { kind: 'arith'; cmd: 'incr' | 'decr'; key: string; delta: bigint; noreply: boolean }
  | { kind: 'touch'; key: string; exptime: number; noreply: boolean }
  | { kind: 'flush_all'; delay: number; noreply: boolean }
  | { kind: 'stats'; args: string[]; noreply: false }
  | { kind: 'version'; noreply: false }
  | { kind: 'verbosity'; noreply: boolean }
  | { kind: 'quit'; noreply: false }
  /**
   * A request answered with an error (proto inv. 3). `unlink` names the key of a `set` refused
   * as too large: memcached removes the old item so that no stale value stays readable.
   */
  | { kind: 'error'; reply: string; noreply: boolean; unlink?: string }

/** Parser limits. */
export interface ParserLimits {
  /** Largest data block of one item, in bytes (memcached's -I, default 1 MiB). */
  itemSizeMax: number
}

export const KEY_MAX_LENGTH = 250
const LINE_MAX = 2048
const MULTIGET_LINE_MAX = 1 << 20
const MAX_U32 = 0xffffffff
const MAX_U64 = 0xffffffffffffffffn
const BAD_FORMAT = 'CLIENT_ERROR bad command line format'
const TOO_LARGE = 'SERVER_ERROR object too large for cache'
const BAD_CHUNK = 'CLIENT_ERROR bad data chunk'
const BAD_EXPTIME = 'CLIENT_ERROR invalid exptime argument'
const BAD_DELTA = 'CLIENT_ERROR invalid numeric delta argument'
const STORE_CMDS = new Set<string>(['set', 'add', 'replace', 'append', 'prepend', 'cas'])

/** Parses one connection's bytes into requests (see the file comment for states). */
export class RequestParser {
  readonly #limits: ParserLimits
  /** Bytes received and not yet consumed. */
  #buf: Buffer = Buffer.alloc(0)
  /** Pieces of a data block still arriving (kept apart to avoid copying per piece). */
  #pieces: Buffer[] = []
  #piecesLen = 0
  /** The storage command whose data block is awaited, or the bytes left to swallow. */
  #head: Extract<Request, { kind: 'store' }> | null = null
  #need = 0
  #swallow = 0
  #closed = false

  constructor(limits: ParserLimits) { this.#limits = limits }

  /** True once the connection must be closed (proto inv. 4). */
  get closed(): boolean { return this.#closed }

  /** Feeds bytes; returns the requests they complete, in order (proto inv. 1-2). */
  push(chunk: Buffer): Request[] {
    const out: Request[] = []
    if (this.#closed) return out
    if (this.#need > 0) chunk = this.#takeData(chunk, out)
    if (this.#swallow > 0) chunk = this.#takeSwallow(chunk)
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk])
    this.#parseLines(out)
    return out
  }

  /** Marks the parser closed (after `quit`): later bytes are ignored. */
  close(): void { this.#closed = true }

  /** Consumes lines (and the data blocks they announce) from the buffer. */
  #parseLines(out: Request[]): void {
    let buf = this.#buf
    while (buf.length > 0 && !this.#closed) {
      const nl = buf.indexOf(10)
      if (nl < 0) { this.#checkLongLine(buf); break }
      const end = nl > 0 && buf[nl - 1] === 13 ? nl - 1 : nl
      const req = parseLine(buf.toString('latin1', 0, end), this.#limits)
      buf = buf.subarray(nl + 1)
      if ('dataLen' in req) {
        // a storage command: its data block follows (or is swallowed when refused)
        if (req.refused !== null) {
          out.push(req.refused)
          this.#swallow = req.dataLen + 2
          buf = this.#takeSwallow(buf)
        } else {
          this.#head = req.request
          this.#need = req.dataLen + 2
          buf = this.#takeData(buf, out)
        }
        continue
      }
      out.push(req)
      if (req.kind === 'quit') { this.#closed = true; break }
    }
    this.#buf = buf
  }

  /** Takes data-block bytes; completes the storage request when all arrived (proto inv. 1). */
  #takeData(chunk: Buffer, out: Request[]): Buffer {
    const take = Math.min(this.#need, chunk.length)
    if (take > 0) { this.#pieces.push(chunk.subarray(0, take)); this.#piecesLen += take; this.#need -= take }
    if (this.#need > 0) return chunk.subarray(chunk.length)
    const block = this.#pieces.length === 1 ? this.#pieces[0] as Buffer : Buffer.concat(this.#pieces, this.#piecesLen)
    this.#pieces = []
    this.#piecesLen = 0
    const head = this.#head as Extract<Request, { kind: 'store' }>
    this.#head = null
    const n = block.length - 2
    if (block[n] !== 13 || block[n + 1] !== 10) out.push({ kind: 'error', reply: BAD_CHUNK, noreply: head.noreply })
    else out.push({ ...head, data: block.subarray(0, n) })
    return chunk.subarray(take)
  }

  /** Skips the data block of a refused storage command (proto inv. 3). */
  #takeSwallow(chunk: Buffer): Buffer {
    const take = Math.min(this.#swallow, chunk.length)
    this.#swallow -= take
    return chunk.subarray(take)
  }

  /** Closes on a line that grew too long without its `\n` (proto inv. 4). */
  #checkLongLine(buf: Buffer): void {
    if (buf.length <= LINE_MAX) return
    const start = buf.toString('latin1', 0, 5)
    const multiget = start.startsWith('get ') || start.startsWith('gets ') || start.startsWith('gat ') || start.startsWith('gats ')
    if (!multiget || buf.length > MULTIGET_LINE_MAX) { this.#closed = true; this.#buf = Buffer.alloc(0) }
  }
}

type Parsed = Request | { dataLen: number; request: Extract<Request, { kind: 'store' }>; refused: Request | null }

/** Parses one request line (without its line end); a storage command also says its data length. */
export function parseLine(line: string, limits: ParserLimits): Parsed {
  const tokens = line.split(' ').filter(s => s.length > 0)
  const cmd = tokens[0]
  if (cmd === undefined) return { kind: 'error', reply: 'ERROR', noreply: false }
  const noreply = tokens.length > 1 && tokens[tokens.length - 1] === 'noreply'
  const bad = (reply = BAD_FORMAT): Request => ({ kind: 'error', reply, noreply })
  if (STORE_CMDS.has(cmd)) return parseStorage(cmd as StoreCmd, tokens, noreply, limits)
  switch (cmd) {
    case 'get': case 'gets': {
      const keys = tokens.slice(1)
      if (keys.length === 0) return bad('ERROR')
      return keys.every(validKey) ? { kind: 'get', cmd, keys, exptime: 0, noreply: false } : bad()
    }
    case 'gat': case 'gats': {
      if (tokens.length < 3) return bad('ERROR')
      const exptime = int32(tokens[1])
      if (exptime === null) return bad(BAD_EXPTIME)
      const keys = tokens.slice(2)
      return keys.every(validKey) ? { kind: 'get', cmd, keys, exptime, noreply: false } : bad()
    }
    case 'delete': {
      const n = tokens.length - (noreply ? 1 : 0)
      if (n < 2) return bad('ERROR')
      if (n > 2 && !(n === 3 && tokens[2] === '0')) return bad('CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]')
      return validKey(tokens[1]) ? { kind: 'delete', key: tokens[1] as string, noreply } : bad()
    }
    case 'incr': case 'decr': {
      if (tokens.length - (noreply ? 1 : 0) !== 3) return bad(tokens.length < 3 ? 'ERROR' : BAD_FORMAT)
      if (!validKey(tokens[1])) return bad()
      const delta = u64(tokens[2])
      return delta === null ? bad(BAD_DELTA) : { kind: 'arith', cmd, key: tokens[1] as string, delta, noreply }
    }
    case 'touch': {
      if (tokens.length - (noreply ? 1 : 0) !== 3) return bad(tokens.length < 3 ? 'ERROR' : BAD_FORMAT)
      if (!validKey(tokens[1])) return bad()
      const exptime = int32(tokens[2])
      return exptime === null ? bad(BAD_EXPTIME) : { kind: 'touch', key: tokens[1] as string, exptime, noreply }
    }
    case 'flush_all': {
      const n = tokens.length - (noreply ? 1 : 0)
      if (n > 2) return bad()
      const delay = n === 2 ? int32(tokens[1]) : 0
      return delay === null ? bad(BAD_EXPTIME) : { kind: 'flush_all', delay, noreply }
    }
    case 'verbosity': {
      const n = tokens.length - (noreply ? 1 : 0)
      if (n !== 2 || u32(tokens[1]) === null) return bad(n < 2 ? 'ERROR' : BAD_FORMAT)
      return { kind: 'verbosity', noreply }
    }
    case 'stats': return { kind: 'stats', args: tokens.slice(1), noreply: false }
    case 'version': return { kind: 'version', noreply: false }
    case 'quit': return { kind: 'quit', noreply: false }
    default: return bad('ERROR')
  }
}

/** `<cmd> <key> <flags> <exptime> <bytes> [<cas unique>] [noreply]`. */
function parseStorage(cmd: StoreCmd, tokens: string[], noreply: boolean, limits: ParserLimits): Parsed {
  const n = tokens.length - (noreply ? 1 : 0)
  const want = cmd === 'cas' ? 6 : 5
  const bad = (reply = BAD_FORMAT): Request => ({ kind: 'error', reply, noreply })
  if (tokens.length < 5) return bad('ERROR')
  const bytes = int32(tokens[4])
  if (bytes === null || bytes < 0) return bad()      // memcached: no data block is read
  const flags = u32(tokens[2])
  const exptime = int32(tokens[3])
  const cas = cmd === 'cas' ? u64(tokens[5]) : 0n
  const request = { kind: 'store' as const, cmd, key: tokens[1] as string, flags: flags ?? 0, exptime: exptime ?? 0, cas: cas ?? 0n, data: Buffer.alloc(0), noreply }
  // memcached reads (and drops) the data block of a request refused after its length is known
  let refused: Request | null = null
  if (n < want || !validKey(tokens[1]) || flags === null || exptime === null || cas === null) refused = bad()
  else if (bytes > limits.itemSizeMax) refused = cmd === 'set' ? { kind: 'error', reply: TOO_LARGE, noreply, unlink: tokens[1] as string } : bad(TOO_LARGE)
  return { dataLen: bytes, request, refused }
}

/** A key: 1 to 250 bytes, no control characters (proto inv. 3). */
export function validKey(key: string | undefined): boolean {
  if (key === undefined || key.length === 0 || key.length > KEY_MAX_LENGTH) return false
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    if (c <= 32 || c === 127) return false
  }
  return true
}

const DIGITS = /^[0-9]+$/
const SIGNED = /^-?[0-9]+$/

/** A decimal unsigned 32-bit number, or null. */
function u32(s: string | undefined): number | null {
  if (s === undefined || !DIGITS.test(s) || s.length > 10) return null
  const v = Number(s)
  return v <= MAX_U32 ? v : null
}

/** A decimal signed 32-bit number, or null. */
function int32(s: string | undefined): number | null {
  if (s === undefined || !SIGNED.test(s) || s.length > 11) return null
  const v = Number(s)
  return v >= -2147483648 && v <= 2147483647 ? v : null
}

/** A decimal unsigned 64-bit number, or null. */
function u64(s: string | undefined): bigint | null {
  if (s === undefined || !DIGITS.test(s) || s.length > 20) return null
  const v = BigInt(s)
  return v <= MAX_U64 ? v : null
}
