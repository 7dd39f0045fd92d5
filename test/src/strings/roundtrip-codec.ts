// JSON with the values a pool returns that JSON cannot carry (bigint, Uint8Array, NaN, -0,
// ±Infinity), shared by roundtrip.property.test.ts and the process it reopens the pool in.
export function encode(v: unknown): string {
  return JSON.stringify(v, function (this: unknown, _k: string, x: unknown) {
    if (typeof x === 'bigint') return { $b: x.toString() }
    if (x instanceof Uint8Array) return { $u: Buffer.from(x).toString('hex') }
    if (typeof x === 'number' && (!Number.isFinite(x) || Object.is(x, -0))) return { $n: Object.is(x, -0) ? '-0' : String(x) }
    return x
  })
}

export function decode(s: string): unknown {
  return JSON.parse(s, (_k, x: unknown) => {
    if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
      const o = x as Record<string, string>
      if ('$b' in o) return BigInt(o.$b!)
      if ('$u' in o) return new Uint8Array(Buffer.from(o.$u!, 'hex'))
      if ('$n' in o) return o.$n === '-0' ? -0 : Number(o.$n)
    }
    return x
  })
}
