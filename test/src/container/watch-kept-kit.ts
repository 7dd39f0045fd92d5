/**
 * A Map subclass whose methods hand raw members of the built-in out of the call, kept by the
 * program past the next point (watch.ts inv. W4), for watch-kept.test.ts and its child.
 */
import { Container } from '../../../src/container/index.js'

export type Item = { n: number; child?: Item; list?: number[] }

/** Raw values a method kept (`leak = super.get(k)`), as a program keeps them in a global. */
export const kept: Item[] = []

export class Keeper extends Map<string, Item> {
  /** Keeps the raw value of `k` where the program reaches it later. */
  grab(k: string): void { kept.push(super.get(k)!) }
  /** Returns the raw value (the proxy hands its result out wrapped; the module array keeps the raw one). */
  grabAll(): void { for (const v of super.values()) kept.push(v) }
}

/** The persisted state of the container at `file`, read in this process (its own open, read-only). */
export async function persisted(file: string): Promise<unknown> {
  const c = Container.open<{ m: Keeper }>(file, { classes: [Keeper], track: 'barriers', readOnly: true })
  const m = c.unwrap(c.root).m
  const out = [...Map.prototype.entries.call(m)].map(([k, v]: [string, Item]) => [k, v.n, v.child?.n ?? null, v.list ?? null])
  await c.close()
  return out
}
