// pmem serve against libmemcached's protocol conformance tool, `memccapable` (Debian's
// libmemcached-tools; .ci/run installs it when missing). Every test it runs, text and binary
// protocol, must pass as it does against stock memcached; the output is parsed line by line
// ("name  [pass]"), so a failing, skipped or missing test fails this one. Skipped when the
// tool is not installed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { serve, stop } from './serve-kit.js'

const MEMCCAPABLE = spawnSync('sh', ['-c', 'command -v memccapable'], { encoding: 'utf8' }).stdout.trim()

/** Tests memccapable 1.x runs; each must be reported as passed (a newer tool may add more). */
const EXPECTED = [
  'version', 'quit', 'verbosity', 'set', 'set noreply', 'get', 'gets', 'mget', 'flush', 'flush noreply', 'add',
  'add noreply', 'replace', 'replace noreply', 'cas', 'cas noreply', 'delete', 'delete noreply', 'incr',
  'incr noreply', 'decr', 'decr noreply', 'append', 'append noreply', 'prepend', 'prepend noreply', 'stat',
].map(n => `ascii ${n}`).concat([
  'noop', 'quit', 'quitq', 'set', 'setq', 'flush', 'flushq', 'add', 'addq', 'replace', 'replaceq', 'delete',
  'deleteq', 'get', 'getq', 'getk', 'getkq', 'incr', 'incrq', 'decr', 'decrq', 'version', 'append', 'appendq',
  'prepend', 'prependq', 'stat',
].map(n => `binary ${n}`))

/** Runs memccapable against `port`; resolves with its exit code and output. */
function capable(port: number): Promise<{ code: number | null; out: string }> {
  return new Promise(resolve => {
    const p = spawn(MEMCCAPABLE, ['-h', '127.0.0.1', '-p', String(port), '-t', '10'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', d => { out += String(d) })
    p.stderr.on('data', d => { out += String(d) })
    p.once('exit', code => resolve({ code, out }))
  })
}

// One mode in npm test (the handlers are the same in every mode; group, whose replies wait on a
// shared flush, is the one that reorders most): sync and none passed 54 of 54 too, by hand.
for (const durability of ['group'] as const) {
  test(`memccapable: every text and binary protocol test passes against pmem serve (durability ${durability})`,
    { skip: MEMCCAPABLE === '' ? 'no memccapable (apt-get install libmemcached-tools)' : false }, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-serve-capable-'))
      const s = await serve(path.join(dir, 'mc.pm'), ['--size', String(8 << 20), '--durability', durability])
      try {
        const { code, out } = await capable(s.port)
        const results = new Map<string, string>()
        for (const line of out.split('\n')) {
          const m = /^(ascii|binary) (.+?)\s+\[(\w+)\]\s*$/.exec(line)
          if (m) results.set(`${m[1]} ${m[2]}`, m[3] as string)
        }
        const bad = [...results].filter(([, r]) => r !== 'pass').map(([n, r]) => `${n}: ${r}`)
        assert.deepEqual(bad, [], `memccapable tests that did not pass:\n${out}`)
        const missing = EXPECTED.filter(n => !results.has(n))
        assert.deepEqual(missing, [], `memccapable did not report these tests:\n${out}`)
        assert.equal(code, 0, `memccapable exited with ${code}:\n${out}`)
        assert.match(out, /All tests passed/)
      } finally {
        await stop(s)
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })
}
