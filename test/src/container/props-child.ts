/**
 * Child process of props.test.ts (not a test): opens each container file given and prints
 * one JSON line per file, the `describeProps` of its restored root, in a fresh process.
 */
import { Container } from '../../../src/container/index.js'
import { describeProps, Item } from './props-kit.js'

const files = process.argv.slice(2)
if (files.length === 0) console.log('usage: node props-child.js FILE... (run by props.test.js)')
for (const file of files) {
  const c = Container.open(file, { classes: [Item] })
  const check = c.check()
  process.stdout.write(JSON.stringify({ file, describe: describeProps(c.unwrap(c.root), false), ok: check.ok, problems: check.problems }) + '\n')
  await c.close()
}
