/**
 * `pmem check | info | versions` of a container in PostgreSQL: the target
 * `postgres://[user@]host[:port]/database#name` (or `postgresql://`), the container's name after
 * the last `#` (percent-encoded if it holds one), with `--schema SCHEMA` for a store outside
 * `public`. The store is connected with `{ readOnly: true }` (store.ts): no table is created,
 * no row written, no lease taken, so it runs beside a live writer and as a database user
 * granted only SELECT. The password comes from the URL, PGPASSWORD or ~/.pgpass, as pg reads
 * them. Exit status as for a file: 0 sound, 1 damaged, 2 usage, connection or other errors.
 */
import { containerFound, printFailure, printFound, printVersions } from './report.js'

/** True when the target names a PostgreSQL database rather than a file. */
export function isPostgresTarget(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target)
}

/** Runs `cmd` on the container the target names; returns the exit status. */
export async function postgresMain(cmd: 'check' | 'info' | 'versions', target: string, rest: string[], usage: string): Promise<number> {
  const hash = target.lastIndexOf('#')
  let name = hash < 0 ? '' : target.slice(hash + 1)
  try { name = decodeURIComponent(name) } catch { name = '' }
  let schema: string | undefined
  const bad = (why: string): number => { console.error(`pmem: ${why}\n${usage}`); return 2 }
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--schema' && i + 1 < rest.length && schema === undefined) schema = rest[++i]
    else return bad(`unexpected argument ${JSON.stringify(rest[i])} (only --schema SCHEMA may follow a PostgreSQL target)`)
  }
  if (name === '') return bad(`no container named in ${JSON.stringify(target.replace(/:[^:@/]*@/, ':***@'))}: add #name, the container's name (percent-encoded)`)
  const connection = target.slice(0, hash)
  let store: import('../postgres/index.js').PostgresStore | undefined
  try {
    const { PostgresStore } = await import('../postgres/index.js')
    store = await PostgresStore.connect(connection, { readOnly: true, ...(schema !== undefined ? { schema } : {}) })
    const s = store
    const shown = `${s.where}#${name}`
    if (cmd === 'versions') { printVersions(await s.versions(name)); return 0 }
    return printFound(cmd, shown, await containerFound(() => s.check(name)))
  } catch (err) {
    return printFailure(err)
  } finally {
    await store?.close()
  }
}
