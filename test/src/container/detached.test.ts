/**
 * kinds.ts inv. K3: a detached ArrayBuffer (transferred) and a view of one cannot persist:
 * they are listed in `dropped` and come back as null, whether detached before the first point
 * or after they persisted (that point writes them GONE). Before, they persisted as empty
 * buffers, silently: a fresh process got attached, empty buffers where the program's were
 * unusable. Restores in a fresh process.
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
const tmp = (): string => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-detached-')), 'd.pmc')
const detach = (b: ArrayBuffer): void => { structuredClone(b, { transfer: [b] }) }

for (const track of ['all', 'barriers'] as const) {
  test(`kinds.ts inv. K3, track: '${track}': detached ArrayBuffers and their views are reported in dropped and come back null, detached before their first point or after it`, async () => {
    const file = tmp()
    const early = new ArrayBuffer(8), earlyView = new Uint8Array(early)
    detach(early)
    type Root = { early: ArrayBuffer | null; earlyView: Uint8Array | null; late: ArrayBuffer | null; lateBig: ArrayBuffer | null; lateView: Uint16Array | null; kept: Uint8Array }
    const c = Container.open<Root>(file, { track, init: () => ({ early, earlyView, late: new ArrayBuffer(8), lateBig: new ArrayBuffer(10000), lateView: new Uint16Array(4), kept: new Uint8Array([1, 2]) }) })
    await c.persist()
    assert.deepEqual(c.dropped.map(d => d.path).sort(), ['root.early', 'root.earlyView'])
    const raw = c.unwrap(c.root)
    detach(raw.late!); detach(raw.lateBig!); detach(raw.lateView!.buffer as ArrayBuffer)
    const st = await c.persist()
    assert.equal(st.full, false)
    assert.deepEqual(c.dropped.map(d => d.path).sort(), ['root.early', 'root.earlyView', 'root.late', 'root.lateBig', 'root.lateView'])
    assert.ok(c.dropped.every(d => d.reason.includes('detached ArrayBuffer')))
    await c.close()
    const line = JSON.parse(execFileSync(process.execPath, [child, file]).toString().trim()) as { text: string }
    const want = { early: null, earlyView: null, late: null, lateBig: null, lateView: null, kept: new Uint8Array([1, 2]) }
    assert.equal(line.text, graphText(want))
    assert.ok(Container.check(file).ok)
  })
}
