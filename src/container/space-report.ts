/**
 * What holds the space when a point finds no room (write.ts inv. 4a): the error a lost point
 * gives for a full disk, a file-size limit or the largest region (2 GiB - 4 KiB), with the
 * file's space split between the newest version's log, the chunks free for reuse and the
 * chunks that only older retained versions (`keepVersions`) hold, and what the program can
 * do. Before session 16 the message said only that the region could not grow: a container
 * near 2 GiB whose three retained versions each held a different 500 MB buffer reported
 * "cannot grow ... 2 GiB - 4 KiB" at every later point, with no word of the 1 GB the two
 * older versions held (bench/scale-tables.mjs's notes, tables26).
 *
 * Inv. SR1: the report only reads the store (`versions`, `stats`): it changes nothing, and a
 * store that cannot answer (closed meanwhile) gives the original error unchanged.
 */
import { OutOfSpaceError } from '../../regions/index.js'
import type { ChunkStore } from './store.js'

const MIB = 1 << 20

function mib(bytes: number): string {
  return bytes >= 10 * MIB ? `${Math.round(bytes / MIB)} MiB` : `${(bytes / MIB).toFixed(1)} MiB`
}

/**
 * The OutOfSpaceError to give for `e` (a point lost for space), saying what holds the
 * store's space; `retry` says what the next persist() writes (lifecycle.ts). `e` itself when
 * the store has nothing to say (inv. SR1).
 */
export function spaceError(e: OutOfSpaceError, store: ChunkStore | null, path: string, retry: string): OutOfSpaceError {
  let held: string
  try {
    held = holders(store)
  } catch {
    return e
  }
  if (held === '') return e
  const prefix = `Cannot persist container "${path}": `
  const why = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message     // a streamed point's (write.ts) says it already
  const err = new OutOfSpaceError(`${prefix}${why}. ${held}. The point was lost and the container goes on (inv. 4a): ${retry}. To make room: make the graph smaller and call persist({ full: true }) (it writes the graph alone, beside the versions kept), or copy the graph into a new container that keeps fewer versions (Container.open(newPath, { keepVersions: 1, init: () => c.snapshot() }))`)
  ;(err as { cause?: unknown }).cause = e
  return err
}

/** The split of the store's space, or '' when it has no versions or no stats (inv. SR1). */
function holders(store: ChunkStore | null): string {
  if (store === null) return ''
  const versions = store.versions()
  if (versions.length === 0) return ''
  const { physicalChunks, freeChunks } = store.stats()
  const size = store.chunkSize
  const newest = versions[versions.length - 1]!.chunkCount
  const older = Math.max(0, physicalChunks - freeChunks - newest)
  const keep = (store as { keepVersions?: number }).keepVersions
  const kept = versions.length - 1
  const olderPart = kept === 0
    ? 'no older version is kept'
    : `the ${kept} older version${kept === 1 ? '' : 's'} kept (keepVersions ${keep ?? kept + 1}, fixed when the container was created) hold about ${mib(older * size)} that the newest does not use (map and metadata chunks included), freed only as later points commit (each commit frees what only the oldest kept version holds)`
  return `Of the store's ${mib(physicalChunks * size)}, the newest version's log takes ${mib(newest * size)}, ${mib(freeChunks * size)} is free, and ${olderPart}`
}
