// Layering (DESIGN.md section 1): regions <- txn <- src. Fails when a file imports a higher
// layer, or reaches into another layer's folder without going through its index.ts door.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const LAYER: Record<string, number> = { regions: 1, txn: 2, src: 3 }

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })
    .filter(e => e.isFile() && e.name.endsWith('.ts'))
    .map(e => path.relative(root, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)))
}

/** Problems of one file's relative imports; exported for the self-test below. */
export function importProblems(file: string, text: string): string[] {
  const problems: string[] = []
  const from = file.split(path.sep)[0]!
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = path.normalize(path.join(path.dirname(file), m[1]!))
    const to = target.split(path.sep)[0]!
    if (!(to in LAYER) || to === from) continue
    if (LAYER[to]! > LAYER[from]!) problems.push(`${file} imports ${m[1]} from higher layer ${to}/`)
    else if (target !== path.join(to, 'index.js')) problems.push(`${file} imports ${m[1]}, bypassing ${to}/index.ts`)
  }
  return problems
}

test('imports only go down, through each layer\'s index.ts', () => {
  const problems = ['regions', 'txn', 'src'].flatMap(dir => sources(dir).map(f => importProblems(f, fs.readFileSync(path.join(root, f), 'utf8')))).flat()
  assert.deepEqual(problems, [])
})

test('the layering check catches an upward import and a bypassed door', () => {
  assert.equal(importProblems(path.join('regions', 'x.ts'), "import { a } from '../txn/index.js'").length, 1)
  assert.equal(importProblems(path.join('src', 'x.ts'), "import { a } from '../txn/engine.js'").length, 1)
  assert.equal(importProblems(path.join('src', 'x.ts'), "import { a } from '../txn/index.js'").length, 0)
  assert.equal(importProblems(path.join('src', 'cli', 'x.ts'), "import { a } from '../../regions/region.js'").length, 1)
})
