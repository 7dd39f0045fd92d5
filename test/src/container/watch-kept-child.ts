/**
 * Child process of watch-kept.test.ts (not a test): opens the container FILE read-only and
 * prints what it holds (watch-kept-kit.ts `persisted`) as one JSON line.
 */
import { persisted } from './watch-kept-kit.js'

const file = process.argv[2]
if (file === undefined) { console.log('usage: node watch-kept-child.js FILE (run by watch-kept.test.js)'); process.exit(0) }
process.stdout.write(JSON.stringify(await persisted(file)) + '\n')
