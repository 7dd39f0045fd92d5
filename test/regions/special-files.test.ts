/**
 * Paths that are not regular files (regions/region-file.ts inv. C5): a FIFO, a symlink
 * loop. Every entry point that reads a file by path (Region.open for writing and
 * read-only, Region.check, Region.delete, the library's open and check,
 * Container.versions, and each pmem command) must refuse a FIFO with NotARegionError
 * naming it, without blocking, and report a symlink loop as FileSystemError with errno
 * ELOOP. Each runs in a child process killed after a timeout, so a regression (an open
 * that blocks until a writer appears) fails the test instead of hanging the suite.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { join } from 'node:path'
import { execFile, execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { useTempDirs } from './fixtures/helpers.js'

const CHILD = fileURLToPath(new URL('./fixtures/special-child.js', import.meta.url))
const PMEM = fileURLToPath(new URL('../../src/cli/pmem.js', import.meta.url))
const ENTRIES = ['Region.open', 'Region.open-readOnly', 'Region.check', 'Region.delete', 'open-readOnly', 'check', 'Container.versions']
const TIMEOUT_MS = 30_000 // only a hang comes near it

const tempDir = useTempDirs('pmem-special-files-')

interface Run { readonly code: number | null; readonly signal: string | null; readonly stdout: string; readonly stderr: string }

/** Runs `node args...`, killing it after TIMEOUT_MS. */
function runNode(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise(resolve => {
    execFile(process.execPath, args, { timeout: TIMEOUT_MS, killSignal: 'SIGKILL', env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : null, signal: e?.signal ?? null, stdout, stderr })
    })
  })
}

/** Runs every entry point on `path` in one child; their results, in ENTRIES order. */
async function entryResults(path: string, env: Record<string, string> = {}): Promise<Array<Record<string, unknown>>> {
  const r = await runNode([CHILD, path, ...ENTRIES], env)
  const lines = r.stdout.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>)
  assert.equal(r.signal, null, `${ENTRIES[lines.length]} did not finish within ${TIMEOUT_MS} ms (it hangs): killed by ${r.signal}`)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(lines.map(l => l.entry), ENTRIES)
  return lines
}

function mkfifo(path: string): void { execFileSync('mkfifo', [path]) }

describe('paths that are not regular files (inv. C5)', () => {
  it('a FIFO is NotARegionError from every entry point, without blocking, and stays a FIFO', async () => {
    const dir = tempDir()
    const fifo = join(dir, 'pipe.pm')
    mkfifo(fifo)
    const results = await entryResults(fifo)
    for (const r of results) {
      if (r.entry === 'check') {
        assert.equal((r.problems as string[]).length, 1, JSON.stringify(r))
        assert.match((r.problems as string[])[0]!, /^ERR_PMEM_NOT_A_REGION: .*"[^"]*pipe\.pm": it is a FIFO \(named pipe\)/)
      } else {
        assert.equal(r.error, 'NotARegionError', JSON.stringify(r))
        assert.match(String(r.message), /"[^"]*pipe\.pm": it is a FIFO \(named pipe\), not a persistent-memory region file/)
      }
    }
    assert.ok(fs.statSync(fifo).isFIFO())
    assert.deepEqual(fs.readdirSync(dir), ['pipe.pm'], 'no lock directory or other file left behind')
  })

  it('a FIFO swapped in after the stat cannot block either: the open is O_NONBLOCK, then fstat', async () => {
    const dir = tempDir()
    const fifo = join(dir, 'pipe.pm')
    mkfifo(fifo)
    for (const r of await entryResults(fifo, { PMEM_TEST_STAT_LIES: '1' })) {
      const message = r.entry === 'check' ? (r.problems as string[])[0] : r.message
      assert.match(String(message), /it is a FIFO \(named pipe\)/, JSON.stringify(r))
    }
    assert.deepEqual(fs.readdirSync(dir), ['pipe.pm'])
  })

  it('a FIFO: each pmem command fails with the error, without blocking', async () => {
    const fifo = join(tempDir(), 'pipe.pm')
    mkfifo(fifo)
    const runs = await Promise.all(['check', 'info', 'versions'].map(cmd => runNode([PMEM, cmd, fifo])))
    for (const [i, cmd] of ['check', 'info', 'versions'].entries()) {
      const r = runs[i]!
      assert.equal(r.signal, null, `pmem ${cmd} hangs on a FIFO`)
      assert.notEqual(r.code, 0, `pmem ${cmd}`)
      assert.match(r.stdout + r.stderr, /it is a FIFO \(named pipe\)/, `pmem ${cmd}: ${r.stdout}${r.stderr}`)
    }
  })

  it('a symlink loop is FileSystemError with errno ELOOP from every entry point', async () => {
    const dir = tempDir()
    const loop = join(dir, 'loop.pm')
    fs.symlinkSync('loop.pm', loop)
    const results = await entryResults(loop)
    for (const r of results) {
      if (r.entry === 'check') {
        assert.match((r.problems as string[])[0] ?? '', /^ERR_PMEM_FS: .*loop\.pm": too many levels of symbolic links \(a symlink loop\?\) \(ELOOP\)/, JSON.stringify(r))
      } else {
        assert.deepEqual([r.error, r.errno], ['FileSystemError', 'ELOOP'], JSON.stringify(r))
        assert.match(String(r.message), /too many levels of symbolic links/)
      }
    }
    const cli = await runNode([PMEM, 'versions', loop])
    assert.equal(cli.code, 2)
    assert.match(cli.stderr, /^pmem: .*ELOOP/)
    assert.deepEqual(fs.readdirSync(dir), ['loop.pm'])
  })
})
