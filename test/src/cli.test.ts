// The pmem command-line tool, run as a real process on real files.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { open, t, Container } from '../../src/index.js'

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'pmem.js')
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' })

test('pmem check and info on a pool, check and versions on a container, and on damage', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-cli-'))
  const pool = path.join(dir, 'a.pm')
  const pm = open(pool, { size: 1 << 20 })
  pm.persistent('count', t.u64)
  pm.close()
  let r = run('check', pool)
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /ok \(pool, 1 variables/)
  r = run('info', pool)
  assert.equal(JSON.parse(r.stdout).variables[0].name, 'count')

  const box = path.join(dir, 'b.pmc')
  const c = Container.open(box, { init: () => ({ n: 1 }) })
  await c.persist()
  await c.close()
  r = run('check', box)
  assert.equal(r.status, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /ok \(container, version 1/)
  r = run('versions', box)
  assert.match(r.stdout, /^1\t\d{4}-/)

  fs.writeFileSync(path.join(dir, 'junk'), 'x'.repeat(5000))
  r = run('check', path.join(dir, 'junk'))
  assert.equal(r.status, 1)
  assert.match(r.stdout, /DAMAGED[\s\S]*ERR_PMEM_NOT_A_REGION/)
  assert.equal(run('frobnicate', pool).status, 2)
  fs.rmSync(dir, { recursive: true, force: true })
})

const HEADER = 4096   // region header size: the user area starts here

test('pmem check never writes: bytes and mtime unchanged, works while another process holds the writer lock, on a 0444 file and a read-only mount', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-cli-ro-'))
  const box = path.join(dir, 'c.pmc')
  class Visitor { constructor(public name: string) {} }
  const c = Container.open(box, { init: () => ({ visitors: [new Visitor('ada')] }), classes: [Visitor] })
  await c.persist()
  c.root.visitors.push(new Visitor('bob'))
  await c.persist()
  // This process holds the writer lock while the CLI (another process) checks the file.
  const bytes = fs.readFileSync(box)
  const mtime = fs.statSync(box).mtimeMs
  let r = run('check', box)
  assert.equal(r.status, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /ok \(container, version 2, 2 versions kept\)/, 'instances of a class the CLI does not know are checked')
  r = run('info', box)
  assert.equal(r.status, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout).version, 2)
  assert.equal(run('versions', box).status, 0)
  assert.ok(fs.readFileSync(box).equals(bytes), 'not a byte changed')
  assert.equal(fs.statSync(box).mtimeMs, mtime, 'mtime unchanged')
  await c.close()
  fs.chmodSync(box, 0o444)
  r = run('check', box)
  assert.equal(r.status, 0, r.stdout + r.stderr)
  fs.chmodSync(box, 0o644)
  const ro = path.join(dir, 'ro')
  fs.mkdirSync(ro)
  const mounted = spawnSync('mount', ['--bind', dir, ro]).status === 0 && spawnSync('mount', ['-o', 'remount,bind,ro', ro]).status === 0
  try {
    if (mounted) {
      r = run('check', path.join(ro, 'c.pmc'))
      assert.equal(r.status, 0, `on a read-only mount: ${r.stdout}${r.stderr}`)
    } else console.log('# read-only bind mount not available here: that case was not run')
  } finally {
    if (mounted) spawnSync('umount', [ro])
  }
  fs.rmSync(dir, { recursive: true, force: true })
})

test('pmem check exits 1 on any container damage: a newest version failing its checksum, a zeroed slot', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-cli-dmg-'))
  const box = path.join(dir, 'c.pmc')
  const c = Container.open(box, { init: () => ({ list: [] as number[] }) })
  for (let i = 0; i < 3; i++) { c.root.list.push(i); await c.persist() }
  await c.close()
  const good = fs.readFileSync(box)
  // The newest version (3, in slot 1): flip one byte of its slot.
  const flipped = Buffer.from(good)
  flipped[HEADER + 4096 + 40 + 64] ^= 0x40
  fs.writeFileSync(box, flipped)
  let r = run('check', box)
  assert.equal(r.status, 1, r.stdout + r.stderr)
  assert.match(r.stdout, /DAMAGED[\s\S]*version 4|DAMAGED[\s\S]*damaged/)
  // Slot 0 zeroed (it held version 2).
  const zeroed = Buffer.from(good)
  zeroed.fill(0, HEADER, HEADER + 4096)
  fs.writeFileSync(box, zeroed)
  r = run('check', box)
  assert.equal(r.status, 1, r.stdout + r.stderr)
  // A data chunk of the newest version: the last chunk the file holds that check misses when flipped is free; find one it sees.
  fs.writeFileSync(box, good)
  assert.equal(run('check', box).status, 0)
  let seen = 0
  for (let at = HEADER + 8192; at < good.length && seen === 0; at += 4096) {
    const bad = Buffer.from(good)
    bad[at + 3] ^= 1
    fs.writeFileSync(box, bad)
    if (!Container.check(box).ok) {
      seen++
      r = run('check', box)
      assert.equal(r.status, 1, `a flipped chunk at file offset ${at}: ${r.stdout}${r.stderr}`)
    }
  }
  assert.ok(seen > 0, 'some chunk of the container is checked')
  fs.rmSync(dir, { recursive: true, force: true })
})

test('pmem --help, help and -h print every command and exit 0; an unknown command prints usage and exits 2', () => {
  for (const flag of ['--help', 'help', '-h']) {
    const r = run(flag)
    assert.equal(r.status, 0, flag)
    for (const cmd of ['check <file>', 'info <file>', 'versions <file>', 'help']) assert.ok(r.stdout.includes(cmd), `${flag} lists ${cmd}`)
    assert.match(r.stdout, /Exit status/)
  }
  const r = run('frobnicate')
  assert.equal(r.status, 2)
  assert.match(r.stderr, /unknown command "frobnicate"[\s\S]*usage: pmem/)
  assert.equal(run().status, 2)
  assert.equal(run('check').status, 2)
})
