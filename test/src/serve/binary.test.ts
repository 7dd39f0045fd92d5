// pmem serve's binary protocol (src/serve/binary.ts), against the server as a child process:
// the memjs npm client (binary only) for the common commands, then raw frames for quiet gets
// ended by a noop, a request split byte by byte, E2BIG with its body skipped, unknown opcodes,
// a bad magic closing the connection, and the text protocol on another connection at once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { check } from '../../../src/index.js'
import { Raw, serve, stop } from './serve-kit.js'

interface Memjs {
  get(key: string): Promise<{ value: Buffer | null; flags: Buffer | null }>
  set(key: string, value: string | Buffer, o?: { expires?: number }): Promise<boolean>
  add(key: string, value: string, o?: { expires?: number }): Promise<boolean>
  replace(key: string, value: string, o?: { expires?: number }): Promise<boolean>
  delete(key: string): Promise<boolean>
  increment(key: string, by: number, o?: { initial?: number; expires?: number }): Promise<{ success: boolean; value: number | null }>
  decrement(key: string, by: number, o?: { initial?: number; expires?: number }): Promise<{ success: boolean; value: number | null }>
  append(key: string, value: string): Promise<boolean>
  prepend(key: string, value: string): Promise<boolean>
  touch(key: string, expires: number): Promise<boolean>
  flush(): Promise<Record<string, boolean>>
  close(): void
}
const memjs = createRequire(import.meta.url)('memjs') as { Client: { create(servers: string, o?: object): Memjs } }

/** A request frame. */
function frame(opcode: number, key = '', extras: Buffer = Buffer.alloc(0), value: Buffer = Buffer.alloc(0), opaque = 0, cas = 0n): Buffer {
  const b = Buffer.alloc(24 + extras.length + key.length + value.length)
  b[0] = 0x80; b[1] = opcode; b.writeUInt16BE(key.length, 2); b[4] = extras.length
  b.writeUInt32BE(extras.length + key.length + value.length, 8); b.writeUInt32BE(opaque, 12); b.writeBigUInt64BE(cas, 16)
  extras.copy(b, 24); b.write(key, 24 + extras.length, 'latin1'); value.copy(b, 24 + extras.length + key.length)
  return b
}
const setExtras = (flags: number, exptime = 0): Buffer => { const e = Buffer.alloc(8); e.writeUInt32BE(flags, 0); e.writeUInt32BE(exptime, 4); return e }

/** Reads `n` response frames from a socket. */
function readFrames(sock: net.Socket, n: number): Promise<Array<{ opcode: number; status: number; opaque: number; cas: bigint; extras: Buffer; key: string; value: Buffer }>> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const got: Array<{ opcode: number; status: number; opaque: number; cas: bigint; extras: Buffer; key: string; value: Buffer }> = []
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d])
      while (buf.length >= 24 && buf.length >= 24 + buf.readUInt32BE(8)) {
        const body = buf.readUInt32BE(8), el = buf[4] as number, kl = buf.readUInt16BE(2)
        assert.equal(buf[0], 0x81)
        got.push({ opcode: buf[1] as number, status: buf.readUInt16BE(6), opaque: buf.readUInt32BE(12), cas: buf.readBigUInt64BE(16),
          extras: buf.subarray(24, 24 + el), key: buf.toString('latin1', 24 + el, 24 + el + kl), value: buf.subarray(24 + el + kl, 24 + body) })
        buf = buf.subarray(24 + body)
      }
      if (got.length >= n) { sock.off('data', onData); resolve(got) }
    }
    sock.on('data', onData)
    sock.once('close', () => reject(new Error(`closed after ${got.length} of ${n} frames`)))
  })
}

test('pmem serve, binary protocol: the memjs client, quiet gets, partial frames, errors', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-serve-bin-'))
  const file = path.join(dir, 'mc.pm')
  const s = await serve(file, ['--size', String(16 << 20), '--durability', 'group'])
  const mc = memjs.Client.create(`127.0.0.1:${s.port}`, { retries: 0, timeout: 5, logger: { log: () => {} } })
  try {
    assert.equal(await mc.set('a', 'hello'), true)
    assert.equal((await mc.get('a')).value?.toString(), 'hello')
    assert.equal((await mc.get('missing')).value, null)
    assert.equal(await mc.add('a', 'x'), false)
    assert.equal(await mc.replace('nobody', 'x'), false)
    assert.equal(await mc.replace('a', 'hi'), true)
    assert.equal(await mc.append('a', '!'), true)
    assert.equal(await mc.prepend('a', '>'), true)
    assert.equal((await mc.get('a')).value?.toString(), 'hi!>')   // memjs 1.3.2 sends prepend with append's opcode (0x0e); raw 0x0f below
    assert.deepEqual(await mc.increment('n', 5, { initial: 10 }), { success: true, value: 10 })   // created with the initial value
    assert.deepEqual(await mc.increment('n', 5, {}), { success: true, value: 15 })
    assert.deepEqual(await mc.decrement('n', 100, {}), { success: true, value: 0 })
    assert.equal(await mc.touch('a', 1000), true)
    assert.equal(await mc.delete('a'), true)
    assert.equal(await mc.delete('a'), false)
    await mc.flush()
    assert.equal((await mc.get('n')).value, null)
  } finally { mc.close() }

  const sock = await new Promise<net.Socket>(resolve => { const c = net.connect(s.port, '127.0.0.1', () => resolve(c)) })
  try {
    // set with flags; then GETKQ x3 (one missing: no frame) ended by NOOP, all in one write
    sock.write(Buffer.concat([frame(0x01, 'k1', setExtras(7), Buffer.from('v\r\n1'), 1), frame(0x01, 'k2', setExtras(8), Buffer.from('v2'), 2)]))
    const sets = await readFrames(sock, 2)
    assert.deepEqual(sets.map(f => [f.status, f.opaque]), [[0, 1], [0, 2]])
    assert.ok(sets[0] !== undefined && sets[0].cas > 0n)
    sock.write(Buffer.concat([frame(0x0d, 'k1', undefined, undefined, 3), frame(0x0d, 'zz', undefined, undefined, 4), frame(0x0d, 'k2', undefined, undefined, 5), frame(0x0a, '', undefined, undefined, 6)]))
    const gets = await readFrames(sock, 3)
    assert.deepEqual(gets.slice(0, 2).map(f => [f.opcode, f.opaque, f.key, f.value.toString('latin1'), f.extras.readUInt32BE(0)]),
      [[0x0d, 3, 'k1', 'v\r\n1', 7], [0x0d, 5, 'k2', 'v2', 8]])
    assert.equal(gets[2]?.opcode, 0x0a)
    // cas: a stale cas is EEXISTS (2), the right one stores; a quiet set says nothing on success
    const cas = sets[0]?.cas as bigint
    sock.write(Buffer.concat([frame(0x01, 'k1', setExtras(0), Buffer.from('new'), 7, cas + 1000n), frame(0x01, 'k1', setExtras(0), Buffer.from('new'), 8, cas),
      frame(0x11, 'k3', setExtras(0), Buffer.from('q'), 9), frame(0x0a, '', undefined, undefined, 10)]))
    assert.deepEqual((await readFrames(sock, 3)).map(f => [f.status, f.opaque]), [[2, 7], [0, 8], [0, 10]])
    // prepend (0x0f) and append (0x0e)
    sock.write(Buffer.concat([frame(0x0f, 'k2', undefined, Buffer.from('<'), 17), frame(0x0e, 'k2', undefined, Buffer.from('>'), 18), frame(0x00, 'k2', undefined, undefined, 19)]))
    assert.deepEqual((await readFrames(sock, 3)).map(f => [f.status, f.opaque, f.value.toString()]), [[0, 17, ''], [0, 18, ''], [0, 19, '<v2>']])
    // byte by byte
    const slow = Buffer.concat([frame(0x01, 'slow', setExtras(1), Buffer.from('abc'), 11), frame(0x00, 'slow', undefined, undefined, 12)])
    const pending = readFrames(sock, 2)
    for (const byte of slow) { sock.write(Buffer.from([byte])); await new Promise(r => setTimeout(r, 1)) }
    const sl = await pending
    assert.deepEqual(sl.map(f => [f.status, f.opaque, f.value.toString()]), [[0, 11, ''], [0, 12, 'abc']])
    // too large: E2BIG (3), its body skipped; an unknown opcode: 0x81; a too-long key: EINVAL (4); incr of text: 6
    sock.write(Buffer.concat([frame(0x01, 'big', setExtras(0), Buffer.alloc((1 << 20) + 1024), 13), frame(0x42, '', undefined, undefined, 14),
      frame(0x00, 'k'.repeat(251), undefined, undefined, 15), frame(0x05, 'k2', Buffer.alloc(20), undefined, 16)]))
    assert.deepEqual((await readFrames(sock, 4)).map(f => [f.status, f.opaque]), [[3, 13], [0x81, 14], [4, 15], [6, 16]])
    // the text protocol on another connection sees the same items
    const t = await Raw.connect(s.port)
    assert.deepEqual(await t.ask('get k1 k3 slow\r\n'), ['VALUE k1 0 3\r\nnew\r\nVALUE k3 0 1\r\nq\r\nVALUE slow 1 3\r\nabc\r\nEND'])
    t.end()
    // a frame with a bad magic closes the connection
    const closed = new Promise<void>(resolve => sock.once('close', () => resolve()))
    sock.write(Buffer.concat([Buffer.from([0x80]), Buffer.alloc(23)]))   // a valid GET of the empty key: EINVAL
    assert.equal((await readFrames(sock, 1))[0]?.status, 4)
    sock.write(Buffer.alloc(24, 0x42))
    await closed
  } finally {
    sock.destroy()
    assert.equal(await stop(s), 0, s.stderr())
  }
  assert.equal(check(file).ok, true)
  fs.rmSync(dir, { recursive: true, force: true })
})
