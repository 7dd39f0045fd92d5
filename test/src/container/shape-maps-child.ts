/**
 * Child process of shapes.test.ts (run with --allow-natives-syntax): restores a container of
 * class instances, takes a point (which stamps every restored object with its id), and
 * prints whether two instances of the same shape still share one V8 map and have fast
 * properties (shapes.ts inv. 3a).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Container } from '../../../src/container/index.js'

class Item { constructor(public id: number, public name: string, public tags: string[]) {} }

const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean
const fast = new Function('a', 'return %HasFastProperties(a)') as (a: object) => boolean

const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shape-maps-')), 'c.pmc')
const c0 = Container.open(file, { init: () => ({ items: Array.from({ length: 40 }, (_, i) => new Item(i, `i${i}`, ['t'])) }), classes: [Item] })
await c0.persist()
await c0.close()
const c = Container.open(file, { classes: [Item] })
c.root.items[0].name = 'changed'       // a point after the restore: every object is stamped with its id
await c.persist()
const items = (c.unwrap(c.root) as { items: Item[] }).items
process.stdout.write(JSON.stringify({ sameMap: sameMap(items[20]!, items[39]!), fast: fast(items[39]!), item: items[39] instanceof Item }) + '\n')
await c.close()
fs.rmSync(path.dirname(file), { recursive: true, force: true })
