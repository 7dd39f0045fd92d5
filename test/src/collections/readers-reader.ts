// Reader child of readers.test.ts in this folder: opens `file` read-only, opens the hashMap
// (the writer may create it after this open), and for `ms` milliseconds reads snapshots of the
// workload (readers-kit.ts): in one read(fn) (eight gets and the size in one snapshot) and single
// gets outside any read(fn) (each its own snapshot). Prints one JSON line at the end.
import { open } from '../../../src/index.js'
import { mapOf, readSnapshot, text } from './readers-kit.js'

const [file, msArg] = process.argv.slice(2)
const r = open(file!, { readOnly: true })
const m = mapOf(r)
const end = Date.now() + Number(msArg)
let reads = 0, gets = 0, torn = 0, backwards = 0, first = -1, last = -1
const samples: string[] = []
process.stdout.write('ready\n')
while (Date.now() < end) {
  for (let k = 0; k < 50; k++) {
    const s = r.read(() => readSnapshot(m))
    reads++
    if (s.torn !== null) { torn++; if (samples.length < 3) samples.push(s.torn) }
    if (s.value < last) backwards++
    if (first < 0) first = s.value
    last = s.value
    const one = m.get(`k${k % 8}`) // its own snapshot
    gets++
    if (one !== undefined && (one.b !== -one.a || one.s !== text(one.a))) { torn++; if (samples.length < 3) samples.push(`get k${k % 8}: ${JSON.stringify(one)}`) }
  }
}
const out = { reads, gets, torn, samples, first, last, backwards, mode: r.engine.readerMode }
r.close()
process.stdout.write(JSON.stringify(out) + '\n')
