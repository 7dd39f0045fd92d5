/**
 * Child process of lazy.test.ts (not a test): opens a container lazily, changes a few
 * objects through its proxies (most stay undecoded), takes a point, prints
 * `{ version, decoded, state }` once it is durable, and kills itself with SIGKILL.
 */
import './setup.js'
import { Container } from '../../../src/container/index.js'

const file = process.argv[2]
if (file === undefined) { console.log('usage: node lazy-child.js FILE LIFE (run by lazy.test.js)'); process.exit(0) }
const life = Number(process.argv[3])
const c = Container.open(file, { lazy: true })
const r = c.root
r.users.get(`u${life}`).name = `life ${life}`
r.list.push(r.users.get(`u${20 + life}`))      // an object not decoded yet, referenced from a changed one
r.lives = life
const s = await c.persist()
process.stdout.write(JSON.stringify({ version: s.version, decoded: c.lazy?.decoded, state: c.lazy?.state }) + '\n')
process.kill(process.pid, 'SIGKILL')
