/**
 * Mutations through kept references (kept-kit.ts) persist, identity included: random
 * sequences of raw mutations of the init graph, of values stored and kept, of children read
 * raw and detached, of `c.unwrap` results, and of `#private` state through class methods,
 * mixed with mutations through `c.root`, points and restarts. The graph restored must be the
 * graph in memory at the last point (graph-json.ts: values, kinds, sharing and cycles), in
 * this process (with shrinking) and in a fresh process (child_process, kept-child.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { types } from 'node:util'
import fc from 'fast-check'
import { Container } from '../../../src/container/index.js'
import { SimRegion } from '../../../regions/index.js'
import { graphRecipe, type NodeRecipe } from './graph-kit.js'
import { graphText } from './graph-json.js'
import { KEPT_CLASSES, Secret, applyKept, keptOp, keptRoot, rawObjects, type KeptOp, type KeptRun } from './kept-kit.js'
import { history, kindOf } from './mutate-kit.js'

const quiet = (): void => {}
/** More runs with PMEM_KEPT_RUNS=n (a longer search; npm test keeps it short). */
const RUNS = Number(process.env.PMEM_KEPT_RUNS ?? 30)

/** Runs `ops` on a container opened by `open` (reopened by 'reopen' ops); returns the container, still open, after its last point. */
async function runKept(recipe: NodeRecipe[], ops: KeptOp[], open: (init?: () => object) => Container): Promise<Container> {
  history.length = 0
  const root = keptRoot(recipe)
  const run: KeptRun = {
    c: open(() => root),
    kept: rawObjects(root),
    reopen: async () => { const never = run.c.version === 0; await run.c.close(); return open(never ? () => root : undefined) },
  }
  for (const op of ops) await applyKept(run, op)
  await run.c.persist()
  await run.c.sync()
  return run.c
}

/** Every object kept and reachable from the root is handed out as itself by `c.root` (identity). */
function assertIdentity(c: Container, kept: Set<object>): void {
  const handed = new Set<unknown>()
  const seen = new Set<unknown>()
  const todo: unknown[] = [c.root]
  while (todo.length > 0) {
    const o = todo.pop()
    if (typeof o !== 'object' || o === null || seen.has(o)) continue
    seen.add(o)
    handed.add(o)
    const kind = kindOf(o)
    if (kind === 'map') (o as Map<unknown, unknown>).forEach((v, k) => todo.push(v, k))
    else if (kind === 'set') (o as Set<unknown>).forEach(v => todo.push(v))
    else if (kind === 'object' || kind === 'array') for (const k of Object.keys(o)) todo.push((o as Record<string, unknown>)[k])
  }
  for (const raw of rawObjects(c.snapshot === undefined ? null : c.unwrap(c.root))) {
    if (kept.has(raw) && !types.isDate(raw)) assert.ok(handed.has(raw), 'a kept object reachable from the root is handed out as itself')
  }
}

test('kept references: random raw mutations, detached children, unwrap results and #private state persist, identity kept (in this process)', async () => {
  process.on('warning', quiet)
  try {
    await fc.assert(fc.asyncProperty(graphRecipe(8), fc.array(keptOp(), { maxLength: 30 }), async (recipe, ops) => {
      const region = SimRegion.create({ size: 1 << 20, path: 'kept.pmc' })
      const c = await runKept(recipe, ops, init => Container.openRegion(region, { init, classes: KEPT_CLASSES, chunkSize: 512, compactFactor: 1.3 }))
      const want = graphText(c.snapshot())
      if (!ops.some(o => o.op === 'reopen') && (c.root as { secret?: unknown }).secret instanceof Secret) assert.ok(c.dropped.some(d => /private members #hidden of class Secret/.test(d.reason)), 'Secret instances are reported')
      await c.close()
      const fresh = Container.openRegion(region, { classes: KEPT_CLASSES })
      assert.equal(graphText(fresh.unwrap(fresh.root)), want)
      await fresh.close()
    }), { numRuns: RUNS, includeErrorInReport: true })
  } finally { process.off('warning', quiet) }
})

test('kept references: the graph restored in a fresh process is the graph in memory at the last point (child_process)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmc-kept-'))
  const cases = fc.sample(fc.tuple(graphRecipe(8), fc.array(keptOp(), { maxLength: 30 })), { numRuns: Math.max(8, RUNS / 3), seed: 1103 })
  const want = new Map<string, string>()
  process.on('warning', quiet)
  try {
    for (const [i, [recipe, ops]] of cases.entries()) {
      const file = path.join(dir, `case${i}.pmc`)
      const c = await runKept(recipe, ops, init => Container.open(file, { init, classes: KEPT_CLASSES }))
      const kept = new Set(rawObjects(c.unwrap(c.root)))
      assertIdentity(c, kept)
      want.set(file, graphText(c.snapshot()))
      await c.close()
    }
  } finally { process.off('warning', quiet) }
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'kept-child.js')
  const out = execFileSync(process.execPath, [child, ...want.keys()], { maxBuffer: 1 << 26 }).toString().trim().split('\n')
  assert.equal(out.length, want.size)
  for (const line of out) {
    const r = JSON.parse(line) as { file: string; text?: string; error?: string }
    assert.equal(r.error, undefined, `${r.file}: ${r.error}`)
    assert.equal(r.text, want.get(r.file), `${path.basename(r.file)}: the graph restored in a fresh process differs`)
  }
  fs.rmSync(dir, { recursive: true, force: true })
})
