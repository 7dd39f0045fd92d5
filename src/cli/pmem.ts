#!/usr/bin/env node
/**
 * `pmem`: the command-line tool.
 *   pmem check <file>     validates a pool or container file without changing it
 *                         (exit 0 when sound, 1 when damaged, 2 on usage or I/O errors)
 *   pmem info <file>      a pool's variables, heap and log as JSON
 *   pmem versions <file>  a container's retained versions
 */
import { check, Container, PmemError } from '../index.js'

const USAGE = 'usage: pmem check <file> | pmem info <file> | pmem versions <file>'

/** A pool check, or, for a file that holds a container instead of a pool, a container check. */
async function checkAny(file: string): Promise<{ ok: boolean; summary: string; problems: string[]; json: unknown }> {
  const r = check(file)
  if (r.ok || !r.problems.some(p => p.includes('does not hold a transactional pool'))) {
    return { ok: r.ok, summary: `pool, ${r.variables.length} variables, ${r.heap?.allocated ?? 0} blocks allocated, ${r.replayed} log records pending`, problems: r.problems, json: r }
  }
  const versions = Container.versions(file)
  const c = Container.open(file)
  try {
    const cr = c.check()
    return { ok: cr.ok, summary: `container, version ${c.version}, ${versions.length} versions kept`, problems: cr.problems, json: { ...cr, versions } }
  } finally {
    await c.close()
  }
}

async function main(argv: string[]): Promise<number> {
  const [cmd, file] = argv
  if (!['check', 'info', 'versions'].includes(cmd ?? '') || file === undefined) { console.error(USAGE); return 2 }
  try {
    if (cmd === 'versions') {
      for (const v of Container.versions(file)) console.log(`${v.version}\t${v.time.toISOString()}\t${v.objects} objects\t${v.bytes} bytes`)
      return 0
    }
    const r = await checkAny(file)
    if (cmd === 'info') console.log(JSON.stringify(r.json, null, 2))
    else {
      console.log(r.ok ? `${file}: ok (${r.summary})` : `${file}: DAMAGED`)
      for (const p of r.problems) console.log(`  - ${p}`)
    }
    return r.ok ? 0 : 1
  } catch (err) {
    console.error(err instanceof PmemError ? `pmem: ${err.message}` : err)
    return 2
  }
}

process.exitCode = await main(process.argv.slice(2))
