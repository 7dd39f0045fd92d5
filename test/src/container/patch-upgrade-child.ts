/**
 * Child of patch-upgrade.test.ts (not a test): opens the container FILE with this build,
 * and for each of POINTS points makes one point's changes through its proxies
 * (patch-upgrade-kit.ts `change`, seeded by SEED and LIFE), prints the canonical text of the
 * graph the point snapshots (`{"pending": text}`) before it waits for it, then its version
 * once committed (`{"version": v}`). The parent SIGKILLs it at some point.
 *
 *   node patch-upgrade-child.js FILE SEED LIFE POINTS
 */
import { mulberry32 } from '../../../regions/index.js'
import { Container } from '../../../src/container/index.js'
import { graphText } from './graph-json.js'
import { change, type V4Root } from './patch-upgrade-kit.js'

const [file, seedText, lifeText, pointsText] = process.argv.slice(2)
const life = Number(lifeText)
const rand = mulberry32(Number(seedText) * 1000 + life)
const c = Container.open<V4Root>(file, { compactFactor: 1.2 })      // compactions among the points killed too
for (let p = 0; p < Number(pointsText); p++) {
  change(c.root, rand, life, p)
  const text = graphText(c.snapshot())      // a detached copy: nothing exposed (unwrap would turn the change logs off, change-log.ts inv. CL1)
  const point = c.persist()
  process.stdout.write(JSON.stringify({ pending: text }) + '\n')
  const st = await point
  process.stdout.write(JSON.stringify({ version: st.version, objects: st.objects, full: st.full, compacted: st.compacted }) + '\n')
}
await c.close()
