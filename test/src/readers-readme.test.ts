// The README's multi-process reader example ("Readers in other processes and threads"), run as
// written: the writer's and the reader's code are taken from README.md (the import pointed at
// this build, app.pm at a tmp file), the writer in one child process and two readers in others.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..', '..', '..')
const index = pathToFileURL(path.join(root, 'dist', 'src', 'index.js')).href
const children = new Set<ChildProcess>()
after(() => { for (const c of children) c.kill('SIGKILL') })

/** The example's two programs, as the README shows them. */
function example(): { writer: string; reader: string } {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
  const at = readme.indexOf('### Readers in other processes and threads')
  assert.ok(at >= 0, 'the README has the section')
  const start = readme.indexOf('```ts\n', at) + 6
  const code = readme.slice(start, readme.indexOf('```\n', start))
  const split = code.indexOf('// reader.js')
  assert.ok(split > 0, 'the example has a writer and a reader')
  return { writer: code.slice(0, split), reader: code.slice(split) }
}

function run(file: string): { proc: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(proc)
  let out = '', err = ''
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>(resolve => proc.on('exit', code => { children.delete(proc); if (code !== 0 && code !== null) process.stderr.write(err); resolve(code) }))
  return { proc, out: () => out, exited }
}

test('README example: a writer process and reader processes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-readers-readme-'))
  const pool = path.join(dir, 'app.pm')
  const fix = (code: string) => code.replaceAll("'persistent-memory'", JSON.stringify(index)).replaceAll("'app.pm'", JSON.stringify(pool))
  const { writer, reader } = example()
  fs.writeFileSync(path.join(dir, 'writer.mjs'), fix(writer) + "\nconsole.log('ready')\n")
  fs.writeFileSync(path.join(dir, 'reader.mjs'), fix(reader) + `
const t0 = Date.now()
let later
do {
  await new Promise(resolve => setTimeout(resolve, 20))
  later = r.read(() => [orders.size, r.read(tx => tx.view(prices).get(3))])
} while (later[0] <= both[0] && Date.now() - t0 < 20000)
console.log(JSON.stringify({ p, both, later }))
`)
  const w = run(path.join(dir, 'writer.mjs'))
  while (!w.out().includes('ready')) {
    if (w.proc.exitCode !== null) assert.fail('the writer exited before it was ready')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  const readers = [run(path.join(dir, 'reader.mjs')), run(path.join(dir, 'reader.mjs'))]
  const codes = await Promise.all(readers.map(r => r.exited))
  w.proc.kill('SIGKILL')
  await w.exited
  for (const [i, r] of readers.entries()) {
    assert.equal(codes[i], 0)
    const got = JSON.parse(r.out().trim().split('\n').pop()!) as { p: number; both: [number, unknown]; later: [number, number] }
    assert.ok(got.p >= 0 && got.p < 1, `prices[3] = ${got.p}`)
    assert.ok(got.later[0] > got.both[0], `the reader follows new commits (${got.both[0]} -> ${got.later[0]} orders)`)
  }
  fs.rmSync(dir, { recursive: true, force: true })
})
