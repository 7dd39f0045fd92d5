// The users graph of graph.mjs and lazy.mjs (built from a fixed seed), and the reads that
// the restore rows make through a container's root.
//
// Invariant 1 (of graph.mjs): a user's friends are earlier users, so v8.serialize,
// v8.deserialize and msgpackr (which recurse) stay a few levels deep.

export const TEAMS = 500

/** Deterministic PRNG (mulberry32) so every run builds the same graph. */
export function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), a | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32
  }
}


const WORDS = 'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu'.split(' ')
const CITIES = ['Lisbon', 'Oslo', 'Tallinn', 'Kyoto', 'Recife', 'Perth', 'Quito', 'Lagos', 'Hanoi', 'Denver']

/** Build the graph: { users, teams, builtAt }. */
export function buildGraph(count, seed = 42) {
  const rand = prng(seed)
  const int = (n) => (rand() * n) | 0
  const pick = (xs) => xs[int(xs.length)]
  const words = (n) => Array.from({ length: n }, () => pick(WORDS)).join(' ')
  const day = 86_400_000
  const epoch = Date.UTC(2020, 0, 1)
  const teams = Array.from({ length: TEAMS }, (_, id) => ({
    id,
    name: `team ${words(2)}`,
    createdAt: new Date(epoch + int(365) * day),
    tags: [pick(WORDS), pick(WORDS)],
  }))
  const users = Array.from({ length: count }, (_, id) => ({
    id,
    name: `${pick(WORDS)} ${pick(WORDS)}`,
    email: `user${id}@example.com`,
    bio: words(4 + int(12)),
    tags: [pick(WORDS), pick(WORDS), pick(WORDS)],
    scores: Array.from({ length: 5 }, () => rand() * 100),
    createdAt: new Date(epoch + int(1500) * day),
    lastLogin: new Date(epoch + int(2000) * day + int(day)),
    address: {
      street: `${1 + int(999)} ${pick(WORDS)} street`,
      city: pick(CITIES),
      zip: String(10000 + int(89999)),
      geo: { lat: rand() * 180 - 90, lng: rand() * 360 - 180 },
    },
    settings: { theme: rand() < 0.5 ? 'dark' : 'light', notifications: { email: rand() < 0.7, push: rand() < 0.3 } },
    team: teams[int(TEAMS)],
    friends: [],
  }))
  // Friends point to earlier users only (inv. 1), and each team's lead is its first
  // member, a cycle user -> team -> user.
  for (const u of users) {
    const n = u.id === 0 ? 0 : 3 + int(4)
    for (let k = 0; k < n; k++) u.friends.push(users[int(u.id)])
    u.team.lead ??= u
  }
  return { users, teams, builtAt: new Date(epoch) }
}

/** Touch every user so a lazy restore pays for what it did not load; returns a checksum. */
export function walk(graph) {
  let sum = 0
  for (const u of graph.users) sum += u.friends.length + u.name.length + u.team.id + u.createdAt.getUTCDate()
  return sum
}

/**
 * Reads every object reachable from `root` (through the container's proxies: each property,
 * element and entry), so that a lazy restore decodes all of it; returns the objects seen.
 */
export function touchAll(root) {
  const seen = new Set()
  const stack = [root]
  while (stack.length > 0) {
    const o = stack.pop()
    if (typeof o !== 'object' || o === null || seen.has(o)) continue
    seen.add(o)
    if (o instanceof Date || ArrayBuffer.isView(o)) continue
    if (o instanceof Map) { for (const [k, v] of o) stack.push(k, v); continue }
    if (o instanceof Set) { for (const v of o) stack.push(v); continue }
    for (const k in o) stack.push(o[k])
  }
  return seen.size
}
