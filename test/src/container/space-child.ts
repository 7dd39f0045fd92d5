/**
 * Child process of surroundings.test.ts (not a test), run under `ulimit -f` (a file-size
 * limit: writes past it fail with EFBIG, as on a full disk): commits a small point, then
 * takes a full point of about 7 MB, streamed (stream.ts), which cannot fit. Prints one JSON
 * line: the error of the streamed point, of the point after it (still too large), what the
 * point after the program dropped most rows did, and whether close worked.
 */
import './setup.js'
import { Container } from '../../../src/container/index.js'

const file = process.argv[2]
if (file === undefined) { console.log('usage: node space-child.js FILE (run by surroundings.test.js)'); process.exit(0) }
const c = Container.open<{ n: number; rows: { i: number; text: string }[] }>(file, { init: () => ({ n: 1, rows: [] }), streamThreshold: 1 << 16 })
const name = (e: unknown): string => `${(e as Error).constructor.name} ${(e as { code?: string }).code} ${(e as Error).message}`
const out: Record<string, unknown> = {}
await c.persist()
out.first = c.version
const r = c.root
r.n = 2
for (let i = 0; i < 25_000; i++) r.rows.push({ i, text: String(i).padEnd(250, '.') })
try { await c.persist({ full: true }); out.streamed = 'committed' } catch (e) { out.streamed = name(e) }
out.stats = c.lastPoint?.version
try { await c.persist(); out.after = 'committed' } catch (e) { out.after = name(e) }
r.rows.length = 10                  // room again: the program drops most rows (write.ts inv. 4a: the container went on)
try { const s = await c.persist(); out.freed = s.full ? 'full' : 'incremental' } catch (e) { out.freed = name(e) }
try { await c.close(); out.close = 'ok' } catch (e) { out.close = name(e) }
process.stdout.write(JSON.stringify(out) + '\n')
