/**
 * Child process of raw-out.test.ts (not a test): opens the container FILE read-only and
 * prints what raw-out-kit.ts `rawFactsOf` reads of it, as one JSON line.
 */
import { rawFactsOf } from './raw-out-kit.js'

const file = process.argv[2]
if (file === undefined) { console.log('usage: node raw-out-child.js FILE (run by raw-out.test.js)'); process.exit(0) }
process.stdout.write(JSON.stringify(await rawFactsOf(file)) + '\n')
