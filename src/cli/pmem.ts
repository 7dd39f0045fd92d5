#!/usr/bin/env node
/**
 * `pmem`: the command-line tool. `pmem check <file>` validates a pool file without changing
 * it (exit 0 when sound, 1 when damaged); `pmem info <file>` prints its variables and heap.
 */
import { check, PmemError } from '../index.js'

const USAGE = 'usage: pmem check <file> | pmem info <file>'

function main(argv: string[]): number {
  const [cmd, file] = argv
  if ((cmd !== 'check' && cmd !== 'info') || file === undefined) { console.error(USAGE); return 2 }
  try {
    const r = check(file)
    if (cmd === 'check') {
      console.log(r.ok ? `${file}: ok (${r.variables.length} variables, ${r.heap?.allocated ?? 0} blocks allocated, ${r.replayed} log records pending)` : `${file}: DAMAGED`)
      for (const p of r.problems) console.log(`  - ${p}`)
    } else {
      console.log(JSON.stringify(r, null, 2))
    }
    return r.ok ? 0 : 1
  } catch (err) {
    console.error(err instanceof PmemError ? `pmem: ${err.message}` : err)
    return 2
  }
}

process.exitCode = main(process.argv.slice(2))
