/**
 * Readers beside a writer (readers.ts, and `npm run torture -- <s> pg`): read-only
 * containers refreshing while a writer in another process (refresh-writer-child.ts)
 * appends, rewrites and compacts with a window of two versions (so a reader's version often
 * leaves the window between refreshes: a full reload), and is SIGKILLed halfway: every
 * refresh must show a whole version (n equals the list's length, entry i is `e<i>`,
 * versions never go back), and none may fail.
 */
import assert from 'node:assert/strict'
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Container } from '../../../src/index.js'
import type { PostgresStore } from '../../../src/postgres/index.js'

type Root = { n: number; list: string[]; pad: string }

/** Checks that `c` shows one whole version; returns its n. */
function whole(c: Container<Root>): number {
  const r = c.root
  assert.equal(r.list.length, r.n, `version ${c.version}: n is the list's length`)
  for (let k = 0; k < r.n; k += Math.max(1, Math.floor(r.n / 20))) assert.equal(r.list[k], `e${k}`, `version ${c.version}: entry ${k}`)
  if (r.n > 0) assert.equal(r.list[r.n - 1], `e${r.n - 1}`)
  return r.n
}

/** Refreshes `readers` readers `refreshes` times each beside a writer process, kills the writer halfway; returns the refreshes that moved. */
export async function readersBesideWriter(connect: () => Promise<PostgresStore>, url: string, name: string, refreshes: number, readers = 2): Promise<{ moved: number; versions: number }> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./refresh-writer-child.js', import.meta.url)), [url, name], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const store = await connect()
  try {
    await new Promise((resolve, reject) => { child.once('message', resolve); child.once('exit', code => reject(new Error(`writer exited with ${code}`))) })
    const rs = await Promise.all(Array.from({ length: readers }, () => Container.openStore<Root>(store, name, { readOnly: true })))
    let moved = 0
    const last = rs.map(r => ({ version: r.version, n: whole(r) }))
    for (let i = 0; i < refreshes; i++) {
      if (i === refreshes >> 1) child.kill('SIGKILL')           // the writer dies mid-point, somewhere
      await Promise.all(rs.map(async (r, j) => {
        const v = await r.refresh()
        assert.ok(v >= last[j].version, `versions never go back (${last[j].version} -> ${v})`)
        if (v !== last[j].version) moved++
        const n = whole(r)
        assert.ok(n >= last[j].n || r.root.list.length === n, 'a whole version')
        last[j] = { version: v, n }
      }))
    }
    for (const r of rs) await r.close()
    await store.close()
    return { moved, versions: Math.max(...last.map(l => l.version)) }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL')
  }
}

