/**
 * Judging a lock directory (lock.ts inv. L1, L3): whether its holder may still be alive, its
 * owner record's text, and whether what is at a lock path is a lock of ours at all. Reads
 * only; shared by the lock itself (lock.ts) and the sweep of killed writers' leftovers
 * (lock-asides.ts), which judge a leftover exactly as a contender judges a lock.
 */
import fs from 'node:fs'
import { errnoOf } from './file-io.js'
import { isProcessAlive, otherThreadOfOurs, parseOwner, pidIsMeaningful, type LockOwner } from './lock-owner.js'

/** Lock timing in milliseconds (updateMs must stay well below staleMs). Tests may lower them. */
export const lockTiming = { staleMs: 10_000, updateMs: 5_000 }

/** Path of the owner record in lock directory `lockDir`. */
export function ownerPathOf(lockDir: string): string { return `${lockDir}/owner` }

export function pathExists(p: string): boolean {
  try { fs.lstatSync(p); return true } catch (e) {
    if (errnoOf(e) === 'ENOENT') return false
    throw e
  }
}

export interface Judgement {
  readonly alive: boolean
  readonly owner: LockOwner | undefined
  /** The owner file's exact text (undefined when missing), to recognise it at takeover. */
  readonly ownerText: string | undefined
}

/** Decides whether the current holder of `lockDir` may still be alive (inv. L1). */
export function judgeHolder(lockDir: string): Judgement {
  const ownerText = readOwnerText(lockDir, false)
  const owner = parseOwner(ownerText)
  if (owner !== undefined && pidIsMeaningful(owner) && !otherThreadOfOurs(owner)) {     // another thread of ours: by refresh time (lock-owner.ts inv. O4)
    return { alive: isProcessAlive(owner), owner, ownerText }
  }
  let mtimeMs: number
  try {
    mtimeMs = fs.statSync(lockDir).mtimeMs
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return { alive: false, owner, ownerText } // released meanwhile: retry
    throw e
  }
  return { alive: mtimeMs >= Date.now() - lockTiming.staleMs, owner, ownerText }
}

/** The owner record's text; undefined when missing (or, with `quiet`, unreadable for any reason). */
export function readOwnerText(lockDir: string, quiet: boolean): string | undefined {
  try {
    return fs.readFileSync(ownerPathOf(lockDir), 'utf8')
  } catch (e) {
    const code = errnoOf(e)
    if (quiet || code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw e
  }
}

/**
 * What is at `lockDir` when it is not a lock of ours (inv. L3): "a regular file", "a symbolic
 * link", "a directory holding other files"...; undefined for a directory holding at most `owner`
 * (or nothing there any more).
 */
export function foreignEntry(lockDir: string): string | undefined {
  let st: fs.Stats
  try { st = fs.lstatSync(lockDir) } catch { return undefined }
  if (st.isSymbolicLink()) return 'a symbolic link'
  if (!st.isDirectory()) return st.isFile() ? 'a regular file' : 'not a directory'
  let names: string[]
  try { names = fs.readdirSync(lockDir) } catch { return undefined }
  const other = names.find(n => n !== 'owner')
  return other === undefined ? undefined : `a directory holding other files (${JSON.stringify(other)})`
}
