/**
 * One writer per file, whatever name it is opened by (regions/region-file.ts inv. C8, lock.ts
 * inv. L1): a symlink to a region and the region share one lock; a hard-linked region is
 * refused to writers (its other names would get locks of their own) and nothing is written,
 * while readers open it; a writer through a second process is refused the same way; a reader
 * through a symlink finds the live writer; something else at the lock's path is never removed.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { Region } from '../../regions/region.js'
import { RegionLockedError, RegionNotFoundError } from '../../regions/errors.js'
import { open, t } from '../../src/index.js'
import { useTempDirs } from './fixtures/helpers.js'

const tempDir = useTempDirs('pmem-lock-names-')

describe('one writer per file under any name (inv. C8)', () => {
  it('a symlink to a region shares its lock: a second writer through either name is refused, and a writer through the symlink excludes the real name', () => {
    const dir = tempDir()
    const file = join(dir, 'a.pm')
    fs.mkdirSync(join(dir, 'elsewhere'))
    const link = join(dir, 'elsewhere', 'link.pm')
    Region.open(file, { size: 4096 }).close()
    fs.symlinkSync(file, link)
    const a = Region.open(file)
    assert.throws(() => Region.open(link), RegionLockedError, 'a writer through the symlink while the real name is held')
    a.close()
    const b = Region.open(link)
    assert.throws(() => Region.open(file), RegionLockedError, 'a writer through the real name while the symlink is held')
    assert.ok(fs.existsSync(`${file}.lock`) && !fs.existsSync(`${link}.lock`), 'the lock sits beside the real name')
    b.close()
    assert.ok(!fs.existsSync(`${file}.lock`), 'released')
  })

  it('a reader through a symlink finds the live writer (liveWriter, which readers trust the published state by): no spurious CorruptionError beside a writer', () => {
    const dir = tempDir()
    const file = join(dir, 'a.pm'), link = join(dir, 'link.pm')
    const w = Region.open(file, { size: 4096 })
    fs.symlinkSync(file, link)
    const r = Region.open(link, { readOnly: true })
    assert.equal(r.liveWriter(), w.writerToken, 'the reader sees the writer holding the lock beside the real name')
    w.close()
    assert.equal(r.liveWriter(), null)
    r.close()
  })

  it('inv. L3: whatever else sits at "<file>.lock" (a file, a symlink, a directory with other files) is never removed, however old: writers are refused', () => {
    const dir = tempDir()
    const old = new Date(Date.now() - 3_600_000)
    const cases: Array<[string, (lock: string) => void, RegExp]> = [
      ['a regular file', lock => fs.writeFileSync(lock, 'notes\n'), /is a regular file/],
      ['a directory of notes', lock => { fs.mkdirSync(lock); fs.writeFileSync(join(lock, 'notes.txt'), 'notes\n') }, /a directory holding other files \("notes.txt"\)/],
      ['a dead holder\'s lock with another file in it', lock => { fs.mkdirSync(lock); fs.writeFileSync(join(lock, 'owner'), '{}\n'); fs.writeFileSync(join(lock, 'keep.txt'), 'x') }, /other files \("keep.txt"\)/],
      ['a symlink to a directory', lock => { fs.mkdirSync(`${lock}-target`); fs.symlinkSync(`${lock}-target`, lock) }, /a symbolic link/],
    ]
    for (const [i, [what, make, says]] of cases.entries()) {
      const file = join(dir, `r${i}.pm`)
      Region.open(file, { size: 4096 }).close()
      const lock = `${file}.lock`
      make(lock)
      fs.lutimesSync(lock, old, old)
      const listing = JSON.stringify(fs.readdirSync(dir).sort())
      assert.throws(() => Region.open(file), (e: RegionLockedError) => e instanceof RegionLockedError && says.test(e.message) && e.message.includes(lock), what)
      assert.equal(JSON.stringify(fs.readdirSync(dir).sort()), listing, `${what}: nothing removed, moved or added`)
      if (fs.lstatSync(lock).isDirectory()) assert.ok(fs.readdirSync(lock).length > 0, `${what}: its contents kept`)
      const ro = Region.open(file, { readOnly: true }) // readers take no lock
      ro.close()
    }
    // an old lock directory of ours, empty (a writer killed before its record) or with a dead record, is still taken over
    const file = join(dir, 'ours.pm')
    Region.open(file, { size: 4096 }).close()
    fs.mkdirSync(`${file}.lock`)
    fs.utimesSync(`${file}.lock`, old, old)
    Region.open(file).close()
    assert.ok(!fs.existsSync(`${file}.lock`))
  })

  it('a hard-linked region: writers are refused under every name with nothing written, readers open it, and a writer works again once the link is gone', () => {
    const dir = tempDir()
    const file = join(dir, 'pool.pm'), other = join(dir, 'copy.pm')
    const pm = open(file, { size: 1 << 20 })
    const m = pm.hashMap('m', t.u32, t.u32)
    m.put(1, 10)
    fs.linkSync(file, other)
    const child = spawnSync(process.execPath, ['--input-type=module', '-e',
      `import { open } from ${JSON.stringify(new URL('../../src/index.js', import.meta.url).href)}; try { open(${JSON.stringify(other)}); console.log('opened') } catch (e) { console.log(e.code) }`], { encoding: 'utf8' })
    assert.equal(child.stdout.trim(), 'ERR_PMEM_LOCKED', `another process opening the other name while this one writes: ${child.stderr}`)
    pm.close()
    const bytes = fs.readFileSync(file), mtime = fs.statSync(file).mtimeMs
    for (const name of [file, other]) {
      assert.throws(() => open(name), (e: RegionLockedError) => e instanceof RegionLockedError && /2 hard links/.test(e.message) && /readOnly/.test(e.message), name)
      assert.throws(() => Region.open(name), RegionLockedError, `${name} as a region`)
      assert.ok(!fs.existsSync(`${name}.lock`), 'the refused open left no lock behind')
    }
    assert.deepEqual(fs.readFileSync(file), bytes, 'nothing was written')
    assert.equal(fs.statSync(file).mtimeMs, mtime)
    const ro = open(other, { readOnly: true })
    assert.equal(ro.hashMap('m', t.u32, t.u32).get(1), 10, 'a reader opens any name')
    ro.close()
    fs.unlinkSync(other)
    const again = open(file)
    assert.equal(again.hashMap('m', t.u32, t.u32).get(1), 10)
    again.close()
  })
})

describe('a dangling symlink as the path (inv. C9)', () => {
  it('every open names where the link points and creates nothing: no file, no lock, no .creating, however many links deep', () => {
    const dir = tempDir()
    const target = join(dir, 'missing.pm')
    const link = join(dir, 'link.pm')
    const link2 = join(dir, 'link2.pm')
    fs.symlinkSync(target, link)
    fs.symlinkSync(link, link2)
    fs.symlinkSync(join(dir, 'no-dir', 'x.pm'), join(dir, 'far.pm'))
    const before = fs.readdirSync(dir).sort()
    for (const [path, opts] of [[link, { size: 1 << 20 }], [link, {}], [link, { readOnly: true }], [link2, { size: 1 << 20 }], [join(dir, 'far.pm'), { size: 1 << 20 }]] as const) {
      assert.throws(() => Region.open(path, opts), (e: unknown) => e instanceof RegionNotFoundError &&
        e.message.includes('symbolic link to') && e.message.includes('dangling') && e.message.includes(path === join(dir, 'far.pm') ? join(dir, 'no-dir', 'x.pm') : target) &&
        (path !== link2 || e.message.includes('through 2 links')), `${path} ${JSON.stringify(opts)}`)
      assert.throws(() => open(path, opts), RegionNotFoundError)
    }
    assert.deepEqual(fs.readdirSync(dir).sort(), before, 'nothing created beside the links')
    assert.equal(fs.existsSync(target), false)
    const r = Region.open(target, { size: 1 << 20 }) // creating the target is how: then the link opens it
    r.close()
    Region.open(link2).close()
  })
})
