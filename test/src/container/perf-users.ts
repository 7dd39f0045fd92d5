/** The user graph of the container performance measurement (perf-graph.ts). */

export interface User {
  id: number; name: string; email: string; age: number; score: number; active: boolean
  tags: string[]; address: { street: string; city: object; zip: string }; created: Date; friends: number[]
}

/** 200k users: strings, arrays, nested objects, Dates, shared references (cities). */
export function makeUsers(n: number): { users: User[]; cities: object[]; meta: object } {
  let s = 1
  const rnd = (): number => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff
  const cities = Array.from({ length: 50 }, (_, i) => ({ name: 'City' + i, country: 'C' + (i % 7) }))
  const users: User[] = []
  for (let i = 0; i < n; i++) {
    users.push({
      id: i, name: 'user' + i + ' ' + Math.floor(rnd() * 1e6).toString(36), email: 'u' + i + '@example.com',
      age: Math.floor(rnd() * 80), score: rnd() * 100, active: rnd() < 0.5, tags: ['t' + (i % 10), 't' + (i % 13)],
      address: { street: (i % 1000) + ' Main St', city: cities[i % 50], zip: String(10000 + (i % 90000)) },
      created: new Date(1600000000000 + i * 1000), friends: [Math.floor(rnd() * n), Math.floor(rnd() * n), Math.floor(rnd() * n)],
    })
  }
  return { users, cities, meta: { version: 1, name: 'bench' } }
}

