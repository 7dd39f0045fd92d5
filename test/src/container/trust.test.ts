/**
 * What a container open trusts, on real files: a damaged metadata slot is never taken for a
 * new container and a fall-back is always reported (shadow inv. 9, container `fellBack`);
 * a region holding other data is never formatted (backing inv. B1); a failed open leaves
 * no file and no lock behind (inv. B2); code generation refused by the environment is not
 * damage (shapes.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Container } from '../../../src/container/index.js'
import { open, t } from '../../../src/index.js'
import { HEADER_SIZE, InvalidArgumentError, NotAPoolError, PmemError, Region } from '../../../regions/index.js'
import { SLOT_SIZE } from '../../../txn/shadow-format.js'

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-trust-'))

/** A container file with versions 1..n of { n: i, list: [...] } (keepVersions 3). */
async function containerWith(n: number): Promise<string> {
  const file = path.join(tmp(), 'c.pmc')
  const c = Container.open(file, { init: () => ({ n: 0, list: [{ a: 1 }] as unknown[] }) })
  for (let i = 1; i <= n; i++) {
    c.root.n = i
    c.root.list.push({ i })
    await c.persist()
  }
  await c.close()
  return file
}

/** Overwrites `bytes` at user-area offset `at` of a region file. */
function patch(file: string, at: number, bytes: Uint8Array): void {
  const fd = fs.openSync(file, 'r+')
  try { fs.writeSync(fd, bytes, 0, bytes.length, HEADER_SIZE + at) } finally { fs.closeSync(fd) }
}

/** Collects the process warnings `fn` emits (it is awaited). */
async function warningsOf(fn: () => Promise<void> | void): Promise<Error[]> {
  const seen: Error[] = []
  const on = (w: Error): void => { seen.push(w) }
  process.on('warning', on)
  try {
    await fn()
    await new Promise(resolve => setImmediate(resolve))    // warnings are emitted on the next tick
  } finally { process.off('warning', on) }
  return seen
}

test('inv. 9: a slot 0 starting with 8 zero bytes is damage, not a new container: versions kept, nothing destroyed', async () => {
  const file = await containerWith(3)                    // slot 1 holds version 3, slot 0 version 2
  patch(file, 0, new Uint8Array(8))
  assert.deepEqual(Container.versions(file).map(v => v.version), [1, 2, 3])
  let c!: Container
  const warnings = await warningsOf(() => { c = Container.open(file, { init: () => ({ fresh: true }) }) })
  assert.equal(c.version, 3)
  assert.equal(c.unwrap(c.root).n, 3, 'the newest intact version, not init()')
  assert.notEqual(c.fellBack, null, 'a damaged slot is reported')
  assert.ok(warnings.some(w => w.name === 'PersistentMemoryWarning' && (w as { code?: string }).code === 'PMEM_CONTAINER_FELL_BACK'))
  assert.equal(c.check().ok, false, 'check reports the fall-back')
  c.root.n = 4
  await c.persist()
  await c.close()
  assert.deepEqual(Container.versions(file).map(v => v.version), [2, 3, 4], 'the next point keeps the retained versions')
  const old = Container.open(file, { version: 2 })
  assert.equal(old.unwrap(old.root).n, 2)
  await old.close()
})

test('inv. 9: a zeroed slot holding the newest version falls back to the previous one and says so', async () => {
  const file = await containerWith(2)                    // slot 0 holds version 2 (newest)
  patch(file, 0, new Uint8Array(SLOT_SIZE))
  let c!: Container
  const warnings = await warningsOf(() => { c = Container.open(file, { init: () => ({ fresh: true }) }) })
  assert.equal(c.version, 1)
  assert.equal(c.unwrap(c.root).n, 1)
  assert.deepEqual(c.fellBack && { from: c.fellBack.from, to: c.fellBack.to }, { from: 2, to: 1 })
  assert.equal(warnings.filter(w => (w as { code?: string }).code === 'PMEM_CONTAINER_FELL_BACK').length, 1)
  const report = c.check()
  assert.equal(report.ok, false)
  assert.match(report.problems.join('\n'), /version 2 is damaged/)
  await c.close()
  const r = Container.check(file)
  assert.equal(r.ok, false)
  assert.equal(r.version, 1)
})

test('inv. B1: a pool is never taken for a blank container; the file is left byte for byte', () => {
  const file = path.join(tmp(), 'pool.pm')
  const pm = open(file, { size: 1 << 20 })
  pm.persistent('count', t.u64)
  pm.close()
  const before = fs.readFileSync(file)
  assert.throws(() => Container.open(file, { init: () => ({}) }), NotAPoolError)
  assert.throws(() => Container.versions(file), NotAPoolError)
  assert.throws(() => Container.check(file), NotAPoolError)
  assert.ok(fs.readFileSync(file).equals(before))
})

test('inv. B1: user data written through Region, at the start or only past the slots, is refused unchanged; an all-zero region is formatted', async () => {
  const dir = tmp()
  for (const at of [0, 8, 3 * SLOT_SIZE, 200_000]) {
    const file = path.join(dir, `data-${at}.pm`)
    const r = Region.open(file, { size: 1 << 18 })
    r.bytes.set(Uint8Array.of(1, 2, 3, 4, 5), at)
    r.flush()
    r.close()
    const before = fs.readFileSync(file)
    assert.throws(() => Container.open(file, { init: () => ({ x: 1 }) }), (e: unknown) => e instanceof NotAPoolError, `data at ${at}`)
    assert.ok(fs.readFileSync(file).equals(before), `file unchanged (data at ${at})`)
    const again = Container.open(path.join(dir, `other-${at}.pmc`), { init: () => ({}) })   // the lock of the refused one is gone
    await again.close()
  }
  const zero = path.join(dir, 'zero.pm')
  Region.open(zero, { size: 1 << 16 }).close()
  const c = Container.open(zero, { init: () => ({ y: 2 }) })
  await c.persist()
  await c.close()
  const back = Container.open(zero)
  assert.deepEqual(back.unwrap(back.root), { y: 2 })
  await back.close()
})

test('inv. B2: an open that fails on bad classes or a bad init leaves no file and no lock', async () => {
  const dir = tmp()
  const file = path.join(dir, 'new.pmc')
  const bad: Array<[string, () => Container]> = [
    ['classes [5]', () => Container.open(file, { init: () => ({}), classes: [5 as never] })],
    ['classes 7', () => Container.open(file, { init: () => ({}), classes: 7 as never })],
    ['classes { X: null }', () => Container.open(file, { init: () => ({}), classes: { X: null as never } })],
    ['init returns 5', () => Container.open(file, { init: () => 5 as never })],
    ['init returns null', () => Container.open(file, { init: () => null as never })],
    ['init throws', () => Container.open(file, { init: () => { throw new InvalidArgumentError('no root today') } })],
  ]
  for (const [what, f] of bad) {
    assert.throws(f, (e: unknown) => e instanceof PmemError, what)
    assert.equal(fs.existsSync(file), false, `${what}: no file left`)
  }
  const c = Container.open(file, { init: () => ({ ok: true }) })
  await c.persist()
  await c.close()
  const before = fs.readFileSync(file)
  const blank = path.join(dir, 'blank.pmc')
  Region.open(blank, { size: 1 << 16 }).close()
  const blankBefore = fs.readFileSync(blank)
  for (const [what, target] of [['existing container', file], ['existing blank region', blank]] as const) {
    assert.throws(() => Container.open(target, { init: () => ({}), classes: [5 as never] }), InvalidArgumentError, what)
  }
  assert.throws(() => Container.open(blank, { init: () => 5 as never }), InvalidArgumentError)
  assert.throws(() => Container.open(blank, { init: () => { throw new InvalidArgumentError('no root today') } }), InvalidArgumentError)
  assert.ok(fs.readFileSync(file).equals(before))
  assert.ok(fs.readFileSync(blank).equals(blankBefore))
  const again = Container.open(file)
  assert.deepEqual(again.unwrap(again.root), { ok: true })
  await again.close()
})

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'codegen-child.js')

test('code generation refused by the environment is not damage: restore and persist give the same graphs', () => {
  const dir = tmp()
  const run = (flag: boolean, ...args: string[]) => {
    const r = spawnSync(process.execPath, [...(flag ? ['--disallow-code-generation-from-strings'] : []), child, ...args], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    return r.stdout.trim()
  }
  const a = path.join(dir, 'a.pmc'), b = path.join(dir, 'b.pmc')
  run(false, 'write', a)
  run(true, 'write', b)
  const expected = run(false, 'read', a)
  assert.equal(run(true, 'read', a), expected, 'written with code generation, restored without')
  assert.equal(run(false, 'read', b), expected, 'written without, restored with')
  assert.equal(run(true, 'read', b), expected)
})
