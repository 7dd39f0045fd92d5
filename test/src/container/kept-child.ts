/**
 * Child of kept.test.ts (not a test): restores every container FILE given, in this fresh
 * process, and prints one JSON line per file with the canonical text of its graph
 * (graph-json.ts), or the error it threw.
 *
 *   node kept-child.js FILE...
 */
import { Container } from '../../../src/container/index.js'
import { graphText } from './graph-json.js'
import { KEPT_CLASSES } from './kept-kit.js'

process.on('warning', () => {})      // restores of classes without hooks warn; the parent checks the graphs
for (const file of process.argv.slice(2)) {
  try {
    const c = Container.open(file, { classes: KEPT_CLASSES, readOnly: true })
    process.stdout.write(JSON.stringify({ file, text: graphText(c.unwrap(c.root)) }) + '\n')
    await c.close()
  } catch (e) {
    process.stdout.write(JSON.stringify({ file, error: String((e as Error).stack ?? e) }) + '\n')
  }
}
