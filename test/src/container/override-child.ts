/**
 * Child process of override.test.ts (not a test): opens the container FILE read-only, fully
 * and then lazily, and prints the summary of each (override-kit.ts `summary`) as one JSON line.
 */
import './setup.js'
import { reopened } from './override-kit.js'

const file = process.argv[2]
if (file === undefined) { console.log('usage: node override-child.js FILE (run by override.test.js)'); process.exit(0) }
process.stdout.write(JSON.stringify({ full: await reopened(file, false), lazy: await reopened(file, true) }) + '\n')
