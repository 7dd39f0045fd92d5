// pmem serve driven by a real memcached client library from npm (`memcached`, text protocol),
// against the server started as a child process: every command the client offers, then a
// clean restart on the same file keeps the items, and `pmem check` finds the map sound.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { check } from '../../../src/index.js'
import { CLI, Client, serve, stop } from './serve-kit.js'

test('pmem serve: the memcached npm client, every command, and a restart keeps the items', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-serve-'))
  const file = path.join(dir, 'mc.pm')
  let s = await serve(file, ['--durability', 'group', '--size', String(16 << 20)])
  let c = new Client(s.port)
  try {
    assert.equal(await c.set('greeting', 'hello'), true)
    assert.equal(await c.get('greeting'), 'hello')
    assert.equal(await c.get('missing'), undefined)
    assert.equal(await c.add('greeting', 'other'), false)                  // add: only when absent
    assert.equal(await c.add('fresh', 'new'), true)
    assert.equal(await c.replace('nobody', 'x'), false)                   // replace: only when present
    assert.equal(await c.replace('fresh', 'newer'), true)
    assert.equal(await c.append('greeting', ', world'), true)
    assert.equal(await c.prepend('greeting', '>> '), true)
    assert.equal(await c.get('greeting'), '>> hello, world')
    assert.equal(await c.append('nobody', 'x'), false)

    const g = await c.gets('greeting')
    assert.ok(g !== undefined && /^\d+$/.test(String(g.cas)), JSON.stringify(g))
    assert.equal(await c.cas('greeting', 'swapped', String(g.cas)), true)
    assert.equal(await c.cas('greeting', 'stale', String(g.cas)), false)  // EXISTS: changed since gets
    assert.equal(await c.get('greeting'), 'swapped')

    assert.equal(await c.set('n', '10'), true)
    assert.equal(await c.incr('n', 5), 15)
    assert.equal(await c.decr('n', 100), 0)                               // decr floors at 0
    assert.equal(await c.incr('nobody', 1), false)
    await c.touch('n', 1000)
    assert.equal(await c.get('n'), '0')

    // structured values go through the client's own flags (JSON), which the server keeps
    assert.equal(await c.set('obj', { a: 1, b: [2, 3] }), true)
    assert.deepEqual(await c.get('obj'), { a: 1, b: [2, 3] })
    assert.deepEqual(await c.getMulti(['fresh', 'n', 'none']), { fresh: 'newer', n: '0' })

    assert.equal(await c.del('fresh'), true)
    assert.equal(await c.del('fresh'), false)
    assert.equal(await c.set('expired', 'x', -1), true)                   // negative exptime: gone at once
    assert.equal(await c.get('expired'), undefined)

    const version = await c.version() as Array<{ version: string }>
    assert.match(version[0]?.version ?? '', /^1\.6\.0/)
    const stats = await c.stats() as Array<Record<string, unknown>>
    assert.equal(stats[0]?.curr_items, 3)                                 // greeting, n, obj (the expired one was never kept)
    c.end()

    assert.equal(await stop(s), 0)                                        // SIGTERM: a clean close
    assert.equal(check(file).ok, true, JSON.stringify(check(file).problems))
    s = await serve(file, ['--durability', 'sync'])
    c = new Client(s.port)
    assert.equal(await c.get('greeting'), 'swapped')
    assert.equal(await c.get('n'), '0')
    const g2 = await c.gets('greeting')
    assert.ok(BigInt(String(g2?.cas)) > BigInt(String(g.cas)), 'cas values keep rising across restarts')
    assert.equal(await c.set('after', 'restart'), true)
    const g3 = await c.gets('after')
    assert.ok(BigInt(String(g3?.cas)) > BigInt(String(g2?.cas)), 'a new item gets a cas above any before the restart')
    await c.flush()
    assert.equal(await c.get('greeting'), undefined)
    assert.equal(await c.set('again', 'x'), true)
    assert.equal(await c.get('again'), 'x')
  } finally {
    c.end()
    await stop(s)
    assert.equal(check(file).ok, true)
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('pmem serve: bad arguments, a port in use and a file that is not a pool exit 2 with a message, creating nothing', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-serve-args-'))
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'serve', ...args], { encoding: 'utf8' })
  const file = path.join(dir, 'a.pm')
  let r = run()
  assert.equal(r.status, 2)
  assert.match(r.stderr, /usage: pmem serve <file>/)
  r = run(file, '--durability', 'fast')
  assert.equal(r.status, 2)
  assert.match(r.stderr, /--durability must be sync, group or none, got "fast"/)
  r = run(file, '--port', '70000')
  assert.match(r.stderr, /--port must be an integer from 0 to 65535, got "70000"/)
  assert.equal(fs.existsSync(file), false)
  fs.writeFileSync(path.join(dir, 'junk'), 'x'.repeat(100_000))
  r = run(path.join(dir, 'junk'), '--port', '0')
  assert.equal(r.status, 2)
  assert.match(r.stderr, /^pmem serve: /)
  assert.equal(fs.readFileSync(path.join(dir, 'junk'), 'latin1'), 'x'.repeat(100_000))
  const s = await serve(file, ['--size', String(8 << 20)])
  try {
    r = run(path.join(dir, 'b.pm'), '--port', String(s.port), '--size', String(8 << 20))
    assert.equal(r.status, 2)
    assert.match(r.stderr, /^pmem serve: listen EADDRINUSE/)
    assert.equal(fs.existsSync(path.join(dir, 'b.pm')), false, 'a failed start leaves no pool it created')
    assert.equal(fs.existsSync(path.join(dir, 'b.pm.lock')), false)
    r = run(file, '--port', '0')                 // the pool is held by the running server
    assert.equal(r.status, 2)
    assert.match(r.stderr, /^pmem serve: .*lock/i)
  } finally { await stop(s) }
  fs.rmSync(dir, { recursive: true, force: true })
})
