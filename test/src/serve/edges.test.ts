// pmem serve's edge cases over raw sockets, against the server as a child process: values at
// and over the size limit, binary data with \r\n inside, pipelining, byte-by-byte writes, a
// client that disconnects mid-value, bad commands, noreply, expiry, incr/decr limits, quit.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { check } from '../../../src/index.js'
import { Raw, serve, stop, type Served } from './serve-kit.js'

const MiB = 1 << 20

test('pmem serve: protocol edge cases over raw sockets', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-serve-edge-'))
  const file = path.join(dir, 'mc.pm')
  const s = await serve(file, ['--durability', 'sync', '--size', String(16 * MiB)])
  const c = await Raw.connect(s.port)
  try {
    // the size limit: exactly 1 MiB is stored, one byte more is refused and its data skipped
    const big = Buffer.alloc(MiB, 0x61)
    big.write('\r\nEND\r\n', 1000, 'latin1')
    assert.deepEqual(await c.ask(Buffer.concat([Buffer.from(`set big 3 0 ${MiB}\r\n`), big, Buffer.from('\r\n')])), ['STORED'])
    const [got] = await c.ask('get big\r\n')
    assert.equal(got, `VALUE big 3 ${MiB}\r\n${big.toString('latin1')}\r\nEND`)
    assert.deepEqual(await c.ask(Buffer.concat([Buffer.from(`set big 0 0 ${MiB + 1}\r\n`), Buffer.alloc(MiB + 1, 0x0a), Buffer.from('\r\nget big\r\n')]), 2),
      ['SERVER_ERROR object too large for cache', 'END'])   // and, as memcached, the old item is gone
    assert.deepEqual(await c.ask(`append nokey 0 0 ${MiB + 1}\r\n${'x'.repeat(MiB + 1)}\r\nversion\r\n`, 2), ['SERVER_ERROR object too large for cache', 'VERSION 1.6.0'])

    // binary data with \r\n and every byte value inside
    const bin = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) % 256))
    bin.write('\r\n\r\nVALUE x 0 1\r\n', 100, 'latin1')
    assert.deepEqual(await c.ask(Buffer.concat([Buffer.from(`set bin 4294967295 0 ${bin.length}\r\n`), bin, Buffer.from('\r\n')])), ['STORED'])
    const [b] = await c.ask('get bin\r\n')
    assert.equal(b, `VALUE bin 4294967295 ${bin.length}\r\n${bin.toString('latin1')}\r\nEND`)

    // pipelining: 300 requests in one write, replies in order
    let pipe = ''
    const want: string[] = []
    for (let i = 0; i < 100; i++) {
      pipe += `set p${i} ${i} 0 ${String(i).length}\r\n${i}\r\nincr p${i} 1\r\nget p${i}\r\n`
      want.push('STORED', String(i + 1), `VALUE p${i} ${i} ${String(i + 1).length}\r\n${i + 1}\r\nEND`)
    }
    assert.deepEqual(await c.ask(pipe, 300), want)

    // byte by byte, each byte its own write and turn of the event loop
    const bytes = Buffer.from('set slow 1 0 6\r\na\r\nb\r\n\r\ngets slow\r\n')
    for (const byte of bytes) { c.send(Buffer.from([byte])); await new Promise(r => setTimeout(r, 1)) }
    const [, slow] = await c.replies(2)
    assert.match(slow as string, /^VALUE slow 1 6 \d+\r\na\r\nb\r\n\r\nEND$/)

    // a client that disconnects in the middle of a value changes nothing
    assert.deepEqual(await c.ask('set keep 0 0 3\r\nold\r\n'), ['STORED'])
    const d = await Raw.connect(s.port)
    d.send('set keep 0 0 100\r\n' + 'n'.repeat(60))
    await new Promise(r => setTimeout(r, 50))
    d.end()
    const d2 = await Raw.connect(s.port)
    d2.send('set half 0 0 10\r\n12345')
    await new Promise(r => setTimeout(r, 20))
    d2.end()
    assert.deepEqual(await c.ask('get keep half\r\n'), ['VALUE keep 0 3\r\nold\r\nEND'])

    // bad commands get memcached's errors and leave the connection usable
    assert.deepEqual(await c.ask('bogus\r\nget\r\nincr keep 1\r\nincr keep x\r\nset k 0 0 2\r\nabcd\r\ntouch keep x\r\nget ok\r\n', 8), [
      'ERROR', 'ERROR', 'CLIENT_ERROR cannot increment or decrement non-numeric value', 'CLIENT_ERROR invalid numeric delta argument',
      'CLIENT_ERROR bad data chunk', 'ERROR', 'CLIENT_ERROR invalid exptime argument', 'END'])
    assert.deepEqual(await c.ask(`get ${'k'.repeat(251)}\r\nset a\x01b 0 0 1\r\nx\r\nget a\x01b\r\n`, 3),
      ['CLIENT_ERROR bad command line format', 'CLIENT_ERROR bad command line format', 'CLIENT_ERROR bad command line format'])

    // noreply: no reply at all, but the change is made
    assert.deepEqual(await c.ask('set q 0 0 1 noreply\r\nx\r\nappend q 0 0 1 noreply\r\ny\r\nincr q 1 noreply\r\ndelete nokey noreply\r\nget q\r\n'), ['VALUE q 0 2\r\nxy\r\nEND'])

    // incr wraps at 2^64, decr stops at 0; add / replace / cas outcomes
    assert.deepEqual(await c.ask('set n 0 0 20\r\n18446744073709551615\r\nincr n 2\r\ndecr n 5\r\nincr n 18446744073709551615\r\n', 4), ['STORED', '1', '0', '18446744073709551615'])
    assert.deepEqual(await c.ask('add n 0 0 1\r\n1\r\nreplace none 0 0 1\r\n1\r\ncas none 0 0 1 1\r\n1\r\nprepend none 0 0 1\r\n1\r\n', 4), ['NOT_STORED', 'NOT_STORED', 'NOT_FOUND', 'NOT_STORED'])
    const [g] = await c.ask('gets n\r\n')
    const cas = /^VALUE n 0 20 (\d+)/.exec(g as string)?.[1]
    assert.deepEqual(await c.ask(`cas n 9 0 1 ${cas}\r\n7\r\ncas n 9 0 1 ${cas}\r\n8\r\nget n\r\n`, 3), ['STORED', 'EXISTS', 'VALUE n 9 1\r\n7\r\nEND'])

    // expiry without waiting: negative and past absolute times are expired, relative and future ones not
    const now = Math.floor(Date.now() / 1000)
    assert.deepEqual(await c.ask(`set e1 0 -1 1\r\nx\r\nset e2 0 ${now - 100} 1\r\nx\r\nset e3 0 2592000 1\r\nx\r\nset e4 0 ${now + 1000} 1\r\nx\r\nget e1 e2 e3 e4\r\n`, 5),
      ['STORED', 'STORED', 'STORED', 'STORED', 'VALUE e3 0 1\r\nx\r\nVALUE e4 0 1\r\nx\r\nEND'])
    assert.deepEqual(await c.ask(`touch e3 -1\r\ntouch e1 10\r\nget e3\r\ngat 100 e4\r\n`, 4), ['TOUCHED', 'NOT_FOUND', 'END', 'VALUE e4 0 1\r\nx\r\nEND'])
    assert.match((await c.ask('gats 0 e4\r\n'))[0] as string, /^VALUE e4 0 1 \d+\r\nx\r\nEND$/)

    // stats, version, verbosity, a delayed flush_all not yet due, then an immediate one
    const [st] = await c.ask('stats\r\n')
    assert.match(st as string, /STAT curr_items \d+\r\n/)
    assert.match(st as string, /STAT store pmem \(sync\)\r\n/)
    assert.deepEqual(await c.ask('verbosity 1\r\nflush_all 1000\r\nget n\r\nflush_all\r\nget n bin\r\n', 5), ['OK', 'OK', 'VALUE n 9 1\r\n7\r\nEND', 'OK', 'END'])

    // a junk line without an end closes the connection; quit closes after the replies before it
    const j = await Raw.connect(s.port)
    j.send('x'.repeat(5000))
    await j.closedByServer()
    const q = await Raw.connect(s.port)
    assert.deepEqual(await q.ask('version\r\nquit\r\nversion\r\n'), ['VERSION 1.6.0'])
    await q.closedByServer()
    assert.equal(q.pending.length, 0)
  } finally {
    c.end()
    assert.equal(await stop(s), 0, s.stderr())
  }
  const r = check(file)
  assert.equal(r.ok, true, JSON.stringify(r.problems))
  fs.rmSync(dir, { recursive: true, force: true })
})

test('pmem serve: a full pool answers SERVER_ERROR for the items that do not fit, keeps the rest, and recovers space (serve inv. 4)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-serve-full-'))
  const file = path.join(dir, 'mc.pm')
  const s = await serve(file, ['--size', String(MiB), '--max-size', String(MiB), '--durability', 'group'])
  const c = await Raw.connect(s.port)
  try {
    // 2,500 pipelined 400-byte sets in one write (1 MB, more than the pool holds): a turn's batch
    // that fails for space is run again one request at a time (serve-batch.test.ts checks that
    // exactly), and every reply tells the truth about its item
    const N = 2500
    const v = (i: number): string => String(i % 10).repeat(400)
    let req = ''
    for (let i = 0; i < N; i++) req += `set f${i} 0 0 400\r\n${v(i)}\r\n`
    const replies = await c.ask(req, N)
    assert.ok(replies.every(r => r === 'STORED' || r === 'SERVER_ERROR out of memory storing object'), JSON.stringify([...new Set(replies)]))
    const firstFail = replies.indexOf('SERVER_ERROR out of memory storing object')
    assert.ok(firstFail > 100, `first failure at ${firstFail}`)
    // the ones stored read back whole; the others are absent
    for (let i = 0; i < N; i += 7) {
      const [g] = await c.ask(`get f${i}\r\n`)
      assert.equal(g, replies[i] === 'STORED' ? `VALUE f${i} 0 400\r\n${v(i)}\r\nEND` : 'END', `f${i}`)
    }
    // deleting makes room again
    assert.deepEqual(await c.ask(`delete f0\r\ndelete f1\r\nset f${firstFail} 0 0 400\r\n${v(firstFail)}\r\n`, 3), ['DELETED', 'DELETED', 'STORED'])
  } finally {
    c.end()
    assert.equal(await stop(s), 0, s.stderr())
  }
  assert.equal(check(file).ok, true)
  fs.rmSync(dir, { recursive: true, force: true })
})

test('pmem serve: the item count it prints when it starts leaves out its meta entries, as stats curr_items does', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-serve-count-'))
  const file = path.join(dir, 'count.pmem')
  const running: Served[] = []
  try {
    const s = await serve(file, ['--durability', 'sync', '--size', String(16 * MiB)])
    running.push(s)
    const c = await Raw.connect(s.port)
    // two items, a cas counter (gets) and a delayed flush_all not yet due: two meta entries
    assert.deepEqual(await c.ask('set a 0 0 1\r\nx\r\nset b 0 0 1\r\ny\r\nflush_all 100000\r\n', 3), ['STORED', 'STORED', 'OK'])
    assert.match((await c.ask('gets a\r\n'))[0] as string, /^VALUE a 0 1 \d+/)
    assert.match((await c.ask('stats\r\n'))[0] as string, /STAT curr_items 2\r\n/)
    c.socket.destroy()
    assert.equal(await stop(s), 0)
    const again = await serve(file, ['--durability', 'sync'])
    running.push(again)
    assert.match(again.stdout(), /\(durability sync, 2 items\)/)     // before: 4 items
  } finally {
    for (const r of running) if (r.child.exitCode === null && r.child.signalCode === null) await stop(r)
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
