/**
 * What `pmem check`, `info` and `versions` print, for a file (pmem.ts) and for a container in
 * PostgreSQL (postgres-target.ts) alike, and which errors count as damage.
 */
import { PmemError, type ContainerCheck, type VersionInfo } from '../index.js'

/** What a check found: `ok` decides the exit status (0 sound, 1 damaged). */
export interface Found { ok: boolean; summary: string; problems: string[]; json: unknown }

/** Error codes that mean "the file is damaged or not ours" (exit 1), not "could not look" (exit 2). */
const DAMAGE = new Set(['ERR_PMEM_CORRUPT', 'ERR_PMEM_NOT_A_REGION', 'ERR_PMEM_NOT_A_POOL', 'ERR_PMEM_VERSION'])

/**
 * A container check's result, or, when `run` throws an error meaning damage (a container
 * damaged beyond any retained version), that error as the problem found; other errors are thrown.
 */
export async function containerFound(run: () => ContainerCheck | Promise<ContainerCheck>): Promise<Found> {
  try {
    const r = await run()
    return { ok: r.ok, summary: `container, version ${r.version}, ${r.versions.length} versions kept`, problems: r.problems, json: r }
  } catch (err) {
    if (!(err instanceof PmemError) || !DAMAGE.has(err.code)) throw err
    return { ok: false, summary: 'container', problems: [`${err.code}: ${err.message}`], json: { ok: false, problems: [`${err.code}: ${err.message}`] } }
  }
}

/** Prints what `check` (a line, then the problems) or `info` (JSON) shows of `r`; returns the exit status. */
export function printFound(cmd: 'check' | 'info', name: string, r: Found): number {
  if (cmd === 'info') console.log(JSON.stringify(r.json, null, 2))
  else {
    console.log(r.ok ? `${name}: ok (${r.summary})` : `${name}: DAMAGED`)
    for (const p of r.problems) console.log(`  - ${p}`)
  }
  return r.ok ? 0 : 1
}

/** Prints `pmem versions`: one line per retained version. */
export function printVersions(list: readonly VersionInfo[]): void {
  for (const v of list) console.log(`${v.version}\t${v.time.toISOString()}\t${v.objects} objects\t${v.bytes} bytes`)
}

/** Prints an error that stopped a command (exit status 2): a library error as its message, anything else whole. */
export function printFailure(err: unknown): number {
  console.error(err instanceof PmemError ? `pmem: ${err.message}` : err)
  return 2
}
