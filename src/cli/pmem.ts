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
 *   pmem check|info|versions postgres://.../db#name [--schema s]
 *                         the same for a container in PostgreSQL (postgres-target.ts; a
 *                         read-only PostgresStore: no table created, no row written)
 *   pmem serve <file> ... a persistent memcached on the pool in <file> (src/serve/cli.ts)
 *   pmem help             every command with its options (also --help, -h)
 */
import { check, Container, PmemError, Region } from '../index.js'
import { ShadowStore } from '../../txn/index.js'
import { serveMain } from '../serve/cli.js'
import { isPostgresTarget, postgresMain } from './postgres-target.js'
import { containerFound, printFailure, printFound, printVersions, type Found } from './report.js'

const HELP = `usage: pmem <command> <file>

Commands (each opens the file read-only and never changes it):
  check <file>      validate a pool or container file: region header, pool log, heap,
                    variables and collections, or a container's chunk store and every record of every
                    retained version (instances of any class are accepted).
                    Exit status: 0 sound, 1 damaged (a container that fell back from a
                    damaged newest version included), 2 usage or I/O error.
  info <file>       what check finds, as JSON (exit status as for check)
  versions <file>   a container's retained versions: version, time, objects, bytes

  check|info|versions postgres://[user@]host[:port]/database#name [--schema SCHEMA]
                    the same for container "name" in PostgreSQL (needs the pg package;
                    the password from PGPASSWORD or ~/.pgpass): every record of every
                    retained version in one snapshot, beside a live writer; no table is
                    created and no row written.
  help              this text (also --help, -h)

  serve <file> [--port 11211] [--host 127.0.0.1] [--durability sync|group|none]
               [--size BYTES] [--max-size BYTES] [--item-size-max BYTES]
                    a persistent memcached (text and binary protocols) on the pool in <file>, created
                    if missing; replies to changes leave once they are durable (sync, group).
                    Runs until SIGINT or SIGTERM.`

const USAGE = 'usage: pmem check <file> | pmem info <file> | pmem versions <file> | pmem serve <file> [options] | pmem help\n(a container in PostgreSQL: postgres://host/database#name [--schema SCHEMA] for <file>)'

/** True when the file is a region holding a container's chunk store (read-only probe). */
function holdsContainer(file: string): boolean {
  let region: Region
  try { region = Region.open(file, { readOnly: true }) } catch { return false }   // the pool check reports why
  try { return ShadowStore.probe(region) === 'store' } finally { region.close() }
}

/** A pool check, or, for a file that holds a container, a container check. */
async function checkAny(file: string): Promise<Found> {
  if (holdsContainer(file)) return containerFound(() => Container.check(file))
  const r = check(file)
  const colls = r.collections.length > 0 ? `, collections ${r.collections.map(c => `${c.kind} ${JSON.stringify(c.name)} (${c.count})`).join(', ')}` : ''
  return { ok: r.ok, summary: `pool, ${r.variables.length} variables${colls}, ${r.heap?.allocated ?? 0} blocks allocated, ${r.replayed} log records pending`, problems: r.problems, json: r }
}

async function main(argv: string[]): Promise<number> {
  const [cmd, file, ...rest] = argv
  if (cmd === 'help' || cmd === '--help' || cmd === '-h') { console.log(HELP); return 0 }
  const known = cmd === 'check' || cmd === 'info' || cmd === 'versions'
  if (known && file !== undefined && isPostgresTarget(file)) return postgresMain(cmd, file, rest, USAGE)
  if (!known || file === undefined || rest.length > 0) {
    console.error(cmd === undefined || known ? USAGE : `pmem: unknown command ${JSON.stringify(cmd)}\n${USAGE}\n(pmem help lists every command)`)
    return 2
  }
  try {
    if (cmd === 'versions') { printVersions(Container.versions(file)); return 0 }
    return printFound(cmd, file, await checkAny(file))
  } catch (err) {
    return printFailure(err)
  }
}

if (process.argv[2] === 'serve') {
  serveMain(process.argv.slice(3)).then(code => { process.exitCode = code }, (err: unknown) => {
    // a port in use or a bad host is a message, not a stack trace
    const code = (err as { code?: unknown } | null)?.code
    console.error(err instanceof PmemError || typeof code === 'string' ? `pmem serve: ${(err as Error).message}` : err)
    process.exitCode = 2
  })
} else {
  main(process.argv.slice(2)).then(code => { process.exitCode = code }, (err: unknown) => { process.exitCode = printFailure(err) })
}
