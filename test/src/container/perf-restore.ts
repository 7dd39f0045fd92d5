/**
 * Child of perf-graph.ts (not a test): restores one file in a fresh process and prints the
 * milliseconds it took. Usage: node perf-restore.js v8|msgpackr|container FILE
 */
import fs from 'node:fs'
import path from 'node:path'
import v8 from 'node:v8'
import { createRequire } from 'node:module'
import './setup.js'
import { Container } from '../../../src/container/index.js'

const [kind, file] = process.argv.slice(2)
let unpack: ((b: Uint8Array) => unknown) | null = null
if (kind === 'msgpackr') {
  const req = createRequire(path.resolve('bench/package.json'))
  const { Packr } = req('msgpackr') as { Packr: new (o: object) => { unpack(b: Uint8Array): unknown } }
  const p = new Packr({ structuredClone: true })
  unpack = b => p.unpack(b)
}
const t = performance.now()
if (kind === 'v8') v8.deserialize(fs.readFileSync(file))
else if (unpack !== null) unpack(fs.readFileSync(file))
else void Container.open(file).root
process.stdout.write(String(performance.now() - t))
process.exit(0)
