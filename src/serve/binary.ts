/**
 * memcached's binary protocol (`protocol_binary.h`, `proto_bin.c`): framing of requests, and
 * their execution by translation into the text protocol's requests, so that both protocols
 * share one implementation of every command's semantics (handlers.ts).
 *
 * Header (24 bytes, big-endian), request magic 0x80, response magic 0x81:
 *
 * | offset | size | request                   | response                  |
 * | -----: | ---: | ------------------------- | ------------------------- |
 * |      0 |    1 | magic 0x80                | magic 0x81                |
 * |      1 |    1 | opcode                    | opcode                    |
 * |      2 |    2 | key length                | key length                |
 * |      4 |    1 | extras length             | extras length             |
 * |      5 |    1 | data type (0)             | data type (0)             |
 * |      6 |    2 | vbucket (ignored)         | status                    |
 * |      8 |    4 | total body length         | total body length         |
 * |     12 |    4 | opaque (echoed)           | opaque                    |
 * |     16 |    8 | cas                       | cas                       |
 * |     24 |    * | extras, key, value        | extras, key, value        |
 *
 * Invariants (cited as "bin inv. N"):
 *   1. A request acts only once its whole body arrived (as proto inv. 1); a header whose magic
 *      is not 0x80 closes the connection (memcached: a protocol error).
 *   2. A request is translated into text-protocol requests run by the same Handlers, inside the
 *      same batch, so its changes have the text protocol's meaning and durability; its response
 *      (or silence, for the quiet opcodes' success and the quiet gets' misses) is built from them.
 *   3. A body larger than the item limit is answered E2BIG and skipped, like the text protocol's
 *      swallow.
 */
import { validKey, type ParserLimits, type Request } from './protocol.js'
import type { Handlers } from './handlers.js'
import type { ItemStore } from './store.js'

/** One binary request. */
export interface BinRequest {
  kind: 'binary'
  opcode: number
  opaque: number
  cas: bigint
  extras: Buffer
  key: string
  value: Buffer
  /** Answered at parse time (bin inv. 3), or null. */
  status: number | null
  noreply: false
}

const HEADER = 24
const S = { OK: 0, ENOENT: 1, EEXISTS: 2, E2BIG: 3, EINVAL: 4, NOT_STORED: 5, DELTA_BADVAL: 6, UNKNOWN: 0x81, ENOMEM: 0x82, INTERNAL: 0x84 }
const MESSAGES: Record<number, string> = {
  1: 'Not found', 2: 'Data exists for key.', 3: 'Too large.', 4: 'Invalid arguments', 5: 'Not stored.',
  6: 'Non-numeric server-side value for incr or decr', 0x81: 'Unknown command', 0x82: 'Out of memory', 0x84: 'Internal error',
}
/** opcode -> [name, quiet]. */
const OPS: Record<number, [string, boolean]> = {
  0x00: ['get', false], 0x01: ['set', false], 0x02: ['add', false], 0x03: ['replace', false], 0x04: ['delete', false],
  0x05: ['incr', false], 0x06: ['decr', false], 0x07: ['quit', false], 0x08: ['flush', false], 0x09: ['get', true],
  0x0a: ['noop', false], 0x0b: ['version', false], 0x0c: ['getk', false], 0x0d: ['getk', true], 0x0e: ['append', false],
  0x0f: ['prepend', false], 0x10: ['stat', false], 0x11: ['set', true], 0x12: ['add', true], 0x13: ['replace', true],
  0x14: ['delete', true], 0x15: ['incr', true], 0x16: ['decr', true], 0x17: ['quit', true], 0x18: ['flush', true],
  0x19: ['append', true], 0x1a: ['prepend', true], 0x1b: ['verbosity', false], 0x1c: ['touch', false], 0x1d: ['gat', false],
  0x1e: ['gat', true], 0x23: ['gatk', false], 0x24: ['gatk', true],
}

/** Splits a connection's bytes into binary requests (bin inv. 1, 3). */
export class BinaryParser {
  readonly #limits: ParserLimits
  #buf: Buffer = Buffer.alloc(0)
  #swallow = 0
  #closed = false

  constructor(limits: ParserLimits) { this.#limits = limits }

  get closed(): boolean { return this.#closed }
  close(): void { this.#closed = true }

  push(chunk: Buffer): BinRequest[] {
    const out: BinRequest[] = []
    if (this.#closed) return out
    if (this.#swallow > 0) { const n = Math.min(this.#swallow, chunk.length); this.#swallow -= n; chunk = chunk.subarray(n) }
    let buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk])
    while (buf.length >= HEADER) {
      if (buf[0] !== 0x80) { this.#closed = true; buf = Buffer.alloc(0); break }
      const keyLen = buf.readUInt16BE(2)
      const extLen = buf[4] as number
      const body = buf.readUInt32BE(8)
      const head = { kind: 'binary' as const, opcode: buf[1] as number, opaque: buf.readUInt32BE(12), cas: buf.readBigUInt64BE(16), noreply: false as const }
      if (body > this.#limits.itemSizeMax + 512 || keyLen + extLen > body) {
        out.push({ ...head, extras: Buffer.alloc(0), key: '', value: Buffer.alloc(0), status: keyLen + extLen > body ? S.EINVAL : S.E2BIG })
        const skip = Math.min(body, buf.length - HEADER)
        this.#swallow = body - skip
        buf = buf.subarray(HEADER + skip)
        continue
      }
      if (buf.length < HEADER + body) break
      const at = HEADER
      out.push({
        ...head,
        extras: buf.subarray(at, at + extLen),
        key: buf.toString('latin1', at + extLen, at + extLen + keyLen),
        value: buf.subarray(at + extLen + keyLen, at + body),
        status: null,
      })
      buf = buf.subarray(HEADER + body)
      if (OPS[head.opcode]?.[0] === 'quit') { this.#closed = true; break }
    }
    this.#buf = buf
    return out
  }
}

/** The text requests a binary request stands for (bin inv. 2); null when it needs none. */
function translate(r: BinRequest): Request[] | null {
  const op = OPS[r.opcode]
  if (op === undefined || r.status !== null) return null
  const [name] = op
  const key = r.key
  const ext = r.extras
  const u32 = (at: number): number => (ext.length >= at + 4 ? ext.readUInt32BE(at) : 0)
  const i32 = (at: number): number => (ext.length >= at + 4 ? ext.readInt32BE(at) : 0)
  switch (name) {
    case 'get': case 'getk': return [{ kind: 'get', cmd: 'gets', keys: [key], exptime: 0, noreply: false }]
    case 'gat': case 'gatk': return [{ kind: 'get', cmd: 'gats', keys: [key], exptime: i32(0), noreply: false }]
    case 'set': case 'add': case 'replace': case 'append': case 'prepend': {
      const cmd = r.cas !== 0n && (name === 'set' || name === 'replace') ? 'cas' : name
      return [{ kind: 'store', cmd, key, flags: u32(0), exptime: i32(4), cas: r.cas, data: r.value, noreply: false }]
    }
    case 'delete': return [{ kind: 'delete', key, noreply: false }]
    case 'incr': case 'decr': return [{ kind: 'arith', cmd: name, key, delta: ext.length >= 8 ? ext.readBigUInt64BE(0) : 0n, noreply: false }]
    case 'touch': return [{ kind: 'touch', key, exptime: i32(0), noreply: false }]
    case 'flush': return [{ kind: 'flush_all', delay: i32(0), noreply: false }]
    case 'stat': return [{ kind: 'stats', args: key === '' ? [] : [key], noreply: false }]
    default: return null
  }
}

/** True when the request changes items (so it must run in a batch). */
export function binaryMutates(r: BinRequest, isMutation: (q: Request) => boolean): boolean {
  return (translate(r) ?? []).some(isMutation)
}

/** Key checks of the binary protocol: a key where one is needed, valid as in the text protocol. */
function badKey(r: BinRequest): boolean {
  const name = OPS[r.opcode]?.[0]
  const needs = name !== undefined && !['noop', 'version', 'quit', 'flush', 'stat', 'verbosity'].includes(name)
  return needs && !validKey(r.key)
}

/** Runs one binary request with the text handlers and appends its response (bin inv. 2). */
export function runBinary(h: Handlers, store: ItemStore, r: BinRequest, out: Buffer[]): void {
  const op = OPS[r.opcode]
  const quiet = op?.[1] ?? false
  const name = op?.[0]
  const reply = (status: number, o: { extras?: Buffer; key?: string; value?: Buffer; cas?: bigint } = {}): void => {
    if (quiet && status === S.OK) return
    const value = o.value ?? (status === S.OK ? Buffer.alloc(0) : Buffer.from(MESSAGES[status] ?? 'Error', 'latin1'))
    out.push(response(r, status, o.extras, o.key, value, o.cas ?? 0n))
  }
  if (r.status !== null) { reply(r.status); return }
  if (name === undefined) { reply(S.UNKNOWN); return }
  if (badKey(r)) { reply(S.EINVAL); return }
  if (name === 'noop' || name === 'verbosity' || name === 'quit') { reply(S.OK); return }
  if (name === 'version') { reply(S.OK, { value: Buffer.from(h.version, 'latin1') }); return }
  if (name === 'get' || name === 'getk' || name === 'gat' || name === 'gatk') {
    // straight to the item: no text reply to format and parse on the hottest path
    const it = h.fetch(r.key, name.startsWith('gat') ? (r.extras.length >= 4 ? r.extras.readInt32BE(0) : 0) : null)
    const key = name.endsWith('k') ? r.key : undefined
    if (it === undefined) { if (!quiet) reply(S.ENOENT, key === undefined ? {} : { key }); return }
    const flags = Buffer.alloc(4)
    flags.writeUInt32BE(it.flags)
    out.push(response(r, S.OK, flags, key, Buffer.from(it.data.buffer, it.data.byteOffset, it.data.length), it.cas))
    return
  }
  const reqs = translate(r) as Request[]
  const text = runText(h, reqs[0] as Request)
  const casOf = (): bigint => store.get(r.key)?.cas ?? 0n
  switch (name) {
    case 'set': case 'add': case 'replace': case 'append': case 'prepend': {
      if (text === 'STORED') { reply(S.OK, { cas: casOf() }); return }
      if (text === 'EXISTS') { reply(S.EEXISTS); return }
      if (text === 'NOT_FOUND') { reply(S.ENOENT); return }
      if (text.startsWith('SERVER_ERROR object too large')) { reply(S.E2BIG); return }
      reply(name === 'add' ? S.EEXISTS : name === 'replace' ? S.ENOENT : S.NOT_STORED)
      return
    }
    case 'incr': case 'decr': return arith(h, r, text, reply, casOf)
    case 'delete': reply(text === 'DELETED' ? S.OK : S.ENOENT); return
    case 'touch': reply(text === 'TOUCHED' ? S.OK : S.ENOENT); return
    case 'flush': reply(S.OK); return
    case 'stat': {
      for (const m of text.matchAll(/^STAT (\S+) (.*)\r$/gm)) out.push(response(r, S.OK, undefined, m[1], Buffer.from(m[2] as string, 'latin1'), 0n))
      out.push(response(r, S.OK, undefined, undefined, Buffer.alloc(0), 0n))
      return
    }
  }
}

/** incr/decr: an 8-byte result; a missing key is created with the initial value unless exptime is 0xffffffff. */
function arith(h: Handlers, r: BinRequest, text: string, reply: (s: number, o?: { value?: Buffer; cas?: bigint }) => void, casOf: () => bigint): void {
  const u64 = (v: bigint): Buffer => { const b = Buffer.alloc(8); b.writeBigUInt64BE(v); return b }
  if (/^\d+$/.test(text)) { reply(S.OK, { value: u64(BigInt(text)), cas: casOf() }); return }
  if (text.startsWith('CLIENT_ERROR cannot')) { reply(S.DELTA_BADVAL); return }
  if (text !== 'NOT_FOUND') { reply(S.EINVAL); return }
  const ext = r.extras
  if (ext.length < 20 || ext.readUInt32BE(16) === 0xffffffff) { reply(S.ENOENT); return }
  const initial = ext.readBigUInt64BE(8)
  const added = runText(h, { kind: 'store', cmd: 'add', key: r.key, flags: 0, exptime: ext.readInt32BE(16), cas: 0n, data: Buffer.from(String(initial), 'latin1'), noreply: false })
  if (added === 'STORED') reply(S.OK, { value: u64(initial), cas: casOf() })
  else reply(S.NOT_STORED)
}

/** Runs a text request and returns its reply without the final line end. */
function runText(h: Handlers, req: Request): string {
  const out: Buffer[] = []
  h.run(req, out)
  return Buffer.concat(out).toString('latin1').replace(/\r\n$/, '')
}

/** One response frame. */
function response(r: BinRequest, status: number, extras: Buffer | undefined, key: string | undefined, value: Buffer, cas: bigint): Buffer {
  const e = extras ?? Buffer.alloc(0)
  const k = key === undefined ? Buffer.alloc(0) : Buffer.from(key, 'latin1')
  const b = Buffer.alloc(HEADER + e.length + k.length + value.length)
  b[0] = 0x81
  b[1] = r.opcode
  b.writeUInt16BE(k.length, 2)
  b[4] = e.length
  b.writeUInt16BE(status, 6)
  b.writeUInt32BE(e.length + k.length + value.length, 8)
  b.writeUInt32BE(r.opaque, 12)
  b.writeBigUInt64BE(cas, 16)
  e.copy(b, HEADER)
  k.copy(b, HEADER + e.length)
  value.copy(b, HEADER + e.length + k.length)
  return b
}

/** The response to a request whose transaction failed on its own (serve inv. 4). */
export function binaryFailure(r: BinRequest, outOfSpace: boolean): Buffer {
  const status = outOfSpace ? S.ENOMEM : S.INTERNAL
  return response(r, status, undefined, undefined, Buffer.from(MESSAGES[status] as string, 'latin1'), 0n)
}
