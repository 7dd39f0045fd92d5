// Collections read by read-only pools beside a live writer (txn/reader.ts rd. 1-3; the issue
// "readers": collection reads on read-only pools). The hashMap's read path copies an entry with
// tx.readInto and decodes it locally, so readInto must check the snapshot like every other load
// (rd. 2): before it did, a reader process could decode an entry the writer was rewriting.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { open, t, ReadOnlyError } from '../../../src/index.js'
import { commitValue, mapOf, readSnapshot } from './readers-kit.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-coll-readers-'))
let n = 0
const tmp = () => path.join(dir, `p${n++}.pm`)

/** Children still running: killed when the file's tests end (a failed assertion leaves no writer behind). */
const children = new Set<ChildProcess>()
after(() => { for (const c of children) c.kill('SIGKILL') })

function child(script: string, args: string[]) {
  const proc = spawn(process.execPath, [path.join(here, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(proc)
  proc.on('exit', () => children.delete(proc))
  let out = '', err = ''
  const ready = new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('ready\n')) resolve() })
    proc.on('exit', code => reject(new Error(`${script} exited (${code}) before it was ready: ${err}`)))
  })
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>(resolve => proc.on('exit', code => resolve(code)))
  return { proc, ready, exited, out: () => out, err: () => err }
}

test('rd. 2: hashMap reads in reader processes beside a writer of every durability never see a half-applied transaction', async () => {
  const file = tmp()
  const pm = open(file, { size: 1 << 20, maxSize: 256 << 20 })
  pm.close() // the pool exists; the map does not yet: the readers find it once the writer made it
  const w = child('readers-writer.js', [file])
  await w.ready
  const readers = [child('readers-reader.js', [file, '1200']), child('readers-reader.js', [file, '1200'])]
  const codes = await Promise.all(readers.map(r => r.exited))
  w.proc.kill('SIGKILL')
  await w.exited
  for (const [i, r] of readers.entries()) {
    assert.equal(codes[i], 0, `reader ${i} exits normally: ${r.err()}`)
    const res = JSON.parse(r.out().split('\n').find(l => l.startsWith('{'))!) as { reads: number; gets: number; torn: number; samples: string[]; first: number; last: number; backwards: number; mode: string }
    assert.equal(res.torn, 0, `${res.torn} of ${res.reads + res.gets} reads saw a half-applied transaction: ${res.samples.join('; ')}`)
    assert.equal(res.backwards, 0, 'snapshots never go back in time')
    assert.equal(res.mode, 'live')
    assert.ok(res.reads > 20, `${res.reads} reads`)
    assert.ok(res.last > res.first, `the reader saw new commits (${res.first} -> ${res.last})`)
  }
})

test('a read-only pool opens collections its writer creates later, sees every commit that returned, and refuses writes', async () => {
  const file = tmp()
  const pm = open(file, { size: 1 << 20, maxSize: 64 << 20 })
  const r = open(file, { readOnly: true })
  assert.throws(() => mapOf(r), ReadOnlyError, 'a map that does not exist cannot be created read-only')
  const m = mapOf(pm)
  const rm = mapOf(r) // created by the writer after the read-only open
  assert.equal(rm.size, 0)
  for (let v = 1; v <= 120; v++) {
    const d = (['sync', 'none', 'group'] as const)[v % 3]!
    const p: unknown = pm.transaction(tx => commitValue(tx, m, v), { durability: d })
    if (p instanceof Promise) await p
    const s = r.read(() => readSnapshot(rm))
    assert.equal(s.torn, null)
    assert.equal(s.value, v, `transaction ${v} (${d}) returned before the read began`)
  }
  assert.deepEqual([...rm.keys()].length, 8 + 50)
  assert.throws(() => rm.put('x', { a: 1, b: 2, s: '' }), ReadOnlyError)
  assert.throws(() => rm.delete('k0'), ReadOnlyError)
  pm.vector('v', t.f64).push(1.5)
  pm.sortedMap('s', t.u32, t.string).put(7, 'seven')
  assert.equal(r.vector('v', t.f64).get(0), 1.5)
  assert.deepEqual([...r.sortedMap('s', t.u32, t.string).getRange({ start: 0, end: 10 })], [[7, 'seven']])
  r.close()
  pm.close()
})
