// Child of roundtrip.property.test.ts: opens the pool in a fresh process (read-only) and prints
// every collection of each key type it names as [kind, name, entries] in the codec's JSON.
import { open, t, type TypeDesc } from '../../../src/index.js'
import { encode } from './roundtrip-codec.js'

const [file, keyKind, count] = process.argv.slice(2) as [string, string, string]
const key = (t as unknown as Record<string, TypeDesc>)[keyKind] as TypeDesc & { kind: 'string' }
const V = t.struct({ s: t.string, b: t.blob, n: t.f64 })
const pm = open(file, { readOnly: true })
const out: unknown[] = []
for (let i = 0; i < Number(count); i++) {
  out.push(['h', i, [...pm.hashMap(`h${i}`, key, V).entries()]])
  out.push(['s', i, [...pm.sortedMap(`s${i}`, key, V).entries()]])
  out.push(['v', i, [...pm.vector(`v${i}`, key)]])
}
const report = pm.check()
out.push(['check', report.ok, report.problems])
pm.close()
process.stdout.write(encode(out))
