/**
 * Damage beyond the crash model, in every container format (DESIGN.md s.2, guarantee 4):
 * bit flips, zeroed sectors and foreign bytes in the shadow store's metadata slots, its
 * chunk-map nodes, the data chunks holding the record log, and the chunk holding the
 * container metadata; truncated files. Every outcome is either a typed error with the
 * bytes unchanged, or a restore of exactly one committed version's graph, a version older
 * than the newest only with `fellBack` set. Never wrong data, an untyped error or a hang.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { Container } from '../../../src/container/index.js'
import { PmemError, SimRegion, HEADER_SIZE } from '../../../regions/index.js'
import { DATA_START, NONE, SLOT_SIZE, decodeSlot } from '../../../txn/shadow-format.js'
import { assertSameGraph, cloneGraph, CLASSES, Point } from './graph-kit.js'
import { runs } from './setup.js'

const CS = 512
const F = CS / 8

/** A container on a SimRegion with versions 1..4 whose log spans map nodes (more than 64 chunks); the graph of each version. */
async function build(): Promise<{ image: Uint8Array; graphs: Map<number, unknown> }> {
  const sim = SimRegion.create({ size: 1 << 16, path: 'damage.pmc' })
  const c = Container.openRegion(sim, {
    classes: CLASSES, chunkSize: CS, keepVersions: 3,
    init: () => ({ items: Array.from({ length: 300 }, (_, i) => ({ i, text: `item ${i} `.repeat(12), at: new Point(i, i * 2) })), m: new Map([['k', 1]]), n: 0 }),
  })
  const graphs = new Map<number, unknown>()
  for (let v = 1; v <= 4; v++) {
    c.root.n = v
    c.root.items[v * 7].text = `changed in ${v}`
    c.root.m.set(`v${v}`, v * 10)
    const snap = cloneGraph(c.unwrap(c.root))
    const s = await c.persist()
    graphs.set(s.version, snap)
  }
  await c.close()
  return { image: sim.durableImage(), graphs }
}

type Target = 'slot' | 'node' | 'data' | 'meta' | 'anywhere'

/** Region offsets of the chunks of each kind that the newest version references (from its slot). */
function layout(image: Uint8Array): Record<Exclude<Target, 'slot' | 'anywhere'>, number[]> {
  const slots = [0, 1].map(i => decodeSlot(image.slice(i * SLOT_SIZE, (i + 1) * SLOT_SIZE), i))
  const newest = slots.filter(s => s.ok).map(s => (s as Extract<typeof s, { ok: true }>).slot.descs[0]!).sort((a, b) => b.version - a.version)[0]!
  const at = (p: number): number => DATA_START + p * CS
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength)
  const nodes: number[] = [], data: number[] = []
  const walk = (level: number, p: number): void => {
    if (p === NONE) return
    if (level === 0) { data.push(at(p)); return }
    nodes.push(at(p))
    for (let j = 0; j < F; j++) walk(level - 1, dv.getUint32(at(p) + 8 * j, true))
  }
  walk(newest.depth, newest.root)
  return { node: nodes, data, meta: newest.metaPhys === NONE ? [] : [at(newest.metaPhys)] }
}

const damageArb = fc.record({
  target: fc.constantFrom<Target>('slot', 'node', 'data', 'meta', 'anywhere'),
  kind: fc.constantFrom('flip', 'sector', 'foreign'),
  pick: fc.nat(),
  offset: fc.nat(),
  mask: fc.integer({ min: 1, max: 255 }),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }),
})

test('damage to slots, map nodes, data chunks and container metadata: a typed error with nothing changed, or exactly one committed graph, older only with fellBack', async () => {
  const { image, graphs } = await build()
  const places = layout(image)
  assert.ok(places.node.length >= 1 && places.data.length > F && places.meta.length === 1, 'the layout has map nodes, data chunks and a meta chunk')
  const newest = Math.max(...graphs.keys())
  await fc.assert(fc.asyncProperty(damageArb, async d => {
    const img = image.slice()
    const region = d.target === 'slot' ? [(d.pick % 2) * SLOT_SIZE, SLOT_SIZE]
      : d.target === 'anywhere' ? [0, img.length]
      : [places[d.target][d.pick % places[d.target].length]!, CS]
    const at = region[0]! + d.offset % region[1]!
    if (d.kind === 'flip') img[at] ^= d.mask
    else if (d.kind === 'sector') img.fill(0, at - at % 512, at - at % 512 + 512)
    else img.set(d.bytes.subarray(0, img.length - at), at)
    const sim = SimRegion.fromImage(img, { path: 'damaged.pmc' })
    const before = sim.durableImage()
    let c: Container
    try {
      c = Container.openRegion(sim, { classes: CLASSES })
    } catch (e) {
      assert.ok(e instanceof PmemError, `an untyped error: ${String(e)}`)
      assert.ok(Buffer.from(sim.volatileImage()).equals(before), 'a refused open changed nothing')
      return
    }
    try {
      const shown = c.fellBack?.to ?? c.version             // after a fall-back, c.version is the store's newest, fellBack.to what was restored
      assert.ok(graphs.has(shown), `restored version ${shown}, never committed`)
      if (shown < newest) assert.notEqual(c.fellBack, null, `version ${shown} restored instead of ${newest} without fellBack`)
      assertSameGraph(c.unwrap(c.root), graphs.get(shown))
      if (c.fellBack !== null) assert.equal(c.check().ok, false, 'check reports a fall-back')
      // Every retained older version: its exact graph, or a typed error.
      for (let v = 1; v < shown; v++) {
        let old: Container
        try { old = Container.openRegion(sim, { classes: CLASSES, version: v }) } catch (e) { assert.ok(e instanceof PmemError, String(e)); continue }
        try { assertSameGraph(old.unwrap(old.root), graphs.get(v)) } finally { await old.close() }
      }
    } finally { await c.close() }
    assert.ok(Buffer.from(sim.volatileImage()).equals(before), 'opening and restoring changed nothing')
  }), { ...runs(250), includeErrorInReport: true })
})

test('damage, every data chunk of the newest version in turn: each flip is detected: a reported fall-back to an exact older graph, or a typed error', async () => {
  const { image, graphs } = await build()
  const { data } = layout(image)
  let fellBack = 0, refused = 0
  for (const at of data) {
    const img = image.slice()
    img[at + 100] ^= 0x10
    let c: Container
    try { c = Container.openRegion(SimRegion.fromImage(img), { classes: CLASSES }) } catch (e) {
      assert.ok(e instanceof PmemError, String(e))          // a chunk every retained version shares
      refused++
      continue
    }
    assert.notEqual(c.fellBack, null, `a flip in a data chunk of the newest version at ${at} went unnoticed`)
    fellBack++
    assertSameGraph(c.unwrap(c.root), graphs.get(c.fellBack!.to))
    await c.close()
  }
  assert.ok(fellBack > 0 && refused > 0, `flips in chunks only the newest version has fall back (${fellBack}), in chunks all share are refused (${refused})`)
})

test('a truncated container file is a typed error and stays as it was; Container.check and versions say so too', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-trunc-'))
  const file = path.join(dir, 'c.pmc')
  const c = Container.open(file, { init: () => ({ list: Array.from({ length: 2000 }, (_, i) => ({ i })) }) })
  await c.persist()
  c.root.list.push({ i: -1 })
  await c.persist()
  await c.close()
  const full = fs.readFileSync(file)
  for (const len of [0, 100, HEADER_SIZE, HEADER_SIZE + 4096, HEADER_SIZE + 8192 + 700, full.length - 4096, full.length - 1]) {
    fs.writeFileSync(file, full.subarray(0, len))
    const cut = fs.readFileSync(file)
    for (const attempt of [() => Container.open(file), () => Container.open(file, { init: () => ({}) }), () => Container.versions(file), () => Container.check(file)]) {
      try {
        const r = attempt()
        if (r instanceof Container) { await r.close(); assert.fail(`truncated to ${len} bytes and opened`) }
        if (!Array.isArray(r) && typeof r === 'object' && r !== null && 'ok' in r) assert.equal((r as { ok: boolean }).ok, false, `check of a file truncated to ${len}`)
      } catch (e) {
        assert.ok(e instanceof PmemError, `truncated to ${len}: ${String(e)}`)
      }
      assert.ok(fs.readFileSync(file).equals(cut), `truncated to ${len}: the file was changed`)
    }
  }
  fs.rmSync(dir, { recursive: true, force: true })
})
