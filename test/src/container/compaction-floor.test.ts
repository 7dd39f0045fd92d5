/**
 * write.ts `dueForCompaction`: the floor under which a log is never compacted is four chunks
 * of the file's store (its chunk size is fixed when the container is created), not of the
 * open's `chunkSize` option, which only a new container takes. Before, a file made with
 * 512-byte chunks and opened with the default option (4 KiB) was not compacted until its
 * log reached 16 KiB (garbage kept, a crash recovers a longer log), and one made with 64 KiB
 * chunks was compacted from 16 KiB on, far below its 256 KiB floor (each compaction rewriting
 * the log into fresh 64 KiB chunks). Restores in a fresh process check every version.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Container } from '../../../src/container/index.js'
import { graphText } from './graph-json.js'

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'kept-child.js')
const tmp = (): string => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-floor-')), 'f.pmc')

/** Creates the file with `made` chunks, then in another open (default options) replaces a 1 KB string `points` times; returns which points compacted. */
async function lives(made: number, points: number): Promise<{ compacted: number[]; file: string }> {
  const file = tmp()
  const a = Container.open<{ s: string; i: number }>(file, { chunkSize: made, init: () => ({ s: '', i: 0 }) })
  await a.persist(); await a.close()
  const c = Container.open<{ s: string; i: number }>(file)     // the default chunkSize option, 4 KiB
  const compacted: number[] = []
  for (let i = 1; i <= points; i++) {
    c.root.s = String(i).padEnd(1000, 'x')
    c.root.i = i
    if ((await c.persist()).compacted) compacted.push(i)
  }
  const want = graphText(c.unwrap(c.root))
  await c.close()
  const line = JSON.parse(execFileSync(process.execPath, [child, file]).toString().trim()) as { text: string }
  assert.equal(line.text, want)
  assert.ok(Container.check(file).ok)
  return { compacted, file }
}

test('write.ts dueForCompaction: a file made with 512-byte chunks compacts once its log passes 2 KiB, though opened with the default chunkSize option', async () => {
  const { compacted } = await lives(512, 10)
  assert.ok(compacted.length > 0 && compacted[0]! <= 4, `compacted at points ${compacted.join(', ')}`)
})

test('write.ts dueForCompaction: a file made with 64 KiB chunks is not compacted below 256 KiB of log, though opened with the default chunkSize option', async () => {
  const { compacted } = await lives(1 << 16, 40)
  assert.deepEqual(compacted, [])
})
