/**
 * Child process of dict-patch.test.ts (not a test): restores a container file in a fresh
 * process (read-only; `lazy` or full) and prints what its root's `d` holds as JSON: its own
 * enumerable keys in order, the canonical hash of its content, its aliasing (for each key
 * whose value is an object, the first key holding the same object) and its other own
 * properties (non-enumerable names, Symbol.for keys), and its prototype (null or Object).
 * Usage: node dict-patch-child.js FILE full|lazy
 */
import './setup.js'
import { Container } from '../../../src/container/index.js'
import { describeDict } from './dict-patch-kit.js'

const file = process.argv[2]
if (file === undefined) { console.log('usage: node dict-patch-child.js FILE full|lazy (run by dict-patch.test.js)'); process.exit(0) }
const lazy = process.argv[3] === 'lazy'
const c = Container.open<{ d: Record<string, unknown> }>(file, { readOnly: true, lazy })
const d = lazy ? c.root.d : c.unwrap(c.root).d
process.stdout.write(JSON.stringify({ ...describeDict(d, x => c.unwrap(x)), check: c.check().ok }) + '\n')
await c.close()
