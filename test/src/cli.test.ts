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
