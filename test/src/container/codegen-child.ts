/**
 * Child process of the code-generation test (trust.test.ts): `write <file>` persists a
 * graph of many shapes and classes of objects, `read <file>` restores it and prints it
 * (with prototypes and sharing) as one line. Run with and without
 * --disallow-code-generation-from-strings.
 */
import { inspect } from 'node:util'
import { Container } from '../../../src/container/index.js'

class Point { constructor(public x: number, public y: number) {} }

function graph(): any {
  const shared = { name: 'shared', 'odd key': 1, '0': 'zero', __x: null }
  const users = Array.from({ length: 40 }, (_, i) => ({ id: i, name: `u${i}`, tags: ['a', i % 3 === 0 ? 'b' : 'c'], at: new Point(i, -i), shared, ...(i % 5 === 0 ? { extra: i * 1.5 } : {}) }))
  return { users, map: new Map<string, unknown>([['k', { v: 1n }], ['s', new Set([shared])]]), date: new Date(86_400_000), bytes: new Uint8Array([1, 2, 3]) }
}

const [cmd, file] = process.argv.slice(2)
if (cmd === 'write') {
  const c = Container.open(file!, { init: graph, classes: [Point] })
  await c.persist()
  c.root.users[3].name = 'changed'
  await c.persist()
  await c.close()
} else {
  const c = Container.open(file!, { classes: [Point] })
  const root = c.unwrap(c.root) as { users: Array<{ shared: unknown; at: unknown }> }
  if (root.users[0]!.shared !== root.users[39]!.shared) throw new Error('sharing lost')
  if (!(root.users[7]!.at instanceof Point)) throw new Error('class lost')
  process.stdout.write(inspect(root, { depth: Infinity, breakLength: Infinity, maxArrayLength: Infinity }) + '\n')
  await c.close()
}
