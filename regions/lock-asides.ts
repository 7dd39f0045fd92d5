/**
 * Where killed writers' leftovers live and how they are swept (lock.ts inv. L8, L9): the
 * asides directory `<file>.lock.asides` holding unfinished `new-<pid>-<hex>` locks of makers
 * and `stale-<pid>-<hex>` ones of takeovers, its making (after the one sweep of older
 * versions' leftovers beside the file), and the removal of the provably stale ones, judged
 * as a lock is (lock-judge.ts). The lock protocol itself is lock.ts's.
 */
import fs from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { errnoOf, unlinkIfExists } from './file-io.js'
import { foreignEntry, judgeHolder, ownerPathOf } from './lock-judge.js'

/**
 * Inv. L8: the directory holding the asides of lock directory `lockDir`: the unfinished
 * `new-<pid>-<hex>` directories of lock makers (inv. L9) and the `stale-<pid>-<hex>` ones of
 * takeovers (inv. L3). It stays once made (it marks the sweep of older versions' leftovers
 * beside the file as done); a refused open that made it and `Region.delete` remove it when empty.
 */
export function asidesDirOf(lockDir: string): string { return `${lockDir}.asides` }

/** `<pid>-<8 hex>`: the tag of an aside name (unique per process and attempt). */
export function asideTag(): string { return `${process.pid}-${randomBytes(4).toString('hex')}` }

/** Test seam (crash tests): called after each file-system step of making, taking over and sweeping a lock. */
export const lockSeam: { step: ((name: string) => void) | null } = { step: null }

/**
 * Makes sure the asides directory of `lockDir` is there (inv. L8): 'made' when this call made
 * it (after sweeping older versions' leftovers beside the file: the one listing of the
 * file's directory), 'there', 'gone' when it could not be made (the caller's next step
 * reports why), or what is at its path when that is not a real directory (a file, a
 * symlink: refused as foreign, inv. L3).
 */
export function ensureAsides(lockDir: string): 'made' | 'there' | 'gone' | { readonly foreign: string } {
  const asides = asidesDirOf(lockDir)
  let st: fs.Stats | undefined
  try { st = fs.lstatSync(asides, { throwIfNoEntry: false }) } catch { return 'gone' } // ENOTDIR, EACCES: the mkdir says
  if (st !== undefined) {
    if (st.isDirectory()) return 'there'
    return { foreign: st.isSymbolicLink() ? 'a symbolic link' : st.isFile() ? 'a regular file' : 'not a directory' }
  }
  removeLegacyAsides(lockDir)
  lockSeam.step?.('legacy swept')
  try { fs.mkdirSync(asides) } catch (e) {
    return errnoOf(e) === 'EEXIST' ? ensureAsides(lockDir) : 'gone' // made meanwhile by another writer
  }
  lockSeam.step?.('asides made')
  return 'made'
}

/** Removes the asides directory of `lockDir` when empty (never recursive: inv. L3). Never throws. */
export function dropAsidesIfEmpty(lockDir: string): void {
  try { fs.rmdirSync(asidesDirOf(lockDir)) } catch { /* not empty, or gone: left as it is */ }
}

/** Inv. L8: removes the provably stale `new-<pid>-<hex>` and `stale-<pid>-<hex>` in `asides`. Never throws. */
export function removeStaleAsides(asides: string): void {
  let names: string[]
  try { names = fs.readdirSync(asides) } catch { return }
  for (const name of names) {
    if (/^(?:new|stale)-\d+-[0-9a-f]{8}$/.test(name)) removeIfStale(join(asides, name))
  }
}

/**
 * Inv. L8: the leftovers of versions before session 17, beside the file:
 * `<lockDir>.stale-<pid>-<hex>` and `<lockDir>.new-<pid>-<hex>`. Lists the file's directory;
 * run only when the asides directory is not there yet. Never throws.
 */
function removeLegacyAsides(lockDir: string): void {
  const dir = dirname(lockDir)
  const base = basename(lockDir)
  const kinds = [`${base}.stale-`, `${base}.new-`]
  let names: string[]
  try { names = fs.readdirSync(dir) } catch { return }
  for (const name of names) {
    const kind = kinds.find(k => name.startsWith(k))
    if (kind !== undefined && /^\d+-[0-9a-f]{8}$/.test(name.slice(kind.length))) removeIfStale(join(dir, name))
  }
}

/**
 * Removes aside `aside` when it is provably a stale leftover of ours (inv. L8): a real
 * directory holding nothing or only an `owner` record, whose holder is judged dead (inv. L1),
 * or, empty, whose mtime is older than `staleMs`. Never throws.
 */
function removeIfStale(aside: string): void {
  try {
    if (foreignEntry(aside) !== undefined || !fs.lstatSync(aside).isDirectory()) return // inv. L3: not ours
    const judged = judgeHolder(aside)
    if (judged.alive) return // a record of a live holder, or an empty one emptied just now
    if (judged.ownerText !== undefined) unlinkIfExists(ownerPathOf(aside))
    lockSeam.step?.('sweep emptied')
    fs.rmdirSync(aside) // never recursive: fails if anything appeared in it
  } catch { /* left for a later writer */ }
}
