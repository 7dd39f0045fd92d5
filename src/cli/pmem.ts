#!/usr/bin/env node
/**
 * `pmem`: the command-line tool. Every command but `serve` only reads: files are opened
 * read-only (no writer lock, so they can be checked while another process writes them, and on
 * a read-only file system), and nothing is ever written, trimmed or created. `serve` opens
 * (or creates) a pool for writing and serves the memcached protocol from it (src/serve/).
 *
 *   pmem check <file>     validates a pool or container file (exit 0 when sound, 1 when
 *                         damaged, a container's newest version included, 2 on usage or I/O errors)
 *   pmem info <file>      what check found, as JSON
 *   pmem versions <file>  a container's retained versions
 *   pmem serve <file> ... a persistent memcached on the pool in <file> (src/serve/cli.ts)
 *   pmem help             every command with its options (also --help, -h)
 */
import { check, Container, PmemError, Region } from '../index.js'
import { ShadowStore } from '../../txn/index.js'
import { serveMain } from '../serve/cli.js'

const HELP = `usage: pmem <command> <file>

Commands (each opens the file read-only and never changes it):
  check <file>      validate a pool or container file: region header, pool log, heap,
                    variables and collections, or a container's chunk store and every record of every
                    retained version (instances of any class are accepted).
                    Exit status: 0 sound, 1 damaged (a container that fell back from a
                    damaged newest version included), 2 usage or I/O error.
  info <file>       what check finds, as JSON (exit status as for check)
  versions <file>   a container's retained versions: version, time, objects, bytes
  help              this text (also --help, -h)

  serve <file> [--port 11211] [--host 127.0.0.1] [--durability sync|group|none]
               [--size BYTES] [--max-size BYTES] [--item-size-max BYTES]
                    a persistent memcached (text and binary protocols) on the pool in <file>, created
                    if missing; replies to changes leave once they are durable (sync, group).
                    Runs until SIGINT or SIGTERM.`

const USAGE = 'usage: pmem check <file> | pmem info <file> | pmem versions <file> | pmem serve <file> [options] | pmem help'

interface Found { ok: boolean; summary: string; problems: string[]; json: unknown }

/** True when the file is a region holding a container's chunk store (read-only probe). */
function holdsContainer(file: string): boolean {
  let region: Region
  try { region = Region.open(file, { readOnly: true }) } catch { return false }   // the pool check reports why
  try { return ShadowStore.probe(region) === 'store' } finally { region.close() }
}

/** A container check; a container damaged beyond any retained version is reported as damage. */
function checkContainer(file: string): Found {
  try {
    const r = Container.check(file)
    return { ok: r.ok, summary: `container, version ${r.version}, ${r.versions.length} versions kept`, problems: r.problems, json: r }
  } catch (err) {
    if (!(err instanceof PmemError) || !DAMAGE.has(err.code)) throw err
    return { ok: false, summary: 'container', problems: [`${err.code}: ${err.message}`], json: { ok: false, problems: [`${err.code}: ${err.message}`] } }
  }
}

/** Error codes that mean "the file is damaged or not ours" (exit 1), not "could not look" (exit 2). */
const DAMAGE = new Set(['ERR_PMEM_CORRUPT', 'ERR_PMEM_NOT_A_REGION', 'ERR_PMEM_NOT_A_POOL', 'ERR_PMEM_VERSION'])

/** A pool check, or, for a file that holds a container, a container check. */
function checkAny(file: string): Found {
  if (holdsContainer(file)) return checkContainer(file)
  const r = check(file)
  const colls = r.collections.length > 0 ? `, collections ${r.collections.map(c => `${c.kind} ${JSON.stringify(c.name)} (${c.count})`).join(', ')}` : ''
  return { ok: r.ok, summary: `pool, ${r.variables.length} variables${colls}, ${r.heap?.allocated ?? 0} blocks allocated, ${r.replayed} log records pending`, problems: r.problems, json: r }
}

function main(argv: string[]): number {
  const [cmd, file, ...rest] = argv
  if (cmd === 'help' || cmd === '--help' || cmd === '-h') { console.log(HELP); return 0 }
  if (!['check', 'info', 'versions'].includes(cmd ?? '') || file === undefined || rest.length > 0) {
    console.error(cmd === undefined || ['check', 'info', 'versions'].includes(cmd) ? USAGE : `pmem: unknown command ${JSON.stringify(cmd)}\n${USAGE}\n(pmem help lists every command)`)
    return 2
  }
  try {
    if (cmd === 'versions') {
      for (const v of Container.versions(file)) console.log(`${v.version}\t${v.time.toISOString()}\t${v.objects} objects\t${v.bytes} bytes`)
      return 0
    }
    const r = checkAny(file)
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

if (process.argv[2] === 'serve') {
  serveMain(process.argv.slice(3)).then(code => { process.exitCode = code }, (err: unknown) => {
    // a port in use or a bad host is a message, not a stack trace
    const code = (err as { code?: unknown } | null)?.code
    console.error(err instanceof PmemError || typeof code === 'string' ? `pmem serve: ${(err as Error).message}` : err)
    process.exitCode = 2
  })
} else process.exitCode = main(process.argv.slice(2))
