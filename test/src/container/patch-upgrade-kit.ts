/**
 * Shared by patch-upgrade.test.ts and its child (patch-upgrade-child.ts): the graph of the
 * format-4 fixture (fixtures/make-v4-patch.mjs builds the same one with the build before
 * format 5), and one point's changes of a life over it, made through the proxies of a
 * restored container so that they are PATCH parts of form 1 (patch-record.ts inv. PR1, PR2):
 * deletions, object values and keys, array length changes.
 */
export interface V4Root {
  m: Map<string, unknown>
  users: Map<number, unknown>
  s: Set<unknown>
  xs: unknown[]
}

const N = 300

/** The fixture's graph: fixtures/make-v4-patch.mjs's two lives. */
export function v4Graph(): V4Root {
  const r: V4Root = {
    m: new Map(Array.from({ length: N }, (_, i) => [`k${i}`, i])),
    users: new Map(Array.from({ length: N }, (_, i) => [i, { id: i, name: `user ${i}` }])),
    s: new Set(Array.from({ length: N }, (_, i) => `s${i}`)),
    xs: Array.from({ length: N }, (_, i) => i * 0.5),
  }
  r.m.set('k7', 'seven'); r.m.set('new', 1); r.s.add('added'); r.xs[3] = -3
  r.m.set('k8', 8.5); r.s.add('added 2'); r.xs[4] = -4
  return r
}


/** One point's changes (`life`, `point`: named in the new objects) through `r`, the container's root proxy. */
export function change(r: V4Root, rand: () => number, life: number, point: number): void {
  const pick = (n: number): number => Math.floor(rand() * n)
  for (let j = 0; j < 3; j++) {
    const k = `k${pick(N)}`
    if (r.m.has(k) && rand() < 0.5) r.m.delete(k)
    else r.m.set(k, { life, point, j })
    const id = pick(N + 40)
    if (r.users.has(id) && rand() < 0.4) r.users.delete(id)
    else r.users.set(id, { id, name: `user ${id} of life ${life}`, tags: [life, point] })
    const v = `s${pick(N)}`
    if (r.s.has(v)) r.s.delete(v)
    else r.s.add({ life, point, v })
  }
  switch (pick(4)) {
    case 0: r.xs.push(life, { point }); break
    case 1: r.xs.pop(); break
    case 2: r.xs.length = r.xs.length - 2; r.xs.push(point / 7); break
    default: r.xs[pick(r.xs.length)] = { life, point }
  }
}
