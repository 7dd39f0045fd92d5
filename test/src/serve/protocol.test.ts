// The request parser on its own (src/serve/protocol.ts): requests split at any byte parse as
// if whole (proto inv. 1), pipelining keeps order (inv. 2), memcached's error replies and the
// swallowing of a refused data block (inv. 3, 5), and long junk lines close (inv. 4).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { RequestParser, type Request } from '../../../src/serve/index.js'

const LIMITS = { itemSizeMax: 1024 }
const parseAll = (bytes: Buffer, cuts: number[] = []): Request[] => {
  const p = new RequestParser(LIMITS)
  const out: Request[] = []
  let at = 0
  for (const c of [...cuts].sort((a, b) => a - b)) { out.push(...p.push(bytes.subarray(at, c))); at = c }
  out.push(...p.push(bytes.subarray(at)))
  return out
}
const B = (s: string): Buffer => Buffer.from(s, 'latin1')

/** One request as bytes, and what the parser must make of it. */
type Case = { bytes: Buffer; expect: Partial<Request> }
const key = fc.stringMatching(/^[!-~]{1,20}$/)
const data = fc.uint8Array({ maxLength: 40 }).map(a => Buffer.from(a))
const crlfData = fc.tuple(data, data).map(([a, b]) => Buffer.concat([a, B('\r\n'), b]))   // binary with \r\n inside
const cases: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(fc.constantFrom('set', 'add', 'replace', 'append', 'prepend'), key, fc.nat({ max: 2 ** 32 - 1 }), fc.integer({ min: -5, max: 100 }), fc.oneof(data, crlfData), fc.boolean())
    .map(([cmd, k, flags, exp, d, nr]) => ({
      bytes: Buffer.concat([B(`${cmd} ${k} ${flags} ${exp} ${d.length}${nr ? ' noreply' : ''}\r\n`), d, B('\r\n')]),
      expect: { kind: 'store', cmd, key: k, flags, exptime: exp, data: d, noreply: nr } as Partial<Request>,
    })),
  fc.tuple(key, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), data).map(([k, cas, d]) => ({
    bytes: Buffer.concat([B(`cas ${k} 1 0 ${d.length} ${cas}\r\n`), d, B('\r\n')]),
    expect: { kind: 'store', cmd: 'cas', key: k, cas, data: d } as Partial<Request>,
  })),
  fc.tuple(fc.constantFrom('get', 'gets'), fc.array(key, { minLength: 1, maxLength: 4 })).map(([cmd, ks]) => ({
    bytes: B(`${cmd} ${ks.join(' ')}\r\n`), expect: { kind: 'get', cmd, keys: ks } as Partial<Request>,
  })),
  fc.tuple(fc.constantFrom('incr', 'decr'), key, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(([cmd, k, d]) => ({
    bytes: B(`${cmd} ${k} ${d}\n`), expect: { kind: 'arith', cmd, key: k, delta: d } as Partial<Request>,   // a bare \n ends a line too
  })),
  key.map(k => ({ bytes: B(`delete ${k} noreply\r\n`), expect: { kind: 'delete', key: k, noreply: true } as Partial<Request> })),
  key.map(k => ({ bytes: B(`frobnicate ${k}\r\n`), expect: { kind: 'error', reply: 'ERROR' } as Partial<Request> })),
  fc.integer({ min: 1025, max: 3000 }).map(n => ({   // too large: refused, its data block swallowed
    bytes: Buffer.concat([B(`set big 0 0 ${n}\r\n`), Buffer.alloc(n, 0x0d), B('\r\n')]),
    expect: { kind: 'error', reply: 'SERVER_ERROR object too large for cache', unlink: 'big' } as Partial<Request>,
  })),
  data.map(d => ({   // a data block longer than announced: bad data chunk, and the rest is read as lines
    bytes: Buffer.concat([B(`set k 0 0 ${d.length}\r\n`), d, B('XY\r\n')]),
    expect: { kind: 'error', reply: 'CLIENT_ERROR bad data chunk' } as Partial<Request>,
  })),
)

test('parser: a stream of requests split at random bytes parses as if whole, in order (proto inv. 1-3)', () => {
  fc.assert(fc.property(fc.array(cases, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30 }), (cs, rawCuts) => {
    const bytes = Buffer.concat(cs.map(c => c.bytes))
    const whole = parseAll(bytes)
    const cuts = rawCuts.map(c => c % (bytes.length + 1))
    assert.deepEqual(parseAll(bytes, cuts), whole)
    // each case gives its expected request first (a bad data chunk's tail may add an ERROR after it)
    let i = 0
    for (const c of cs) {
      const got = whole[i] as Record<string, unknown>
      for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(got[k], v, `request ${i} field ${k}`)
      i++
      if (c.expect.kind === 'error' && (c.expect as { reply: string }).reply === 'CLIENT_ERROR bad data chunk') {
        // "XY" was taken as the block's end; the "\r\n" after it is an empty line: ERROR
        assert.equal((whole[i] as { reply: string }).reply, 'ERROR')
        i++
      }
    }
    assert.equal(i, whole.length)
  }), { numRuns: 300 })
})

test('parser: byte-by-byte delivery of a binary value with \\r\\n inside', () => {
  const value = Buffer.from([0, 13, 10, 255, 13, 10, 13, 10, 1])
  const bytes = Buffer.concat([B(`set bin 7 0 ${value.length}\r\n`), value, B('\r\nget bin\r\n')])
  const p = new RequestParser(LIMITS)
  const out: Request[] = []
  for (let i = 0; i < bytes.length; i++) out.push(...p.push(bytes.subarray(i, i + 1)))
  assert.equal(out.length, 2)
  assert.deepEqual((out[0] as { data: Buffer }).data, value)
  assert.deepEqual((out[1] as { keys: string[] }).keys, ['bin'])
})

test("parser: memcached's replies to malformed requests (proto inv. 3)", () => {
  const reply = (line: string): string => {
    const out = parseAll(B(line))
    const r = out[0] as { kind: string; reply?: string }
    return r.kind === 'error' ? r.reply as string : r.kind
  }
  const k251 = 'k'.repeat(251)
  assert.equal(reply('\r\n'), 'ERROR')
  assert.equal(reply('bogus\r\n'), 'ERROR')
  assert.equal(reply('get\r\n'), 'ERROR')
  assert.equal(reply(`get ${k251}\r\n`), 'CLIENT_ERROR bad command line format')
  assert.equal(reply(`get ${'k'.repeat(250)}\r\n`), 'get')
  assert.equal(reply('get a\x01b\r\n'), 'CLIENT_ERROR bad command line format')   // control character in a key
  assert.equal(reply('get a\tb\r\n'), 'CLIENT_ERROR bad command line format')
  assert.equal(reply(`set ${k251} 0 0 1\r\nx\r\n`), 'CLIENT_ERROR bad command line format')
  assert.equal(reply('set a -1 0 1\r\nx\r\n'), 'CLIENT_ERROR bad command line format')          // flags are unsigned 32-bit
  assert.equal(reply('set a 4294967296 0 1\r\nx\r\n'), 'CLIENT_ERROR bad command line format')
  assert.equal(reply('set a 4294967295 0 1\r\nx\r\n'), 'store')
  assert.equal(reply('set a 0 0 -1\r\n'), 'CLIENT_ERROR bad command line format')
  assert.equal(reply('set a 0 0\r\n'), 'ERROR')
  assert.equal(reply('cas a 0 0 1\r\nx\r\n'), 'CLIENT_ERROR bad command line format')
  assert.equal(reply('incr a\r\n'), 'ERROR')
  assert.equal(reply('incr a -1\r\n'), 'CLIENT_ERROR invalid numeric delta argument')
  assert.equal(reply('incr a 18446744073709551616\r\n'), 'CLIENT_ERROR invalid numeric delta argument')
  assert.equal(reply('touch a x\r\n'), 'CLIENT_ERROR invalid exptime argument')
  assert.equal(reply('gat x a\r\n'), 'CLIENT_ERROR invalid exptime argument')
  assert.equal(reply('delete a 5\r\n'), 'CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]')
  assert.equal(reply('delete a 0\r\n'), 'delete')
  assert.equal(reply('flush_all x\r\n'), 'CLIENT_ERROR invalid exptime argument')
  assert.equal(reply('verbosity\r\n'), 'ERROR')
  // a refused storage command's data block is swallowed: the next request parses
  const out = parseAll(B('set a -1 0 5\r\nget x\r\nget y\r\n'))
  assert.deepEqual(out.map(r => r.kind), ['error', 'get'])
  assert.deepEqual((out[1] as { keys: string[] }).keys, ['y'])
})

test('parser: a junk line of more than 2048 bytes closes; a long multi-get does not (proto inv. 4)', () => {
  const p = new RequestParser(LIMITS)
  assert.deepEqual(p.push(B('x'.repeat(3000))), [])
  assert.equal(p.closed, true)
  const q = new RequestParser(LIMITS)
  const keys = Array.from({ length: 500 }, (_, i) => `key${i}`)
  const line = B(`get ${keys.join(' ')}`)
  assert.deepEqual(q.push(line), [])
  assert.equal(q.closed, false)
  const out = q.push(B('\r\n'))
  assert.equal((out[0] as { keys: string[] }).keys.length, 500)
  const r = new RequestParser(LIMITS)
  assert.equal(r.push(B('version\r\nquit\r\nversion\r\n')).length, 2)   // nothing after quit
  assert.equal(r.closed, true)
})
