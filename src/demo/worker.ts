/**
 * The demo's child process: `node worker.js FILE` opens the bank (recovering it), prints
 * `ready <last transfer>`, then runs transfers until it is killed, printing each transfer's
 * number only after its sync transaction has returned (bank.ts inv. 1).
 */
import { open } from '../index.js'
import { bank, lastTransfer, transfer } from './bank.js'

const pm = open(process.argv[2]!)
const b = bank(pm)
const names = [...b.accounts.keys()]
let n = lastTransfer(b)
process.stdout.write(`ready ${n}\n`)
for (;;) {
  n++
  transfer(pm, b, names, n)
  process.stdout.write(`${n}\n`)
}
