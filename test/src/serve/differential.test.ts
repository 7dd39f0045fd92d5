// pmem serve beside stock memcached (when the machine has it: apt-get install memcached): the
// same request stream, pipelined in one write, must get byte-identical replies (cas uniques
// aside). The stream avoids the few requests where memcached versions disagree with each other
// (see proto inv. 5). Skipped when no memcached binary is installed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { Raw, serve, stop } from './serve-kit.js'

const MEMCACHED = spawnSync('sh', ['-c', 'command -v memcached'], { encoding: 'utf8' }).stdout.trim()

const now = Math.floor(Date.now() / 1000)
const K250 = 'k'.repeat(250)
const SCRIPT = [
  'set a 5 0 3\r\nabc\r\n', 'get a\r\n', 'gets a b\r\n', 'append a 0 0 2\r\nde\r\n', 'prepend a 0 0 2\r\n<<\r\n', 'get a\r\n',
  'add a 0 0 1\r\nx\r\n', 'add b 7 0 1\r\nx\r\n', 'replace c 0 0 1\r\nx\r\n', 'replace b 8 0 2\r\nyy\r\n', 'get b a\r\n',
  'set n 0 0 2\r\n10\r\n', 'incr n 5\r\n', 'decr n 100\r\n', 'incr n 18446744073709551615\r\n', 'incr n 2\r\n', 'decr n 1\r\n',
  'incr a 1\r\n', 'incr zz 1\r\n', 'decr zz 1\r\n', 'incr n -1\r\n', 'incr n abc\r\n', 'incr\r\n', 'incr n\r\n',
  'cas a 0 0 1 999999999\r\nx\r\n', 'cas zz 0 0 1 1\r\nx\r\n',
  'delete a\r\n', 'delete a\r\n', 'delete n 0\r\n', 'delete b 5\r\n', 'delete b noreply\r\n', 'get b\r\n',
  'bogus\r\n', '\r\n', 'get\r\n', 'set k 0 0 2\r\nabcd\r\n', 'touch n\r\n', 'touch n abc\r\n', 'touch zz 10\r\n',
  'set t 3 0 1\r\nt\r\n', 'touch t 100\r\n', 'gat 0 t zz\r\n', 'gat abc t\r\n',
  'set e1 0 -1 1\r\nx\r\n', `set e2 0 ${now - 100} 1\r\nx\r\n`, `set e3 0 ${now + 1000} 1\r\nx\r\n`, 'get e1 e2 e3\r\n',
  'touch e3 -1\r\n', 'get e3\r\n',
  `set ${K250} 0 0 1\r\nx\r\n`, `get ${K250}\r\n`, `get ${K250}k\r\n`,
  'set z 0 0 1 noreply\r\nz\r\n', 'append z 0 0 1 noreply\r\ny\r\n', 'get z\r\n',
  'set e2 0 0 0\r\n\r\n', 'get e2\r\n', 'incr e2 1\r\n',
  'set bin 0 0 6\r\n\r\n\0\xff\r\n\r\n', 'get bin\r\n',
  `set big 0 0 ${(1 << 20) + 1}\r\n${'x'.repeat((1 << 20) + 1)}\r\n`, 'get big\r\n',
  // an append or prepend whose joined value would pass the item size: NOT_STORED, the item kept
  `set full 0 0 1000000\r\n${'f'.repeat(1_000_000)}\r\n`, `append full 0 0 100000\r\n${'a'.repeat(100_000)}\r\n`,
  `prepend full 0 0 100000\r\n${'p'.repeat(100_000)}\r\n`, 'append full 0 0 1\r\n!\r\n', 'delete full\r\n',
  'set sp  0  0  1 \r\nq\r\n', 'get  sp  \r\n',
  'verbosity 1\r\n', 'verbosity\r\n', 'flush_all abc\r\n', 'flush_all noreply\r\n', 'get z t\r\n', 'flush_all 0\r\n',
  'version\r\n',
].join('')

function freePort(): Promise<number> {
  return new Promise(resolve => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)) }) })
}

/** Sends the script in one write and returns everything up to the final VERSION line, cas uniques masked. */
async function run(port: number): Promise<string> {
  const c = await Raw.connect(port)
  try {
    c.send(SCRIPT)
    let all = ''
    for (;;) {
      const [r] = await c.replies(1)
      all += `${r}\n`
      if ((r as string).startsWith('VERSION ')) break
    }
    return all.replace(/^(VALUE \S+ \d+ \d+) \d+\r\n/gm, '$1 CAS\r\n').replace(/VERSION .*/, 'VERSION')
  } finally { c.end() }
}

test('pmem serve answers a pipelined request stream byte for byte as stock memcached does', { skip: MEMCACHED === '' ? 'no memcached binary (apt-get install memcached)' : false }, async () => {
  const port = await freePort()
  const mc = spawn(MEMCACHED, ['-p', String(port), '-U', '0', '-l', '127.0.0.1', '-u', 'nobody'], { stdio: 'ignore' })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-serve-diff-'))
  const s = await serve(path.join(dir, 'mc.pm'), ['--size', String(16 << 20)])
  try {
    let expected: string | undefined
    for (let i = 0; i < 50 && expected === undefined; i++) {
      try { expected = await run(port) } catch { await new Promise(r => setTimeout(r, 100)) }   // until memcached listens
    }
    assert.ok(expected !== undefined, 'memcached did not start')
    const got = await run(s.port)
    const e = expected.split('\n')
    const g = got.split('\n')
    for (let i = 0; i < Math.max(e.length, g.length); i++) assert.equal(g[i], e[i], `reply ${i} differs; replies before it: ${JSON.stringify(e.slice(Math.max(0, i - 4), i))}`)
  } finally {
    mc.kill('SIGKILL')
    await stop(s)
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
