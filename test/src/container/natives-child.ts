/**
 * Child process of natives.test.ts (not a test): opens the container file given (`lazy` as
 * the second argument: a lazy restore) and prints one JSON line: `describeNatives` of its
 * root read through `c.root` (the form the program is handed), `c.check()`, `c.dropped`.
 */
import { Container } from '../../../src/container/index.js'
import { NATIVE_CLASSES, describeNatives } from './natives-kit.js'

const [file, mode] = process.argv.slice(2)
if (file === undefined) console.log('usage: node natives-child.js FILE [lazy] (run by natives.test.js)')
else {
  const c = Container.open(file, { classes: NATIVE_CLASSES, lazy: mode === 'lazy', readOnly: true })
  const lazy = c.lazy?.state ?? null      // before the walk below decodes everything
  const describe = describeNatives(c.root)
  const check = c.check()
  process.stdout.write(JSON.stringify({ describe, ok: check.ok, problems: check.problems, dropped: c.dropped, lazy }) + '\n')
  await c.close()
}
