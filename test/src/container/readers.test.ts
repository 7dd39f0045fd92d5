// Read-only containers beside a live writer in another process (follow.ts): the newest
// committed version is restored whole, never a mix of two (follow 1); refresh() moves to the
// newest; mutations are refused; Container.check on the file in use reports no damage.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Container, ReadOnlyError } from '../../../src/index.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const CHILD = path.join(here, 'follow-child.js')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-readers-'))
const LONG = process.env.PMEM_READERS_LONG === '1'

type Root = { n: number; list: number[]; map: Map<string, number>; blob: Uint8Array; nested: Array<{ n: number }> }

/** Writers still running: killed when the file's tests end, so a failed assertion leaves none running forever. */
const children = new Set<ChildProcess>()
after(() => { for (const c of children) c.kill('SIGKILL') })

function writer(file: string, full = false, keepVersions = 3): { proc: ChildProcess; ready: Promise<void>; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [CHILD, file, '0', full ? 'full' : '', String(keepVersions)], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.add(proc)
  proc.on('exit', () => children.delete(proc))
  let buf = ''
  const ready = new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => { buf += d.toString(); if (buf.includes('ready\n')) resolve() })
    proc.on('exit', code => reject(new Error(`container writer exited (${code}) before its first point`)))
  })
  ready.catch(() => {})
  return { proc, ready, exited: new Promise(resolve => proc.on('exit', resolve)) }
}

/** Why the graph is not the graph of one point, or null. */
function mixed(root: Root): string | null {
  const n = root.n
  if (root.list.length !== 200 || root.list.some(x => x !== n)) return `list disagrees with n = ${n}`
  for (const [k, v] of root.map) if (v !== n) return `map.${k} = ${v}, n = ${n}`
  if (root.blob.some(b => b !== (n & 0xff))) return `blob disagrees with n = ${n}`
  if (root.nested.length !== 30 || root.nested.some(o => o.n !== n)) return `nested disagrees with n = ${n}`
  return null
}

test('follow 1-4: a read-only container beside a live writer (keeping a single version: each point frees the last one\'s chunks) restores whole versions, and refresh() moves to the newest', async () => {
  for (const full of LONG ? [false, true] : [true]) {
    const file = path.join(dir, `c${full ? 'full' : 'inc'}.pmc`)
    const w = writer(file, full, 1)
    await w.ready
    const c = Container.open<Root>(file, { readOnly: true })
    assert.equal(c.fellBack, null)
    assert.equal(mixed(c.unwrap(c.root)), null)
    const first = c.version
    let refreshes = 0, last = first
    const end = Date.now() + (LONG ? 5000 : 1000), cap = Date.now() + 60_000
    // Until the time is up and the writer was seen to move on (a loaded machine may hold the
    // writer back for the whole second), or a minute without a new version (then it fails).
    while (Date.now() < end || (last === first && Date.now() < cap)) {
      const v = await c.refresh()
      assert.ok(v >= last, `versions never go back (${v} after ${last})`)
      last = v
      assert.equal(mixed(c.unwrap(c.root)), null, `version ${v}`)
      assert.equal(c.fellBack, null)
      refreshes++
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    assert.ok(last > first, `refresh followed the writer (${first} -> ${last}, ${refreshes} refreshes)`)
    // A read-only container refuses mutations.
    assert.throws(() => { c.root.n = 5 }, ReadOnlyError)
    assert.throws(() => { c.root.list.push(1) }, ReadOnlyError)
    assert.throws(() => { c.root = { ...c.root } }, ReadOnlyError)
    assert.throws(() => c.persist(), ReadOnlyError)
    assert.equal(mixed(c.unwrap(c.root)), null, 'nothing was changed by the refused mutations')
    w.proc.kill('SIGKILL')
    await w.exited
    await c.refresh()
    assert.equal(mixed(c.unwrap(c.root)), null, 'after the writer was killed')
    await c.close()
  }
})

test('follow 1: Container.check(path) on a file in use (keeping a single version: each point reuses the last one\'s chunks) reports no damage', async () => {
  const file = path.join(dir, 'check.pmc')
  const w = writer(file, true, 1)
  await w.ready
  const end = Date.now() + (LONG ? 5000 : 1200)
  let checks = 0
  while (Date.now() < end || checks < 4) {     // a time and a count: a loaded machine makes each check slower, not fewer
    const r = Container.check(file)
    assert.deepEqual(r.problems, [], `check ${checks}`)
    assert.equal(r.ok, true)
    checks++
    await new Promise(resolve => setTimeout(resolve, 2))
  }
  w.proc.kill('SIGKILL')
  await w.exited
  assert.equal(Container.check(file).ok, true)
})
