/**
 * One refresh of a held region lock, shared by the refresh thread (lock-keeper-thread.ts)
 * and the main-thread fallback (lock-keeper.ts): the holder checks that the lock directory
 * still holds its own owner record (lock-owner.ts inv. O3) and sets the directory's mtime
 * to now (inv. O2: contenders that cannot judge the holder by pid judge it by that mtime).
 */
import fs from 'node:fs'

/** 'kept': still ours, mtime refreshed; 'lost': the record is gone or another's; 'unknown': an I/O error, try again later. */
export type RefreshResult = 'kept' | 'lost' | 'unknown'

/** Refreshes the lock directory `dir` if it still holds exactly `ownerText`. Never throws. */
export function refreshLock(dir: string, ownerText: string): RefreshResult {
  let text: string
  try {
    text = fs.readFileSync(`${dir}/owner`, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'lost' : 'unknown'
  }
  if (text !== ownerText) return 'lost'
  try {
    const now = new Date()
    fs.utimesSync(dir, now, now)
  } catch {
    return 'unknown'
  }
  return 'kept'
}
