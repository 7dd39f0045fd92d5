/**
 * Recovery's read side: the live records of a redo log gathered into an overlay (overlay.ts),
 * every entry checked against the data area first. Nothing here writes to the region; the
 * engine applies the overlay in place only once the whole log has been checked (eng. 4).
 */
import { CorruptionError } from '../regions/index.js'
import { forEachEntry } from './record.js'
import { Overlay } from './overlay.js'
import type { RedoLog } from './redo-log.js'

/**
 * Replays the live records of `log` (log inv. 1; rec. 2, 3), those with seq <= `upToSeq`,
 * into a new overlay over `mem`. Throws CorruptionError, having written nothing, for damage
 * the log reports (log inv. 5, 6) or an entry outside `[dataOffset, size)`.
 */
export function scanIntoOverlay(log: RedoLog, dataOffset: number, size: number, mem: Uint8Array, upToSeq: number): { overlay: Overlay; replayed: number } {
  const overlay = new Overlay()
  const path = log.region.path
  const replayed = log.scan((words, rec) => {
    const src = new Uint8Array(words.buffer, words.byteOffset, words.byteLength)
    forEachEntry(words, rec, (target, len, dataByte) => {
      if (target < dataOffset || target + len > size) {
        throw new CorruptionError(`Cannot recover "${path}": the redo record of transaction ${rec.seq} writes ${len} bytes at ${target}, outside the data area [${dataOffset}, ${size}); the file was not changed`)
      }
      overlay.write(target, dataByte < 0 ? null : src, dataByte, len, null, mem)
    })
    overlay.lastSeq = rec.seq
  }, upToSeq)
  return { overlay, replayed }
}
