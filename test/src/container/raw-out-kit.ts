/**
 * What a container hands out raw with `track: 'barriers'` (barrier.ts inv. 9), for
 * raw-out.test.ts and its child: a class with private state and hooks, Dates, RegExps and
 * binary objects, and what the test reads back of them.
 */
import { Container } from '../../../src/container/index.js'

export class Spot {
  #x: number
  constructor(x = 0) { this.#x = x }
  setX(v: number): void { this.#x = v }
  get x(): number { return this.#x }
  static [Container.save](p: Spot): { x: number } { return { x: p.#x } }
  static [Container.revive](p: Spot, s: { x: number }): void { p.#x = s.x }
}

export interface RawRoot { p: Spot; d: Date; re: RegExp; ab: ArrayBuffer; u8: Uint8Array }

export const rawInit = (): RawRoot => ({ p: new Spot(1), d: new Date(5), re: /x/g, ab: new ArrayBuffer(8), u8: new Uint8Array(4) })

/** What the test compares of a raw root. */
export function rawFacts(r: RawRoot): unknown {
  const own = (o: object): [string, unknown][] => Reflect.ownKeys(o).map(k => [String(k), (o as Record<string | symbol, unknown>)[k]])
  return { x: r.p.x, d: own(r.d), lastIndex: r.re.lastIndex, ab: own(r.ab), u8: own(r.u8).filter(([k]) => !/^\d+$/.test(k)) }
}

/** The facts of the container at `file`, opened read-only in this process. */
export async function rawFactsOf(file: string): Promise<unknown> {
  const c = Container.open<RawRoot>(file, { classes: [Spot], track: 'barriers', readOnly: true })
  const f = rawFacts(c.unwrap(c.root))
  await c.close()
  return f
}
