/**
 * Child process of binary.test.ts (not a test): opens each container file given and prints
 * one JSON line per file, the `describeBinary` of its restored root (a fresh process: no
 * state of the writer survives, as after a restart).
 */
import { Container } from '../../../src/container/index.js'
import { describeBinary, type BinaryRoot } from './binary-kit.js'

const files = process.argv.slice(2)
if (files.length === 0) console.log('usage: node binary-child.js FILE... (run by binary.test.js)')
for (const file of files) {
  const c = Container.open<BinaryRoot>(file)
  const check = c.check()
  process.stdout.write(JSON.stringify({ file, describe: describeBinary(c.unwrap(c.root)), ok: check.ok, problems: check.problems }) + '\n')
  await c.close()
}
