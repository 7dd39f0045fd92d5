/**
 * A process over its file-size limit (`ulimit -f`) gets OutOfSpaceError and lives on
 * (regions/lock.ts inv. L7, lock-keeper.ts inv. K4): writing past the limit raises SIGXFSZ,
 * which Node ignores, so the write fails with EFBIG, which the library reports as
 * OutOfSpaceError. A library that listens to SIGXFSZ (as proper-lockfile's signal-exit
 * did, re-raising it) turns that into a dead process. The child holds a region lock
 * throughout, since taking the lock is what used to install that listener.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startWrappedChild, useTempDirs } from './fixtures/helpers.js'

const tempDir = useTempDirs('pmem-file-limit-')

describe('ulimit -f (inv. L7, K4)', () => {
  it('creating or growing a region past the file-size limit is OutOfSpaceError, and the process lives on', async () => {
    const dir = tempDir()
    // 1024 blocks: 512 KiB or 1 MiB depending on the shell's unit, far below the 4 MiB asked for.
    const child = startWrappedChild(['sh', '-c', 'ulimit -f 1024 && exec "$@"', 'sh'], {}, 'file-limit', dir)
    const r = await child.exited
    assert.equal(r.signal, null, `the child was killed by ${r.signal}; stderr: ${r.stderr}`)
    assert.equal(r.code, 0, r.stderr)
    const lines: Array<Record<string, unknown>> = []
    for (;;) {
      try { lines.push(await child.nextLine()) } catch { break }
    }
    assert.deepEqual(lines.map(l => [l.step, l.error]), [['create', 'OutOfSpaceError'], ['grow', 'OutOfSpaceError'], [undefined, undefined]])
    assert.match(String(lines[0]!.message), /EFBIG/)
    assert.match(String(lines[1]!.message), /EFBIG/)
    assert.equal(lines[2]!.alive, true)
    assert.deepEqual(fs.readdirSync(dir).sort(), ['small.pm', 'small.pm.lock.asides'], 'nothing left of the refused create (nor its lock asides, lock.ts inv. L8), no lock left')
    assert.equal(fs.statSync(join(dir, 'small.pm')).size, 2 * 4096, 'the refused grow left the file as it was')
  })
})

describe('ulimit -n: no file descriptor free', () => {
  it('opening a region is FileSystemError EMFILE that says to raise the limit or close files (before: "the directory must be writable")', () => {
    const dir = tempDir()
    const regions = fileURLToPath(new URL('../../regions/index.js', import.meta.url))
    const script = `
      import fs from 'node:fs'
      const { Region } = await import(${JSON.stringify(regions)})
      const fds = []
      try { for (;;) fds.push(fs.openSync('/dev/null', 'r')) } catch {}
      let out
      try { Region.open(${JSON.stringify(join(dir, 'r.pm'))}, { size: 4096 }); out = { opened: true } } catch (e) { out = { name: e.constructor.name, errno: e.errno, message: e.message } }
      for (const fd of fds) fs.closeSync(fd)
      console.log(JSON.stringify(out))`
    const r = spawnSync('sh', ['-c', 'ulimit -n 256 && exec "$@"', 'sh', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { name: string; errno: string; message: string }
    assert.equal(out.name, 'FileSystemError', JSON.stringify(out))
    assert.equal(out.errno, 'EMFILE')
    assert.match(out.message, /ulimit -n/)
    assert.doesNotMatch(out.message, /must be writable/)
  })
})
